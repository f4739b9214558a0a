import type { ClickHouseClient } from '@clickhouse/client';

import type { Alert } from '../alerts/alert';
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
  store(alerts: Alert[], eventTs: string): Promise<void> {
    return this.writer.write('alerts', alerts.map((a) => ({
      tenant: a.tenant, alert_id: a.alert_id, fingerprint: a.fingerprint, rule: a.rule, severity: a.severity, event_id: a.event_id,
      ts: chTime(eventTs), value: a.value, labels: JSON.stringify(a.labels), annotations: JSON.stringify(a.annotations), created_at: chTime(a.starts_at),
    })));
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
      query: `SELECT alert_id, fingerprint, rule, severity, tenant, event_id, ts, value, labels, annotations, created_at
              FROM alerts FINAL ${cond.length ? `WHERE ${cond.join(' AND ')}` : ''} ORDER BY ts DESC, alert_id LIMIT {limit:UInt32}`,
      query_params: params,
      format: 'JSONEachRow',
    });
    const rows = await res.json<Record<string, string | number>>();
    return rows.map((r) => ({ ...r, value: Number(r.value), labels: JSON.parse(String(r.labels)), annotations: JSON.parse(String(r.annotations)) }));
  }
}
