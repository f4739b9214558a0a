/** `probewatch erase --user`: on the real embedded store, the user's events go and the trail names them by the keyed digest only. */
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { runErase } from '../../../src/cli/erase.command';
import { UsageError } from '../../../src/cli/usage-error';
import { loadConfig } from '../../../src/config/app-config';
import type { ScoredEvent } from '../../../src/domain/scored-event';
import { BatchWriter } from '../../../src/storage/batch-writer';
import { openClickHouse } from '../../../src/storage/clickhouse-client';
import { EventsRepository } from '../../../src/storage/events.repository';
import { migrate } from '../../../src/storage/migrator';
import { Pseudonyms } from '../../../src/storage/redaction/pseudonyms';

jest.setTimeout(120_000);

const scored = (id: string): ScoredEvent => {
  const c = { score: 0.1, threshold: 0.5, flagged: false, detector: 'dense' as const, scores: { sae: 0.1, dense: 0.1 }, tokens_in_scope: 2, in_scope: true, tokens: [], features: [] };
  return { id, pack: { id: 'p', version: '1' }, truncated: false, tokens: 5, tokens_scored: 5, concepts: { harmful_intent: c, deception: c, sycophancy: c, prompt_injection: c } };
};

describe('probewatch erase (chDB)', () => {
  it('erases the user\'s events under the deployment key and records the erasure by keyed digest, never the id', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pw-erase-cli-'));
    const cfg = loadConfig({ PROBEWATCH_DATA_DIR: dir, PROBEWATCH_CONTENT_POLICY: 'hash' });
    const { pseudonyms, created } = Pseudonyms.readOrCreate(cfg.pseudonymKeyFile);
    expect(created).toBe(true);
    expect(statSync(cfg.pseudonymKeyFile).mode & 0o777).toBe(0o600);

    let client = await openClickHouse(cfg.store);
    await migrate(client);
    const w = new BatchWriter(client, { maxRows: 100, flushMs: 10, maxBackoffMs: 100 });
    const events = new EventsRepository(client, w, () => 'hash', pseudonyms.digest);
    const ev = (id: string, user: string) => ({ id, timestamp: '2026-11-30T10:00:00Z', tenant: 't', source: 's', model: 'm', user, messages: [{ role: 'user' as const, content: `hello ${id}` }] });
    await events.store(ev('a', 'frank@example.com'), scored('a'), new Date());
    await events.store(ev('b', 'gina@example.com'), scored('b'), new Date());
    await w.close();
    await client.close();

    const out: string[] = [];
    expect(await runErase(cfg, ['--user', 'frank@example.com'], (s) => out.push(s))).toBe(0);
    expect(out.join('\n')).toMatch(/^erased: 1 events in t,/);

    client = await openClickHouse(cfg.store);
    try {
      const rows = async (q: string): Promise<Record<string, string>[]> => (await client.query({ query: q, format: 'JSONEachRow' })).json();
      expect((await rows('SELECT event_id FROM events ORDER BY event_id')).map((r) => r.event_id)).toEqual(['b']);
      const trail = await rows("SELECT action, target, detail FROM audit_log WHERE action = 'data.erase'");
      expect(trail).toHaveLength(1);
      expect(trail[0].target).toBe(`user hmac:${pseudonyms.digest('frank@example.com')}`);
      expect(JSON.stringify(trail)).not.toContain('frank');
      expect(JSON.parse(trail[0].detail)).toMatchObject({ events: 1, tenants: ['t'] });
    } finally {
      await client.close();
    }
  });

  it('says how to call it without --user', async () => {
    const cfg = loadConfig({ PROBEWATCH_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'pw-erase-cli-')) });
    await expect(runErase(cfg, [], () => undefined)).rejects.toThrow(UsageError);
  });
});
