/**
 * Rule unit tests in the spirit of `promtool test rules`: input events with scores at given times,
 * expected alerts (labels and annotations) at given evaluation times, and a diff on failure.
 *
 *   rule_files: [../default.yaml]          # relative to the test file, loaded in this order
 *   evaluation_interval: 1m                # event and sequence alerts count at eval_time T when
 *                                          # their time is in (T - interval, T]
 *   tests:
 *     - name: a user bursts harmful requests
 *       input_events:
 *         - {at: 0s, user: u1, scores: {harmful_intent: 0.9}, repeat: 3, every: 1m}
 *       alert_rule_test:
 *         - eval_time: 3m
 *           alertname: Repeated Harmful Requests By User
 *           exp_alerts:
 *             - exp_labels: {severity: high, tenant: test, user: u1, team: safety}
 *               exp_annotations: {summary: "..."}
 *
 * Windowed and sequence rules run through the same evaluator and SQL as the service, against a real
 * ClickHouse engine that the caller provides (the CLI uses an embedded chDB in a temporary dir).
 */
import * as path from 'node:path';

import { isMap, isScalar, isSeq, parseDocument, Scalar, YAMLMap, Node as YamlNode } from 'yaml';

import type { Alert } from '../domain/alert';
import type { ProbeEvent } from '../domain/event';
import type { ScoredEvent } from '../domain/scored-event';
import type { ConceptResult } from '../domain/scored-event';
import { parseDuration } from './duration';
import { evaluateEventRules } from './rule-evaluator';
import { formatProblem, RuleProblem } from './rule-file';
import { RuleSource } from './rule-loader';
import { compileRuleSet } from './rule-set';
import { Rule, RuleScope } from './rule-types';
import { alignedTick, RuleStorePort, ScheduledEvaluator } from './scheduled-evaluator';

export interface RuleTestStore {
  port: RuleStorePort;
  /** Empties the score series (each test starts clean). */
  reset(): Promise<void>;
  insertScores(rows: Array<Record<string, unknown>>): Promise<void>;
}

export interface TestCaseResult {
  file: string;
  name: string;
  ok: boolean;
  failures: string[];
}

export interface RuleTestReport {
  results: TestCaseResult[];
  problems: string[];
}

interface InputEvent {
  atMs: number;
  event: ProbeEvent;
  scored: ScoredEvent;
}

interface Expectation {
  evalMs: number;
  evalText: string;
  alertname: string;
  alerts: Array<{ labels: Record<string, string>; annotations: Record<string, string> }>;
}

const START_MS = Date.parse('2026-01-01T00:00:00Z');
const DEFAULT_THRESHOLD = 0.5;

function scalarMap(n: YamlNode | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  if (!isMap(n)) return out;
  for (const p of n.items) if (isScalar(p.key) && isScalar(p.value)) out[String(p.key.value)] = p.value.value as string | number | boolean;
  return out;
}

function stringRecord(n: YamlNode | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(scalarMap(n)).map(([k, v]) => [k, String(v)]));
}

export class RuleTestRunner {
  constructor(private readonly store: RuleTestStore, private readonly scope: RuleScope, private readonly concepts: readonly string[]) {}

  /** Runs one test file; `read` loads the rule files it names (paths resolved against the test file). */
  async runFile(file: string, text: string, read: (paths: string[]) => Promise<RuleSource[]>): Promise<RuleTestReport> {
    const problems: string[] = [];
    const doc = parseDocument(text, { prettyErrors: false });
    if (doc.errors.length) return { results: [], problems: doc.errors.map((e) => `${file}: YAML: ${e.message.split('\n')[0]}`) };
    const root = doc.contents;
    if (!isMap(root)) return { results: [], problems: [`${file}: a test file is a mapping with rule_files and tests`] };
    const ruleFiles = root.get('rule_files', true);
    if (!isSeq(ruleFiles) || !ruleFiles.items.length) return { results: [], problems: [`${file}: rule_files must list the rule files under test`] };
    const dir = path.dirname(file);
    const sources = await read(ruleFiles.items.map((i) => path.resolve(dir, String((i as Scalar).value))));
    const compiled = compileRuleSet(sources, this.scope);
    if (compiled.problems.length) return { results: [], problems: compiled.problems.map((p: RuleProblem) => formatProblem(p)) };
    const intervalMs = parseDuration(String((root.get('evaluation_interval', true) as Scalar | undefined)?.value ?? '1m'));
    if (intervalMs === null) return { results: [], problems: [`${file}: evaluation_interval must be a duration such as 1m`] };
    const thresholds = scalarMap(root.get('thresholds', true) as YamlNode | undefined);
    const tests = root.get('tests', true);
    if (!isSeq(tests)) return { results: [], problems: [`${file}: tests must be a list`] };
    const results: TestCaseResult[] = [];
    for (const t of tests.items) {
      if (!isMap(t)) {
        problems.push(`${file}: each test is a mapping with name, input_events and alert_rule_test`);
        continue;
      }
      results.push(await this.runCase(file, t, compiled.rules, intervalMs, thresholds));
    }
    return { results, problems };
  }

  private async runCase(file: string, t: YAMLMap, rules: Rule[], intervalMs: number, thresholds: Record<string, string | number | boolean>): Promise<TestCaseResult> {
    const name = String((t.get('name', true) as Scalar | undefined)?.value ?? '(unnamed)');
    const failures: string[] = [];
    const events = this.inputEvents(t.get('input_events', true) as YamlNode | undefined, thresholds, failures);
    const expectations = this.expectations(t.get('alert_rule_test', true) as YamlNode | undefined, failures);
    const byName = new Map(rules.map((r) => [r.name, r]));
    for (const e of expectations) if (!byName.has(e.alertname)) failures.push(`alertname '${e.alertname}' at ${e.evalText}: no such rule in rule_files`);
    if (failures.length) return { file, name, ok: false, failures };

    await this.store.reset();
    await this.store.insertScores(events.flatMap((e) => this.scoreRows(e)));
    const maxEval = Math.max(START_MS, ...expectations.map((e) => e.evalMs));
    const evaluator = new ScheduledEvaluator(this.store.port);
    // One-shot alerts (event, sequence) with their time; windowed: firing series after each tick.
    const oneShot = new Map<string, Alert[]>();
    const firingAt = new Map<string, Array<{ tick: number; alerts: Alert[] }>>();
    for (const r of rules) {
      if (!r.enabled) continue;
      if (r.kind === 'event') {
        oneShot.set(r.name, events.flatMap((e) => evaluateEventRules([r], e.event, e.scored, new Date(e.atMs)).alerts));
        continue;
      }
      const firstTick = alignedTick(START_MS, r.everyMs);
      const seq: Alert[] = [];
      const snapshots: Array<{ tick: number; alerts: Alert[] }> = [];
      const firing = new Map<string, Alert>();
      for (let tick = firstTick; tick <= maxEval; tick += r.everyMs) {
        if (r.kind === 'sequence') seq.push(...(await evaluator.evaluateSequence(r, tick)));
        else {
          for (const a of await evaluator.evaluateWindowed(r, tick)) {
            if (a.ends_at) firing.delete(a.fingerprint);
            else firing.set(a.fingerprint, a);
          }
          // Annotations follow the latest evaluation, as an alert's do in Alertmanager.
          const live = new Map(evaluator.state(r).firing().map((s) => [s.fingerprint, s]));
          snapshots.push({ tick, alerts: [...firing.values()].filter((a) => live.has(a.fingerprint)) });
        }
      }
      if (r.kind === 'sequence') oneShot.set(r.name, seq);
      else firingAt.set(r.name, snapshots);
    }

    for (const exp of expectations) {
      let got: Alert[];
      const snaps = firingAt.get(exp.alertname);
      if (snaps) got = [...snaps].reverse().find((s) => s.tick <= exp.evalMs)?.alerts ?? [];
      else got = (oneShot.get(exp.alertname) ?? []).filter((a) => Date.parse(a.ts ?? a.starts_at) > exp.evalMs - intervalMs && Date.parse(a.ts ?? a.starts_at) <= exp.evalMs);
      const diff = compareAlerts(exp.alerts, got);
      if (diff) failures.push(`alertname: ${exp.alertname}, time: ${exp.evalText}\n${diff}`);
    }
    return { file, name, ok: failures.length === 0, failures };
  }

  private inputEvents(n: YamlNode | undefined, thresholds: Record<string, string | number | boolean>, failures: string[]): InputEvent[] {
    const out: InputEvent[] = [];
    if (n === undefined) return out;
    if (!isSeq(n)) {
      failures.push('input_events must be a list');
      return out;
    }
    n.items.forEach((item, i) => {
      if (!isMap(item)) return failures.push(`input_events[${i}] must be a mapping`);
      const f = scalarMap(item);
      const at = parseDuration(String(f.at ?? '0s'));
      const every = parseDuration(String(f.every ?? '1m'));
      const repeat = Number(f.repeat ?? 1);
      if (at === null || every === null || !(repeat >= 1)) return failures.push(`input_events[${i}]: at and every are durations (0s, 5m), repeat a positive number`);
      const scores = scalarMap(item.get('scores', true) as YamlNode | undefined);
      for (const c of Object.keys(scores)) if (!this.concepts.includes(c)) failures.push(`input_events[${i}].scores: unknown concept '${c}'`);
      const features = scalarMap(item.get('features', true) as YamlNode | undefined);
      const metadata = scalarMap(item.get('metadata', true) as YamlNode | undefined);
      for (let k = 0; k < repeat; k++) {
        const atMs = START_MS + at + k * every;
        const id = `${String(f.id ?? `ev${i}`)}${repeat > 1 ? `-${k}` : ''}`;
        const event: ProbeEvent = {
          id, timestamp: new Date(atMs).toISOString(), tenant: String(f.tenant ?? 'test'), source: String(f.source ?? 'test'), model: String(f.model ?? 'test'),
          messages: [{ role: 'user', content: String(f.text ?? '') }], metadata,
          ...(f.user !== undefined ? { user: String(f.user) } : {}),
        };
        out.push({ atMs, event, scored: this.scored(id, scores, features, thresholds) });
      }
    });
    return out;
  }

  private scored(id: string, scores: Record<string, string | number | boolean>, features: Record<string, string | number | boolean>, thresholds: Record<string, string | number | boolean>): ScoredEvent {
    const concepts = {} as Record<string, ConceptResult>;
    this.concepts.forEach((c, i) => {
      const score = Number(scores[c] ?? 0);
      const threshold = Number(thresholds[c] ?? DEFAULT_THRESHOLD);
      concepts[c] = {
        score, threshold, flagged: score >= threshold, detector: 'dense', scores: { sae: score, dense: score }, in_scope: true, tokens_in_scope: 1,
        // Feature activations given by the test, attached to the first concept (rules read the max over concepts).
        features: i === 0 ? Object.entries(features).map(([k, v]) => ({ feature: Number(k), label: `feature ${k}`, activation: Number(v), mean_activation: Number(v), top_tokens: [] })) : [],
      };
    });
    return { id, pack: { id: 'rule-test', version: '0' }, truncated: false, tokens: 1, tokens_scored: 1, concepts: concepts as ScoredEvent['concepts'] };
  }

  private scoreRows(e: InputEvent): Array<Record<string, unknown>> {
    const ts = new Date(e.atMs).toISOString().replace('T', ' ').replace('Z', '');
    return Object.entries(e.scored.concepts).map(([concept, r]) => ({
      tenant: e.event.tenant, concept, ts, event_id: e.event.id, score: r.score, sae_score: r.score, dense_score: r.score, threshold: r.threshold,
      flagged: r.flagged ? 1 : 0, detector: 'dense', source: e.event.source, model: e.event.model, user_id: e.event.user ?? '', pack_version: '0',
    }));
  }

  private expectations(n: YamlNode | undefined, failures: string[]): Expectation[] {
    const out: Expectation[] = [];
    if (!isSeq(n)) {
      failures.push('alert_rule_test must be a list');
      return out;
    }
    n.items.forEach((item, i) => {
      if (!isMap(item)) return failures.push(`alert_rule_test[${i}] must be a mapping`);
      const evalText = String((item.get('eval_time', true) as Scalar | undefined)?.value ?? '');
      const evalMs = parseDuration(evalText);
      const alertname = String((item.get('alertname', true) as Scalar | undefined)?.value ?? '');
      if (evalMs === null || !alertname) return failures.push(`alert_rule_test[${i}]: needs eval_time (a duration) and alertname`);
      const exp = item.get('exp_alerts', true) as YamlNode | undefined;
      const alerts = isSeq(exp) ? exp.items.map((a) => ({
        labels: stringRecord((a as YAMLMap).get('exp_labels', true) as YamlNode | undefined),
        annotations: stringRecord((a as YAMLMap).get('exp_annotations', true) as YamlNode | undefined),
      })) : [];
      out.push({ evalMs: START_MS + evalMs, evalText, alertname, alerts });
    });
    return out;
  }
}

function canonical(labels: Record<string, string>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b))));
}

/**
 * Expected vs actual alerts. Labels are compared whole (all labels but alertname, as promtool
 * does); annotations only for the keys the test names (evidence strings hold event ids).
 */
export function compareAlerts(exp: Expectation['alerts'], got: Alert[]): string | null {
  const actual = got.map((a) => {
    const { alertname: _drop, ...labels } = a.labels;
    void _drop;
    return { labels, annotations: a.annotations };
  });
  const expKeys = exp.map((e) => canonical(e.labels)).sort();
  const gotKeys = actual.map((a) => canonical(a.labels)).sort();
  let same = expKeys.length === gotKeys.length && expKeys.every((k, i) => k === gotKeys[i]);
  if (same) {
    for (const e of exp) {
      const a = actual.find((x) => canonical(x.labels) === canonical(e.labels));
      for (const [k, v] of Object.entries(e.annotations)) if (a?.annotations[k] !== v) same = false;
    }
  }
  if (same) return null;
  const show = (xs: Array<{ labels: Record<string, string>; annotations: Record<string, string> }>, keys?: Set<string>): string[] =>
    xs.map((x) => `labels: ${canonical(x.labels)} annotations: ${canonical(keys ? Object.fromEntries(Object.entries(x.annotations).filter(([k]) => keys.has(k))) : x.annotations)}`).sort();
  const annotationKeys = new Set(exp.flatMap((e) => Object.keys(e.annotations)));
  const e = show(exp);
  const g = show(actual, annotationKeys);
  const lines = ['    exp:', ...(e.length ? e.map((l) => `    - ${l}`) : ['      (no alerts)']), '    got:', ...(g.length ? g.map((l) => `    + ${l}`) : ['      (no alerts)'])];
  return lines.join('\n');
}
