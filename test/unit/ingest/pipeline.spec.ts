import { Alert } from '../../../src/domain/alert';
import { ProbeEvent } from '../../../src/domain/event';
import { Pipeline, PipelineStages, QueueFull } from '../../../src/ingest/pipeline';
import { Metrics } from '../../../src/ops/metrics';
import { AlertEvents } from '../../../src/platform/alert-events';
import { ScoredEvent } from '../../../src/domain/scored-event';

const ev = (id: string): ProbeEvent => ({ id, timestamp: '2026-11-24T10:00:00Z', tenant: 't', source: 's', model: 'm', messages: [{ role: 'user', content: id }] });

function stages(overrides: Partial<PipelineStages> = {}): PipelineStages & { stored: string[]; dead: string[] } {
  const stored: string[] = [];
  const dead: string[] = [];
  return {
    stored,
    dead,
    score: async (e) => ({ id: e.id } as unknown as ScoredEvent),
    evaluate: (e) => ({ alerts: e.id.startsWith('bad') ? [{ alert_id: e.id, rule: 'R', severity: 'high', value: 1, tenant: 't', event_id: e.id, fingerprint: 'f' } as Alert] : [], errors: [] }),
    store: async (e) => {
      await new Promise((r) => setTimeout(r, 5));
      stored.push(e.id);
    },
    raise: () => undefined,
    deadLetter: async (e) => {
      dead.push(e.id);
    },
    log: () => undefined,
    ...overrides,
  };
}

describe('pipeline (fake stages beside the real ones used end to end)', () => {
  it('scores and stores every accepted event, then drains', async () => {
    const s = stages();
    const p = new Pipeline(s, new Metrics(), 100, 4);
    p.submit(['a', 'b', 'bad-1', 'c'].map(ev));
    await p.drain();
    expect(s.stored.sort()).toEqual(['a', 'b', 'bad-1', 'c']);
  });

  it('refuses a whole request that would overflow the queue, with a retry delay', () => {
    const s = stages({ score: () => new Promise(() => undefined) });
    const p = new Pipeline(s, new Metrics(), 3, 1);
    p.submit([ev('1'), ev('2')]);
    let err: unknown;
    try {
      p.submit([ev('3'), ev('4'), ev('5')]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(QueueFull);
    expect((err as QueueFull).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(p.depth + p.inFlight).toBe(2);
  });

  it('raises alerts once they are stored, with their channel, and never waits for a receiver', async () => {
    const raised: Array<{ ids: string[]; channel: string }> = [];
    const s = stages();
    s.store = async (e) => void s.stored.push(e.id);
    const events = new AlertEvents();
    events.subscribe((ev) => void raised.push({ ids: ev.alerts.map((a) => a.event_id), channel: ev.origin === 'event' ? ev.channel : 'scheduled' }));
    events.subscribe(() => new Promise(() => undefined)); // a receiver that never answers
    events.subscribe(() => {
      throw new Error('a broken receiver');
    });
    s.raise = (ev) => {
      expect(s.stored).toContain(ev.alerts[0].event_id); // stored before it is raised
      events.publish(ev);
    };
    const p = new Pipeline(s, new Metrics(), 10, 2);
    p.submit([ev('bad-1'), ev('ok')]);
    await p.drain();
    expect(raised).toEqual([{ ids: ['bad-1'], channel: 'http' }]);
    const outcomes = await p.process([ev('bad-2')]);
    expect(outcomes[0]).toMatchObject({ status: 'stored', alerts: [expect.objectContaining({ event_id: 'bad-2' })] });
    expect(raised[1]).toEqual({ ids: ['bad-2'], channel: 'kafka' });
  });

  it('dead-letters an event whose scoring fails and keeps going', async () => {
    const s = stages({ score: async (e) => { if (e.id === 'x') throw new Error('boom'); return { id: e.id } as unknown as ScoredEvent; } });
    const p = new Pipeline(s, new Metrics(), 10, 2);
    p.submit([ev('x'), ev('y')]);
    await p.drain();
    expect(s.dead).toEqual(['x']);
    expect(s.stored).toEqual(['y']);
  });

  it('stop() waits for in-flight work and then refuses new events', async () => {
    const s = stages();
    const p = new Pipeline(s, new Metrics(), 10, 1);
    p.submit([ev('1'), ev('2')]);
    await p.stop();
    expect(s.stored).toEqual(['1', '2']);
    expect(() => p.submit([ev('3')])).toThrow(QueueFull);
  });

  it('frees probe slots while events wait for storage, bounded by the capacity, and flushes when idle', async () => {
    const release: Array<() => void> = [];
    let scoring = 0;
    let maxScoring = 0;
    let hints = 0;
    const s = stages({
      score: async (e) => {
        scoring++;
        maxScoring = Math.max(maxScoring, scoring);
        await new Promise((r) => setTimeout(r, 1));
        scoring--;
        return { id: e.id } as unknown as ScoredEvent;
      },
      store: () => new Promise<void>((r) => release.push(r)),
      flushHint: () => void hints++,
    });
    const p = new Pipeline(s, new Metrics(), 6, 2);
    p.submit(['1', '2', '3', '4', '5', '6'].map(ev));
    await new Promise((r) => setTimeout(r, 50));
    // All six scored although only two probe slots exist: waiting for storage holds no probe slot.
    expect(release).toHaveLength(6);
    expect(maxScoring).toBeLessThanOrEqual(2);
    expect(hints).toBeGreaterThanOrEqual(1);
    // Storage slots are full (capacity 6): the next events stay queued, then a full queue refuses.
    p.submit(['7', '8', '9', '10', '11', '12'].map(ev));
    await new Promise((r) => setTimeout(r, 20));
    expect(release).toHaveLength(6);
    expect(p.depth).toBe(6);
    expect(() => p.submit([ev('13')])).toThrow(QueueFull);
    let drained = false;
    const d = p.drain().then(() => {
      drained = true;
    });
    while (release.length) {
      release.shift()?.();
      await new Promise((r) => setTimeout(r, 5));
    }
    await d;
    expect(drained).toBe(true);
  });

  it('process() resolves each event with its outcome once stored or dead-lettered', async () => {
    const s = stages({ score: async (e) => { if (e.id === 'boom') throw new Error('no model'); return { id: e.id } as unknown as ScoredEvent; } });
    const p = new Pipeline(s, new Metrics(), 2, 1);
    const out = await p.process(['a', 'bad-1', 'boom', 'b'].map(ev));
    expect(out.map((o) => o.status)).toEqual(['stored', 'stored', 'dead_lettered', 'stored']);
    expect(out[1]).toMatchObject({ status: 'stored', alerts: [{ alert_id: 'bad-1' }] });
    expect(out[2]).toMatchObject({ reason: 'probe failed: no model' });
    expect(s.stored.sort()).toEqual(['a', 'b', 'bad-1']);
  });

  it('a stage that throws (even synchronously, even a RangeError) dead-letters that event only', async () => {
    const s = stages({
      evaluate: (e) => {
        if (e.id === 'rules-bug') throw new TypeError('undefined is not a function');
        return { alerts: [], errors: [] };
      },
      store: (e) => {
        if (e.id === 'deep') throw new RangeError('Maximum call stack size exceeded');
        if (e.id === 'async-fail') return Promise.reject(new Error('cannot build row'));
        return Promise.resolve();
      },
    });
    const p = new Pipeline(s, new Metrics(), 10, 2);
    const out = await p.process(['ok-1', 'deep', 'rules-bug', 'async-fail', 'ok-2'].map(ev));
    expect(out.map((o) => o.status)).toEqual(['stored', 'dead_lettered', 'dead_lettered', 'dead_lettered', 'stored']);
    expect(out[1]).toMatchObject({ reason: 'storage failed: Maximum call stack size exceeded' });
    expect(out[2]).toMatchObject({ reason: 'rules failed: undefined is not a function' });
    expect(s.dead.sort()).toEqual(['async-fail', 'deep', 'rules-bug']);
    expect(p.depth + p.inFlight).toBe(0);
  });

  it('an event whose dead letter cannot be written either stays unsettled (kept for replay)', async () => {
    const s = stages({
      score: async () => {
        throw new Error('probe down');
      },
      deadLetter: async () => {
        throw new Error('writer is closed');
      },
    });
    const p = new Pipeline(s, new Metrics(), 10, 1);
    const out = await p.process([ev('z')]);
    expect(out).toEqual([{ status: 'unsettled', reason: 'probe failed: probe down' }]);
  });

  it('reserve/enqueueReserved: room is promised before the durable write, all or nothing', async () => {
    const s = stages();
    const p = new Pipeline(s, new Metrics(), 3, 1);
    p.reserve(2);
    expect(() => p.reserve(2)).toThrow(QueueFull);
    let drained = false;
    const d = p.drain().then(() => {
      drained = true;
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(drained).toBe(false); // a reservation is work in progress
    const settled: string[] = [];
    p.enqueueReserved(['r1', 'r2'].map((id) => ({ event: ev(id), receivedAt: new Date(), channel: 'http' as const, done: (o) => void settled.push(`${id}:${o.status}`) })));
    await d;
    expect(settled.sort()).toEqual(['r1:stored', 'r2:stored']);
    p.reserve(1);
    p.release(1);
    p.reserve(3);
  });
});
