import type { ClickHouseClient } from '@clickhouse/client';

const CHUNK = 1000;

/** What the accept-log replay needs from storage: which accepted events are already stored. */
export class ReplayRepository {
  constructor(private readonly client: ClickHouseClient) {}

  /** Keys `tenant + "\0" + id` of the given events that have a stored row. */
  async storedEventKeys(keys: Array<{ tenant: string; id: string }>): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < keys.length; i += CHUNK) {
      const chunk = keys.slice(i, i + CHUNK);
      const res = await this.client.query({
        query: 'SELECT DISTINCT tenant, event_id FROM events WHERE tenant IN {tenants:Array(String)} AND event_id IN {ids:Array(String)}',
        query_params: { tenants: [...new Set(chunk.map((k) => k.tenant))], ids: chunk.map((k) => k.id) },
        format: 'JSONEachRow',
      });
      for (const r of await res.json<{ tenant: string; event_id: string }>()) found.add(`${r.tenant}\u0000${r.event_id}`);
    }
    return found;
  }
}
