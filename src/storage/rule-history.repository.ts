import type { ClickHouseClient } from '@clickhouse/client';

import { chTime } from './events.repository';

/** One loaded (or rejected) rule set, for the audit trail. */
export interface RuleSetChange {
  at: string;
  instance: string;
  ok: boolean;
  hash: string;
  previousHash: string;
  rules: number;
  files: Record<string, string>;
  added: string[];
  removed: string[];
  changed: string[];
  problems: string[];
}

export class RuleHistoryRepository {
  constructor(private readonly client: ClickHouseClient) {}

  async record(c: RuleSetChange): Promise<void> {
    await this.client.insert({
      table: 'rule_set_history',
      values: [{
        at: chTime(c.at), instance: c.instance, ok: c.ok ? 1 : 0, hash: c.hash, previous_hash: c.previousHash, rules: c.rules, files: JSON.stringify(c.files),
        added: c.added, removed: c.removed, changed: c.changed, problems: c.problems,
      }],
      format: 'JSONEachRow',
    });
  }

  async list(limit: number): Promise<RuleSetChange[]> {
    const res = await this.client.query({
      query: `SELECT toString(at) AS at, instance, ok, hash, previous_hash, rules, files, added, removed, changed, problems
              FROM rule_set_history ORDER BY at DESC LIMIT {limit:UInt32}`,
      query_params: { limit },
      format: 'JSONEachRow',
    });
    const rows = await res.json<Record<string, unknown>>();
    return rows.map((r) => ({
      at: `${String(r.at).replace(' ', 'T')}Z`, instance: String(r.instance), ok: Number(r.ok) === 1, hash: String(r.hash), previousHash: String(r.previous_hash),
      rules: Number(r.rules), files: JSON.parse(String(r.files)) as Record<string, string>,
      added: r.added as string[], removed: r.removed as string[], changed: r.changed as string[], problems: r.problems as string[],
    }));
  }
}
