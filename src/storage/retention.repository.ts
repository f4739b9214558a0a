/**
 * Retention's storage side: the monthly partitions of the retained tables, as `system.parts`
 * knows them, and dropping one (`ALTER TABLE … DROP PARTITION ID`). On a cluster laid out by
 * `probewatch migrate --cluster`, the parts are those of `<table>_local` on one replica of every
 * shard (`cluster(…, system.parts)`), and the drop runs on `<table>_local ON CLUSTER`.
 *
 * Not retained, never dropped here: the audit trail (audit_log, audit_checkpoints: the AI Act's
 * Art. 19/26 ask for logs of at least six months, and the trail records the drops themselves),
 * api_keys, rule_set_history (which rules were in force), alert_acks, silences, and
 * schema_migrations.
 */
import type { ClickHouseClient } from '@clickhouse/client';

import { retentionTarget, StoredPartition } from '../domain/retention';
import { clusterLiteral, distributedTargetOf, mutationTarget } from './local-table';

/** The tables retention drops partitions of, each with the time column of its `PARTITION BY toYYYYMM(…)`. */
export const RETAINED_TABLES: ReadonlyArray<{ table: string; timeColumn: string }> = [
  { table: 'events', timeColumn: 'ts' },
  { table: 'concept_scores', timeColumn: 'ts' },
  { table: 'feature_activations', timeColumn: 'ts' },
  { table: 'alerts', timeColumn: 'ts' },
  { table: 'dead_letters', timeColumn: 'received_at' },
  { table: 'alert_history', timeColumn: 'at' },
  { table: 'notifications', timeColumn: 'created_at' },
];

/** Partition ids ClickHouse gives (`202401`, or a hash for other keys): checked before they go into a statement. */
const PARTITION_ID = /^[0-9A-Za-z_-]{1,128}$/;

/** The audit actions of a drop: recorded before it, and after it when it failed. */
export type DropAction = 'retention.drop' | 'retention.drop.failed';

export class RetentionRepository {
  constructor(private readonly client: ClickHouseClient) {}

  private async rows<T>(query: string, params: Record<string, unknown> = {}): Promise<T[]> {
    return (await this.client.query({ query, query_params: params, format: 'JSONEachRow' })).json<T>();
  }

  /**
   * The active partitions of `table` (or only `partition`), with their rows and newest time, from
   * system.parts of the current database, grouped by partition. `max_time` is the parts' min-max
   * index of the partition key's column, in whole seconds.
   */
  async partitions(table: string, partition?: string): Promise<StoredPartition[]> {
    const d = await distributedTargetOf(this.client, table);
    const [{ db }] = await this.rows<{ db: string }>('SELECT currentDatabase() AS db');
    const source = d ? `cluster(${clusterLiteral(d.cluster)}, system.parts)` : 'system.parts';
    const only = partition === undefined ? '' : ' AND partition_id = {partition:String}';
    const found = await this.rows<{ partition_id: string; rows: string; max_s: string }>(
      `SELECT partition_id, sum(rows) AS rows, toUnixTimestamp(max(max_time)) AS max_s FROM ${source}
       WHERE database = {db:String} AND table = {table:String} AND active${only}
       GROUP BY partition_id ORDER BY partition_id`,
      { db, table: d ? d.localTable : table, ...(partition === undefined ? {} : { partition }) },
    );
    return found.map((r) => ({ table, partition: r.partition_id, rows: Number(r.rows), maxTime: Number(r.max_s) > 0 ? new Date(Number(r.max_s) * 1000) : null }));
  }

  /**
   * Drops one partition. Dropping a partition that is no longer there is no error in ClickHouse
   * (another instance dropped it first), so this is idempotent.
   */
  async drop(table: string, partition: string): Promise<void> {
    if (!PARTITION_ID.test(partition)) throw new Error(`refusing to drop partition '${partition}' of ${table}: not a ClickHouse partition id`);
    await this.client.command({ query: `ALTER TABLE ${await mutationTarget(this.client, table)} DROP PARTITION ID '${partition}'` });
  }

  /**
   * The newest drop record of this partition in the audit trail (any instance's chain) since
   * `since`: 'retention.drop' means a drop is under way or done, 'retention.drop.failed' that the
   * last attempt failed. At equal times the failure sorts first (it is always written after).
   */
  async lastDropRecord(table: string, partition: string, since: Date): Promise<DropAction | null> {
    const [row] = await this.rows<{ action: DropAction }>(
      `SELECT action FROM audit_log WHERE action IN ('retention.drop', 'retention.drop.failed') AND target = {target:String}
       AND at >= fromUnixTimestamp64Milli({since:Int64}) ORDER BY at DESC, action DESC LIMIT 1`,
      { target: retentionTarget(table, partition), since: since.getTime() },
    );
    return row?.action ?? null;
  }
}
