import { fingerprint } from '../../../src/domain/alert';
import { GroupResult, seriesAlertId, WindowedAlertState } from '../../../src/rules/alert-state';

const M = 60_000;
const g = (user: string, value = 5): GroupResult => ({ labels: { alertname: 'R', tenant: 'acme', user }, value, count: value, samples: ['e1'] });

describe('windowed alert lifecycle', () => {
  it('is pending until the condition has held for `for`, then fires once', () => {
    const s = new WindowedAlertState(2 * M, 0);
    expect(s.step(0, [g('u1')])).toEqual([]);
    expect(s.pending().map((x) => x.labels.user)).toEqual(['u1']);
    expect(s.step(M, [g('u1')])).toEqual([]);
    const fired = s.step(2 * M, [g('u1')]);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ kind: 'fired', at: 2 * M, alertId: seriesAlertId(fingerprint(g('u1').labels), 0) });
    expect(s.step(3 * M, [g('u1')])).toEqual([]);
    expect(s.firing()).toHaveLength(1);
  });

  it('forgets a pending group whose condition clears before `for`', () => {
    const s = new WindowedAlertState(2 * M, 0);
    s.step(0, [g('u1')]);
    s.step(M, []);
    expect(s.pending()).toEqual([]);
    s.step(2 * M, [g('u1')]);
    expect(s.step(3 * M, [g('u1')])).toEqual([]);
    expect(s.step(4 * M, [g('u1')])[0]).toMatchObject({ kind: 'fired', alertId: seriesAlertId(fingerprint(g('u1').labels), 2 * M) });
  });

  it('keeps firing for keep_firing_for after the condition clears, then resolves with the same id', () => {
    const s = new WindowedAlertState(0, 3 * M);
    const [fired] = s.step(0, [g('u1')]);
    expect(fired.kind).toBe('fired');
    expect(s.step(M, [])).toEqual([]);
    expect(s.step(2 * M, [])).toEqual([]);
    const [resolved] = s.step(3 * M, []);
    expect(resolved).toMatchObject({ kind: 'resolved', alertId: fired.alertId, at: 3 * M });
    expect(s.firing()).toEqual([]);
  });

  it('a flap within keep_firing_for stays one alert', () => {
    const s = new WindowedAlertState(0, 3 * M);
    const [fired] = s.step(0, [g('u1')]);
    s.step(M, []);
    expect(s.step(2 * M, [g('u1')])).toEqual([]);
    expect(s.firing()[0].activeAt).toBe(0);
    expect(s.step(5 * M, [])[0]).toMatchObject({ kind: 'resolved', alertId: fired.alertId });
  });

  it('two instances evaluating the same ticks raise the same alert ids', () => {
    const a = new WindowedAlertState(M, 0);
    const b = new WindowedAlertState(M, 0);
    const ids = (s: WindowedAlertState) => [0, M, 2 * M].flatMap((t) => s.step(t, [g('u1'), g('u2')])).map((x) => x.alertId);
    const fromA = ids(a);
    expect(fromA).toHaveLength(2);
    expect(ids(b)).toEqual(fromA);
  });

  it('an instance that restores an open alert continues it instead of raising a new one', () => {
    const s = new WindowedAlertState(0, 0);
    const fp = fingerprint(g('u1').labels);
    s.restore(fp, g('u1').labels, 0, 5 * M);
    expect(s.step(5 * M, [g('u1')])).toEqual([]);
    expect(s.step(6 * M, [])[0]).toMatchObject({ kind: 'resolved', alertId: seriesAlertId(fp, 0) });
  });
});
