/**
 * The rules engine on a real ClickHouse engine (chDB) and through the real CLI: windowed and
 * sequence rules compiled to SQL and evaluated over stored scores, one alert from two instances,
 * a resumed alert after a restart, backtests over stored history, and `rules lint|test|backtest`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { ClickHouseClient } from '@clickhouse/client';

import type { ProbeEvent } from '../../../src/domain/event';
import type { ScoredEvent } from '../../../src/domain/scored-event';
import { CONCEPT_IDS } from '../../../src/domain/concepts';
import { backtestRules } from '../../../src/cli/rules-backtest';
import { readRuleSources } from '../../../src/rules/rule-loader';
import { clickhouseRuleStore } from '../../../src/storage/rule-store';
import { compileRuleSet } from '../../../src/rules/rule-set';
import { Rule, SequenceRule, WindowedRule } from '../../../src/rules/rule-types';
import { ScheduledEvaluator } from '../../../src/rules/scheduled-evaluator';
import { AlertsRepository } from '../../../src/storage/alerts.repository';
import { BatchWriter } from '../../../src/storage/batch-writer';
import { openClickHouse } from '../../../src/storage/clickhouse-client';
import { EventsRepository } from '../../../src/storage/events.repository';
import { migrate } from '../../../src/storage/migrator';
import { Pseudonyms } from '../../../src/storage/redaction/pseudonyms';

jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(ROOT, 'bin', 'probewatch.js');
const scope = { concepts: [...CONCEPT_IDS] };
const M = 60_000;
const T0 = Date.parse('2026-11-20T10:00:00Z');

function scored(id: string, scores: Partial<Record<string, number>>): ScoredEvent {
  const concepts = Object.fromEntries(CONCEPT_IDS.map((c) => {
    const s = scores[c] ?? 0.05;
    return [c, { score: s, threshold: 0.6, flagged: s >= 0.6, detector: 'dense' as const, scores: { sae: s, dense: s }, in_scope: true, tokens_in_scope: 3, features: [] }];
  }));
  return { id, pack: { id: 'p', version: '1' }, truncated: false, tokens: 5, tokens_scored: 5, concepts: concepts as unknown as ScoredEvent['concepts'] };
}

function cli(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('rules engine on embedded ClickHouse', () => {
  let client: ClickHouseClient;
  let writer: BatchWriter;
  let events: EventsRepository;
  let rules: Rule[];

  async function store(id: string, atMs: number, user: string, scores: Partial<Record<string, number>>, source = 'chat'): Promise<void> {
    const e: ProbeEvent = { id, timestamp: new Date(atMs).toISOString(), tenant: 'acme', source, model: 'm', user, messages: [{ role: 'user', content: 'text' }] };
    await events.store(e, scored(id, scores), new Date(atMs));
  }

  beforeAll(async () => {
    client = await openClickHouse({ kind: 'embedded', location: path.join(mkdtempSync(path.join(tmpdir(), 'pw-rules-')), 'db'), database: 'rules' });
    await migrate(client);
    writer = new BatchWriter(client, { maxRows: 10_000, flushMs: 10, maxBackoffMs: 100 });
    events = new EventsRepository(client, writer, () => 'redacted', Pseudonyms.fromKey(Buffer.alloc(32, 1)).digest);
    const set = compileRuleSet(await readRuleSources([path.join(ROOT, 'rules')]), scope);
    expect(set.problems).toEqual([]);
    rules = set.rules;
    // Day 1: u1 sends three harmful requests within 4 minutes; u2 injects then asks for harm;
    // red-team traffic does the same and is left out. Day 2: one harmful request by u3.
    await Promise.all([
      store('d1-a', T0, 'u1', { harmful_intent: 0.9 }),
      store('d1-b', T0 + 2 * M, 'u1', { harmful_intent: 0.92 }),
      store('d1-c', T0 + 4 * M, 'u1', { harmful_intent: 0.95 }),
      store('d1-i', T0 + 20 * M, 'u2', { prompt_injection: 0.9 }),
      store('d1-h', T0 + 25 * M, 'u2', { harmful_intent: 0.8 }),
      store('d1-r1', T0 + 30 * M, 'u9', { prompt_injection: 0.9 }, 'redteam'),
      store('d1-r2', T0 + 31 * M, 'u9', { harmful_intent: 0.9 }, 'redteam'),
      store('d2-a', T0 + 24 * 60 * M, 'u3', { harmful_intent: 0.9 }),
    ]);
  });
  afterAll(async () => {
    await writer.close();
    await client.close();
  });

  it('two instances evaluating a windowed rule store one alert; a restarted instance resumes it', async () => {
    const rule = rules.find((r) => r.name === 'Repeated Harmful Requests By User') as WindowedRule;
    const alertsRepo = new AlertsRepository(client, writer);
    const a = new ScheduledEvaluator(clickhouseRuleStore(client, alertsRepo));
    const b = new ScheduledEvaluator(clickhouseRuleStore(client, alertsRepo));
    const tick = T0 + 5 * M;
    const fromA = await a.evaluateWindowed(rule, tick);
    const fromB = await b.evaluateWindowed(rule, tick);
    expect(fromA).toHaveLength(1);
    expect(fromA[0]).toMatchObject({ kind: 'windowed', value: 3, labels: { tenant: 'acme', user: 'u1', alertname: rule.name }, ends_at: null });
    expect(fromB.map((x) => x.alert_id)).toEqual(fromA.map((x) => x.alert_id));
    await alertsRepo.store([...fromA, ...fromB]);
    await writer.flush();
    expect(await alertsRepo.list({ scope: { tenants: ['acme'] }, rule: rule.name, limit: 10 })).toHaveLength(1);

    // A third instance starting later resumes the open alert (no second alert), then resolves it.
    const c = new ScheduledEvaluator(clickhouseRuleStore(client, alertsRepo));
    expect(await c.evaluateWindowed(rule, tick + M)).toEqual([]);
    const resolved = await c.evaluateWindowed(rule, tick + 15 * M);
    expect(resolved).toHaveLength(1);
    expect(resolved[0]).toMatchObject({ alert_id: fromA[0].alert_id, ends_at: new Date(tick + 15 * M).toISOString() });
    await alertsRepo.store(resolved);
    await writer.flush();
    const stored = await alertsRepo.list({ scope: { tenants: ['acme'] }, rule: rule.name, limit: 10 });
    expect(stored).toHaveLength(1);
    expect(stored[0].ends_at).not.toBeNull();
  });

  it('evaluating a range of ticks in one query gives what tick-by-tick evaluation gives', async () => {
    for (const name of ['Repeated Harmful Requests By User', 'Flagged Share Spike']) {
      const rule = { ...(rules.find((r) => r.name === name) as WindowedRule), forMs: 0 };
      const perTick = new ScheduledEvaluator(clickhouseRuleStore(client));
      const ranged = new ScheduledEvaluator(clickhouseRuleStore(client));
      const first = T0 - 5 * M;
      const last = T0 + 40 * M;
      const a = [];
      for (let t = first; t <= last; t += rule.everyMs) a.push(...(await perTick.evaluateWindowed(rule, t)));
      const b = await ranged.evaluateWindowedRange(rule, first, last);
      expect(b.map((x) => [x.alert_id, x.ends_at, x.value])).toEqual(a.map((x) => [x.alert_id, x.ends_at, x.value]));
      if (name === 'Repeated Harmful Requests By User') expect(a).toHaveLength(2);
    }
  });

  it('runs rule values as parameters: a quote-laden literal is data, not SQL', async () => {
    const text = `apiVersion: probewatch/v1
engine: ">=1.1"
rules:
  - rule: Hostile Literal
    desc: d
    severity: low
    tags: [sandbox]
    kind: windowed
    where: event.source == "chat'); DROP TABLE concept_scores; --" or event.user in ["u1' OR '1'='1", "u2"]
    aggregate: count()
    window: 1h
    group_by: [user]
    condition: value >= 1
`;
    const set = compileRuleSet([{ file: 'hostile.yaml', text }], scope);
    expect(set.problems).toEqual([]);
    const alerts = await new ScheduledEvaluator(clickhouseRuleStore(client)).evaluateWindowed(set.rules[0] as WindowedRule, T0 + 30 * M);
    // Only u2 matches (its user id is in the list); the table is intact.
    expect(alerts.map((a) => [a.labels.user, a.value])).toEqual([['u2', 2]]);
    const res = await client.query({ query: 'SELECT count() AS n FROM concept_scores', format: 'JSONEachRow' });
    expect(Number((await res.json<{ n: string }>())[0].n)).toBeGreaterThan(0);
  });

  it('finds the sequence for u2 only (red-team source excepted) and raises it once', async () => {
    const rule = rules.find((r) => r.name === 'Injection Then Harmful Request') as SequenceRule;
    const alertsRepo = new AlertsRepository(client, writer);
    const ev = new ScheduledEvaluator(clickhouseRuleStore(client, alertsRepo));
    const first = await ev.evaluateSequence(rule, T0 + 26 * M);
    expect(first.map((a) => [a.labels.user, a.event_id])).toEqual([['u2', 'd1-h']]);
    expect(first[0].annotations.evidence).toMatch(/step 1: d1-i .*step 2: d1-h/);
    expect(await ev.evaluateSequence(rule, T0 + 27 * M)).toEqual([]);
    await alertsRepo.store(first);
    await writer.flush();
    // Another instance finds it already recorded.
    expect(await new ScheduledEvaluator(clickhouseRuleStore(client, alertsRepo)).evaluateSequence(rule, T0 + 28 * M)).toEqual([]);
  });

  it('backtests the shipped rules over two days: alerts by rule, day and group, with samples', async () => {
    const report = await backtestRules(client, rules, T0 - 60 * M, T0 + 26 * 60 * M, null, () => undefined);
    const by = Object.fromEntries(report.map((r) => [r.rule, r]));
    expect(by['Harmful Intent Request'].alerts).toBe(6);
    expect(by['Harmful Intent Request'].byDay).toEqual({ '2026-11-20': 5, '2026-11-21': 1 });
    expect(by['Harmful Intent Request'].samples[0]).toMatchObject({ event_id: 'd1-a', at: new Date(T0).toISOString() });
    expect(by['Prompt Injection Attempt'].alerts).toBe(2);
    expect(by['Repeated Harmful Requests By User']).toMatchObject({ alerts: 1, byDay: { '2026-11-20': 1 }, byGroup: [{ labels: { tenant: 'acme', user: 'u1' }, alerts: 1 }] });
    expect(by['Injection Then Harmful Request']).toMatchObject({ alerts: 1, byGroup: [{ labels: { tenant: 'acme', user: 'u2' }, alerts: 1 }] });
    expect(by['Flagged Share Spike'].alerts).toBe(0);
  });
});

describe('probewatch rules (CLI)', () => {
  it('lint: ok on the shipped rules, every problem as file:line:col and exit 1 on a broken file', () => {
    const ok = cli(['rules', 'lint']);
    expect(ok.status).toBe(0);
    expect(ok.stderr).toMatch(/7 rules \(4 event, 2 windowed, 1 sequence\): ok/);
    const bad = cli(['rules', 'lint', 'test/fixtures/rules/broken.bad.yaml']);
    expect(bad.status).toBe(1);
    const lines = bad.stdout.trim().split('\n');
    expect(lines).toHaveLength(8);
    for (const l of lines) expect(l).toMatch(/^test\/fixtures\/rules\/broken\.bad\.yaml:\d+:\d+: /);
  });

  it('test: the shipped rule tests pass; a wrong expectation fails with a diff', () => {
    const ok = cli(['rules', 'test']);
    expect(ok.stdout).toMatch(/5 passed, 0 failed/);
    expect(ok.status).toBe(0);
    const bad = cli(['rules', 'test', 'test/fixtures/rules/wrong-expectation.test.yaml']);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain('FAIL  test/fixtures/rules/wrong-expectation.test.yaml: expects the wrong tenant');
    expect(bad.stdout).toContain('alertname: Harmful Intent Request, time: 1m');
    expect(bad.stdout).toContain('- labels: {"concept":"harmful_intent","severity":"critical","team":"safety","tenant":"globex"}');
    expect(bad.stdout).toContain('+ labels: {"concept":"harmful_intent","severity":"critical","team":"safety","tenant":"acme"}');
  });

  it('backtest: reads the configured store and reports; bad arguments are usage errors', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pw-backtest-'));
    const r = cli(['rules', 'backtest', 'rules/default.yaml', '--from', '2026-11-01', '--to', '2026-11-02'], { PROBEWATCH_CLICKHOUSE_DIR: dir, CLICKHOUSE_URL: '' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^backtest 2026-11-01T00:00:00.000Z \.\. 2026-11-02T00:00:00.000Z/);
    expect(r.stdout).toContain('Harmful Intent Request (event): 0 alerts');
    expect(r.stdout).toContain('Repeated Harmful Requests By User (windowed): 0 alerts');
    const usage = cli(['rules', 'backtest', 'rules/default.yaml', '--from', 'yesterday', '--to', '2026-11-02'], { PROBEWATCH_CLICKHOUSE_DIR: dir });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/--from must be an ISO-8601 time/);
  });
});
