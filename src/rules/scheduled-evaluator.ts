/**
 * Windowed and sequence rules evaluated at aligned ticks (multiples of the rule's `every` since
 * the epoch) against the stored score series. Nest-free: the service's scheduler, `rules test`
 * and `rules backtest` all drive this class, so the three agree on what a rule does.
 */
import { Alert, alertId, fingerprint } from '../domain/alert';
import { formatDuration } from './duration';
import { GroupResult, Transition, WindowedAlertState } from './alert-state';
import { renderAnnotations } from './rule-evaluator';
import type { SequenceRule, WindowedRule } from './rule-types';
import { matchSequences, SequenceRow } from './sequence-matcher';
import { buildWindowedRangeQuery } from './windowed-query';
import { CompiledQuery } from './rule-types';
import { CONCEPT_IDS } from '../domain/concepts';
import { chMillis } from '../storage/events.repository';

/** How the evaluator reads the store (a ClickHouse client in the service and the CLI). */
export interface RuleStorePort {
  rows<T>(sql: string, params: Record<string, unknown>): Promise<T[]>;
  /** Windowed alerts still open in the store: resumed on a rule's first evaluation. */
  openAlerts?(rule: string): Promise<Array<{ fingerprint: string; labels: Record<string, string>; activeAt: number }>>;
  /** Alert ids some instance already recorded (sequence alerts are then not raised twice). */
  existing?(ids: string[]): Promise<Set<string>>;
}

/** Late events: a sequence completed up to this long before a tick is still found. */
export const SEQUENCE_GRACE_MS = 5 * 60_000;
const REMEMBERED_IDS = 10_000;

export function alignedTick(nowMs: number, everyMs: number): number {
  return Math.floor(nowMs / everyMs) * everyMs;
}

/** A result row's group as labels (tenant, user, …). */
function groupLabels(query: CompiledQuery, r: Record<string, unknown>): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const g of query.groupColumns) labels[g.label] = String(r[g.column]);
  return labels;
}

function groupResult(rule: WindowedRule, r: Record<string, unknown>): GroupResult {
  return { labels: { alertname: rule.name, severity: rule.severity, ...groupLabels(rule.query, r), ...rule.labels }, value: Number(r.value), count: Number(r.n), samples: (r.samples as string[]) ?? [] };
}

function round(v: number): string {
  return String(Math.round(v * 1000) / 1000);
}

interface WindowedEntry {
  signature: string;
  state: WindowedAlertState;
  restored: boolean;
}

export class ScheduledEvaluator {
  private readonly windowed = new Map<string, WindowedEntry>();
  private readonly raised = new Map<string, Set<string>>();

  constructor(private readonly store: RuleStorePort, private readonly concepts: readonly string[] = CONCEPT_IDS) {}

  /** The alert state of a windowed rule; a changed definition starts from scratch. */
  private entry(rule: WindowedRule): WindowedEntry {
    const signature = JSON.stringify([rule.query.sql, rule.query.params, rule.windowMs, rule.forMs, rule.keepFiringForMs, rule.labels, rule.severity]);
    let e = this.windowed.get(rule.name);
    if (!e || e.signature !== signature) {
      e = { signature, state: new WindowedAlertState(rule.forMs, rule.keepFiringForMs), restored: false };
      this.windowed.set(rule.name, e);
    }
    return e;
  }

  state(rule: WindowedRule): WindowedAlertState {
    return this.entry(rule).state;
  }

  async evaluateWindowed(rule: WindowedRule, tick: number): Promise<Alert[]> {
    const e = this.entry(rule);
    if (!e.restored && this.store.openAlerts) {
      for (const a of await this.store.openAlerts(rule.name)) e.state.restore(a.fingerprint, a.labels, a.activeAt, tick);
    }
    e.restored = true;
    const rows = await this.store.rows<Record<string, unknown>>(rule.query.sql, { ...rule.query.params, from: chMillis(tick - rule.windowMs), to: chMillis(tick) });
    return e.state.step(tick, rows.map((r) => groupResult(rule, r))).map((t) => this.windowedAlert(rule, t));
  }

  /**
   * Every tick from `firstTick` to `lastTick` (aligned to the rule's `every`) as if evaluated one by
   * one, with one query for the range: what backtests use. Same results as evaluateWindowed per tick.
   */
  async evaluateWindowedRange(rule: WindowedRule, firstTick: number, lastTick: number): Promise<Alert[]> {
    const e = this.entry(rule);
    const q = buildWindowedRangeQuery(rule, this.concepts);
    const rows = await this.store.rows<Record<string, unknown>>(q.sql, {
      ...q.params, from: chMillis(firstTick - rule.windowMs), to: chMillis(lastTick), firstTick, lastTick,
    });
    const byTick = new Map<number, GroupResult[]>();
    for (const r of rows) {
      const t = Number(r.tick);
      const at = byTick.get(t);
      if (at) at.push(groupResult(rule, r));
      else byTick.set(t, [groupResult(rule, r)]);
    }
    const out: Alert[] = [];
    for (let t = firstTick; t <= lastTick; t += rule.everyMs) out.push(...e.state.step(t, byTick.get(t) ?? []).map((x) => this.windowedAlert(rule, x)));
    return out;
  }

  private windowedAlert(rule: WindowedRule, t: Transition): Alert {
    const s = t.series;
    const vars: Record<string, string> = {
      value: round(s.value), count: String(s.count), rule: rule.name, severity: rule.severity, window: formatDuration(rule.windowMs),
      evidence: s.samples.length ? `events ${s.samples.join(', ')}` : 'no events in the last window',
    };
    for (const [k, v] of Object.entries(s.labels)) vars[`labels.${k}`] = v;
    const activeAt = new Date(s.activeAt).toISOString();
    return {
      alert_id: t.alertId, fingerprint: s.fingerprint, rule: rule.name, severity: rule.severity, labels: s.labels,
      annotations: renderAnnotations(rule.annotations, (name) => vars[name]),
      value: s.value, event_id: s.samples[0] ?? '', tenant: s.labels.tenant ?? '', starts_at: activeAt, ts: activeAt, kind: 'windowed',
      ends_at: t.kind === 'resolved' ? new Date(t.at).toISOString() : null,
    };
  }

  /** `sinceMs`: where the look-back starts (default: one `within` plus two ticks plus the grace). */
  async evaluateSequence(rule: SequenceRule, tick: number, sinceMs?: number): Promise<Alert[]> {
    const from = sinceMs ?? tick - rule.withinMs - 2 * rule.everyMs - SEQUENCE_GRACE_MS;
    const rows = await this.store.rows<Record<string, unknown>>(rule.query.sql, { ...rule.query.params, from: chMillis(from), to: chMillis(tick) });
    const keyLabels = new Map<string, Record<string, string>>();
    const seq: SequenceRow[] = rows.map((r) => {
      const labels = groupLabels(rule.query, r);
      const key = JSON.stringify(labels);
      keyLabels.set(key, labels);
      return { key, eventId: String(r.event_id), tsMs: Number(r.ts_ms), steps: rule.steps.map((_s, i) => Number(r[`s${i}`]) === 1) };
    });
    const raised = this.raised.get(rule.name) ?? new Set<string>();
    this.raised.set(rule.name, raised);
    let alerts: Alert[] = [];
    for (const m of matchSequences(seq, rule.steps.length, rule.withinMs)) {
      const labels: Record<string, string> = { alertname: rule.name, severity: rule.severity, ...keyLabels.get(m.key), ...rule.labels };
      const fp = fingerprint(labels);
      const last = m.events[m.events.length - 1];
      // One alert per completing event, whichever earlier events a late arrival adds to the chain.
      const id = alertId(fp, `sequence:${last.eventId}`);
      if (raised.has(id)) continue;
      const vars: Record<string, string> = {
        value: String(m.events.length), rule: rule.name, severity: rule.severity, within: formatDuration(rule.withinMs),
        evidence: m.events.map((e, i) => `step ${i + 1}: ${e.eventId} at ${new Date(e.tsMs).toISOString()}`).join('; '),
      };
      for (const [k, v] of Object.entries(labels)) vars[`labels.${k}`] = v;
      const at = new Date(last.tsMs).toISOString();
      alerts.push({
        alert_id: id, fingerprint: fp, rule: rule.name, severity: rule.severity, labels,
        annotations: renderAnnotations(rule.annotations, (name) => vars[name]),
        value: (last.tsMs - m.events[0].tsMs) / 1000, event_id: last.eventId, tenant: labels.tenant ?? '', starts_at: at, ts: at, kind: 'sequence',
      });
    }
    if (alerts.length && this.store.existing) {
      const known = await this.store.existing(alerts.map((a) => a.alert_id));
      alerts = alerts.filter((a) => !known.has(a.alert_id));
    }
    for (const a of alerts) raised.add(a.alert_id);
    while (raised.size > REMEMBERED_IDS) raised.delete(raised.values().next().value as string);
    return alerts;
  }

  /** Forget rules that left the set. */
  retain(names: Set<string>): void {
    for (const k of [...this.windowed.keys()]) if (!names.has(k)) this.windowed.delete(k);
    for (const k of [...this.raised.keys()]) if (!names.has(k)) this.raised.delete(k);
  }
}
