/**
 * What the rule scheduler and the backtest read from ClickHouse: the parameterised queries the
 * rule compiler builds (run here, with their parameters bound), the open windowed alerts, and the
 * stored events of a time range in pages. The rule language's compiler (rules/condition-sql.ts,
 * rules/windowed-query.ts) writes query text; storage is the only place that runs SQL.
 */
import type { ClickHouseClient } from '@clickhouse/client';

import type { ChatMessage, ProbeEvent } from '../domain/event';
import type { ScoredEvent } from '../domain/scored-event';
import type { AlertsRepository } from './alerts.repository';
import { chMillis } from './events.repository';

export interface RuleStore {
  rows<T>(sql: string, params: Record<string, unknown>): Promise<T[]>;
  openAlerts?(rule: string): Promise<Array<{ fingerprint: string; labels: Record<string, string>; activeAt: number }>>;
  existing?(ids: string[]): Promise<Set<string>>;
}

/** The store as the scheduled evaluator sees it: parameterised queries and the alerts table. */
export function clickhouseRuleStore(client: ClickHouseClient, alerts?: AlertsRepository): RuleStore {
  return {
    async rows<T>(sql: string, params: Record<string, unknown>): Promise<T[]> {
      const res = await client.query({ query: sql, query_params: params, format: 'JSONEachRow' });
      return res.json<T>();
    },
    ...(alerts
      ? {
          openAlerts: async (rule: string) => (await alerts.open(rule)).map((a) => ({
            fingerprint: a.fingerprint, labels: JSON.parse(a.labels) as Record<string, string>, activeAt: Date.parse(`${a.ts.replace(' ', 'T')}Z`),
          })),
          existing: (ids: string[]) => alerts.existing(ids),
        }
      : {}),
  };
}

/** Stored events with their stored results in [from, to), oldest first, read in pages of `page`. */
export async function* storedEvents(client: ClickHouseClient, fromMs: number, toMs: number, page = 2000): AsyncGenerator<{ event: ProbeEvent; scored: ScoredEvent }> {
  let after = { ts: chMillis(fromMs - 1), id: '' };
  for (;;) {
    const res = await client.query({
      query: `SELECT tenant, event_id, toString(ts) AS ts_text, source, model, user_id, messages, metadata, result FROM events FINAL
              WHERE ts >= toDateTime64({from:String}, 3, 'UTC') AND ts < toDateTime64({to:String}, 3, 'UTC')
                AND (ts, event_id) > (toDateTime64({afterTs:String}, 3, 'UTC'), {afterId:String})
              ORDER BY ts, event_id LIMIT {limit:UInt32}`,
      query_params: { from: chMillis(fromMs), to: chMillis(toMs), afterTs: after.ts, afterId: after.id, limit: page },
      format: 'JSONEachRow',
    });
    const rows = await res.json<Record<string, string>>();
    for (const r of rows) {
      const event: ProbeEvent = {
        id: r.event_id, timestamp: `${r.ts_text.replace(' ', 'T')}Z`, tenant: r.tenant, source: r.source, model: r.model,
        messages: JSON.parse(r.messages) as ChatMessage[], metadata: JSON.parse(r.metadata) as Record<string, unknown>,
        ...(r.user_id ? { user: r.user_id } : {}),
      };
      yield { event, scored: JSON.parse(r.result) as ScoredEvent };
    }
    if (rows.length < page) return;
    const last = rows[rows.length - 1];
    after = { ts: last.ts_text, id: last.event_id };
  }
}
