/**
 * The last line of defence against a message that kills the process (a native crash, an
 * out-of-memory kill, a stack overflow that escapes every catch). Offsets are committed only
 * after a chunk is stored, so such a message is redelivered after every restart and would
 * crash-loop the consumer. This ledger remembers, on local disk, what was in flight, so that the
 * next process recognises the range that killed its predecessor.
 *
 * Policy (the decision is `plan`, pure; the file store is below it):
 *   - Before a chunk of a partition is processed, its range is recorded (one small file per
 *     partition, written to a temporary name, fsync'd, renamed over the old one); it is removed
 *     once the chunk is committed, or when its handling fails with an error the process survives.
 *     A record therefore outlives its chunk only when the process died with the chunk in flight.
 *   - A new process that is handed a chunk starting at a recorded offset (same message: its
 *     timestamp, key and value match) knows the previous process died on that range. The range is
 *     then suspect: it is replayed one message at a time, each recorded on its own and handled
 *     alone (no other chunk of any partition in flight in this process, see ChunkGate).
 *   - A message that was being handled alone when the process died is, on redelivery, not
 *     processed again: it goes to the dead-letter topic (`probewatch-error: poison`) in the
 *     transaction that commits its offset. The rest of the suspect range is still replayed alone.
 * Threshold: one death while handled alone. By then the message has been in flight at two deaths,
 * the second time with nothing else in flight in the consumer, so an unrelated death (a deploy's
 * SIGKILL, the host's OOM killer, a bad HTTP request) would have to strike within the few
 * milliseconds of that one message twice in a row. Waiting for a second lone death would cost
 * every poison message a third crash; a wrong quarantine costs one message, which stays on the
 * DLQ with its original bytes and can be replayed. So a poison message costs at most two deaths
 * (one when it was already handled alone), then the consumer stays up.
 * The ledger is per instance (its directory is on local disk and named by the instance id): when a
 * partition moves to another instance after a crash, that instance has no record, may die once
 * more on the message itself, and then quarantines it after its own restart: at most two deaths
 * per instance that receives the message, bounded by the size of the group. The directory must
 * survive a restart of the process (a volume, not a container's writable layer) for any of this
 * to work; without one, a poison message crash-loops as before.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import * as path from 'node:path';

/** What was in flight on one partition: written before processing, removed after the commit. */
export interface InFlight {
  group: string;
  topic: string;
  partition: number;
  firstOffset: string;
  lastOffset: string;
  /** The message at firstOffset (timestamp, key, value): a record from a topic since recreated does not match. */
  firstDigest: string;
  /** Deaths of earlier processes with this message range in flight, before this attempt. */
  deaths: number;
  /** Handled alone: no other chunk of any partition was in flight in the process. */
  alone: boolean;
  /** Last offset of the suspect range being replayed one message at a time; null outside one. */
  suspectUntil: string | null;
  startedAt: string;
}

/** The part of a Kafka message the ledger looks at. */
export interface MessageHead {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
}

/** How to handle what starts at a partition's next offset. */
export type ChunkPlan =
  | { kind: 'chunk' }
  | { kind: 'alone'; deaths: number; suspectUntil: string }
  | { kind: 'quarantine'; deaths: number; reason: string };

export function messageDigest(m: MessageHead): string {
  const h = createHash('sha256').update(m.timestamp).update('\0');
  if (m.key) h.update(m.key);
  h.update('\0');
  if (m.value) h.update(m.value);
  return h.digest('hex').slice(0, 32);
}

const partitionKey = (topic: string, partition: number): string => `${topic}:${partition}`;

/** A name as one directory level: no separator, and never `.` or `..`. */
const pathSegment = (name: string): string => encodeURIComponent(name).replace(/^\.+$/, (dots) => '%2E'.repeat(dots.length));

export class PoisonLedger {
  /** Records left by processes that died, by partition; each is consulted once. */
  private readonly dead: Map<string, InFlight>;
  /** Suspect ranges this process is replaying one message at a time. */
  private readonly suspect = new Map<string, { until: bigint; deaths: number }>();
  private seq = 0;

  private constructor(private readonly dir: string, private readonly group: string, dead: InFlight[]) {
    this.dead = new Map(dead.map((r) => [partitionKey(r.topic, r.partition), r]));
  }

  /**
   * Opens `<root>/<instance>/<group>/`, reading what the previous process left in flight. Open
   * it once per process, before consuming: every record found then is a predecessor's.
   */
  static async open(root: string, instance: string, group: string): Promise<{ ledger: PoisonLedger; problems: string[] }> {
    const dir = path.join(root, pathSegment(instance), pathSegment(group));
    await mkdir(dir, { recursive: true });
    const problems: string[] = [];
    const dead: InFlight[] = [];
    for (const name of await readdir(dir)) {
      const file = path.join(dir, name);
      if (name.endsWith('.tmp')) {
        await unlink(file).catch(() => undefined); // a write the process did not finish
        continue;
      }
      if (!name.endsWith('.json')) continue;
      const r = parseRecord(await readFile(file, 'utf8').catch(() => ''), group);
      if (r) dead.push(r);
      else {
        problems.push(`${file}: not an in-flight record; removed`);
        await unlink(file).catch(() => undefined);
      }
    }
    return { ledger: new PoisonLedger(dir, group, dead), problems };
  }

  /** What the previous process left in flight (for logs and tests). */
  get inheritedRecords(): InFlight[] {
    return [...this.dead.values()];
  }

  plan(topic: string, partition: number, head: MessageHead): ChunkPlan {
    const key = partitionKey(topic, partition);
    const r = this.dead.get(key);
    if (r && r.firstOffset === head.offset && r.firstDigest === messageDigest(head)) {
      const until = [r.lastOffset, r.suspectUntil ?? r.lastOffset].map(BigInt).reduce((a, b) => (a > b ? a : b));
      if (r.alone && r.firstOffset === r.lastOffset) {
        // The rest of the suspect range was not in flight at this last death. The record is kept
        // until `quarantined`: if the dead letter's commit fails, the redelivery is quarantined again.
        this.suspect.set(key, { until, deaths: r.deaths });
        const deaths = r.deaths + 1;
        return { kind: 'quarantine', deaths, reason: `the process died ${deaths} time(s) with this message in flight, the last time while handling it alone; not processed again` };
      }
      this.suspect.set(key, { until, deaths: r.deaths + 1 });
    }
    // Consulted once: matched, or stale (the range was committed by another member meanwhile, or
    // the topic was recreated), it says nothing about what comes later.
    this.dead.delete(key);
    const s = this.suspect.get(key);
    if (s && BigInt(head.offset) <= s.until) return { kind: 'alone', deaths: s.deaths, suspectUntil: s.until.toString() };
    if (s) this.suspect.delete(key);
    return { kind: 'chunk' };
  }

  /** The quarantined message's offset is committed: forget the record that condemned it. */
  quarantined(topic: string, partition: number): void {
    this.dead.delete(partitionKey(topic, partition));
  }

  /** Durably records a range as in flight (write, fsync, rename over the partition's record). */
  async begin(topic: string, partition: number, first: MessageHead, lastOffset: string, plan: ChunkPlan): Promise<void> {
    const record: InFlight = {
      group: this.group, topic, partition, firstOffset: first.offset, lastOffset, firstDigest: messageDigest(first),
      deaths: plan.kind === 'alone' ? plan.deaths : 0, alone: plan.kind === 'alone', suspectUntil: plan.kind === 'alone' ? plan.suspectUntil : null,
      startedAt: new Date().toISOString(),
    };
    const file = this.file(topic, partition);
    const tmp = `${file}.${process.pid}.${++this.seq}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify(record));
      await fh.sync();
    } finally {
      await fh.close();
    }
    // Atomic: a death at any point leaves the old record or the new one, never half of one. The
    // directory is not fsync'd: the threat is the process dying, which the page cache survives;
    // a lost rename after a power cut costs at most one more death.
    await rename(tmp, file);
  }

  /** The range is committed, or its handling failed and the process lives on: nothing in flight. */
  async end(topic: string, partition: number): Promise<void> {
    await unlink(this.file(topic, partition)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }

  private file(topic: string, partition: number): string {
    return path.join(this.dir, `${topic}.${partition}.json`);
  }
}

function parseRecord(text: string, group: string): InFlight | null {
  let r: Partial<InFlight>;
  try {
    r = JSON.parse(text) as Partial<InFlight>;
  } catch {
    return null;
  }
  const offset = (v: unknown): boolean => typeof v === 'string' && /^\d{1,19}$/.test(v);
  const ok = r && r.group === group && typeof r.topic === 'string' && Number.isInteger(r.partition) && offset(r.firstOffset) && offset(r.lastOffset)
    && typeof r.firstDigest === 'string' && Number.isInteger(r.deaths) && typeof r.alone === 'boolean' && (r.suspectUntil === null || offset(r.suspectUntil));
  return ok ? (r as InFlight) : null;
}
