/** Which partitions retention drops: only those whose every row is older than now − retention days. */
import { expiredPartitions, isExpired, retentionCutoff, retentionTarget, StoredPartition } from '../../../src/domain/retention';

const part = (table: string, partition: string, maxTime: string | null, rows = 1): StoredPartition => ({ table, partition, rows, maxTime: maxTime ? new Date(maxTime) : null });

describe('retention by partition', () => {
  it('the cutoff is now minus the retention, at least one day', () => {
    const now = new Date('2026-06-15T12:00:00Z');
    expect(retentionCutoff(now, 90).toISOString()).toBe('2026-03-17T12:00:00.000Z');
    expect(retentionCutoff(now, 0).toISOString()).toBe('2026-06-14T12:00:00.000Z');
    expect(retentionCutoff(now, 1.9).toISOString()).toBe('2026-06-14T12:00:00.000Z');
  });

  it('a partition expires once its newest row (whole second, rounded down) lies entirely before the cutoff', () => {
    const cutoff = new Date('2026-03-17T12:00:00.000Z');
    expect(isExpired(part('events', '202603', '2026-03-17T11:59:59Z'), cutoff)).toBe(true);
    // The stored max is rounded down: 12:00:00 may be 12:00:00.999, not before the cutoff.
    expect(isExpired(part('events', '202603', '2026-03-17T12:00:00Z'), cutoff)).toBe(false);
    expect(isExpired(part('events', '202603', '2026-03-20T00:00:00Z'), cutoff)).toBe(false);
  });

  it('never drops a partition whose newest time is unknown or the epoch', () => {
    const cutoff = new Date('2026-03-17T12:00:00Z');
    expect(isExpired(part('events', 'x', null), cutoff)).toBe(false);
    expect(isExpired(part('events', 'x', '1970-01-01T00:00:00Z'), cutoff)).toBe(false);
  });

  it('selects the expired partitions per table, oldest first, keeping the tables\' order', () => {
    const cutoff = new Date('2026-03-17T12:00:00Z');
    const parts = [
      part('events', '202602', '2026-02-28T23:59:59Z'), part('events', '202601', '2026-01-31T23:59:59Z'), part('events', '202603', '2026-03-31T00:00:00Z'),
      part('alerts', '202512', '2025-12-01T00:00:00Z'), part('alerts', '202606', '2026-06-01T00:00:00Z'),
    ];
    expect(expiredPartitions(parts, cutoff).map((p) => retentionTarget(p.table, p.partition))).toEqual(['events/202601', 'events/202602', 'alerts/202512']);
    expect(expiredPartitions([], cutoff)).toEqual([]);
  });
});
