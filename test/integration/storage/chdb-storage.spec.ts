/** Migrations, the batch writer and the repositories on the real embedded engine (chDB). */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { ClickHouseClient } from '@clickhouse/client';

import { BatchWriter } from '../../../src/storage/batch-writer';
import { openClickHouse } from '../../../src/storage/clickhouse-client';
import { EventsRepository } from '../../../src/storage/events.repository';
import { loadMigrations, migrate } from '../../../src/storage/migrator';
import type { ScoredEvent } from '../../../src/domain/scored-event';
import { Pseudonyms } from '../../../src/storage/redaction/pseudonyms';

jest.setTimeout(60_000);

const scored = (id: string, s: number): ScoredEvent => {
  const c = { score: s, threshold: 0.5, flagged: s >= 0.5, detector: 'sae' as const, scores: { sae: s, dense: s }, tokens_in_scope: 2, in_scope: true,
    features: [{ feature: 3, label: 'f', activation: 2, mean_activation: 1, top_tokens: [{ index: 1, token: ' mail me at a@b.co', activation: 2 }] }] };
  return { id, pack: { id: 'p', version: '1' }, truncated: false, tokens: 5, tokens_scored: 5, concepts: { harmful_intent: c, deception: c, sycophancy: c, prompt_injection: c } };
};

describe('storage on embedded ClickHouse (chDB)', () => {
  let client: ClickHouseClient;
  beforeAll(async () => {
    client = await openClickHouse({ kind: 'embedded', location: path.join(mkdtempSync(path.join(tmpdir(), 'chdb-')), 'db'), database: 'pwtest' });
  });
  afterAll(async () => {
    await client.close();
  });

  it('keeps rows through failed inserts and stores them once the table exists', async () => {
    const logs: string[] = [];
    const w = new BatchWriter(client, { maxRows: 1000, flushMs: 20, maxBackoffMs: 200 }, (m) => logs.push(m));
    const p = w.write('dead_letters', [{ received_at: '2026-11-24 10:00:00.000', channel: 'http', event_id: 'x', tenant: 't', reason: 'r', errors: '[]', payload: '{}', payload_sha256: 'h' }]);
    // Wait for the first failed attempt (no fixed sleep: the machine may be busy with other suites).
    const end = Date.now() + 30_000;
    while (w.stats.failures === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(w.stats.failures).toBeGreaterThan(0);
    expect(w.healthy).toBe(false);
    expect(w.pendingRows).toBe(1);
    expect(logs[0]).toMatch(/insert into dead_letters failed/);
    // Every migration, in order, from an empty store.
    expect(await migrate(client, loadMigrations())).toEqual(loadMigrations().map((m) => m.version));
    expect(loadMigrations().map((m) => m.version).slice(0, 11)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    await p;
    expect(w.pendingRows).toBe(0);
    expect(w.healthy).toBe(true);
    await w.close();
  });

  it('migrations are idempotent', async () => {
    expect(await migrate(client)).toEqual([]);
  });

  it('stores an event twice as one row and honours the content policy', async () => {
    const w = new BatchWriter(client, { maxRows: 1000, flushMs: 10, maxBackoffMs: 100 });
    const repo = new EventsRepository(client, w, () => 'redacted', Pseudonyms.fromKey(Buffer.alloc(32, 1)).digest);
    const ev = { id: 'ev-1', timestamp: '2026-11-24T10:00:00Z', tenant: 'acme', source: 's', model: 'm', messages: [{ role: 'user' as const, content: 'write to bob@example.com' }] };
    await repo.store(ev, scored('ev-1', 0.8), new Date());
    await repo.store(ev, scored('ev-1', 0.8), new Date());
    await repo.store({ ...ev, id: 'ev-2', tenant: 'other' }, scored('ev-2', 0.2), new Date());
    const got = await repo.get({ tenants: ['acme'] }, 'ev-1');
    expect(got).toMatchObject({ id: 'ev-1', tenant: 'acme', content_policy: 'redacted', messages: [{ role: 'user', content: 'write to [EMAIL]' }] });
    expect(JSON.stringify(got)).not.toContain('a@b.co');
    expect(await repo.get({ tenants: ['other'] }, 'ev-1')).toBeNull();
    const list = await repo.list({ scope: { tenants: ['acme'] }, limit: 10 });
    expect(list.map((r) => r.id)).toEqual(['ev-1']);
    const flagged = await repo.list({ scope: { allTenants: true }, concept: 'harmful_intent', minScore: 0.5, limit: 10 });
    expect(flagged.map((r) => r.id)).toEqual(['ev-1']);
    await w.close();
  });

  it('applies each tenant its own content policy', async () => {
    const w = new BatchWriter(client, { maxRows: 1000, flushMs: 10, maxBackoffMs: 100 });
    const policies: Record<string, 'full' | 'redacted' | 'hash'> = { open: 'full', strict: 'hash' };
    const repo = new EventsRepository(client, w, (t) => policies[t] ?? 'redacted', Pseudonyms.fromKey(Buffer.alloc(32, 1)).digest);
    const ev = (id: string, tenant: string) => ({ id, timestamp: '2026-11-24T10:00:00Z', tenant, source: 's', model: 'm', user: 'carol@example.com', messages: [{ role: 'user' as const, content: 'mail carol@example.com' }] });
    for (const [id, t] of [['p1', 'open'], ['p2', 'strict'], ['p3', 'anyone']]) await repo.store(ev(id, t), scored(id, 0.3), new Date());
    const open = await repo.get({ tenants: ['open'] }, 'p1');
    const strict = await repo.get({ tenants: ['strict'] }, 'p2');
    const other = await repo.get({ tenants: ['anyone'] }, 'p3');
    expect(open).toMatchObject({ content_policy: 'full', user: 'carol@example.com', messages: [{ content: 'mail carol@example.com' }] });
    expect(strict?.content_policy).toBe('hash');
    expect(JSON.stringify(strict)).not.toContain('carol');
    expect(other).toMatchObject({ content_policy: 'redacted', messages: [{ content: 'mail [EMAIL]' }] });
    await w.close();
  });
});
