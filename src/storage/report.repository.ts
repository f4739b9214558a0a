/**
 * The figures of a compliance report for a period (and optionally one tenant), read from the
 * stored events, scores, alerts, silences, rule history and audit trail. Every query is ordered,
 * so the same period and data give the same report.
 */
import type { ClickHouseClient } from '@clickhouse/client';

export interface ReportPeriod {
  from: string;
  to: string;
  tenant?: string;
}

/** The time-to-acknowledge buckets of a report, upper bounds exclusive; the last is open. */
export const ACK_BUCKETS: ReadonlyArray<{ bucket: string; max_seconds: number | null }> = [
  { bucket: '< 1 min', max_seconds: 60 }, { bucket: '1-5 min', max_seconds: 300 }, { bucket: '5-15 min', max_seconds: 900 }, { bucket: '15-60 min', max_seconds: 3600 },
  { bucket: '1-4 h', max_seconds: 14_400 }, { bucket: '4-24 h', max_seconds: 86_400 }, { bucket: '>= 24 h', max_seconds: null },
];

export class ReportRepository {
  constructor(private readonly client: ClickHouseClient) {}

  private async rows<T>(query: string, p: ReportPeriod, extra: Record<string, unknown> = {}): Promise<T[]> {
    const res = await this.client.query({ query, query_params: { from: p.from, to: p.to, ...(p.tenant ? { tenant: p.tenant } : {}), ...extra }, format: 'JSONEachRow' });
    return res.json<T>();
  }

  private static range(col: string, p: ReportPeriod, tenantCol = 'tenant'): string {
    return `${col} >= parseDateTime64BestEffort({from:String}, 3) AND ${col} < parseDateTime64BestEffort({to:String}, 3)${p.tenant ? ` AND ${tenantCol} = {tenant:String}` : ''}`;
  }

  /** Events scored, by day, with the models and packs seen. */
  async coverage(p: ReportPeriod): Promise<{ days: Array<{ day: string; scored: number; dead_lettered: number }>; models: string[]; packs: string[]; tenants: string[] }> {
    const scored = await this.rows<{ day: string; n: string }>(`SELECT toString(toDate(ts)) AS day, count() AS n FROM events FINAL WHERE ${ReportRepository.range('ts', p)} GROUP BY day ORDER BY day`, p);
    const dead = await this.rows<{ day: string; n: string }>(`SELECT toString(toDate(received_at)) AS day, count() AS n FROM dead_letters WHERE ${ReportRepository.range('received_at', p)} GROUP BY day ORDER BY day`, p);
    const days = [...new Set([...scored, ...dead].map((r) => r.day))].sort();
    const s = new Map(scored.map((r) => [r.day, Number(r.n)]));
    const d = new Map(dead.map((r) => [r.day, Number(r.n)]));
    const meta = await this.rows<{ models: string[]; packs: string[]; tenants: string[] }>(
      `SELECT arraySort(groupUniqArray(model)) AS models, arraySort(groupUniqArray(concat(pack_id, '@', pack_version))) AS packs, arraySort(groupUniqArray(tenant)) AS tenants
       FROM events FINAL WHERE ${ReportRepository.range('ts', p)}`, p);
    return { days: days.map((day) => ({ day, scored: s.get(day) ?? 0, dead_lettered: d.get(day) ?? 0 })), models: meta[0]?.models ?? [], packs: meta[0]?.packs ?? [], tenants: meta[0]?.tenants ?? [] };
  }

  /** Per concept: events, flagged count and rate, score quantiles. */
  async detections(p: ReportPeriod): Promise<Array<{ concept: string; events: number; flagged: number; p50: number; p90: number; p99: number }>> {
    const rows = await this.rows<{ concept: string; n: string; flagged: string; q: number[] }>(
      `SELECT concept, count() AS n, sum(flagged) AS flagged, quantilesExact(0.5, 0.9, 0.99)(score) AS q FROM concept_scores FINAL
       WHERE ${ReportRepository.range('ts', p)} GROUP BY concept ORDER BY concept`, p);
    const r4 = (x: number): number => Math.round(Number(x) * 10_000) / 10_000;
    return rows.map((r) => ({ concept: r.concept, events: Number(r.n), flagged: Number(r.flagged), p50: r4(r.q[0]), p90: r4(r.q[1]), p99: r4(r.q[2]) }));
  }

  /** Per day and concept: events scored and flagged (the report's detections chart). */
  async detectionsByDay(p: ReportPeriod): Promise<Array<{ day: string; concept: string; events: number; flagged: number }>> {
    const rows = await this.rows<{ day: string; concept: string; n: string; flagged: string }>(
      `SELECT toString(toDate(ts)) AS day, concept, count() AS n, sum(flagged) AS flagged FROM concept_scores FINAL
       WHERE ${ReportRepository.range('ts', p)} GROUP BY day, concept ORDER BY day, concept`, p);
    return rows.map((r) => ({ day: r.day, concept: r.concept, events: Number(r.n), flagged: Number(r.flagged) }));
  }

  /** Per day and severity: alerts raised (the report's alerts chart). */
  async alertsByDay(p: ReportPeriod): Promise<Array<{ day: string; severity: string; alerts: number }>> {
    const rows = await this.rows<{ day: string; severity: string; n: string }>(
      `SELECT toString(toDate(ts)) AS day, severity, count() AS n FROM alerts FINAL
       WHERE ${ReportRepository.range('ts', p)} GROUP BY day, severity ORDER BY day, severity`, p);
    return rows.map((r) => ({ day: r.day, severity: r.severity, alerts: Number(r.n) }));
  }

  /**
   * Alerts of the period by time to acknowledge: the count in each of ACK_BUCKETS (the first
   * acknowledgement of the alert's series after it was raised; an earlier one counts as 0 s), and
   * those never acknowledged. Every bucket is listed, empty ones with 0.
   */
  async timeToAcknowledge(p: ReportPeriod): Promise<Array<{ bucket: string; max_seconds: number | null; alerts: number }>> {
    const edges = ACK_BUCKETS.filter((b) => b.max_seconds !== null).map((b, i) => `s < ${b.max_seconds}, ${i}`).join(', ');
    const rows = await this.rows<{ b: number; n: string }>(
      `SELECT multiIf(acked = 0, -1, ${edges}, ${ACK_BUCKETS.length - 1}) AS b, count() AS n FROM (
         SELECT k.at IS NOT NULL AS acked, greatest(0, dateDiff('second', a.created_at, k.at)) AS s
         FROM alerts AS a FINAL
         LEFT JOIN (SELECT tenant, fingerprint, min(at) AS at FROM alert_history WHERE state = 'acknowledged' GROUP BY tenant, fingerprint) AS k
           ON k.fingerprint = a.fingerprint AND k.tenant = a.tenant
         WHERE ${ReportRepository.range('a.ts', p, 'a.tenant')})
       GROUP BY b ORDER BY b
       SETTINGS join_use_nulls = 1`, p);
    const n = new Map(rows.map((r) => [Number(r.b), Number(r.n)]));
    return [...ACK_BUCKETS.map((b, i) => ({ ...b, alerts: n.get(i) ?? 0 })), { bucket: 'not acknowledged', max_seconds: null, alerts: n.get(-1) ?? 0 }];
  }

  /** Alerts by rule and severity, with how many are open now and the median time to acknowledge. */
  async alerts(p: ReportPeriod): Promise<Array<{ rule: string; severity: string; alerts: number; series: number; acknowledged: number; median_ack_seconds: number | null }>> {
    const rows = await this.rows<{ rule: string; severity: string; n: string; series: string; acked: string; ack_s: number | null }>(
      `SELECT a.rule AS rule, a.severity AS severity, count() AS n, uniqExact(a.fingerprint) AS series, countIf(k.at IS NOT NULL) AS acked,
              medianExactIf(dateDiff('millisecond', a.created_at, k.at) / 1000, k.at IS NOT NULL) AS ack_s
       FROM alerts AS a FINAL
       LEFT JOIN (SELECT tenant, fingerprint, min(at) AS at FROM alert_history WHERE state = 'acknowledged' GROUP BY tenant, fingerprint) AS k
         ON k.fingerprint = a.fingerprint AND k.tenant = a.tenant
       WHERE ${ReportRepository.range('a.ts', p, 'a.tenant')}
       GROUP BY rule, severity ORDER BY n DESC, rule, severity
       SETTINGS join_use_nulls = 1`, p);
    return rows.map((r) => ({ rule: r.rule, severity: r.severity, alerts: Number(r.n), series: Number(r.series), acknowledged: Number(r.acked), median_ack_seconds: r.ack_s === null || Number.isNaN(Number(r.ack_s)) || Number(r.acked) === 0 ? null : Math.round(Number(r.ack_s) * 10) / 10 }));
  }

  /** Silences active at any time in the period, with author, reason and expiry. */
  async silences(p: ReportPeriod): Promise<Array<{ id: string; created_by: string; comment: string; starts_at: string; ends_at: string; matchers: string }>> {
    const rows = await this.rows<{ id: string; created_by: string; comment: string; s: string; e: string; matchers: string }>(
      `SELECT id, created_by, comment, toString(starts_at) AS s, toString(ends_at) AS e, matchers FROM silences FINAL
       WHERE starts_at < parseDateTime64BestEffort({to:String}, 3) AND ends_at >= parseDateTime64BestEffort({from:String}, 3) ORDER BY starts_at, id`, { from: p.from, to: p.to });
    return rows.map(({ s, e, ...r }) => ({ ...r, starts_at: s, ends_at: e }));
  }

  /**
   * Serious incidents (alerts marked under EU AI Act Art. 73) that concern the period: the
   * provider became aware in it, or earlier and the report was still due in it.
   */
  async incidents(p: ReportPeriod): Promise<Array<{ tenant: string; alert_id: string; rule: string; category: string; summary: string; aware_at: string; deadline: string; reported_at: string | null }>> {
    // Aliases differ from the columns: ClickHouse would resolve the WHERE's columns to the strings.
    const rows = await this.rows<{ tenant: string; alert_id: string; rule: string; category: string; summary: string; aware: string; due: string; reported: string | null }>(
      `SELECT tenant, alert_id, rule, category, summary, toString(aware_at) AS aware, toString(deadline) AS due, if(isNull(reported_at), NULL, toString(reported_at)) AS reported
       FROM alert_incidents FINAL
       WHERE withdrawn = 0 AND aware_at < parseDateTime64BestEffort({to:String}, 3)
         AND (aware_at >= parseDateTime64BestEffort({from:String}, 3) OR reported_at IS NULL OR reported_at >= parseDateTime64BestEffort({from:String}, 3))${p.tenant ? ' AND tenant = {tenant:String}' : ''}
       ORDER BY deadline, tenant, alert_id`, p);
    return rows.map(({ aware, due, reported, ...r }) => ({ ...r, aware_at: aware, deadline: due, reported_at: reported }));
  }

  /** Rule-set changes in the period (accepted and rejected). */
  async ruleChanges(p: ReportPeriod): Promise<Array<{ at: string; ok: number; hash: string; previous_hash: string; rules: number }>> {
    const rows = await this.rows<{ t: string; ok: number; hash: string; previous_hash: string; rules: number }>(
      `SELECT toString(at) AS t, ok, hash, previous_hash, rules FROM rule_set_history
       WHERE at >= parseDateTime64BestEffort({from:String}, 3) AND at < parseDateTime64BestEffort({to:String}, 3) ORDER BY at, hash`, { from: p.from, to: p.to });
    return rows.map(({ t, ...r }) => ({ at: t, ...r }));
  }

  /** Audit entries of these actions in the period (configuration at starts, alerting changes, erasures, key changes). */
  async auditActions(p: ReportPeriod, actions: string[]): Promise<Array<{ at: string; actor: string; action: string; target: string; detail: string }>> {
    const rows = await this.rows<{ t: string; actor: string; action: string; target: string; detail: string }>(
      `SELECT toString(at) AS t, actor, action, target, detail FROM audit_log
       WHERE at >= parseDateTime64BestEffort({from:String}, 3) AND at < parseDateTime64BestEffort({to:String}, 3) AND has({actions:Array(String)}, action)
       ORDER BY at, chain, seq`, { from: p.from, to: p.to }, { actions });
    return rows.map(({ t, ...r }) => ({ at: t, ...r }));
  }
}
