/**
 * Batched inserts per table: buffer rows, flush when a table reaches `maxRows` or every
 * `flushMs`; on failure back off and retry (rows stay buffered, in order); drain on shutdown.
 * `write()` resolves once its rows are durably inserted, which is what lets callers acknowledge
 * (and, with Kafka, commit offsets) only after storage.
 */
import type { ClickHouseClient } from '@clickhouse/client';

export interface WriterOptions {
  maxRows: number;
  flushMs: number;
  maxBackoffMs: number;
  /**
   * Tables inserted after every other table of the same flush (default: `events`). An event's
   * `events` row is its commit marker: the accept-log replay counts an event with one as stored
   * and does not score it again. So it must reach the store only after the event's
   * concept_scores and feature_activations rows; a flush that fails (or a process killed) before
   * them leaves no `events` row, and the event is replayed whole.
   */
  commitLast?: readonly string[];
}

type Row = Record<string, unknown>;

interface Pending {
  rows: Row[];
  done: () => void;
}

export interface WriterStats {
  inserts: number;
  rows: number;
  /** Total seconds spent in successful inserts. */
  insertSeconds: number;
  failures: number;
  lastError: string | null;
}

export class BatchWriter {
  private readonly buffers = new Map<string, Pending[]>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private backoffMs = 0;
  private closed = false;
  /** Until then, a write is flushed at once (next turn of the loop) instead of at the interval. */
  private eagerUntil = 0;
  private immediate: NodeJS.Immediate | null = null;
  readonly stats: WriterStats = { inserts: 0, rows: 0, insertSeconds: 0, failures: 0, lastError: null };

  constructor(private readonly client: ClickHouseClient, private readonly opts: WriterOptions, private readonly log: (msg: string) => void = () => {}) {}

  write(table: string, rows: Row[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('writer is closed'));
    if (rows.length === 0) return Promise.resolve();
    rows = rows.map(wellFormedRow);
    return new Promise((resolve) => {
      const list = this.buffers.get(table) ?? [];
      list.push({ rows, done: resolve });
      this.buffers.set(table, list);
      if (this.buffered(table) >= this.opts.maxRows) void this.flush();
      else if (this.healthy && Date.now() < this.eagerUntil) this.flushNextTurn();
      else this.arm(this.opts.flushMs);
    });
  }

  /**
   * Nothing else is coming soon (the pipeline is idle but for events waiting on storage): write
   * what is buffered now, and rows that arrive within `windowMs` too (an event's rows can still be
   * on their way, e.g. through redaction, when the hint comes). Never shortcuts a backoff.
   */
  flushSoon(windowMs = 50): void {
    if (!this.healthy || this.closed) return;
    this.eagerUntil = Date.now() + windowMs;
    this.flushNextTurn();
  }

  /** One flush for every write of this turn of the event loop (an event writes several tables). */
  private flushNextTurn(): void {
    if (this.immediate) return;
    this.immediate = setImmediate(() => {
      this.immediate = null;
      void this.flush();
    });
  }

  /** Rows waiting in memory, across tables (for /metrics and backpressure). */
  get pendingRows(): number {
    let n = 0;
    for (const t of this.buffers.keys()) n += this.buffered(t);
    return n;
  }

  get healthy(): boolean {
    return this.backoffMs === 0;
  }

  private buffered(table: string): number {
    return (this.buffers.get(table) ?? []).reduce((n, p) => n + p.rows.length, 0);
  }

  private arm(ms: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, ms);
  }

  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => (this.pendingRows ? this.flush() : undefined));
    this.flushing = this.flushAll().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async flushAll(): Promise<void> {
    const last = new Set(this.opts.commitLast ?? ['events']);
    const tables = [...this.buffers.keys()];
    for (const table of [...tables.filter((t) => !last.has(t)), ...tables.filter((t) => last.has(t))]) {
      const batch = this.buffers.get(table) ?? [];
      if (batch.length === 0) continue;
      this.buffers.set(table, []);
      try {
        const rows = batch.flatMap((p) => p.rows);
        const t0 = performance.now();
        await this.client.insert({ table, values: rows, format: 'JSONEachRow' });
        this.stats.insertSeconds += (performance.now() - t0) / 1000;
        this.stats.inserts++;
        this.stats.rows += rows.length;
        this.backoffMs = 0;
        for (const p of batch) p.done();
      } catch (e) {
        // Keep the rows (in front of anything newer) and retry with exponential backoff.
        this.buffers.set(table, [...batch, ...(this.buffers.get(table) ?? [])]);
        this.stats.failures++;
        this.stats.lastError = (e as Error).message;
        this.backoffMs = Math.min(this.opts.maxBackoffMs, Math.max(100, this.backoffMs * 2));
        this.log(`insert into ${table} failed (${(e as Error).message}); retrying in ${this.backoffMs} ms`);
        this.arm(this.backoffMs);
        return;
      }
    }
  }

  /** Flush everything still buffered; retries until it succeeds or `deadlineMs` passes. */
  async close(deadlineMs = 30_000): Promise<void> {
    this.closed = true;
    const end = Date.now() + deadlineMs;
    while (this.pendingRows > 0 && Date.now() < end) {
      await this.flush();
      if (this.pendingRows > 0) await new Promise((r) => setTimeout(r, Math.min(this.backoffMs || 100, end - Date.now())));
    }
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    if (this.pendingRows > 0) throw new Error(`writer closed with ${this.pendingRows} rows not stored`);
  }
}

/**
 * A string with a lone UTF-16 surrogate is serialised as an escape ClickHouse refuses, and one
 * such row would fail its whole batch on every retry, blocking the table. Validation keeps them
 * out of events; dead letters and labels can quote hostile input, so every row is made safe here
 * (U+FFFD for the lone half).
 */
function wellFormedRow(row: Row): Row {
  let out: Row | null = null;
  for (const [k, v] of Object.entries(row)) {
    if (typeof v === 'string' && !v.isWellFormed()) {
      out ??= { ...row };
      out[k] = v.toWellFormed();
    }
  }
  return out ?? row;
}

