/**
 * Storage of alert delivery: the alert state history, acknowledgements, silences and the
 * notification log. Writes go straight to ClickHouse (not through the batch writer): a pending
 * notification is the durable queue the delivery worker resumes from after a restart, and an
 * acknowledgement or a silence must hold on every instance as soon as the API has answered.
 */
import type { ClickHouseClient } from '@clickhouse/client';

import { chTime, fromChTime, nextVersion } from './events.repository';

export type AlertState = 'firing' | 'acknowledged' | 'silenced' | 'inhibited' | 'resolved' | 'unacknowledged';
export const ALERT_STATES: readonly AlertState[] = ['firing', 'acknowledged', 'silenced', 'inhibited', 'resolved'];

export interface StateChange {
  tenant: string;
  alert_id: string;
  fingerprint: string;
  state: AlertState;
  at: string;
  actor: string;
  detail: string;
  instance: string;
}

export interface AckRecord {
  tenant: string;
  fingerprint: string;
  alert_id: string;
  acked: boolean;
  actor: string;
  comment: string;
  at: string;
}

export interface SilenceRecord {
  id: string;
  /** JSON: [{name, value, isRegex, isEqual}] */
  matchers: string;
  starts_at: string;
  ends_at: string;
  created_by: string;
  comment: string;
  /** JSON of the recurring schedule (time_intervals shape), '' when none. */
  recurring: string;
  created_at: string;
  updated_at: string;
}

export type Outcome = 'pending' | 'retrying' | 'sent' | 'dead';

export interface NotificationRecord {
  notification_id: string;
  instance: string;
  receiver: string;
  integration: string;
  group_key: string;
  status: 'firing' | 'resolved';
  alert_ids: string[];
  firing: string[];
  resolved: string[];
  tenants: string[];
  payload: string;
  outcome: Outcome;
  attempts: number;
  last_error: string;
  created_at: string;
  next_attempt_at: string;
  updated_at: string;
}


/** A notifications row as read: the record with its times as ClickHouse text. */
type NotificationRow = NotificationRecord & { created_text: string; next_attempt_text: string; updated_text: string };

export class AlertDeliveryRepository {
  constructor(private readonly client: ClickHouseClient) {}

  private async rows<T>(query: string, params: Record<string, unknown> = {}): Promise<T[]> {
    const res = await this.client.query({ query, query_params: params, format: 'JSONEachRow' });
    return res.json<T>();
  }

  // --- state history -------------------------------------------------------------------------

  async recordStates(changes: StateChange[]): Promise<void> {
    if (!changes.length) return;
    await this.client.insert({ table: 'alert_history', values: changes.map((c) => ({ ...c, at: chTime(c.at) })), format: 'JSONEachRow' });
  }

  async history(tenants: string[] | null, fingerprint: string): Promise<StateChange[]> {
    const rows = await this.rows<StateChange>(
      `SELECT tenant, alert_id, fingerprint, state, toString(at) AS at, actor, detail, instance FROM alert_history
       WHERE fingerprint = {fp:String} ${tenants ? 'AND has({tenants:Array(String)}, tenant)' : ''} ORDER BY at, state`,
      { fp: fingerprint, ...(tenants ? { tenants } : {}) },
    );
    return rows.map((r) => ({ ...r, at: fromChTime(r.at) }));
  }

  /** Series this instance raised that have not resolved (to resume them after a restart). */
  async openSeries(instance: string, since: string): Promise<string[]> {
    const rows = await this.rows<{ fingerprint: string }>(
      `SELECT fingerprint FROM alert_history WHERE at >= parseDateTime64BestEffort({since:String}, 3)
       GROUP BY fingerprint HAVING argMax(state, at) != 'resolved' AND argMaxIf(instance, at, state = 'firing') = {instance:String}`,
      { since, instance },
    );
    return rows.map((r) => r.fingerprint);
  }

  /** When each silence last muted an alert. */
  async silenceLastMatched(ids: string[]): Promise<Map<string, string>> {
    if (!ids.length) return new Map();
    const rows = await this.rows<{ detail: string; at: string }>(
      `SELECT sid AS detail, toString(max(at)) AS at FROM alert_history ARRAY JOIN splitByChar(',', detail) AS sid
       WHERE state = 'silenced' AND has({ids:Array(String)}, sid) GROUP BY sid`,
      { ids },
    );
    return new Map(rows.map((r) => [r.detail, fromChTime(r.at)]));
  }

  // --- acknowledgements ------------------------------------------------------------------------

  async recordAck(a: AckRecord): Promise<void> {
    await this.client.insert({ table: 'alert_acks', values: [{ ...a, acked: a.acked ? 1 : 0, at: chTime(a.at) }], format: 'JSONEachRow' });
  }

  /** The current acknowledgement of every acknowledged series. */
  async acks(): Promise<AckRecord[]> {
    const rows = await this.rows<Omit<AckRecord, 'acked'> & { acked: number }>(
      `SELECT tenant, fingerprint, alert_id, acked, actor, comment, toString(at) AS at FROM alert_acks FINAL WHERE acked = 1`,
    );
    return rows.map((r) => ({ ...r, acked: true, at: fromChTime(r.at) }));
  }

  // --- silences --------------------------------------------------------------------------------

  async saveSilence(s: SilenceRecord): Promise<void> {
    await this.client.insert({
      table: 'silences',
      values: [{ ...s, starts_at: chTime(s.starts_at), ends_at: chTime(s.ends_at), created_at: chTime(s.created_at), updated_at: chTime(s.updated_at), version: nextVersion() }],
      format: 'JSONEachRow',
    });
  }

  async silences(): Promise<SilenceRecord[]> {
    const rows = await this.rows<SilenceRecord>(
      `SELECT id, matchers, toString(starts_at) AS starts_at, toString(ends_at) AS ends_at, created_by, comment, recurring,
              toString(created_at) AS created_at, toString(updated_at) AS updated_at FROM silences FINAL ORDER BY created_at DESC, id`,
    );
    return rows.map((r) => ({ ...r, starts_at: fromChTime(r.starts_at), ends_at: fromChTime(r.ends_at), created_at: fromChTime(r.created_at), updated_at: fromChTime(r.updated_at) }));
  }

  // --- notification log ------------------------------------------------------------------------

  async saveNotifications(ns: NotificationRecord[]): Promise<void> {
    if (!ns.length) return;
    await this.client.insert({
      table: 'notifications',
      values: ns.map((n) => ({ ...n, created_at: chTime(n.created_at), next_attempt_at: chTime(n.next_attempt_at), updated_at: chTime(n.updated_at), version: nextVersion() })),
      format: 'JSONEachRow',
    });
  }

  private static readonly COLUMNS = `notification_id, instance, receiver, integration, group_key, status, alert_ids, firing, resolved, tenants, payload, outcome, attempts,
    last_error, toString(created_at) AS created_text, toString(next_attempt_at) AS next_attempt_text, toString(updated_at) AS updated_text`;

  private static fromRow(row: NotificationRow): NotificationRecord {
    const { created_text, next_attempt_text, updated_text, ...r } = row;
    return { ...r, attempts: Number(r.attempts), created_at: fromChTime(created_text), next_attempt_at: fromChTime(next_attempt_text), updated_at: fromChTime(updated_text) };
  }

  /** This instance's notifications still to be delivered (pending or awaiting a retry). */
  async undelivered(instance: string, limit: number): Promise<NotificationRecord[]> {
    const rows = await this.rows<NotificationRow>(
      `SELECT ${AlertDeliveryRepository.COLUMNS} FROM notifications FINAL
       WHERE instance = {instance:String} AND outcome IN ('pending', 'retrying') ORDER BY next_attempt_at LIMIT {limit:UInt32}`,
      { instance, limit },
    );
    return rows.map(AlertDeliveryRepository.fromRow);
  }

  /**
   * Other instances' notifications that nobody has touched since `staleBefore`: still pending or
   * retrying, due before then and not written since. An instance that is alive attempts its own
   * by their due time, so these belong to one that is gone (or stuck).
   */
  async orphaned(instance: string, staleBefore: string, limit: number): Promise<NotificationRecord[]> {
    const rows = await this.rows<NotificationRow>(
      `SELECT ${AlertDeliveryRepository.COLUMNS} FROM notifications FINAL
       WHERE instance != {instance:String} AND outcome IN ('pending', 'retrying')
         AND next_attempt_at < parseDateTime64BestEffort({stale:String}, 3) AND updated_at < parseDateTime64BestEffort({stale:String}, 3)
       ORDER BY next_attempt_at LIMIT {limit:UInt32}`,
      { instance, stale: staleBefore, limit },
    );
    return rows.map(AlertDeliveryRepository.fromRow);
  }

  /** The newest notification of each (group, receiver) this instance made: what a group last said. */
  async lastPerGroup(instance: string, since: string): Promise<NotificationRecord[]> {
    const rows = await this.rows<NotificationRow>(
      `SELECT ${AlertDeliveryRepository.COLUMNS} FROM notifications FINAL
       WHERE instance = {instance:String} AND created_at >= parseDateTime64BestEffort({since:String}, 3)
       ORDER BY created_at DESC LIMIT 1 BY group_key, receiver`,
      { instance, since },
    );
    return rows.map(AlertDeliveryRepository.fromRow);
  }

  async list(q: { tenants: string[] | null; alertId?: string; receiver?: string; outcome?: string; limit: number }): Promise<Array<Omit<NotificationRecord, 'payload'>>> {
    const cond: string[] = [];
    if (q.tenants) cond.push('hasAny(tenants, {tenants:Array(String)})');
    if (q.alertId !== undefined) cond.push('has(alert_ids, {alertId:String})');
    if (q.receiver !== undefined) cond.push('receiver = {receiver:String}');
    if (q.outcome !== undefined) cond.push('outcome = {outcome:String}');
    const rows = await this.rows<NotificationRow>(
      `SELECT ${AlertDeliveryRepository.COLUMNS} FROM notifications FINAL ${cond.length ? `WHERE ${cond.join(' AND ')}` : ''}
       ORDER BY created_at DESC, notification_id LIMIT {limit:UInt32}`,
      {
        limit: q.limit, ...(q.tenants ? { tenants: q.tenants } : {}), ...(q.alertId !== undefined ? { alertId: q.alertId } : {}),
        ...(q.receiver !== undefined ? { receiver: q.receiver } : {}), ...(q.outcome !== undefined ? { outcome: q.outcome } : {}),
      },
    );
    return rows.map((r) => {
      const { payload: _payload, ...rest } = AlertDeliveryRepository.fromRow(r);
      return rest;
    });
  }
}
