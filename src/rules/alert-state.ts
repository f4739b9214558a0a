/**
 * The lifecycle of windowed alerts (pure), as in Prometheus: a group whose condition holds is
 * pending; it fires once it has held for `for`; after the condition clears it keeps firing for
 * `keep_firing_for`, then resolves. An alert's identity is its fingerprint (labels only) and the
 * evaluation tick at which it became active, so instances that evaluate the same aligned ticks
 * over the same store produce the same alert id, and the store keeps one alert.
 */
import { alertId, fingerprint } from '../domain/alert';

export interface GroupResult {
  labels: Record<string, string>;
  value: number;
  count: number;
  samples: string[];
}

export interface Series {
  fingerprint: string;
  labels: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: number;
  lastTrueAt: number;
  value: number;
  count: number;
  samples: string[];
}

export interface Transition {
  kind: 'fired' | 'resolved';
  alertId: string;
  series: Series;
  at: number;
}

export function seriesAlertId(fp: string, activeAt: number): string {
  return alertId(fp, `window:${new Date(activeAt).toISOString()}`);
}

export class WindowedAlertState {
  private readonly series = new Map<string, Series>();

  constructor(private readonly forMs: number, private readonly keepFiringForMs: number) {}

  /** Resumes a firing alert recorded by an earlier run or another instance. */
  restore(fp: string, labels: Record<string, string>, activeAt: number, now: number): void {
    if (!this.series.has(fp)) this.series.set(fp, { fingerprint: fp, labels, state: 'firing', activeAt, lastTrueAt: now, value: 0, count: 0, samples: [] });
  }

  /** One evaluation at tick `t` with the groups whose condition held. */
  step(t: number, groups: GroupResult[]): Transition[] {
    const out: Transition[] = [];
    const seen = new Set<string>();
    for (const g of groups) {
      const fp = fingerprint(g.labels);
      seen.add(fp);
      let s = this.series.get(fp);
      if (!s) {
        s = { fingerprint: fp, labels: g.labels, state: 'pending', activeAt: t, lastTrueAt: t, value: g.value, count: g.count, samples: g.samples };
        this.series.set(fp, s);
      }
      Object.assign(s, { lastTrueAt: t, value: g.value, count: g.count, samples: g.samples });
      if (s.state === 'pending' && t - s.activeAt >= this.forMs) {
        s.state = 'firing';
        out.push({ kind: 'fired', alertId: seriesAlertId(fp, s.activeAt), series: { ...s }, at: t });
      }
    }
    for (const [fp, s] of this.series) {
      if (seen.has(fp)) continue;
      if (s.state === 'pending') this.series.delete(fp);
      else if (t - s.lastTrueAt >= this.keepFiringForMs) {
        this.series.delete(fp);
        out.push({ kind: 'resolved', alertId: seriesAlertId(fp, s.activeAt), series: { ...s }, at: t });
      }
    }
    return out;
  }

  /** Series currently firing (for `rules test` and the API). */
  firing(): Series[] {
    return [...this.series.values()].filter((s) => s.state === 'firing');
  }

  pending(): Series[] {
    return [...this.series.values()].filter((s) => s.state === 'pending');
  }
}
