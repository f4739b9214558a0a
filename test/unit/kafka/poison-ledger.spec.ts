/**
 * The in-flight ledger (src/kafka/poison-ledger.ts) on a real directory. A restart is a new
 * ledger opened on the same directory; a death is a chunk begun and never ended.
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import * as fc from 'fast-check';

import { ChunkPlan, MessageHead, PoisonLedger } from '../../../src/kafka/poison-ledger';

const freshDir = (): string => mkdtempSync(path.join(tmpdir(), 'pw-ledger-'));

/** Messages 0..n-1 of a partition; `salt` stands for a recreated topic (same offsets, other messages). */
function partitionLog(n: number, salt = ''): MessageHead[] {
  return Array.from({ length: n }, (_, i) => ({ offset: String(i), timestamp: String(1_700_000_000_000 + i), key: Buffer.from(`k${i}`), value: Buffer.from(`${salt}v${i}`) }));
}

async function open(dir: string, instance = 'i1', group = 'g'): Promise<PoisonLedger> {
  const { ledger, problems } = await PoisonLedger.open(dir, instance, group);
  expect(problems).toEqual([]);
  return ledger;
}

/** Dies with messages first..last of partition 0 in flight. */
async function dieWith(dir: string, log: MessageHead[], first: number, last: number, plan: ChunkPlan = { kind: 'chunk' }): Promise<void> {
  const ledger = await open(dir);
  ledger.plan('t', 0, log[first]);
  await ledger.begin('t', 0, log[first], log[last].offset, plan);
}

describe('poison ledger', () => {
  it('leaves nothing behind when chunks commit', async () => {
    const dir = freshDir();
    const log = partitionLog(10);
    const ledger = await open(dir);
    expect(ledger.plan('t', 0, log[0])).toEqual({ kind: 'chunk' });
    await ledger.begin('t', 0, log[0], '4', { kind: 'chunk' });
    await ledger.end('t', 0);
    await ledger.end('t', 0); // idempotent
    expect(readdirSync(path.join(dir, 'i1', 'g'))).toEqual([]);
    const next = await open(dir);
    expect(next.inheritedRecords).toEqual([]);
    expect(next.plan('t', 0, log[0])).toEqual({ kind: 'chunk' });
  });

  it('after a death with a chunk in flight, replays that range one message at a time, then chunks again', async () => {
    const dir = freshDir();
    const log = partitionLog(10);
    await dieWith(dir, log, 2, 6);
    const ledger = await open(dir);
    expect(ledger.inheritedRecords).toEqual([expect.objectContaining({ group: 'g', topic: 't', partition: 0, firstOffset: '2', lastOffset: '6', deaths: 0, alone: false })]);
    for (let i = 2; i <= 6; i++) {
      const plan = ledger.plan('t', 0, log[i]);
      expect(plan).toEqual({ kind: 'alone', deaths: 1, suspectUntil: '6' });
      await ledger.begin('t', 0, log[i], log[i].offset, plan);
      await ledger.end('t', 0);
    }
    expect(ledger.plan('t', 0, log[7])).toEqual({ kind: 'chunk' });
  });

  it('quarantines the message the process died on while handling it alone, then finishes the suspect range alone', async () => {
    const dir = freshDir();
    const log = partitionLog(10);
    await dieWith(dir, log, 2, 6);
    let ledger = await open(dir);
    for (let i = 2; i < 4; i++) {
      const plan = ledger.plan('t', 0, log[i]);
      await ledger.begin('t', 0, log[i], log[i].offset, plan);
      await ledger.end('t', 0);
    }
    const plan = ledger.plan('t', 0, log[4]);
    await ledger.begin('t', 0, log[4], '4', plan); // dies on 4

    ledger = await open(dir);
    const verdict = { kind: 'quarantine', deaths: 2, reason: 'the process died 2 time(s) with this message in flight, the last time while handling it alone; not processed again' };
    expect(ledger.plan('t', 0, log[4])).toEqual(verdict);
    // The dead letter's commit failed and the message came again: still quarantined.
    expect(ledger.plan('t', 0, log[4])).toEqual(verdict);
    ledger.quarantined('t', 0);
    await ledger.end('t', 0);
    expect(ledger.plan('t', 0, log[5])).toEqual({ kind: 'alone', deaths: 1, suspectUntil: '6' });
    expect(ledger.plan('t', 0, log[7])).toEqual({ kind: 'chunk' });
    expect(readdirSync(path.join(dir, 'i1', 'g'))).toEqual([]);
  });

  it('does not quarantine a one-message chunk that was not handled alone: it is replayed alone first', async () => {
    const dir = freshDir();
    const log = partitionLog(3);
    await dieWith(dir, log, 1, 1);
    const ledger = await open(dir);
    expect(ledger.plan('t', 0, log[1])).toEqual({ kind: 'alone', deaths: 1, suspectUntil: '1' });
  });

  it('ignores a stale record: the range was committed elsewhere, or the topic was recreated', async () => {
    const dir = freshDir();
    const log = partitionLog(10);
    await dieWith(dir, log, 4, 4, { kind: 'alone', deaths: 1, suspectUntil: '4' });
    const movedOn = await open(dir);
    expect(movedOn.plan('t', 0, log[7])).toEqual({ kind: 'chunk' });
    expect(movedOn.plan('t', 0, log[4])).toEqual({ kind: 'chunk' }); // consulted once

    await dieWith(dir, log, 4, 4, { kind: 'alone', deaths: 1, suspectUntil: '4' });
    const recreated = await open(dir);
    expect(recreated.plan('t', 0, partitionLog(10, 'new topic ')[4])).toEqual({ kind: 'chunk' });
  });

  it('keeps instances, groups and partitions apart', async () => {
    const dir = freshDir();
    const log = partitionLog(5);
    await dieWith(dir, log, 0, 3);
    expect((await open(dir, 'i2')).plan('t', 0, log[0])).toEqual({ kind: 'chunk' });
    expect((await open(dir, 'i1', 'other/group')).plan('t', 0, log[0])).toEqual({ kind: 'chunk' });
    const same = await open(dir);
    expect(same.plan('t', 1, log[0])).toEqual({ kind: 'chunk' });
    expect(same.plan('u', 0, log[0])).toEqual({ kind: 'chunk' });
    expect(same.plan('t', 0, log[0])).toMatchObject({ kind: 'alone' });
    await open(dir, '..', '..');
    expect(readdirSync(dir).sort()).toEqual(['%2E%2E', 'i1', 'i2']);
    expect(readdirSync(path.join(dir, 'i1')).sort()).toEqual(['g', 'other%2Fgroup']);
  });

  it('drops unfinished writes and unreadable records when opened, and says so', async () => {
    const dir = freshDir();
    const g = path.join(dir, 'i1', 'g');
    await open(dir);
    writeFileSync(path.join(g, 't.0.json.123.4.tmp'), '{"gro');
    writeFileSync(path.join(g, 't.1.json'), 'not json');
    writeFileSync(path.join(g, 't.2.json'), JSON.stringify({ group: 'g', topic: 't', partition: 2, firstOffset: '-1' }));
    const { ledger, problems } = await PoisonLedger.open(dir, 'i1', 'g');
    expect(problems).toEqual([expect.stringMatching(/t\.1\.json: not an in-flight record; removed/), expect.stringMatching(/t\.2\.json: not an in-flight record; removed/)]);
    expect(ledger.inheritedRecords).toEqual([]);
    expect(readdirSync(g)).toEqual([]);
  });

  /**
   * A consumer of several partitions, restarted after each death, as KafkaIngest drives the
   * ledger: chunks of all partitions in flight together, a suspect message alone. Whatever the
   * chunk size and wherever the poison messages are, every poison message is quarantined, no good
   * one is, every good one is processed, and each poison message costs at most two deaths.
   */
  it('bounds the deaths of a consumer fed poison messages, and quarantines only those', async () => {
    const scenario = fc.record({
      sizes: fc.array(fc.integer({ min: 1, max: 25 }), { minLength: 1, maxLength: 3 }),
      chunk: fc.integer({ min: 1, max: 8 }),
      poison: fc.array(fc.tuple(fc.nat(2), fc.nat(24)), { maxLength: 3 }),
    });
    await fc.assert(fc.asyncProperty(scenario, async ({ sizes, chunk, poison }) => {
      const logs = sizes.map((n) => partitionLog(n));
      const bad = new Set(poison.filter(([p, o]) => p < sizes.length && o < sizes[p]).map(([p, o]) => `${p}:${o}`));
      const r = await consumeWithRestarts(freshDir(), logs, chunk, bad);
      expect(new Set(r.quarantined)).toEqual(bad);
      expect(r.quarantined.length).toBe(bad.size);
      logs.forEach((log, p) => log.forEach((m) => {
        if (!bad.has(`${p}:${m.offset}`)) expect(r.processed.has(`${p}:${m.offset}`)).toBe(true);
      }));
      expect(r.deaths).toBeLessThanOrEqual(2 * bad.size);
    }), { numRuns: 40 });
  });
});

class Death extends Error {}

async function consumeWithRestarts(dir: string, logs: MessageHead[][], chunk: number, bad: Set<string>): Promise<{ deaths: number; quarantined: string[]; processed: Set<string> }> {
  const committed = logs.map(() => 0);
  const quarantined: string[] = [];
  const processed = new Set<string>();
  const run = (inFlight: Array<{ p: number; msgs: MessageHead[] }>): void => {
    for (const { p, msgs } of inFlight) for (const m of msgs) if (!bad.has(`${p}:${m.offset}`)) processed.add(`${p}:${m.offset}`);
    if (inFlight.some(({ p, msgs }) => msgs.some((m) => bad.has(`${p}:${m.offset}`)))) throw new Death();
  };
  let deaths = 0;
  while (committed.some((c, p) => c < logs[p].length)) {
    if (deaths > 20) throw new Error('crash loop');
    const ledger = await open(dir);
    try {
      while (committed.some((c, p) => c < logs[p].length)) {
        const plans = logs.map((log, p) => (committed[p] < log.length ? ledger.plan('t', p, log[committed[p]]) : null));
        const lone = plans.findIndex((pl) => pl !== null && pl.kind !== 'chunk');
        if (lone >= 0) {
          const plan = plans[lone] as ChunkPlan;
          const m = logs[lone][committed[lone]];
          if (plan.kind === 'quarantine') {
            quarantined.push(`${lone}:${m.offset}`);
            ledger.quarantined('t', lone);
          } else {
            await ledger.begin('t', lone, m, m.offset, plan);
            run([{ p: lone, msgs: [m] }]);
          }
          await ledger.end('t', lone);
          committed[lone]++;
          continue;
        }
        const inFlight = logs.map((log, p) => ({ p, msgs: log.slice(committed[p], committed[p] + chunk) })).filter((x) => x.msgs.length > 0);
        for (const { p, msgs } of inFlight) await ledger.begin('t', p, msgs[0], msgs[msgs.length - 1].offset, { kind: 'chunk' });
        run(inFlight);
        for (const { p, msgs } of inFlight) {
          await ledger.end('t', p);
          committed[p] += msgs.length;
        }
      }
    } catch (e) {
      if (!(e instanceof Death)) throw e;
      deaths++;
    }
  }
  return { deaths, quarantined, processed };
}
