/** Erasing one end user on the real embedded store: their content goes, the rest stays. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { ClickHouseClient } from '@clickhouse/client';

import { alertId, fingerprint } from '../../../src/domain/alert';
import type { ScoredEvent } from '../../../src/domain/scored-event';
import { AlertsRepository } from '../../../src/storage/alerts.repository';
import { BatchWriter } from '../../../src/storage/batch-writer';
import { openClickHouse } from '../../../src/storage/clickhouse-client';
import { DeadLetterRepository } from '../../../src/storage/dead-letter.repository';
import { ErasureRepository } from '../../../src/storage/erasure.repository';
import { EventsRepository } from '../../../src/storage/events.repository';
import { migrate } from '../../../src/storage/migrator';
import { Pseudonyms } from '../../../src/storage/redaction/pseudonyms';

jest.setTimeout(120_000);

const scored = (id: string): ScoredEvent => {
  const c = { score: 0.9, threshold: 0.5, flagged: true, detector: 'dense' as const, scores: { sae: 0.9, dense: 0.9 }, tokens_in_scope: 2, in_scope: true,
    tokens: [{ index: 1, token: ' poison', activation: 1 }], features: [{ feature: 3, label: 'f', activation: 2, mean_activation: 1, top_tokens: [{ index: 1, token: ' poison', activation: 2 }] }] };
  return { id, pack: { id: 'p', version: '1' }, truncated: false, tokens: 5, tokens_scored: 5, concepts: { harmful_intent: c, deception: c, sycophancy: c, prompt_injection: c } };
};

describe('erasure of one end user (chDB)', () => {
  let client: ClickHouseClient;
  beforeAll(async () => {
    client = await openClickHouse({ kind: 'embedded', location: path.join(mkdtempSync(path.join(tmpdir(), 'pw-erase-')), 'db'), database: 'probewatch' });
    await migrate(client);
  });
  afterAll(async () => {
    await client.close();
  });

  it('removes the user\'s events, evidence and dead letters in every stored form of the id, and keeps scores and alerts without it', async () => {
    const w = new BatchWriter(client, { maxRows: 1000, flushMs: 10, maxBackoffMs: 100 });
    const policies: Record<string, 'full' | 'hash'> = { open: 'full', strict: 'hash' };
    const { digest } = Pseudonyms.fromKey(Buffer.alloc(32, 1));
    const events = new EventsRepository(client, w, (t) => policies[t] ?? 'redacted', digest);
    const ev = (id: string, tenant: string, user: string) => ({ id, timestamp: '2026-11-24T10:00:00Z', tenant, source: 's', model: 'm', user, messages: [{ role: 'user' as const, content: `how do I poison ${id}` }] });
    await events.store(ev('e1', 'open', 'dave@example.com'), scored('e1'), new Date());
    await events.store(ev('e2', 'strict', 'dave@example.com'), scored('e2'), new Date());
    await events.store(ev('e3', 'open', 'erin'), scored('e3'), new Date());
    const labels = { alertname: 'R', severity: 'high', tenant: 'open' };
    const fp = fingerprint(labels);
    await new AlertsRepository(client, w).store([{ alert_id: alertId(fp, 'e1'), fingerprint: fp, rule: 'R', severity: 'high', labels, annotations: { evidence: 'poison' }, value: 1, event_id: 'e1', tenant: 'open', starts_at: '2026-11-24T10:00:00Z' }]);
    await new DeadLetterRepository(w, () => 'full').record([{ channel: 'http', reason: 'bad', errors: [], payload: JSON.stringify({ user: 'dave@example.com', tenant: 'open' }), tenant: 'open' }]);
    await w.close();

    // The hash policy stored the id under the deployment's key: another key (or none) finds only
    // the id stored as sent, so the pseudonym cannot be matched by hashing candidate ids.
    const other = Pseudonyms.fromKey(Buffer.alloc(32, 2)).digest;
    const strictRow = async (): Promise<string> => (await (await client.query({ query: "SELECT user_id FROM events WHERE event_id = 'e2'", format: 'JSONEachRow' })).json<{ user_id: string }>())[0].user_id;
    expect(await strictRow()).toBe(`hmac:${digest('dave@example.com')}`);
    expect(await new ErasureRepository(client, other).eraseUser('dave@example.com', ['strict'])).toMatchObject({ events: 0 });
    expect(await new ErasureRepository(client).eraseUser('dave@example.com', ['strict'])).toMatchObject({ events: 0 });
    const r = await new ErasureRepository(client, digest).eraseUser('dave@example.com', null);
    expect(r).toEqual({ events: 2, tenants: ['open', 'strict'], alerts: 1, dead_letters: 1 });
    const count = async (sql: string): Promise<number> => Number((await (await client.query({ query: sql, format: 'JSONEachRow' })).json<{ n: string }>())[0].n);
    expect(await count("SELECT count() AS n FROM events WHERE event_id IN ('e1', 'e2')")).toBe(0);
    expect(await count("SELECT count() AS n FROM events WHERE event_id = 'e3'")).toBe(1);
    expect(await count("SELECT count() AS n FROM feature_activations WHERE event_id IN ('e1', 'e2')")).toBe(0);
    expect(await count("SELECT count() AS n FROM concept_scores WHERE event_id IN ('e1', 'e2') AND user_id = ''")).toBe(8);
    expect(await count("SELECT count() AS n FROM concept_scores WHERE user_id != '' AND event_id IN ('e1', 'e2')")).toBe(0);
    expect(await count("SELECT count() AS n FROM alerts WHERE event_id = 'e1' AND annotations = '{}'")).toBe(1);
    expect(await count("SELECT count() AS n FROM dead_letters WHERE positionUTF8(payload, 'dave') > 0")).toBe(0);
  });
});
