/**
 * Retention on the real embedded store: expired monthly partitions are dropped, each drop is in
 * the audit trail before it runs, the trail still verifies, a second pass does nothing, and the
 * row TTL of earlier versions is gone. Then `probewatch retention apply [--dry-run]` on the same store.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { ClickHouseClient } from '@clickhouse/client';

import { runAudit } from '../../../src/cli/audit.command';
import { runRetention } from '../../../src/cli/retention.command';
import { loadConfig } from '../../../src/config/app-config';
import { AuditTrail, loadSigningKey } from '../../../src/ops/audit/audit-trail';
import { Metrics } from '../../../src/ops/metrics';
import { RetentionRunner } from '../../../src/ops/retention/retention-runner';
import { AuditRepository } from '../../../src/storage/audit.repository';
import { openClickHouse } from '../../../src/storage/clickhouse-client';
import { migrate, removeRetentionTtl } from '../../../src/storage/migrator';
import { RETAINED_TABLES, RetentionRepository } from '../../../src/storage/retention.repository';

jest.setTimeout(180_000);

// A fixed clock: retention 90 days at 2026-06-15 12:00 UTC puts the cutoff at 2026-03-17 12:00.
const NOW = new Date('2026-06-15T12:00:00.000Z');
const clock = (): Date => NOW;

describe('retention by partition (chDB)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pw-retention-'));
  const store = path.join(dir, 'ch');
  const keyFile = path.join(dir, 'audit-signing.key');
  let client: ClickHouseClient;
  let trail: AuditTrail;
  let repo: RetentionRepository;
  const metrics = new Metrics();

  const rows = async <T>(query: string): Promise<T[]> => (await client.query({ query, format: 'JSONEachRow' })).json<T>();
  const partitionsOf = async (table: string): Promise<string[]> => (await repo.partitions(table)).map((p) => p.partition);
  const insertEvents = (ts: string[]) => client.insert({ table: 'events', values: ts.map((t, i) => ({ tenant: 'acme', event_id: `e-${t}-${i}`, ts: t, received_at: t })), format: 'JSONEachRow' });
  const insertScores = (ts: string[]) => client.insert({ table: 'concept_scores', values: ts.map((t, i) => ({ tenant: 'acme', concept: 'deception', ts: t, event_id: `e-${t}-${i}`, score: 0.5 })), format: 'JSONEachRow' });
  const insertAlerts = (ts: string[]) => client.insert({ table: 'alerts', values: ts.map((t, i) => ({ tenant: 'acme', alert_id: `a-${t}-${i}`, ts: t, created_at: t })), format: 'JSONEachRow' });
  const runner = (t: AuditTrail, actor = 'probewatch') => new RetentionRunner({ repo, append: (r) => t.append(r), actor, retentionDays: 90, metrics, now: clock });

  beforeAll(async () => {
    client = await openClickHouse({ kind: 'embedded', location: store, database: 'probewatch' });
    await migrate(client);
    repo = new RetentionRepository(client);
    const key = loadSigningKey(keyFile);
    trail = new AuditTrail(new AuditRepository(client), 'svc-1', key.privateKey, key.publicKey, 100, clock);
    await trail.open();
  });
  afterAll(async () => {
    await client?.close();
  });

  it('removes the row TTL an earlier version set, and does nothing the second time', async () => {
    await client.command({ query: 'ALTER TABLE events MODIFY TTL toDateTime(ts) + INTERVAL 90 DAY' });
    await client.command({ query: 'ALTER TABLE alerts MODIFY TTL toDateTime(ts) + INTERVAL 90 DAY' });
    expect(await removeRetentionTtl(client)).toEqual(['events', 'alerts']);
    expect(await removeRetentionTtl(client)).toEqual([]);
    const defs = await rows<{ name: string; engine_full: string }>('SELECT name, engine_full FROM system.tables WHERE database = currentDatabase()');
    expect(defs.filter((d) => /\sTTL\s/.test(d.engine_full)).map((d) => d.name)).toEqual([]);
  });

  it('drops the partitions whose rows are all older than the cutoff, recording each drop first, and keeps the rest', async () => {
    // January: expired. March: events straddle the cutoff (kept); scores all before it (dropped). June: current.
    await insertEvents(['2026-01-03 08:00:00.000', '2026-01-20 09:00:00.000']);
    await insertEvents(['2026-01-31 23:59:59.999']);
    await insertEvents(['2026-03-02 10:00:00.000', '2026-03-20 10:00:00.000']);
    await insertEvents(['2026-06-14 10:00:00.000', '2026-06-15 11:00:00.000']);
    await insertScores(['2026-01-05 00:00:00.000', '2026-01-06 00:00:00.000', '2026-01-07 00:00:00.000', '2026-01-08 00:00:00.000']);
    await insertScores(['2026-03-01 00:00:00.000', '2026-03-16 23:00:00.000']);
    await insertScores(['2026-06-15 11:59:00.000']);
    await insertAlerts(['2026-01-10 12:00:00.000', '2026-01-11 12:00:00.000']);
    await insertAlerts(['2026-06-01 00:00:00.000']);

    const dry = await runner(trail).apply({ dryRun: true });
    expect(dry.dropped.map((d) => `${d.table}/${d.partition}:${d.rows}`)).toEqual(['events/202601:3', 'concept_scores/202601:4', 'concept_scores/202603:2', 'alerts/202601:2']);
    expect(await partitionsOf('events')).toEqual(['202601', '202603', '202606']);

    const r = await runner(trail).apply();
    expect(r).toMatchObject({ cutoff: '2026-03-17T12:00:00.000Z', retention_days: 90, failed: [], skipped: [], errors: [] });
    expect(r.dropped).toEqual(dry.dropped);
    expect(await partitionsOf('events')).toEqual(['202603', '202606']);
    expect(await partitionsOf('concept_scores')).toEqual(['202606']);
    expect(await partitionsOf('alerts')).toEqual(['202606']);
    expect(Number((await rows<{ n: string | number }>('SELECT count() AS n FROM events'))[0].n)).toBe(4);

    const recorded = (await trail.repo().list({ action: 'retention.drop', tenants: null, limit: 100 })).reverse();
    expect(recorded.map((e) => [e.actor, e.target, JSON.parse(e.detail)])).toEqual([
      ['probewatch', 'events/202601', { table: 'events', partition: '202601', rows: 3, max_time: '2026-01-31T23:59:59.000Z', cutoff: '2026-03-17T12:00:00.000Z', retention_days: 90 }],
      ['probewatch', 'concept_scores/202601', { table: 'concept_scores', partition: '202601', rows: 4, max_time: '2026-01-08T00:00:00.000Z', cutoff: '2026-03-17T12:00:00.000Z', retention_days: 90 }],
      ['probewatch', 'concept_scores/202603', { table: 'concept_scores', partition: '202603', rows: 2, max_time: '2026-03-16T23:00:00.000Z', cutoff: '2026-03-17T12:00:00.000Z', retention_days: 90 }],
      ['probewatch', 'alerts/202601', { table: 'alerts', partition: '202601', rows: 2, max_time: '2026-01-11T12:00:00.000Z', cutoff: '2026-03-17T12:00:00.000Z', retention_days: 90 }],
    ]);
    expect((await metrics.registry.getSingleMetricAsString('probewatch_retention_dropped_partitions_total'))).toMatch(/table="concept_scores"} 2/);

    await trail.checkpoint();
    expect(await trail.verify()).toMatchObject({ ok: true, entries: 4 });
  });

  it('a second pass drops and records nothing', async () => {
    const r = await runner(trail).apply();
    expect(r.dropped).toEqual([]);
    expect(await trail.repo().list({ action: 'retention.drop', tenants: null, limit: 100 })).toHaveLength(4);
    expect(await partitionsOf('events')).toEqual(['202603', '202606']);
  });

  it('leaves a partition another instance is dropping, and takes it over once that instance recorded a failure', async () => {
    const key = loadSigningKey(keyFile);
    const other = new AuditTrail(new AuditRepository(client), 'svc-2', key.privateKey, key.publicKey, 100, clock);
    await other.open();
    await client.insert({ table: 'feature_activations', values: [{ tenant: 'acme', feature: 7, ts: '2026-02-02 00:00:00.000', event_id: 'e', concept: 'deception' }], format: 'JSONEachRow' });
    await other.append([{ actor: 'probewatch', action: 'retention.drop', target: 'feature_activations/202602', tenant: '', detail: '{}' }]);
    expect((await runner(trail).apply()).skipped).toEqual([{ table: 'feature_activations', partition: '202602', reason: 'another pass is dropping it' }]);
    expect(await partitionsOf('feature_activations')).toEqual(['202602']);

    await other.append([{ actor: 'probewatch', action: 'retention.drop.failed', target: 'feature_activations/202602', tenant: '', detail: '{}' }]);
    expect((await runner(trail).apply()).dropped.map((d) => d.partition)).toEqual(['202602']);
    expect(await partitionsOf('feature_activations')).toEqual([]);
    await other.checkpoint();
    await trail.checkpoint();
    expect(await trail.verify()).toMatchObject({ ok: true, chains: 2 });
  });

  it('records a failed drop after its intent', async () => {
    await insertAlerts(['2026-02-01 00:00:00.000']);
    const failing = Object.assign(Object.create(repo) as RetentionRepository, { drop: () => Promise.reject(new Error('disk on fire')) });
    const r = await new RetentionRunner({ repo: failing, append: (x) => trail.append(x), actor: 'probewatch', retentionDays: 90, now: clock }).apply();
    expect(r.failed).toEqual([{ table: 'alerts', partition: '202602', rows: 1, max_time: '2026-02-01T00:00:00.000Z', error: 'disk on fire' }]);
    const [last, before] = await trail.repo().list({ tenants: null, limit: 2, actor: 'probewatch' });
    expect([before.action, last.action, JSON.parse(last.detail)]).toEqual(['retention.drop', 'retention.drop.failed', { table: 'alerts', partition: '202602', error: 'disk on fire' }]);
    expect(await partitionsOf('alerts')).toEqual(['202602', '202606']);
    // The next pass takes it again (the failure ends the claim).
    expect((await runner(trail).apply()).dropped.map((d) => `${d.table}/${d.partition}`)).toEqual(['alerts/202602']);
    await trail.checkpoint();
  });

  it('probewatch retention apply [--dry-run] on the store, and audit verify after it', async () => {
    await client.insert({ table: 'dead_letters', values: [{ received_at: '2001-01-10 00:00:00.000', channel: 'http', reason: 'bad', payload: '{}' }], format: 'JSONEachRow' });
    await client.close();
    // The real clock, 10 years: only 2001 is old enough.
    const cfg = loadConfig({ PROBEWATCH_DATA_DIR: dir, PROBEWATCH_CLICKHOUSE_DIR: store, PROBEWATCH_AUDIT_SIGNING_KEY_FILE: keyFile, PROBEWATCH_RETENTION_DAYS: '3650' });
    const lines: string[] = [];
    const out = (l: string): void => void lines.push(l);
    expect(await runRetention(cfg, ['apply', '--dry-run'], out)).toBe(0);
    expect(lines.slice(1)).toEqual(['would drop dead_letters partition 200101: 1 rows, newest 2001-01-10T00:00:00.000Z']);
    lines.length = 0;
    expect(await runRetention(cfg, ['apply'], out)).toBe(0);
    expect(lines.slice(1)).toEqual(['dropped dead_letters partition 200101: 1 rows, newest 2001-01-10T00:00:00.000Z']);
    lines.length = 0;
    expect(await runRetention(cfg, ['apply'], out)).toBe(0);
    expect(lines.slice(1)).toEqual(['nothing to drop']);
    lines.length = 0;
    expect(await runAudit(cfg, ['verify'], out)).toBe(0);
    expect(lines[0]).toMatch(/^ok: \d+ entries in 3 chain\(s\)/);

    client = await openClickHouse({ kind: 'embedded', location: store, database: 'probewatch' });
    const cli = (await new AuditRepository(client).list({ action: 'retention.drop', tenants: null, limit: 100 })).filter((e) => e.chain.startsWith('cli@'));
    expect(cli.map((e) => e.target)).toEqual(['dead_letters/200101']);
    const tables = RETAINED_TABLES.map((t) => t.table);
    const defs = await (await client.query({ query: 'SELECT name, engine_full FROM system.tables WHERE database = currentDatabase()', format: 'JSONEachRow' })).json<{ name: string; engine_full: string }>();
    expect(defs.filter((d) => tables.includes(d.name) && /\sTTL\s/.test(d.engine_full))).toEqual([]);
  });
});
