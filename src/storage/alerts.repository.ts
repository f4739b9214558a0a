import type { ClickHouseClient } from '@clickhouse/client';

import type { Alert } from '../domain/alert';
import type { BatchWriter } from './batch-writer';
import { chTime, TenantScope } from './events.repository';

export interface AlertQuery {
  scope: TenantScope;
  from?: string;
  to?: string;
  rule?: string;
  severity?: string;
  eventId?: string;
  limit: number;
}

export class AlertsRepository {
  constructor(private readonly client: ClickHouseClient, private readonly writer: BatchWriter) {}

  /** Idempotent by alert_id (ReplacingMergeTree): a redelivered event stores no second alert. */
  store(alerts: Alert[], eventTs?: string): Promise<void> {
    return this.writer.write('alerts', alerts.map((a) => ({
      tenant: a.tenant, alert_id: a.alert_id, fingerprint: a.fingerprint, rule: a.rule, severity: a.severity, event_id: a.event_id,
      ts: chTime(a.ts ?? eventTs ?? a.starts_at), value: a.value, labels: JSON.stringify(a.labels), annotations: JSON.stringify(a.annotations), created_at: chTime(a.starts_at),
      kind: a.kind ?? 'event', ends_at: a.ends_at ? chTime(a.ends_at) : null,
    })));
  }

  /** Which of these alert ids are already recorded (by another instance or an earlier run). */
  async existing(ids: string[]): Promise<Set<string>> {
    if (!ids.length) return new Set();
    const res = await this.client.query({
      query: 'SELECT DISTINCT alert_id FROM alerts WHERE has({ids:Array(String)}, alert_id)',
      query_params: { ids },
      format: 'JSONEachRow',
    });
    return new Set((await res.json<{ alert_id: string }>()).map((r) => r.alert_id));
  }

  /** Windowed alerts still firing (no end recorded), to resume their state after a restart. */
  async open(rule: string): Promise<Array<{ alert_id: string; fingerprint: string; ts: string; labels: string }>> {
    const res = await this.client.query({
      query: `SELECT alert_id, fingerprint, toString(ts) AS ts, labels FROM alerts FINAL
              WHERE rule = {rule:String} AND kind = 'windowed' AND ends_at IS NULL ORDER BY ts`,
      query_params: { rule },
      format: 'JSONEachRow',
    });
    return res.json<{ alert_id: string; fingerprint: string; ts: string; labels: string }>();
  }

  async list(q: AlertQuery): Promise<Array<Record<string, unknown>>> {
    const cond: string[] = [];
    const params: Record<string, unknown> = { limit: q.limit };
    const add = (sql: string, key: string, v: unknown): void => {
      if (v === undefined) return;
      cond.push(sql);
      params[key] = v;
    };
    if ('tenant' in q.scope) add('tenant = {tenant:String}', 'tenant', q.scope.tenant);
    add('ts >= parseDateTime64BestEffort({from:String}, 3)', 'from', q.from);
    add('ts < parseDateTime64BestEffort({to:String}, 3)', 'to', q.to);
    add('rule = {rule:String}', 'rule', q.rule);
    add('severity = {severity:String}', 'severity', q.severity);
    add('event_id = {eventId:String}', 'eventId', q.eventId);
    const res = await this.client.query({
      query: `SELECT alert_id, fingerprint, rule, severity, kind, tenant, event_id, ts, value, labels, annotations, created_at, ends_at
              FROM alerts FINAL ${cond.length ? `WHERE ${cond.join(' AND ')}` : ''} ORDER BY ts DESC, alert_id LIMIT {limit:UInt32}`,
      query_params: params,
      format: 'JSONEachRow',
    });
    const rows = await res.json<Record<string, string | number>>();
    return rows.map((r) => ({ ...r, value: Number(r.value), labels: JSON.parse(String(r.labels)), annotations: JSON.parse(String(r.annotations)) }));
  }
}
