/**
 * One retention pass: for every retained table, the partitions whose rows are all older than
 * now − PROBEWATCH_RETENTION_DAYS are dropped, and each drop is in the audit trail.
 *
 * Record first, then drop: `retention.drop` {table, partition, rows, max_time, cutoff,
 * retention_days} is stored (awaited) before the ALTER runs, so a crash can leave a record of a
 * drop that did not happen, never a drop without a record. A drop that fails is followed by
 * `retention.drop.failed` {table, partition, error}, and the next pass tries again.
 *
 * Several instances on one store: partition drops are idempotent in ClickHouse, and before each
 * drop the pass re-lists that partition (gone or no longer expired: skipped) and looks for a
 * `retention.drop` of it in the trail, from any instance, in the last CLAIM_MS with no failure
 * after it (another pass is dropping it: skipped). What remains is a race of milliseconds, two
 * passes that both check before either records: the partition is then dropped once and recorded
 * twice, once in each instance's chain. The service spreads its passes by instance (see
 * retention.service.ts) so that this needs two instances with the same slot running at once.
 */
import type { AuditRecord } from '../../domain/audit-chain';
import { expiredPartitions, isExpired, retentionCutoff, retentionTarget, StoredPartition } from '../../domain/retention';
import { RETAINED_TABLES, RetentionRepository } from '../../storage/retention.repository';
import type { Metrics } from '../metrics';

/** A `retention.drop` record newer than this, without a failure after it, means another pass is dropping that partition. */
export const CLAIM_MS = 10 * 60_000;

export interface PartitionDrop {
  table: string;
  partition: string;
  rows: number;
  max_time: string;
}

export interface RetentionOutcome {
  cutoff: string;
  retention_days: number;
  /** Dropped (or, in a dry run, that would be). */
  dropped: PartitionDrop[];
  failed: Array<PartitionDrop & { error: string }>;
  /** Expired when listed, then gone, no longer expired, or being dropped by another pass. */
  skipped: Array<{ table: string; partition: string; reason: string }>;
  /** Tables whose partitions could not be listed. */
  errors: Array<{ table: string; error: string }>;
}

export interface RetentionDeps {
  repo: RetentionRepository;
  /** Appends to the audit trail; resolves once the records are stored. */
  append: (records: AuditRecord[]) => Promise<unknown>;
  actor: string;
  retentionDays: number;
  metrics?: Metrics;
  now?: () => Date;
}

function describe(p: StoredPartition): PartitionDrop {
  return { table: p.table, partition: p.partition, rows: p.rows, max_time: (p.maxTime as Date).toISOString() };
}

export class RetentionRunner {
  private readonly now: () => Date;

  constructor(private readonly deps: RetentionDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /** One pass over every retained table; `dryRun` lists what would be dropped and changes nothing. */
  async apply(opts: { dryRun?: boolean } = {}): Promise<RetentionOutcome> {
    const cutoff = retentionCutoff(this.now(), this.deps.retentionDays);
    const out: RetentionOutcome = { cutoff: cutoff.toISOString(), retention_days: Math.max(1, Math.floor(this.deps.retentionDays)), dropped: [], failed: [], skipped: [], errors: [] };
    for (const { table } of RETAINED_TABLES) {
      let expired: StoredPartition[];
      try {
        expired = expiredPartitions(await this.deps.repo.partitions(table), cutoff);
      } catch (e) {
        out.errors.push({ table, error: (e as Error).message });
        continue;
      }
      for (const p of expired) {
        if (opts.dryRun) out.dropped.push(describe(p));
        else await this.dropOne(p, cutoff, out);
      }
    }
    return out;
  }

  /** Re-list, check for another pass's claim, record, drop; a failed drop is recorded too. */
  private async dropOne(listed: StoredPartition, cutoff: Date, out: RetentionOutcome): Promise<void> {
    const { repo, append, actor, metrics } = this.deps;
    const [p] = await repo.partitions(listed.table, listed.partition);
    if (!p) return void out.skipped.push({ table: listed.table, partition: listed.partition, reason: 'already dropped' });
    if (!isExpired(p, cutoff)) return void out.skipped.push({ table: p.table, partition: p.partition, reason: 'has rows newer than the cutoff' });
    const last = await repo.lastDropRecord(p.table, p.partition, new Date(this.now().getTime() - CLAIM_MS));
    if (last === 'retention.drop') return void out.skipped.push({ table: p.table, partition: p.partition, reason: 'another pass is dropping it' });

    const drop = describe(p);
    const target = retentionTarget(p.table, p.partition);
    const detail = { ...drop, cutoff: cutoff.toISOString(), retention_days: out.retention_days };
    await append([{ actor, action: 'retention.drop', target, tenant: '', detail: JSON.stringify(detail) }]);
    try {
      await repo.drop(p.table, p.partition);
    } catch (e) {
      const error = (e as Error).message;
      await append([{ actor, action: 'retention.drop.failed', target, tenant: '', detail: JSON.stringify({ table: p.table, partition: p.partition, error }) }]);
      out.failed.push({ ...drop, error });
      return;
    }
    metrics?.retentionDroppedPartitions.inc({ table: p.table });
    out.dropped.push(drop);
  }
}
