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
  /** An accepted set's files, {name in the rules directory: content} (migration 007). */
  sources?: Record<string, string>;
}

/** The newest accepted set with its sources: what a start with rejected files falls back on. */
export interface StoredRuleSet {
  at: string;
  instance: string;
  hash: string;
  sources: Record<string, string>;
}

/** What the rule-set service needs from the audit trail (a fake in unit tests). */
export type RuleHistoryStore = Pick<RuleHistoryRepository, 'record' | 'latestGoodSet'>;

function fromChTime(at: unknown): string {
  return `${String(at).replace(' ', 'T')}Z`;
}

/** Stored sources, checked: the column is ours, but a damaged row must not become a rule set. */
function parseSources(text: string): Record<string, string> {
  const v: unknown = JSON.parse(text);
  if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string')) {
    throw new Error('stored rule sources are not a {file: content} object');
  }
  return v as Record<string, string>;
}

export class RuleHistoryRepository {
  constructor(private readonly client: ClickHouseClient) {}

  async record(c: RuleSetChange): Promise<void> {
    await this.client.insert({
      table: 'rule_set_history',
      values: [{
        at: chTime(c.at), instance: c.instance, ok: c.ok ? 1 : 0, hash: c.hash, previous_hash: c.previousHash, rules: c.rules, files: JSON.stringify(c.files),
        sources: c.sources ? JSON.stringify(c.sources) : '', added: c.added, removed: c.removed, changed: c.changed, problems: c.problems,
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
      at: fromChTime(r.at), instance: String(r.instance), ok: Number(r.ok) === 1, hash: String(r.hash), previousHash: String(r.previous_hash),
      rules: Number(r.rules), files: JSON.parse(String(r.files)) as Record<string, string>,
      added: r.added as string[], removed: r.removed as string[], changed: r.changed as string[], problems: r.problems as string[],
    }));
  }

  /** The hash of the set `instance` had in force at `at`: its newest accepted set loaded by then; null when none is recorded. */
  async hashAt(instance: string, at: string): Promise<string | null> {
    const res = await this.client.query({
      query: `SELECT hash FROM rule_set_history
              WHERE ok = 1 AND instance = {instance:String} AND at <= parseDateTime64BestEffort({at:String}, 3) ORDER BY at DESC LIMIT 1`,
      query_params: { instance, at },
      format: 'JSONEachRow',
    });
    const [row] = await res.json<{ hash: string }>();
    return row ? String(row.hash) : null;
  }

  /**
   * The newest accepted set whose sources were recorded, from any instance; null when none was.
   * Throws when that row's sources cannot be read (the caller treats it as none recorded).
   */
  async latestGoodSet(): Promise<StoredRuleSet | null> {
    const res = await this.client.query({
      query: `SELECT toString(at) AS at, instance, hash, sources FROM rule_set_history
              WHERE ok = 1 AND sources != '' ORDER BY at DESC LIMIT 1`,
      format: 'JSONEachRow',
    });
    const [row] = await res.json<Record<string, unknown>>();
    if (!row) return null;
    return { at: fromChTime(row.at), instance: String(row.instance), hash: String(row.hash), sources: parseSources(String(row.sources)) };
  }
}
