/**
 * Retention by partition (pure): which stored partitions have outlived PROBEWATCH_RETENTION_DAYS.
 *
 * The retained tables are partitioned by month (`toYYYYMM(<time column>)`), and a partition is
 * dropped whole, only once ALL its rows are older than the cutoff (now − retention days). So a
 * row is kept at least the retention, and up to about a month longer: the rows of a month go
 * together once the newest of them has expired.
 */

export interface StoredPartition {
  table: string;
  /** ClickHouse's partition id (`system.parts.partition_id`), what `DROP PARTITION ID` takes. */
  partition: string;
  /** Rows in the partition's active parts (before ReplacingMergeTree merges duplicates). */
  rows: number;
  /**
   * The newest time in the partition, in whole seconds as ClickHouse's part index keeps it
   * (rounded down: the true newest row may be up to a second later). null when unknown.
   */
  maxTime: Date | null;
}

const DAY_MS = 86_400_000;

/** now − days (at least one day). */
export function retentionCutoff(now: Date, days: number): Date {
  return new Date(now.getTime() - Math.max(1, Math.floor(days)) * DAY_MS);
}

/**
 * Every row of the partition lies before the cutoff. The stored max is rounded down to the
 * second, so the whole second it names must lie before the cutoff; a partition without a known
 * max time (or at the epoch, what ClickHouse reports for a partition key it has no time index
 * for) is never expired.
 */
export function isExpired(p: StoredPartition, cutoff: Date): boolean {
  if (!p.maxTime || p.maxTime.getTime() <= 0) return false;
  return p.maxTime.getTime() + 1000 <= cutoff.getTime();
}

/** The partitions to drop, oldest first within each table (the input's table order is kept). */
export function expiredPartitions(parts: StoredPartition[], cutoff: Date): StoredPartition[] {
  const tables = [...new Set(parts.map((p) => p.table))];
  return tables.flatMap((t) => parts
    .filter((p) => p.table === t && isExpired(p, cutoff))
    .sort((a, b) => (a.maxTime as Date).getTime() - (b.maxTime as Date).getTime()));
}

/** The audit target of a partition's drop records (`events/202401`). */
export function retentionTarget(table: string, partition: string): string {
  return `${table}/${partition}`;
}
