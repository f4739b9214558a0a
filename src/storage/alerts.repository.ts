import type { ClickHouseClient } from '@clickhouse/client';

import type { Alert } from '../domain/alert';
import type { BatchWriter } from './batch-writer';
import { chTime, fromChTime, TenantScope } from './events.repository';

export interface AlertQuery {
  scope: TenantScope;
  from?: string;
  to?: string;
  rule?: string;
  severity?: string;
  eventId?: string;
  alertId?: string;
  /** Current state of the alert (from the delivery history); 'firing' when none is recorded. */
  state?: string;
  silenced?: boolean;
  acked?: boolean;
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
    if ('tenants' in q.scope) add('has({tenants:Array(String)}, a.tenant)', 'tenants', q.scope.tenants);
    add('a.ts >= parseDateTime64BestEffort({from:String}, 3)', 'from', q.from);
    add('a.ts < parseDateTime64BestEffort({to:String}, 3)', 'to', q.to);
    add('a.rule = {rule:String}', 'rule', q.rule);
    add('a.severity = {severity:String}', 'severity', q.severity);
    add('a.event_id = {eventId:String}', 'eventId', q.eventId);
    add('a.alert_id = {alertId:String}', 'alertId', q.alertId);
    add("if(h.state = '', 'firing', h.state) = {state:String}", 'state', q.state);
    if (q.silenced !== undefined) cond.push(`h.state ${q.silenced ? '=' : '!='} 'silenced'`);
    if (q.acked !== undefined) cond.push(`k.actor ${q.acked ? '!=' : '='} ''`);
    const res = await this.client.query({
      query: `SELECT a.alert_id AS alert_id, a.fingerprint AS fingerprint, a.rule AS rule, a.severity AS severity, a.kind AS kind, a.tenant AS tenant,
                     a.event_id AS event_id, a.ts AS ts, a.value AS value, a.labels AS labels, a.annotations AS annotations, a.created_at AS created_at,
                     a.ends_at AS ends_at, if(h.state = '', 'firing', h.state) AS state, h.state_at AS state_at, h.detail AS state_detail,
                     k.actor AS ack_by, k.comment AS ack_comment, k.at AS ack_at,
                     i.category AS incident_category, i.deadline AS incident_deadline, i.reported_at AS incident_reported_at
              FROM alerts AS a FINAL
              LEFT JOIN (SELECT alert_id, argMax(state, at) AS state, toString(max(at)) AS state_at, argMax(detail, at) AS detail FROM alert_history GROUP BY alert_id) AS h
                ON h.alert_id = a.alert_id
              LEFT JOIN (SELECT tenant, fingerprint, actor, comment, toString(at) AS at FROM alert_acks FINAL WHERE acked = 1) AS k
                ON k.fingerprint = a.fingerprint AND k.tenant = a.tenant
              LEFT JOIN (SELECT tenant, alert_id, category, toString(deadline) AS deadline, if(isNull(reported_at), '', toString(reported_at)) AS reported_at
                         FROM alert_incidents FINAL WHERE withdrawn = 0) AS i
                ON i.alert_id = a.alert_id AND i.tenant = a.tenant
              ${cond.length ? `WHERE ${cond.join(' AND ')}` : ''} ORDER BY a.ts DESC, a.alert_id LIMIT {limit:UInt32}`,
      query_params: params,
      format: 'JSONEachRow',
    });
    const rows = await res.json<Record<string, string | number>>();
    return rows.map(({ state_at, state_detail, ack_by, ack_comment, ack_at, incident_category, incident_deadline, incident_reported_at, ...r }) => ({
      ...r,
      value: Number(r.value),
      labels: JSON.parse(String(r.labels)),
      annotations: JSON.parse(String(r.annotations)),
      state_since: state_at || null,
      silenced_by: r.state === 'silenced' && state_detail ? String(state_detail).split(',') : [],
      ack: ack_by ? { by: ack_by, comment: ack_comment, at: `${String(ack_at).replace(' ', 'T')}Z` } : null,
      incident: incident_category
        ? { category: incident_category, deadline: fromChTime(String(incident_deadline)), reported_at: incident_reported_at ? fromChTime(String(incident_reported_at)) : null }
        : null,
    }));
  }

  /** The newest alert of each of these series (to resume delivery after a restart). */
  async latestOf(fingerprints: string[]): Promise<Alert[]> {
    if (!fingerprints.length) return [];
    const res = await this.client.query({
      query: `SELECT alert_id, fingerprint, rule, severity, kind, tenant, event_id, toString(ts) AS ts, value, labels, annotations,
                     toString(created_at) AS created_at, if(isNull(ends_at), '', toString(ends_at)) AS ends_at
              FROM alerts FINAL WHERE has({fps:Array(String)}, fingerprint) ORDER BY ts DESC LIMIT 1 BY fingerprint`,
      query_params: { fps: fingerprints },
      format: 'JSONEachRow',
    });
    return (await res.json<Record<string, string>>()).map((r) => ({
      alert_id: r.alert_id, fingerprint: r.fingerprint, rule: r.rule, severity: r.severity as Alert['severity'], kind: r.kind as Alert['kind'], tenant: r.tenant,
      event_id: r.event_id, ts: fromChTime(r.ts), value: Number(r.value), labels: JSON.parse(r.labels), annotations: JSON.parse(r.annotations),
      starts_at: fromChTime(r.created_at), ends_at: r.ends_at ? fromChTime(r.ends_at) : null,
    }));
  }

  /** One alert by id, within the caller's tenants. */
  async get(scope: TenantScope, alertId: string): Promise<Record<string, string> | null> {
    const res = await this.client.query({
      query: `SELECT alert_id, fingerprint, rule, severity, kind, tenant, event_id FROM alerts FINAL
              WHERE alert_id = {id:String} ${'tenants' in scope ? 'AND has({tenants:Array(String)}, tenant)' : ''} LIMIT 1`,
      query_params: { id: alertId, ...('tenants' in scope ? { tenants: scope.tenants } : {}) },
      format: 'JSONEachRow',
    });
    const found = await res.json<Record<string, string>>();
    return found[0] ?? null;
  }
}
