import { matchSequences, SequenceRow } from '../../../src/rules/sequence-matcher';

const M = 60_000;
const row = (key: string, eventId: string, min: number, ...steps: boolean[]): SequenceRow => ({ key, eventId, tsMs: min * M, steps });

describe('sequence matching', () => {
  it('finds ordered steps of one key within the span', () => {
    const m = matchSequences([row('u1', 'a', 0, true, false), row('u1', 'b', 5, false, true)], 2, 10 * M);
    expect(m).toEqual([{ key: 'u1', events: [{ eventId: 'a', tsMs: 0 }, { eventId: 'b', tsMs: 5 * M }] }]);
  });

  it('ignores the wrong order, a span too long, and steps of different keys', () => {
    expect(matchSequences([row('u1', 'a', 0, false, true), row('u1', 'b', 1, true, false)], 2, 10 * M)).toEqual([]);
    expect(matchSequences([row('u1', 'a', 0, true, false), row('u1', 'b', 11, false, true)], 2, 10 * M)).toEqual([]);
    expect(matchSequences([row('u1', 'a', 0, true, false), row('u2', 'b', 1, false, true)], 2, 10 * M)).toEqual([]);
  });

  it('uses the latest start, so an old first step does not hide a recent one', () => {
    const m = matchSequences([row('u1', 'a', 0, true, false), row('u1', 'b', 8, true, false), row('u1', 'c', 15, false, true)], 2, 10 * M);
    expect(m.map((x) => x.events.map((e) => e.eventId))).toEqual([['b', 'c']]);
  });

  it('never lets one event fill two steps, and handles three steps', () => {
    expect(matchSequences([row('u1', 'a', 0, true, true)], 2, 10 * M)).toEqual([]);
    const m = matchSequences([row('u1', 'a', 0, true, false, false), row('u1', 'b', 1, true, true, false), row('u1', 'c', 2, false, false, true)], 3, 10 * M);
    expect(m.map((x) => x.events.map((e) => e.eventId))).toEqual([['a', 'b', 'c']]);
  });
});
