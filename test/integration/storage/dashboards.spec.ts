/**
 * Every ClickHouse query of the generated Grafana dashboards (panels and the tenant variable), with
 * the data source's macros expanded as the plugin expands them, runs on chDB against the migrated
 * schema, for All tenants and for one, and returns the rows seeded for it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { ClickHouseClient } from '@clickhouse/client';

import { CLICKHOUSE } from '../../../src/ops/dashboards/dashboards';
import { renderDashboards } from '../../../src/ops/dashboards/generate';
import { ALL, expandQuery, QueryContext } from '../../../src/ops/dashboards/macros';
import { openClickHouse } from '../../../src/storage/clickhouse-client';
import { chTime } from '../../../src/storage/events.repository';
import { migrate } from '../../../src/storage/migrator';

jest.setTimeout(120_000);

interface Query { name: string; sql: string; timeSeries: boolean }
interface Target { datasource?: { type: string }; rawSql?: string; queryType?: string; refId: string }
interface DashboardJson { title: string; rows: Array<{ panels: Array<{ title: string; targets: Target[] }> }>; templating: { list: Array<{ name: string; query: string; datasource: { type: string } }> } }

/** The ClickHouse queries in the dashboards as they are written to dashboards/. */
function clickHouseQueries(): Query[] {
  const out: Query[] = [];
  for (const d of renderDashboards().map((f) => JSON.parse(f.content) as DashboardJson)) {
    for (const v of d.templating.list) {
      if (v.datasource.type === CLICKHOUSE.type) out.push({ name: `${d.title} / variable ${v.name}`, sql: v.query, timeSeries: false });
    }
    for (const p of d.rows.flatMap((r) => r.panels)) {
      for (const t of p.targets) {
        if (t.datasource?.type === CLICKHOUSE.type) out.push({ name: `${d.title} / ${p.title} / ${t.refId}`, sql: t.rawSql ?? '', timeSeries: t.queryType === 'timeseries' });
      }
    }
  }
  return out;
}

const queries = clickHouseQueries();
const at = (hhmm: string): string => chTime(`2026-03-01T${hhmm}:00Z`);
const range = { from: new Date('2026-03-01T00:00:00Z'), to: new Date('2026-03-02T00:00:00Z'), intervalMs: 3_600_000 };

async function seed(client: ClickHouseClient): Promise<void> {
  const insert = (table: string, values: Array<Record<string, unknown>>): Promise<unknown> => client.insert({ table, values, format: 'JSONEachRow' });
  await insert('events', [
    { tenant: 'acme', event_id: 'e1', ts: at('10:00'), received_at: at('10:00'), source: 'chat', model: 'm', content_policy: 'redacted', version: 1 },
    { tenant: 'acme', event_id: 'e2', ts: at('11:30'), received_at: at('11:30'), source: 'kafka', model: 'm', content_policy: 'redacted', version: 1 },
    { tenant: 'globex', event_id: 'e3', ts: at('12:00'), received_at: at('12:00'), source: 'chat', model: 'm', content_policy: 'redacted', version: 1 },
  ]);
  const score = (tenant: string, event_id: string, ts: string, concept: string, s: number): Record<string, unknown> =>
    ({ tenant, concept, ts: at(ts), event_id, score: s, sae_score: s, dense_score: s, threshold: 0.5, flagged: s >= 0.5 ? 1 : 0, detector: 'dense', source: 'chat', model: 'm', pack_version: '1' });
  await insert('concept_scores', [
    score('acme', 'e1', '10:00', 'deception', 0.9), score('acme', 'e1', '10:00', 'harmful_intent', 0.1),
    score('acme', 'e2', '11:30', 'deception', 0.2), score('globex', 'e3', '12:00', 'deception', 0.7),
  ]);
  await insert('alerts', [
    { tenant: 'acme', alert_id: 'a1', fingerprint: 'fp1', rule: 'deception-high', severity: 'high', event_id: 'e1', ts: at('10:00'), value: 0.9, labels: '{}', annotations: '{}', created_at: at('10:00') },
    { tenant: 'globex', alert_id: 'a2', fingerprint: 'fp2', rule: 'deception-any', severity: 'low', event_id: 'e3', ts: at('12:00'), value: 0.7, labels: '{}', annotations: '{}', created_at: at('12:00') },
  ]);
  await insert('alert_history', [
    { tenant: 'acme', alert_id: 'a1', fingerprint: 'fp1', state: 'firing', at: at('10:00'), actor: 'rules', detail: '', instance: 'i1' },
    { tenant: 'acme', alert_id: 'a1', fingerprint: 'fp1', state: 'acknowledged', at: at('10:30'), actor: 'alice', detail: '', instance: 'i1' },
    { tenant: 'globex', alert_id: 'a2', fingerprint: 'fp2', state: 'firing', at: at('12:00'), actor: 'rules', detail: '', instance: 'i1' },
  ]);
  const notification = (id: string, tenants: string[], outcome: string, version: number): Record<string, unknown> => ({
    notification_id: id, instance: 'i1', receiver: 'on-call', integration: 'webhook', group_key: 'g', status: 'firing', alert_ids: ['a1'], firing: ['a1'], resolved: [],
    tenants, payload: '{}', outcome, attempts: version, last_error: outcome === 'dead' ? 'HTTP 500' : '', created_at: at('10:01'), next_attempt_at: at('10:02'), updated_at: at('10:05'), version,
  });
  await insert('notifications', [notification('n1', ['acme'], 'retrying', 1), notification('n1', ['acme'], 'sent', 2), notification('n2', ['acme', 'globex'], 'dead', 3)]);
  await insert('dead_letters', [{ received_at: at('09:00'), channel: 'http', event_id: 'bad', tenant: 'acme', reason: 'schema', errors: '[]', payload: '{}', payload_sha256: 'x' }]);
}

describe('Grafana dashboard SQL on the real schema (chDB)', () => {
  let client: ClickHouseClient;

  beforeAll(async () => {
    client = await openClickHouse({ kind: 'embedded', location: path.join(mkdtempSync(path.join(tmpdir(), 'pw-dashboards-')), 'ch'), database: 'probewatch' });
    await migrate(client);
    await seed(client);
  });

  afterAll(async () => {
    await client?.close();
  });

  async function rows(sql: string, variables: QueryContext['variables']): Promise<Array<Record<string, unknown>>> {
    const res = await client.query({ query: expandQuery(sql, { ...range, variables }), format: 'JSONEachRow' });
    return res.json<Record<string, unknown>>();
  }

  it('finds the ClickHouse queries: the tenant variable and every ClickHouse panel', () => {
    expect(queries.length).toBeGreaterThanOrEqual(12);
    expect(queries.filter((q) => q.name.includes('variable tenant'))).toHaveLength(2);
  });

  it.each(queries.map((q) => [q.name, q] as const))('%s', async (_name, q) => {
    const all = await rows(q.sql, { tenant: ALL });
    expect(all.length).toBeGreaterThan(0);
    const acme = await rows(q.sql, { tenant: ['acme'] });
    expect(acme.length).toBeGreaterThan(0);
    if (q.timeSeries) {
      for (const r of [...all, ...acme]) expect(r.time).toEqual(expect.stringMatching(/^2026-03-01 \d\d:00:00$/));
    }
    // a tenant without data: the query still runs
    await rows(q.sql, { tenant: ['nobody', 'none'] });
  });

  it('filters by tenant: the figures for acme alone, and for everyone', async () => {
    const q = (name: string): string => queries.find((x) => x.name.endsWith(`/ ${name} / A`))?.sql ?? '';
    const events = await rows(q('Events by tenant and source'), { tenant: ['acme'] });
    expect(events.map((r) => [r.tenant, r.source, Number(r.events)])).toEqual([['acme', 'chat', 1], ['acme', 'kafka', 1]]);
    expect(await rows(q('Events by tenant and source'), { tenant: ALL })).toHaveLength(3);

    const states = await rows(q('Alert series by rule and state'), { tenant: ALL });
    expect(states.map((r) => [r.rule, r.state, Number(r.series)])).toEqual([['deception-any', 'firing', 1], ['deception-high', 'acknowledged', 1]]);

    // the latest version of n1 (sent) and n2 (dead), which also belongs to globex
    const outcomes = await rows(q('Notifications by receiver'), { tenant: ['globex'] });
    expect(outcomes.map((r) => [r.outcome, Number(r.notifications), r.last_error])).toEqual([['dead', 1, 'HTTP 500']]);
    expect((await rows(q('Notification outcomes'), { tenant: ['acme'] })).map((r) => r.outcome)).toEqual(['dead', 'sent']);

    const rate = await rows(q('Flagged rate per concept'), { tenant: ['acme'] });
    expect(rate.map((r) => [r.time, r.concept, Number(r.flagged_rate)])).toEqual([
      ['2026-03-01 10:00:00', 'deception', 1], ['2026-03-01 10:00:00', 'harmful_intent', 0], ['2026-03-01 11:00:00', 'deception', 0],
    ]);
  });
});
