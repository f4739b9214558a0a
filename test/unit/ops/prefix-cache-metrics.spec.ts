import { Metrics } from '../../../src/ops/metrics';

describe('prefix cache metrics', () => {
  it('brings the counters up to the engine totals at each scrape, never counting twice', async () => {
    const m = new Metrics();
    m.syncPrefixCache({ hitTokens: 100, missTokens: 40, bytes: 1024 });
    m.syncPrefixCache({ hitTokens: 160, missTokens: 50, bytes: 2048 });
    m.syncPrefixCache({ hitTokens: 160, missTokens: 50, bytes: 2048 });
    const text = await m.registry.metrics();
    expect(text).toMatch(/^probewatch_prefix_cache_hit_tokens_total 160$/m);
    expect(text).toMatch(/^probewatch_prefix_cache_miss_tokens_total 50$/m);
    expect(text).toMatch(/^probewatch_prefix_cache_bytes 2048$/m);
  });
});
