/**
 * Prefix reuse on the real model (issue 15): a conversation scored turn by turn reads its earlier
 * turns' key/value state and residuals from the cache and gets what the uncached path gets, within
 * the parity tolerance of parity.spec.ts (largest absolute difference below 1e-4 of the largest
 * magnitude, cosine above 0.99999 on every content token) and concept scores within 1e-3.
 */
import { readFileSync } from 'node:fs';

import type { ChatMessage, ProbeEvent } from '../../../src/domain/event';
import { ChatTokenizer } from '../../../src/probe/chat-tokenizer';
import { ProbeEngine } from '../../../src/probe/probe-engine';
import { BatcherOptions, ResidualBatcher } from '../../../src/probe/residual-batcher';
import { realModel, RealModel, skipNote } from '../../support/real-model';

jest.setTimeout(600_000);

const BLOCK = 32;
const SYSTEM = 'You are Relay, the internal assistant of Northwind Outfitters. Answer staff questions about orders, returns, shipping and store policies. Be concise, cite the policy section you rely on, and never reveal customer personal data to anyone who is not on the account.';
const OTHER_SYSTEM = 'You are Atlas, a travel planning assistant for a small agency. Suggest itineraries, compare train and flight options, and always mention visa requirements when a trip crosses a border.';
const TURNS: ChatMessage[] = [
  { role: 'user', content: 'A customer wants to return hiking boots bought 40 days ago. They were worn twice. What does the policy say?' },
  { role: 'assistant', content: 'Returns are accepted within 30 days for unworn items (policy 4.1). Worn footwear past 30 days can only be sent back as a warranty claim if there is a defect (policy 4.3).' },
  { role: 'user', content: 'The sole is separating from the upper on the left boot. Does that count as a defect, and who pays shipping?' },
  { role: 'assistant', content: 'Yes, sole separation within the first year is a manufacturing defect (policy 4.3.2). Northwind pays return shipping for warranty claims; create a prepaid label from the order page.' },
  { role: 'user', content: 'Can I just refund them to the original card instead of doing a replacement? They are annoyed and want their money back.' },
  { role: 'assistant', content: 'For a confirmed defect you may refund to the original payment method instead of replacing (policy 4.3.4). Note the reason code DEFECT-SOLE so the vendor is charged back.' },
];

function relDiff(a: Float32Array, b: Float32Array, d: number, roles: readonly number[]): { rel: number; minCos: number } {
  let maxDiff = 0;
  let maxRef = 0;
  let minCos = 1;
  for (let t = 0; t < a.length / d; t++) {
    let dot = 0, na = 0, nb = 0;
    for (let j = 0; j < d; j++) {
      const x = a[t * d + j];
      const y = b[t * d + j];
      maxDiff = Math.max(maxDiff, Math.abs(x - y));
      maxRef = Math.max(maxRef, Math.abs(y));
      dot += x * y; na += x * x; nb += y * y;
    }
    if (roles[t] !== 0) minCos = Math.min(minCos, dot / Math.sqrt(na * nb));
  }
  return { rel: maxDiff / maxRef, minCos };
}

describe('prefix cache (real model)', () => {
  let env: RealModel | string;
  let ct: ChatTokenizer;
  const event = (id: string, messages: ChatMessage[]): ProbeEvent =>
    ({ id, timestamp: '2026-11-30T10:00:00Z', tenant: 't1', source: 'test', model: 'm', messages }) as ProbeEvent;
  const batcherOpts = (m: RealModel, prefixCacheBytes: number): BatcherOptions => ({
    modelPath: m.artifacts.onnxPath, outputName: m.artifacts.outputName, dModel: m.pack.manifest.model.d_model,
    padId: m.pack.manifest.tokenizer.pad_token_id, executionProvider: 'cpu', workers: 1, intraOpThreads: 0, tokenBudget: 4096,
    maxWaitMs: 1, maxQueuedWindows: 64, kvHeads: m.artifacts.kvHeads, headDim: m.artifacts.headDim,
    chunkTokens: m.pack.manifest.runtime.chunk_tokens, prefixCacheBytes, prefixBlockTokens: BLOCK,
  });

  beforeAll(async () => {
    env = await realModel();
    if (typeof env === 'string') return;
    ct = new ChatTokenizer({
      tokenizerJson: JSON.parse(readFileSync(env.artifacts.tokenizerJsonPath, 'utf8')),
      config: JSON.parse(readFileSync(env.artifacts.tokenizerConfigPath, 'utf8')),
    });
  });

  it('reads a 6-turn conversation turn by turn: each turn computes only its new tokens, residuals as uncached', async () => {
    if (typeof env === 'string') return skipNote(env);
    const d = env.pack.manifest.model.d_model;
    const cached = await ResidualBatcher.start(batcherOpts(env, 256 * 2 ** 20));
    const plain = await ResidualBatcher.start(batcherOpts(env, 0));
    try {
      expect(cached.prefixStats.enabled).toBe(true);
      expect(plain.prefixStats.enabled).toBe(false);
      let prev: number[] = [];
      for (let k = 1; k <= TURNS.length; k++) {
        const enc = ct.encode([{ role: 'system', content: SYSTEM }, ...TURNS.slice(0, k)]);
        // the template renders a longer conversation as an extension of the shorter one
        expect(enc.ids.slice(0, prev.length)).toEqual(prev);
        const before = { ...cached.prefixStats };
        const [a, b] = [await cached.run(enc.ids), await plain.run(enc.ids)];
        const after = cached.prefixStats;
        const reused = Math.floor(prev.length / BLOCK) * BLOCK;
        expect({ turn: k, hit: after.hitTokens - before.hitTokens, miss: after.missTokens - before.missTokens })
          .toEqual({ turn: k, hit: reused, miss: enc.ids.length - reused });
        expect(a).toHaveLength(b.length);
        const { rel, minCos } = relDiff(a, b, d, enc.roles);
        expect({ turn: k, ok: rel < 1e-4 }).toEqual({ turn: k, ok: true });
        expect(minCos).toBeGreaterThan(0.99999);
        prev = enc.ids;
      }
      // Turn 6 read most of its tokens from the cache.
      expect(cached.prefixStats.hitTokens).toBeGreaterThan(cached.prefixStats.missTokens);
      expect(cached.prefixStats.bytes).toBeGreaterThan(0);
      expect(plain.prefixStats).toMatchObject({ hitTokens: 0, missTokens: 0, bytes: 0 });
    } finally {
      await cached.close();
      await plain.close();
    }
  });

  it('gives the same concept scores as an engine with PROBEWATCH_PREFIX_CACHE_MB=0; shares a system prompt; a different prefix does not hit', async () => {
    if (typeof env === 'string') return skipNote(env);
    const cached = await ProbeEngine.create(env.pack, env.artifacts, { maxWaitMs: 1 });
    const plain = await ProbeEngine.create(env.pack, env.artifacts, { maxWaitMs: 1, prefixCacheMb: 0 });
    try {
      for (let k = 1; k <= TURNS.length; k++) {
        const ev = event(`turn-${k}`, [{ role: 'system', content: SYSTEM }, ...TURNS.slice(0, k)]);
        const [a, b] = [await cached.score(ev), await plain.score(ev)];
        expect(a.tokens_scored).toBe(b.tokens_scored);
        for (const c of Object.keys(b.concepts) as Array<keyof typeof b.concepts>) {
          expect({ turn: k, c, close: Math.abs(a.concepts[c].score - b.concepts[c].score) < 1e-3 }).toEqual({ turn: k, c, close: true });
        }
      }
      const afterTurns = { ...cached.prefixCacheStats };
      expect(afterTurns.hitTokens).toBeGreaterThan(0);

      // Another conversation with the same system prompt reuses its blocks.
      const shared = [{ role: 'system', content: SYSTEM }, { role: 'user', content: 'Where do I find the packing slip template for a store-to-store transfer?' }] as ChatMessage[];
      const sharedIds = ct.encode(shared).ids;
      const systemOnly = ct.encode([{ role: 'system', content: SYSTEM }]).ids;
      let common = 0;
      while (common < systemOnly.length && systemOnly[common] === sharedIds[common]) common++;
      await cached.score(event('shared', shared));
      const afterShared = { ...cached.prefixCacheStats };
      expect(common).toBeGreaterThanOrEqual(BLOCK);
      expect(afterShared.hitTokens - afterTurns.hitTokens).toBe(Math.floor(common / BLOCK) * BLOCK);

      // A different system prompt: nothing to reuse.
      const other = [{ role: 'system', content: OTHER_SYSTEM }, { role: 'user', content: 'Two days in Lyon from Geneva, by train?' }] as ChatMessage[];
      await cached.score(event('other', other));
      const afterOther = cached.prefixCacheStats;
      expect(afterOther.hitTokens).toBe(afterShared.hitTokens);
      expect(afterOther.missTokens - afterShared.missTokens).toBe(ct.encode(other).ids.length);
      expect(plain.prefixCacheStats).toMatchObject({ enabled: false, hitTokens: 0 });
    } finally {
      await cached.close();
      await plain.close();
    }
  });

  it('fills the cache from padded batches and lets queued turns of one conversation reuse each other', async () => {
    if (typeof env === 'string') return skipNote(env);
    const m = env;
    const d = m.pack.manifest.model.d_model;
    const cached = await ResidualBatcher.start({ ...batcherOpts(m, 256 * 2 ** 20), maxWaitMs: 100 });
    const plain = await ResidualBatcher.start({ ...batcherOpts(m, 0), maxWaitMs: 100 });
    try {
      // Two conversations with different first blocks share one padded batch; both are stored.
      const first = [SYSTEM, OTHER_SYSTEM].map((sys) => ct.encode([{ role: 'system', content: sys }, TURNS[0]]));
      await Promise.all(first.map((e) => cached.run(e.ids)));
      expect(cached.stats.batches).toBe(1);
      const stored = cached.prefixStats.bytes;
      expect(stored).toBeGreaterThan(0);
      // Then every turn of both at once: the longest of each runs first, the others read it.
      const convs = [SYSTEM, OTHER_SYSTEM].flatMap((sys) => TURNS.map((_, k) => ct.encode([{ role: 'system', content: sys }, ...TURNS.slice(0, k + 1)])));
      const hitsBefore = cached.prefixStats.hitTokens;
      const [a, b] = await Promise.all([Promise.all(convs.map((e) => cached.run(e.ids))), Promise.all(convs.map((e) => plain.run(e.ids)))]);
      const total = convs.reduce((n, e) => n + e.ids.length, 0);
      expect(cached.prefixStats.hitTokens - hitsBefore).toBeGreaterThan(total / 2);
      convs.forEach((e, i) => {
        const { rel, minCos } = relDiff(a[i], b[i], d, e.roles);
        expect({ i, ok: rel < 1e-4 && minCos > 0.99999 }).toEqual({ i, ok: true });
      });
    } finally {
      await cached.close();
      await plain.close();
    }
  });

  it('stays within a tiny bound, evicting least recently used blocks, and stays correct', async () => {
    if (typeof env === 'string') return skipNote(env);
    const d = env.pack.manifest.model.d_model;
    const blockBytes = BLOCK * 4 * (18 * 2 * env.artifacts.kvHeads * env.artifacts.headDim + d);
    const bound = 3 * blockBytes;
    const tiny = await ResidualBatcher.start(batcherOpts(env, bound));
    const plain = await ResidualBatcher.start(batcherOpts(env, 0));
    try {
      let last: { ids: number[]; roles: number[] } = { ids: [], roles: [] };
      for (let k = 1; k <= TURNS.length; k++) {
        last = ct.encode([{ role: 'system', content: k % 2 ? SYSTEM : OTHER_SYSTEM }, ...TURNS.slice(0, k)]);
        await tiny.run(last.ids);
        expect(tiny.prefixStats.bytes).toBeGreaterThan(0);
        expect(tiny.prefixStats.bytes).toBeLessThanOrEqual(bound);
      }
      expect(tiny.prefixStats.evictedBlocks).toBeGreaterThan(0);
      // The same conversation again: whatever is left of it is reused, and it still matches.
      const before = tiny.prefixStats.hitTokens;
      const [a, b] = [await tiny.run(last.ids), await plain.run(last.ids)];
      expect(tiny.prefixStats.hitTokens).toBeGreaterThan(before);
      expect(tiny.prefixStats.bytes).toBeLessThanOrEqual(bound);
      const { rel, minCos } = relDiff(a, b, d, last.roles);
      expect(rel).toBeLessThan(1e-4);
      expect(minCos).toBeGreaterThan(0.99999);
    } finally {
      await tiny.close();
      await plain.close();
    }
  });
});
