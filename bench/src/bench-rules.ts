/**
 * `probewatch bench rules` (npm run bench:rules) → bench/results/rules.json:
 *   1. event rules: evaluations per second for 10, 100 and 1,000 generated rules over a stream of
 *      synthetic scored events, and the same rules run by json-rules-engine (a general-purpose
 *      rules package) on the same events in the same run, as a ratio; both must find the same
 *      matches, or the figures are not comparable and the bench says so;
 *   2. windowed rules: evaluation time over 10 million stored score rows in the embedded engine.
 * Measured, never asserted: no figure here fails a build.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import type { ProbeEvent } from '../../src/domain/event';
import { CONCEPT_IDS } from '../../src/domain/concepts';
import type { ScoredEvent } from '../../src/domain/scored-event';
import { evaluateEventRules } from '../../src/rules/rule-evaluator';
import { clickhouseRuleStore } from '../../src/storage/rule-store';
import { compileRuleSet } from '../../src/rules/rule-set';
import { Rule, WindowedRule } from '../../src/rules/rule-types';
import { ScheduledEvaluator } from '../../src/rules/scheduled-evaluator';
import { openClickHouse } from '../../src/storage/clickhouse-client';
import { migrate } from '../../src/storage/migrator';
import { peakRssMb } from './proc-stats';

const SOURCES = ['chat', 'api', 'agent', 'batch', 'redteam'];
const TENANTS = ['acme', 'globex', 'initech', 'umbrella', 'hooli'];
const MODELS = ['gpt-x', 'llama-y'];
const FEATURES = [12, 40, 77, 301, 1834];
const STREAM_EVENTS = 20_000;
const JRE_BUDGET_MS = 4000;

/** Deterministic pseudo-random numbers (mulberry32), so every run sees the same stream. */
export function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface GenRule {
  yaml: string;
  jre: Record<string, unknown>;
}

/** Rule i in both languages: four shapes (score and field, flag and list, feature or score, negated list). */
export function generateRule(i: number, r: () => number): GenRule {
  const c = CONCEPT_IDS[i % CONCEPT_IDS.length];
  // Thresholds high enough that about 1-2% of rule evaluations match, as alerting rules do.
  const t = Math.round((0.95 + 0.049 * r()) * 1000) / 1000;
  const src = SOURCES[Math.floor(r() * SOURCES.length)];
  const tenants = [TENANTS[i % 5], TENANTS[(i + 2) % 5]];
  const f = FEATURES[i % FEATURES.length];
  const name = `Bench Rule ${i}`;
  let cond: string;
  let conditions: Record<string, unknown>;
  switch (i % 4) {
    case 0:
      cond = `concept.${c}.score >= ${t} and event.source == "${src}"`;
      conditions = { all: [{ fact: `${c}_score`, operator: 'greaterThanInclusive', value: t }, { fact: 'source', operator: 'equal', value: src }] };
      break;
    case 1:
      cond = `concept.${c}.flagged and event.tenant in ["${tenants[0]}", "${tenants[1]}"] and concept.${c}.score >= ${t}`;
      conditions = { all: [{ fact: `${c}_flagged`, operator: 'equal', value: true }, { fact: 'tenant', operator: 'in', value: tenants }, { fact: `${c}_score`, operator: 'greaterThanInclusive', value: t }] };
      break;
    case 2:
      cond = `feature[${f}] > ${Math.round(t * 100) / 10} or concept.${c}.score > ${t}`;
      conditions = { any: [{ fact: `feature_${f}`, operator: 'greaterThan', value: Math.round(t * 100) / 10 }, { fact: `${c}_score`, operator: 'greaterThan', value: t }] };
      break;
    default:
      cond = `not (event.source in ["redteam", "${src}"]) and concept.${c}.score >= ${t} and event.model == "${MODELS[i % 2]}"`;
      conditions = { all: [{ fact: 'source', operator: 'notIn', value: ['redteam', src] }, { fact: `${c}_score`, operator: 'greaterThanInclusive', value: t }, { fact: 'model', operator: 'equal', value: MODELS[i % 2] }] };
  }
  const yaml = `  - rule: ${name}\n    desc: generated for the benchmark\n    severity: low\n    tags: [sandbox]\n    condition: '${cond}'\n    value: concept.${c}.score\n    labels: {concept: ${c}}\n    annotations: {summary: "{{ value }} in {{ event.tenant }}"}\n`;
  return { yaml, jre: { name, conditions, event: { type: name } } };
}

export function generateEvents(n: number, r: () => number): Array<{ event: ProbeEvent; scored: ScoredEvent; facts: Record<string, unknown> }> {
  const out = [];
  for (let i = 0; i < n; i++) {
    const event: ProbeEvent = {
      id: `b${i}`, timestamp: new Date(Date.UTC(2026, 10, 1) + i * 1000).toISOString(), tenant: TENANTS[Math.floor(r() * 5)], source: SOURCES[Math.floor(r() * 5)],
      model: MODELS[Math.floor(r() * 2)], user: `u${Math.floor(r() * 500)}`, messages: [{ role: 'user', content: 'benchmark' }],
    };
    const facts: Record<string, unknown> = { source: event.source, tenant: event.tenant, model: event.model };
    const concepts = {} as Record<string, ScoredEvent['concepts'][keyof ScoredEvent['concepts']]>;
    CONCEPT_IDS.forEach((c, k) => {
      const score = Math.round(r() * 1000) / 1000;
      const features = k === 0 ? FEATURES.map((f) => ({ feature: f, label: `f${f}`, activation: Math.round(r() * 100) / 10, mean_activation: 1, top_tokens: [] })) : [];
      concepts[c] = { score, threshold: 0.8, flagged: score >= 0.8, detector: 'dense', scores: { sae: score, dense: score }, in_scope: true, tokens_in_scope: 5, features };
      facts[`${c}_score`] = score;
      facts[`${c}_flagged`] = score >= 0.8;
      for (const f of features) facts[`feature_${f.feature}`] = f.activation;
    });
    out.push({ event, scored: { id: event.id, pack: { id: 'bench', version: '0' }, truncated: false, tokens: 5, tokens_scored: 5, concepts: concepts as ScoredEvent['concepts'] }, facts });
  }
  return out;
}

interface EventRuleResult {
  rules: number;
  events: number;
  seconds: number;
  events_per_s: number;
  rule_evaluations_per_s: number;
  matches: number;
  match_rate: number;
  json_rules_engine: { events: number; seconds: number; events_per_s: number; rule_evaluations_per_s: number; matches: number; probewatch_matches_same_events: number };
  ratio_probewatch_to_json_rules_engine: number;
  same_matches: boolean;
}

async function benchEventRules(n: number): Promise<EventRuleResult> {
  const r = rng(42 + n);
  const gen = Array.from({ length: n }, (_, i) => generateRule(i, r));
  const set = compileRuleSet([{ file: 'bench.yaml', text: `apiVersion: probewatch/v1\nengine: ">=1.1"\nrules:\n${gen.map((g) => g.yaml).join('')}` }], { concepts: [...CONCEPT_IDS] });
  if (set.problems.length) throw new Error(`generated rules are invalid: ${set.problems[0].message}`);
  const rules: Rule[] = set.rules;
  const stream = generateEvents(STREAM_EVENTS, rng(7));
  // Warm-up, then the measured pass over the whole stream.
  for (const e of stream.slice(0, 500)) evaluateEventRules(rules, e.event, e.scored);
  let matches = 0;
  const t0 = performance.now();
  for (const e of stream) matches += evaluateEventRules(rules, e.event, e.scored).alerts.length;
  const seconds = (performance.now() - t0) / 1000;

  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Engine } = require('json-rules-engine') as { Engine: new (rules: unknown[], opts: Record<string, unknown>) => { run(facts: Record<string, unknown>): Promise<{ events: unknown[] }> } };
  const engine = new Engine(gen.map((g) => g.jre), { allowUndefinedFacts: true });
  for (const e of stream.slice(0, 20)) await engine.run(e.facts);
  let jreMatches = 0;
  let jreEvents = 0;
  const t1 = performance.now();
  while (jreEvents < stream.length && (jreEvents < 50 || performance.now() - t1 < JRE_BUDGET_MS)) {
    jreMatches += (await engine.run(stream[jreEvents].facts)).events.length;
    jreEvents++;
  }
  const jreSeconds = (performance.now() - t1) / 1000;
  let oursSame = 0;
  for (const e of stream.slice(0, jreEvents)) oursSame += evaluateEventRules(rules, e.event, e.scored).alerts.length;
  const eps = stream.length / seconds;
  const jreEps = jreEvents / jreSeconds;
  return {
    rules: n, events: stream.length, seconds: round(seconds), events_per_s: Math.round(eps), rule_evaluations_per_s: Math.round(eps * n), matches, match_rate: round(matches / (stream.length * n)),
    json_rules_engine: { events: jreEvents, seconds: round(jreSeconds), events_per_s: Math.round(jreEps), rule_evaluations_per_s: Math.round(jreEps * n), matches: jreMatches, probewatch_matches_same_events: oursSame },
    ratio_probewatch_to_json_rules_engine: round(eps / jreEps), same_matches: oursSame === jreMatches,
  };
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

const WINDOWED_RULES = `apiVersion: probewatch/v1
engine: ">=1.1"
rules:
  - rule: Count Per User 10m
    desc: d
    severity: low
    tags: [sandbox]
    kind: windowed
    where: concept.harmful_intent.flagged
    aggregate: count()
    window: 10m
    group_by: [user]
    condition: value >= 2
  - rule: Share Per Source 15m
    desc: d
    severity: low
    tags: [sandbox]
    kind: windowed
    aggregate: share(concept.harmful_intent.flagged or concept.prompt_injection.flagged)
    window: 15m
    group_by: [source]
    condition: value >= 0
  - rule: P99 Per Tenant 24h
    desc: d
    severity: low
    tags: [sandbox]
    kind: windowed
    aggregate: quantile(0.99, concept.harmful_intent.score)
    window: 24h
    condition: value >= 0
  - rule: Any Flag Share Per Tenant And Source 24h
    desc: d
    severity: low
    tags: [sandbox]
    kind: windowed
    aggregate: share(concept.harmful_intent.flagged or concept.prompt_injection.flagged or concept.deception.flagged or concept.sycophancy.flagged)
    window: 24h
    group_by: [source]
    condition: value >= 0
  - rule: Distinct Users Per Tenant 24h
    desc: d
    severity: low
    tags: [sandbox]
    kind: windowed
    aggregate: distinct_users()
    window: 24h
    condition: value >= 0
`;

async function benchWindowed(rows: number, progress: (m: string) => void): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'probewatch-bench-rules-'));
  const client = await openClickHouse({ kind: 'embedded', location: dir, database: 'bench' });
  try {
    await migrate(client);
    const events = Math.floor(rows / 4);
    const dayMs = 86_400_000;
    const start = Date.UTC(2026, 10, 1);
    progress(`inserting ${rows.toLocaleString('en')} score rows (${events.toLocaleString('en')} events over 24 h)`);
    const t0 = performance.now();
    await client.command({
      query: `INSERT INTO concept_scores (tenant, concept, ts, event_id, score, sae_score, dense_score, threshold, flagged, detector, source, model, user_id, pack_version)
        SELECT concat('t', toString(cityHash64(intDiv(number, 4), 1) % 20)) AS tenant,
               arrayElement(['deception', 'sycophancy', 'harmful_intent', 'prompt_injection'], (number % 4) + 1),
               toDateTime64(${start / 1000}, 3, 'UTC') + toIntervalMillisecond(intDiv(number, 4) * ${Math.floor(dayMs / events)}),
               concat('e', toString(intDiv(number, 4))),
               (cityHash64(number) % 1000) / 1000 AS s, s, s, 0.95, s >= 0.95, 'dense',
               arrayElement(['chat', 'api', 'agent', 'batch', 'eval'], (cityHash64(intDiv(number, 4), 2) % 5) + 1),
               'm', concat('u', toString(cityHash64(intDiv(number, 4), 3) % 5000)), '1'
        FROM numbers(${rows})`,
    });
    await client.command({ query: 'OPTIMIZE TABLE concept_scores FINAL' });
    const insertSeconds = (performance.now() - t0) / 1000;
    const set = compileRuleSet([{ file: 'windowed.yaml', text: WINDOWED_RULES }], { concepts: [...CONCEPT_IDS] });
    if (set.problems.length) throw new Error(set.problems[0].message);
    // The tick right after the last stored event, so every window (10m … 24h) is full of rows.
    const spacing = Math.floor(dayMs / events);
    const tick = start + (events - 1) * spacing + 1;
    const results = [];
    for (const rule of set.rules as WindowedRule[]) {
      const times: number[] = [];
      let groups = 0;
      for (let k = 0; k < 4; k++) {
        // One evaluation as the scheduler runs it (query, groups, alert state), by a fresh evaluator
        // each time. With no `for`, every group that holds fires at once: alerts = groups.
        const ev = new ScheduledEvaluator(clickhouseRuleStore(client));
        const t = performance.now();
        groups = (await ev.evaluateWindowed(rule, tick)).length;
        if (k > 0) times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      const inWindow = Math.min(events, Math.floor(rule.windowMs / spacing)) * CONCEPT_IDS.length;
      // The view reads the rows of the concepts the rule uses (one concept's rows stand for the events when it uses none).
      const concepts = (Object.values(rule.query.params).find((v) => Array.isArray(v)) as string[]).length;
      results.push({ rule: rule.name, aggregate: rule.aggregateText, window_ms: rule.windowMs, group_by: rule.groupBy, score_rows_in_window: inWindow, score_rows_read: Math.round((inWindow * concepts) / CONCEPT_IDS.length), groups, median_ms: round(times[1]), min_ms: round(times[0]), max_ms: round(times[2]) });
      progress(`${rule.name}: median ${times[1].toFixed(0)} ms over ${inWindow.toLocaleString('en')} rows`);
    }
    return { stored_score_rows: rows, stored_events: events, insert_seconds: round(insertSeconds), rules: results };
  } finally {
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchRules(out: string, rows = 10_000_000): Promise<void> {
  const progress = (m: string): void => void process.stderr.write(`bench rules: ${m}\n`);
  const eventRules: EventRuleResult[] = [];
  for (const n of [10, 100, 1000]) {
    const r = await benchEventRules(n);
    progress(`${n} event rules: ${r.rule_evaluations_per_s.toLocaleString('en')} rule evaluations/s (${r.events_per_s.toLocaleString('en')} events/s); json-rules-engine ${r.json_rules_engine.rule_evaluations_per_s.toLocaleString('en')}/s; ratio ${r.ratio_probewatch_to_json_rules_engine}; same matches: ${r.same_matches}`);
    eventRules.push(r);
  }
  const windowed = await benchWindowed(rows, progress);
  const result = {
    benchmark: 'rules',
    measured_at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model ?? 'unknown', memory_gb: Math.round(os.totalmem() / 2 ** 30), node: process.version },
    event_rules: eventRules,
    windowed,
    peak_rss_mb: Math.round(peakRssMb(process.pid)),
    notes: [
      'Event rules: probewatch builds the evaluation context from the event and its scores for each event (the real path); json-rules-engine gets a prebuilt flat fact object, and is measured on as many events as fit in its time budget.',
      'Windowed: time of one evaluation (the compiled, parameterised query, its groups and the alert state) at one tick, right after the last stored event (median of 3 after a warm-up), embedded ClickHouse (chDB), the events spread evenly over about 24 h. score_rows_read: rows of the concepts the rule uses.',
    ],
  };
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
}
