/**
 * `probewatch rules backtest <rule-file…> --from T --to T`: how noisy the rules would have been on
 * stored history, before they are deployed. Event rules run on the stored events (as stored: under
 * the redacted or hash content policy, `event.text` conditions see the stored text); windowed rules
 * run at every tick of the range with their `for` and `keep_firing_for`; sequence rules over the
 * whole range. Alerts are counted by rule, day and group, with sample events.
 */
import type { ClickHouseClient } from '@clickhouse/client';

import type { Alert } from '../domain/alert';
import type { AppConfig } from '../config/app-config';
import { parseDuration } from '../rules/duration';
import { evaluateEventRules } from '../rules/rule-evaluator';
import { formatProblem } from '../rules/rule-file';
import { readRuleSources } from '../rules/rule-loader';
import { clickhouseRuleStore, storedEvents } from '../storage/rule-store';
import { compileRuleSet } from '../rules/rule-set';
import { Rule, RuleScope } from '../rules/rule-types';
import { alignedTick, ScheduledEvaluator } from '../rules/scheduled-evaluator';
import { openClickHouse } from '../storage/clickhouse-client';
import { migrate } from '../storage/migrator';

export interface BacktestOptions {
  from: string;
  to: string;
  step?: string;
  json: boolean;
}

export interface RuleBacktest {
  rule: string;
  kind: string;
  alerts: number;
  byDay: Record<string, number>;
  byGroup: Array<{ labels: Record<string, string>; alerts: number }>;
  samples: Array<{ at: string; labels: Record<string, string>; value: number; event_id: string; evidence?: string }>;
}

const SAMPLES = 3;

function summarise(rule: Rule, alerts: Alert[]): RuleBacktest {
  const byDay: Record<string, number> = {};
  const groups = new Map<string, { labels: Record<string, string>; alerts: number }>();
  for (const a of alerts) {
    const day = (a.ts ?? a.starts_at).slice(0, 10);
    byDay[day] = (byDay[day] ?? 0) + 1;
    // The group: the labels that vary between this rule's alerts (tenant, group_by fields).
    const labels = Object.fromEntries(Object.entries(a.labels).filter(([k]) => k !== 'alertname' && k !== 'severity' && rule.labels[k] === undefined));
    const key = JSON.stringify(labels);
    const g = groups.get(key) ?? { labels, alerts: 0 };
    g.alerts++;
    groups.set(key, g);
  }
  return {
    rule: rule.name, kind: rule.kind, alerts: alerts.length, byDay,
    byGroup: [...groups.values()].sort((a, b) => b.alerts - a.alerts).slice(0, 20),
    samples: alerts.slice(0, SAMPLES).map((a) => ({ at: a.ts ?? a.starts_at, labels: a.labels, value: a.value, event_id: a.event_id, evidence: a.annotations.evidence })),
  };
}


export async function backtestRules(client: ClickHouseClient, rules: Rule[], fromMs: number, toMs: number, stepMs: number | null, progress: (msg: string) => void): Promise<RuleBacktest[]> {
  const found = new Map<string, Alert[]>(rules.map((r) => [r.name, []]));
  const eventRules = rules.filter((r) => r.kind === 'event' && r.enabled);
  if (eventRules.length) {
    let n = 0;
    for await (const { event, scored } of storedEvents(client, fromMs, toMs)) {
      for (const a of evaluateEventRules(eventRules, event, scored, new Date(event.timestamp)).alerts) found.get(a.rule)?.push({ ...a, ts: event.timestamp });
      if (++n % 10_000 === 0) progress(`event rules: ${n} events`);
    }
    progress(`event rules: ${n} events evaluated`);
  }
  const evaluator = new ScheduledEvaluator(clickhouseRuleStore(client));
  const keep = (r: Rule, alerts: Alert[]): void => {
    // A windowed alert counts once, when it fires; a sequence alert once per completing event.
    for (const a of alerts) if (!a.ends_at && Date.parse(a.ts ?? a.starts_at) >= fromMs) found.get(r.name)?.push(a);
  };
  for (const r of rules) {
    if (r.kind === 'event' || !r.enabled) continue;
    if (r.kind === 'windowed') {
      // One query per day of ticks (each query covers every tick of its day).
      const every = stepMs ?? r.everyMs;
      const rule = { ...r, everyMs: every };
      const day = Math.ceil(86_400_000 / every) * every;
      for (let start = alignedTick(fromMs, every) + every; start <= toMs; start += day) {
        const end = Math.min(toMs, start + day - every);
        keep(r, await evaluator.evaluateWindowedRange(rule, start, end));
        progress(`${r.name}: evaluated up to ${new Date(end).toISOString()}`);
      }
      continue;
    }
    // Sequence rules: hourly ticks, each looking back one hour plus \`within\`.
    const step = stepMs ?? Math.max(r.everyMs, 3_600_000);
    for (let t = alignedTick(fromMs, step) + step; t - step < toMs; t += step) {
      keep(r, await evaluator.evaluateSequence(r, Math.min(t, toMs), Math.max(fromMs, t - step - r.withinMs)));
    }
    progress(`${r.name}: evaluated`);
  }
  return rules.map((r) => summarise(r, found.get(r.name) ?? []));
}

function parseTime(s: string, what: string): number {
  const ms = Date.parse(s);
  if (Number.isNaN(ms)) throw new Error(`--${what} must be an ISO-8601 time (e.g. 2026-11-01 or 2026-11-01T00:00:00Z), got '${s}'`);
  return ms;
}

export async function runBacktest(cfg: AppConfig, files: string[], scope: RuleScope, opts: BacktestOptions): Promise<number> {
  let fromMs: number;
  let toMs: number;
  let stepMs: number | null = null;
  try {
    fromMs = parseTime(opts.from, 'from');
    toMs = parseTime(opts.to, 'to');
    if (toMs <= fromMs) throw new Error('--to must be after --from');
    if (opts.step) {
      stepMs = parseDuration(opts.step);
      if (stepMs === null) throw new Error(`--step must be a duration such as 1m, got '${opts.step}'`);
    }
  } catch (e) {
    process.stderr.write(`probewatch: ${(e as Error).message}\n`);
    return 2;
  }
  const set = compileRuleSet(await readRuleSources(files), scope);
  if (set.problems.length) {
    for (const p of set.problems) process.stdout.write(`${formatProblem(p)}\n`);
    return 1;
  }
  let client: ClickHouseClient;
  try {
    client = await openClickHouse(cfg.store);
    await migrate(client);
  } catch (e) {
    const msg = (e as Error).message;
    const hint = cfg.store.kind === 'embedded' ? ` (the embedded store at ${cfg.store.location} opens in one process at a time: stop the service, or set PROBEWATCH_CLICKHOUSE_DIR to a copy, or CLICKHOUSE_URL)` : '';
    process.stderr.write(`probewatch: cannot open the store: ${msg.split('\n')[0]}${hint}\n`);
    return 2;
  }
  try {
    const report = await backtestRules(client, set.rules, fromMs, toMs, stepMs, (m) => process.stderr.write(`backtest: ${m}\n`));
    if (opts.json) process.stdout.write(`${JSON.stringify({ from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString(), rules: report }, null, 2)}\n`);
    else process.stdout.write(renderReport(report, fromMs, toMs));
    return 0;
  } finally {
    await client.close();
  }
}

export function renderReport(report: RuleBacktest[], fromMs: number, toMs: number): string {
  const lines = [`backtest ${new Date(fromMs).toISOString()} .. ${new Date(toMs).toISOString()}`, ''];
  for (const r of report) {
    lines.push(`${r.rule} (${r.kind}): ${r.alerts} alert${r.alerts === 1 ? '' : 's'}`);
    if (!r.alerts) {
      lines.push('');
      continue;
    }
    lines.push(`  by day:   ${Object.entries(r.byDay).sort().map(([d, n]) => `${d} ${n}`).join(', ')}`);
    lines.push(`  by group: ${r.byGroup.slice(0, 10).map((g) => `${Object.entries(g.labels).map(([k, v]) => `${k}=${v}`).join(',') || '(all)'} ${g.alerts}`).join('; ')}`);
    for (const s of r.samples) lines.push(`  sample:   ${s.at} value=${Math.round(s.value * 1000) / 1000} event=${s.event_id}${s.evidence ? ` ${s.evidence}` : ''}`);
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}
