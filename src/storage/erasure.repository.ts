/**
 * Erasure of one end user's content everywhere it is stored (`probewatch erase --user`,
 * `POST /v1/erasures`). The user id is matched in every stored form the content policies give it
 * (as sent, `hmac:<hex>` and `user:<pseudonym>` under the deployment's key, and the unkeyed
 * `sha256:<hex>` and `user:<pseudonym>` of rows stored before the key existed). Removed: the user's events (messages, metadata,
 * token evidence), their feature evidence, the dead letters that carry the id, the alerts'
 * annotations and the notification payloads of those events. Kept, without the user id: the
 * scores (numbers) and the alerts themselves, so the safety record stays complete.
 * Mutations run synchronously (mutations_sync = 2): when this resolves, the rows are gone.
 */
import type { ClickHouseClient } from '@clickhouse/client';

import { Digest, PSEUDONYM_HEX, sha256 } from './content-policy';
import { mutationTarget } from './local-table';

export interface ErasureResult {
  events: number;
  tenants: string[];
  alerts: number;
  dead_letters: number;
}

/** Every form the user id may be stored in: keyed (`digest`, when the deployment has its key) and unkeyed (before it). */
export function storedUserForms(user: string, digest?: Digest): string[] {
  const h = sha256(user);
  const keyed = digest ? digest(user) : undefined;
  return [user, ...(keyed ? [`hmac:${keyed}`, `user:${keyed.slice(0, PSEUDONYM_HEX)}`] : []), `sha256:${h}`, `user:${h.slice(0, PSEUDONYM_HEX)}`];
}

export class ErasureRepository {
  /** `digest`: the deployment's keyed digest; undefined where it has none yet (nothing keyed is stored then). */
  constructor(private readonly client: ClickHouseClient, private readonly digest?: Digest) {}

  private async rows<T>(query: string, params: Record<string, unknown>): Promise<T[]> {
    return (await this.client.query({ query, query_params: params, format: 'JSONEachRow' })).json<T>();
  }

  /** `ALTER TABLE <table> <action>`, on the local tables when `table` is Distributed (a cluster). */
  private async mutate(table: string, action: string, params: Record<string, unknown>): Promise<void> {
    const query = `ALTER TABLE ${await mutationTarget(this.client, table)} ${action}`;
    await this.client.command({ query, query_params: params, clickhouse_settings: { mutations_sync: '2' } });
  }

  /** `tenants`: null for every tenant, else only these (a tenant-scoped caller). */
  async eraseUser(user: string, tenants: string[] | null): Promise<ErasureResult> {
    const forms = storedUserForms(user, this.digest);
    const scope = tenants ? ' AND has({tenants:Array(String)}, tenant)' : '';
    const base = { forms, ...(tenants ? { tenants } : {}) };
    const events = await this.rows<{ tenant: string; event_id: string }>(`SELECT DISTINCT tenant, event_id FROM events WHERE has({forms:Array(String)}, user_id)${scope}`, base);
    const ids = events.map((e) => e.event_id);
    const alerts = ids.length ? await this.rows<{ alert_id: string }>(`SELECT DISTINCT alert_id FROM alerts WHERE has({ids:Array(String)}, event_id)${scope}`, { ...base, ids }) : [];
    const alertIds = alerts.map((a) => a.alert_id);
    // The raw id as it appears in a JSON payload ("user":"<id>").
    const needle = JSON.stringify(user);
    const dead = await this.rows<{ n: string }>(`SELECT count() AS n FROM dead_letters WHERE positionUTF8(payload, {needle:String}) > 0${scope}`, { ...base, needle });
    if (ids.length) {
      await this.mutate('events', `DELETE WHERE has({ids:Array(String)}, event_id)${scope}`, { ...base, ids });
      await this.mutate('feature_activations', `DELETE WHERE has({ids:Array(String)}, event_id)${scope}`, { ...base, ids });
      await this.mutate('concept_scores', `UPDATE user_id = '' WHERE has({ids:Array(String)}, event_id)${scope}`, { ...base, ids });
    }
    if (alertIds.length) {
      await this.mutate('alerts', `UPDATE annotations = '{}' WHERE has({alertIds:Array(String)}, alert_id)${scope}`, { ...base, alertIds });
      await this.mutate('notifications', "UPDATE payload = '' WHERE hasAny(alert_ids, {alertIds:Array(String)})", { alertIds });
    }
    if (Number(dead[0]?.n ?? 0) > 0) await this.mutate('dead_letters', `DELETE WHERE positionUTF8(payload, {needle:String}) > 0${scope}`, { ...base, needle });
    return { events: ids.length, tenants: [...new Set(events.map((e) => e.tenant))].sort(), alerts: alertIds.length, dead_letters: Number(dead[0]?.n ?? 0) };
  }
}
