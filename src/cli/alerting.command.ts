/**
 * `probewatch alerting lint [file]`: every problem of an alerting file at file:line:col (exit 1
 * on any error, 0 otherwise; warnings are printed too).
 * `probewatch alerts route-test --labels k=v,… [--file f] [--at time]`: the receivers and groups
 * an alert with those labels reaches, what mutes it at that time, and the inhibit rules that
 * could silence it.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { AlertingConfig, formatAlertingProblem, readAlertingConfig } from '../alerts/alerting/alerting-config';
import { formatMatcher, matchesAll } from '../alerts/alerting/matchers';
import { mutedByTime, routeAlert } from '../alerts/alerting/routing';

export class AlertingUsageError extends Error {}

export function alertingFile(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(explicit || env.PROBEWATCH_ALERTING_FILE || 'alerting.yaml');
}

function load(file: string, out: (s: string) => void): AlertingConfig | null {
  if (!existsSync(file)) throw new AlertingUsageError(`alerting file ${file} not found`);
  const { config, problems } = readAlertingConfig(file, readFileSync(file, 'utf8'), process.env);
  for (const p of problems) out(formatAlertingProblem(p));
  return config;
}

export function runAlertingLint(args: string[], out: (s: string) => void, err: (s: string) => void): number {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  if (positionals[0] !== 'lint') throw new AlertingUsageError(`usage: probewatch alerting lint [file]`);
  const file = alertingFile(positionals[1]);
  const config = load(file, err);
  if (!config) return 1;
  const receivers = [...config.receivers.values()];
  out(`${file}: ok (${receivers.length} receivers, ${config.inhibitRules.length} inhibit rules, ${config.timeIntervals.size} time intervals)`);
  return 0;
}

export function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const part of text.split(',')) {
    if (!part.trim()) continue;
    const i = part.indexOf('=');
    if (i <= 0) throw new AlertingUsageError(`--labels takes name=value pairs separated by commas (got '${part}')`);
    labels[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return labels;
}

export function runRouteTest(args: string[], out: (s: string) => void, err: (s: string) => void): number {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { labels: { type: 'string' }, file: { type: 'string' }, at: { type: 'string' }, json: { type: 'boolean' } } });
  if (positionals[0] !== 'route-test' || values.labels === undefined) throw new AlertingUsageError('usage: probewatch alerts route-test --labels rule=…,severity=…,tenant=… [--file alerting.yaml] [--at 2026-11-30T09:00:00Z] [--json]');
  const labels = parseLabels(values.labels);
  const at = values.at ? new Date(values.at) : new Date();
  if (Number.isNaN(at.getTime())) throw new AlertingUsageError(`--at must be a date and time (got '${values.at}')`);
  const config = load(alertingFile(values.file), err);
  if (!config) return 1;
  const matches = routeAlert(config.route, labels).map((m) => ({
    receiver: m.receiver,
    route: m.route.path,
    line: m.route.line,
    group_key: m.groupKey,
    group_labels: m.groupLabels,
    group_wait: m.route.groupWaitMs / 1000,
    group_interval: m.route.groupIntervalMs / 1000,
    repeat_interval: m.route.repeatIntervalMs / 1000,
    muted: mutedByTime(config, m.route, at),
  }));
  const inhibiting = config.inhibitRules.filter((r) => matchesAll(r.target, labels));
  if (values.json) {
    out(JSON.stringify({ labels, at: at.toISOString(), routes: matches, inhibitable_by: inhibiting.map((r) => ({ line: r.line, source: r.source.map(formatMatcher), equal: r.equal })) }, null, 2));
    return 0;
  }
  for (const m of matches) {
    out(`${m.receiver}  (${m.route}, ${path.basename(config.file)}:${m.line})`);
    out(`  group ${m.group_key}: wait ${m.group_wait}s, interval ${m.group_interval}s, repeat ${m.repeat_interval}s`);
    if (m.muted) out(`  muted at ${at.toISOString()}: ${m.muted}`);
  }
  for (const r of inhibiting) out(`inhibited while an alert matching ${r.source.map(formatMatcher).join(', ')} fires${r.equal.length ? ` with the same ${r.equal.join(', ')}` : ''} (line ${r.line})`);
  return 0;
}
