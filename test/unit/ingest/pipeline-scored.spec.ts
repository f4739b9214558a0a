/** Events scored outside the queue (the inline guard): stored and evaluated at once, never held back by the queue. */
import { ProbeEvent } from '../../../src/domain/event';
import { ScoredEvent } from '../../../src/domain/scored-event';
import { EventOutcome, Pipeline, PipelineStages, QueueFull } from '../../../src/ingest/pipeline';
import { Metrics } from '../../../src/ops/metrics';

const ev = (id: string): ProbeEvent => ({ id, timestamp: '2026-11-24T10:00:00Z', tenant: 't', source: 's', model: 'm', messages: [{ role: 'user', content: id }] });

describe('pipeline: recordScored', () => {
  it('runs rules and storage for a scored event while the queue is full and every probe slot is taken', async () => {
    const stored: string[] = [];
    const evaluated: string[] = [];
    const scoredIds: string[] = [];
    let release: () => void = () => undefined;
    const blocked = new Promise<void>((r) => (release = r));
    const stages: PipelineStages = {
      score: async (e) => {
        scoredIds.push(e.id);
        await blocked;
        return { id: e.id } as unknown as ScoredEvent;
      },
      evaluate: (e) => {
        evaluated.push(e.id);
        return { alerts: [], errors: [] };
      },
      store: async (e) => void stored.push(e.id),
      raise: () => undefined,
      deadLetter: async () => undefined,
      log: () => undefined,
    };
    const p = new Pipeline(stages, new Metrics(), 2, 1);
    p.submit([ev('a1'), ev('a2')]);
    p.submit([ev('a3')]);
    expect(() => p.submit([ev('a4')])).toThrow(QueueFull);
    const outcome = await new Promise<EventOutcome>((done) => p.recordScored({ event: ev('guard-1'), receivedAt: new Date(), channel: 'http', scored: { id: 'guard-1' } as unknown as ScoredEvent, done }));
    expect(outcome).toEqual({ status: 'stored', alerts: [] });
    expect(stored).toEqual(['guard-1']);
    expect(evaluated).toEqual(['guard-1']);
    expect(scoredIds).toEqual(['a1']);
    release();
    await p.drain();
    expect(stored).toEqual(['guard-1', 'a1', 'a2', 'a3']);
    expect(p.inFlight).toBe(0);
  });
});
