import { appendFileSync, mkdtempSync, readdirSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { AcceptLog, decodeSegment, encodeRecord } from '../../../src/ingest/accept-log';
import type { ProbeEvent } from '../../../src/domain/event';

const ev = (id: string, content = `text of ${id}`): ProbeEvent => ({ id, timestamp: '2026-11-30T07:00:00.000Z', tenant: 't', source: 's', model: 'm', messages: [{ role: 'user', content }] });

function segments(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.wal')).sort();
}

describe('accept log (write-ahead log behind 202)', () => {
  it('returns after the append is on disk; a new open (a restart) gets back every unsettled record, exactly', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pw-wal-'));
    const { log } = await AcceptLog.open(dir);
    const at = new Date('2026-11-30T07:00:01.000Z');
    const seqs = await log.append([ev('a'), ev('b', 'ünïcødé 😀'), ev('c')], at);
    expect(seqs).toEqual([1, 2, 3]);
    log.settle(seqs[1]);
    // No close(): the process "dies" here.
    const again = await AcceptLog.open(dir);
    expect(again.unsettled.map((r) => r.event.id)).toEqual(['a', 'b', 'c']);
    expect(again.unsettled[1].event.messages[0].content).toBe('ünïcødé 😀');
    expect(again.unsettled[0].receivedAt).toBe(at.getTime());
    // New records continue the sequence, in a new segment.
    expect(await again.log.append([ev('d')], at)).toEqual([4]);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const f of segments(dir)) expect(statSync(path.join(dir, f)).mode & 0o777).toBe(0o600);
    await Promise.all([log.close(), again.log.close()]);
  });

  it('deletes a segment once all its records are settled, and leaves nothing after a clean close', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pw-wal-'));
    const first = await AcceptLog.open(dir);
    const seqs = await first.log.append([ev('a'), ev('b')], new Date());
    const second = await AcceptLog.open(dir); // restart with two unsettled records in segment 1
    expect(second.unsettled).toHaveLength(2);
    expect(segments(dir)).toHaveLength(2);
    for (const s of seqs) second.log.settle(s);
    expect(segments(dir)).toHaveLength(1); // the old segment is gone, the active one stays
    const s2 = await second.log.append([ev('c')], new Date());
    second.log.settle(s2[0]);
    await second.log.close();
    expect(segments(dir)).toHaveLength(0);
    const third = await AcceptLog.open(dir);
    expect(third.unsettled).toEqual([]);
    await Promise.all([first.log.close(), third.log.close()]);
  });

  it('group commit: concurrent appends share syncs', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pw-wal-'));
    const { log } = await AcceptLog.open(dir);
    await Promise.all(Array.from({ length: 200 }, (_, i) => log.append([ev(`e${i}`)], new Date())));
    expect(log.stats.records).toBe(200);
    expect(log.stats.syncs).toBeLessThan(200);
    expect(log.unsettledCount).toBe(200);
    await log.close();
  });

  it('a torn tail (died mid-write, never acknowledged) ends replay of that segment; corrupt bytes are detected', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pw-wal-'));
    const { log } = await AcceptLog.open(dir);
    await log.append([ev('a'), ev('b')], new Date());
    const file = path.join(dir, segments(dir)[0]);
    const size = statSync(file).size;
    appendFileSync(file, encodeRecord({ seq: 3, event: ev('c'), receivedAt: 0 }).subarray(0, 20));
    const messages: string[] = [];
    const again = await AcceptLog.open(dir, (m) => messages.push(m));
    expect(again.unsettled.map((r) => r.event.id)).toEqual(['a', 'b']);
    expect(messages.join('\n')).toMatch(/torn record at byte/);
    truncateSync(file, size - 3);
    const buf = encodeRecord({ seq: 9, event: ev('x'), receivedAt: 0 });
    buf[buf.length - 2] ^= 0xff;
    expect(decodeSegment(buf)).toEqual({ records: [], tornAt: 0 });
    await Promise.all([log.close(), again.log.close()]);
  });
});
