/**
 * The accept log: a local write-ahead log that makes `202 Accepted` mean durable.
 *
 * POST /v1/events appends the accepted events here and answers only after the append is on disk
 * (fdatasync). Appends that arrive while a sync runs wait for the next one, so one sync covers
 * many requests (group commit): under load the cost per event falls, not rises. An event's
 * record is settled once the pipeline has stored or dead-lettered it; a segment whose records
 * are all settled is deleted. After a crash, `recover()` returns the records of the segments
 * left behind; the caller skips those already in storage and scores the rest.
 *
 * Why a local log and not ClickHouse itself: the log must hold the prompt exactly as received,
 * because scoring needs the text, while ClickHouse keeps it only under the content policy
 * (`redacted` or `hash` by design). Here the raw text lives only until it is scored (seconds),
 * in files of mode 0600. It also keeps `202` independent of the store: while ClickHouse is down,
 * accepted events wait on local disk instead of in memory.
 *
 * Record framing: u32 length, u32 CRC-32 of the payload, payload (UTF-8 JSON). A torn record at
 * the end of a segment (the process died mid-write, before the sync, so it was never
 * acknowledged) fails its length or CRC check and ends that segment's replay.
 */
import { mkdirSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { open, FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';

import type { ProbeEvent } from '../domain/event';

export interface AcceptedRecord {
  seq: number;
  event: ProbeEvent;
  receivedAt: number;
}

export interface AcceptLogStats {
  appends: number;
  syncs: number;
  records: number;
  bytes: number;
  segmentsDeleted: number;
}

const HEADER = 8;
/** A segment is closed when it grows past this, or when it is settled and past ROTATE_SETTLED. */
const SEGMENT_BYTES = 64 * 1_048_576;
const ROTATE_SETTLED = 1_048_576;
const SEGMENT_NAME = /^(\d{12})\.wal$/;

interface Segment {
  id: number;
  file: string;
  open: number;
}

interface Waiter {
  buf: Buffer;
  seqs: number[];
  resolve: () => void;
  reject: (e: Error) => void;
}

function segmentFile(dir: string, id: number): string {
  return path.join(dir, `${String(id).padStart(12, '0')}.wal`);
}

export function encodeRecord(r: AcceptedRecord): Buffer {
  const payload = Buffer.from(JSON.stringify({ s: r.seq, r: r.receivedAt, e: r.event }), 'utf8');
  const head = Buffer.alloc(HEADER);
  head.writeUInt32LE(payload.length, 0);
  head.writeUInt32LE(crc32(payload), 4);
  return Buffer.concat([head, payload]);
}

/** Every intact record of a segment, in order; stops at the first torn or corrupt one. */
export function decodeSegment(buf: Buffer): { records: AcceptedRecord[]; tornAt: number | null } {
  const records: AcceptedRecord[] = [];
  let at = 0;
  while (at < buf.length) {
    if (at + HEADER > buf.length) return { records, tornAt: at };
    const len = buf.readUInt32LE(at);
    const sum = buf.readUInt32LE(at + 4);
    if (at + HEADER + len > buf.length) return { records, tornAt: at };
    const payload = buf.subarray(at + HEADER, at + HEADER + len);
    if (crc32(payload) !== sum) return { records, tornAt: at };
    const p = JSON.parse(payload.toString('utf8')) as { s: number; r: number; e: ProbeEvent };
    records.push({ seq: p.s, receivedAt: p.r, event: p.e });
    at += HEADER + len;
  }
  return { records, tornAt: null };
}

export class AcceptLog {
  private active: Segment | null = null;
  private fh: FileHandle | null = null;
  private size = 0;
  private seq = 0;
  private readonly segments = new Map<number, Segment>();
  /** seq -> segment id, for records not yet settled. */
  private readonly owner = new Map<number, number>();
  private pending: Waiter[] = [];
  /** The one writer: appends, syncs and rotations all run in this loop, one at a time. */
  private syncing: Promise<void> | null = null;
  private rotateWanted = false;
  private closed = false;
  readonly stats: AcceptLogStats = { appends: 0, syncs: 0, records: 0, bytes: 0, segmentsDeleted: 0 };

  private constructor(readonly dir: string, private readonly log: (msg: string) => void) {}

  /**
   * Opens the log in `dir` and returns it with the records that earlier runs accepted but did
   * not settle. They stay owned by their old segments until settled; new appends go to a new one.
   */
  static async open(dir: string, log: (msg: string) => void = () => {}): Promise<{ log: AcceptLog; unsettled: AcceptedRecord[] }> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const wal = new AcceptLog(dir, log);
    const unsettled = wal.recover();
    await wal.rotate();
    return { log: wal, unsettled };
  }

  private recover(): AcceptedRecord[] {
    const ids = readdirSync(this.dir).map((f) => SEGMENT_NAME.exec(f)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1])).sort((a, b) => a - b);
    const out: AcceptedRecord[] = [];
    for (const id of ids) {
      const file = segmentFile(this.dir, id);
      const { records, tornAt } = decodeSegment(readFileSync(file));
      if (tornAt !== null) this.log(`accept log ${path.basename(file)}: torn record at byte ${tornAt} (written, never acknowledged); replaying the ${records.length} before it`);
      const seg: Segment = { id, file, open: records.length };
      this.segments.set(id, seg);
      for (const r of records) {
        this.owner.set(r.seq, id);
        this.seq = Math.max(this.seq, r.seq);
        out.push(r);
      }
      if (seg.open === 0) this.remove(seg);
    }
    return out;
  }

  get unsettledCount(): number {
    return this.owner.size;
  }

  /** Durably appends the events; resolves with their sequence numbers once they are on disk. */
  async append(events: readonly ProbeEvent[], receivedAt: Date): Promise<number[]> {
    if (this.closed) throw new Error('accept log is closed');
    const seqs = events.map(() => ++this.seq);
    const buf = Buffer.concat(events.map((event, i) => encodeRecord({ seq: seqs[i], event, receivedAt: receivedAt.getTime() })));
    await new Promise<void>((resolve, reject) => {
      this.pending.push({ buf, seqs, resolve, reject });
      if (!this.syncing) this.syncing = this.syncLoop();
    });
    return seqs;
  }

  /** Writes and syncs everything pending, one group per round, until nothing is left. */
  private async syncLoop(): Promise<void> {
    try {
      while (this.pending.length || this.rotateWanted) {
        const group = this.pending;
        this.pending = [];
        try {
          if (this.rotateWanted || this.size >= SEGMENT_BYTES) {
            this.rotateWanted = false;
            await this.rotate();
          }
          if (group.length) await this.writeGroup(group);
        } catch (e) {
          this.log(`accept log write failed: ${(e as Error).message}`);
          for (const w of group) w.reject(e as Error);
        }
      }
    } finally {
      this.syncing = null;
    }
  }

  private async writeGroup(group: Waiter[]): Promise<void> {
    const seg = this.active as Segment;
    const buf = Buffer.concat(group.map((w) => w.buf));
    await (this.fh as FileHandle).write(buf);
    await (this.fh as FileHandle).datasync();
    this.size += buf.length;
    this.stats.syncs++;
    this.stats.bytes += buf.length;
    this.stats.appends += group.length;
    for (const w of group) {
      seg.open += w.seqs.length;
      this.stats.records += w.seqs.length;
      for (const s of w.seqs) this.owner.set(s, seg.id);
    }
    for (const w of group) w.resolve();
  }

  /** The event of record `seq` is stored or dead-lettered: it need not be replayed. */
  settle(seq: number): void {
    const id = this.owner.get(seq);
    if (id === undefined) return;
    this.owner.delete(seq);
    const seg = this.segments.get(id);
    if (!seg) return;
    seg.open--;
    if (seg.open > 0) return;
    if (seg !== this.active) this.remove(seg);
    else if (this.size >= ROTATE_SETTLED && !this.closed) {
      // Start afresh so that a restart has nothing to read; runs in the writer loop.
      this.rotateWanted = true;
      if (!this.syncing) this.syncing = this.syncLoop().catch((e: Error) => this.log(`accept log rotation failed: ${e.message}`));
    }
  }

  private remove(seg: Segment): void {
    try {
      unlinkSync(seg.file);
      this.stats.segmentsDeleted++;
    } catch (e) {
      this.log(`accept log: could not delete ${path.basename(seg.file)}: ${(e as Error).message}`);
    }
    this.segments.delete(seg.id);
  }

  private async rotate(): Promise<void> {
    const prev = this.active;
    const prevFh = this.fh;
    const id = (prev?.id ?? Math.max(0, ...this.segments.keys())) + 1;
    const seg: Segment = { id, file: segmentFile(this.dir, id), open: 0 };
    this.fh = await open(seg.file, 'a', 0o600);
    this.active = seg;
    this.size = 0;
    this.segments.set(id, seg);
    await prevFh?.close();
    if (prev && prev.open === 0) this.remove(prev);
  }

  /** Waits for pending appends; segments with unsettled records stay for the next start. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.syncing) await this.syncing;
    await this.fh?.close();
    this.fh = null;
    if (this.active && this.active.open === 0) this.remove(this.active);
  }
}
