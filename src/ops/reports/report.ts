/**
 * A compliance report for a period: system identification, coverage, detections per concept with
 * the trend against the previous period, alerts, silences, rule and configuration changes, the
 * pack's calibration evidence, data handling, and integrity (the audit trail's verification at
 * generation time, the report's sha256 and its Ed25519 signature with the audit key). JSON is the
 * source form (schema `probewatch-report/1`); CSV and HTML are rendered from it. The same period
 * and data give the same body (everything but `generated_at` and `integrity`).
 */
import { createHash, KeyObject, sign } from 'node:crypto';

import { keyId, VerifyResult } from '../../domain/audit-chain';
import type { PackManifest } from '../../probe/pack-manifest';
import type { ReportPeriod, ReportRepository } from '../../storage/report.repository';

export const REPORT_SCHEMA = 'probewatch-report/1';
export const REPORT_FORMATS = ['json', 'csv', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface ReportContext {
  repo: ReportRepository;
  pack: PackManifest;
  serviceVersion: string;
  contentPolicy: { default: string; by_tenant: Record<string, string> };
  retentionDays: number;
  verify: () => Promise<VerifyResult>;
  signingKey: KeyObject;
  publicKey: KeyObject;
  now?: () => Date;
}

function previous(p: ReportPeriod): ReportPeriod {
  const from = Date.parse(p.from);
  const to = Date.parse(p.to);
  return { ...p, from: new Date(from - (to - from)).toISOString(), to: new Date(from).toISOString() };
}

/** Canonical JSON (sorted keys) of the report's body: what the sha256 and the signature cover. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v as object).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

export async function buildReport(p: ReportPeriod, ctx: ReportContext): Promise<Record<string, unknown>> {
  const [coverage, detections, before, alerts, silences, rules, audit] = await Promise.all([
    ctx.repo.coverage(p), ctx.repo.detections(p), ctx.repo.detections(previous(p)), ctx.repo.alerts(p), ctx.repo.silences(p), ctx.repo.ruleChanges(p),
    ctx.repo.auditActions(p, ['service.start', 'alerting.reload', 'alerting.reload.rejected', 'data.erase', 'key.create', 'key.revoke', 'pack.load']),
  ]);
  const prev = new Map(before.map((d) => [d.concept, d]));
  const rate = (a: number, n: number): number | null => (n ? Math.round((a / n) * 10_000) / 10_000 : null);
  const scored = coverage.days.reduce((t, d) => t + d.scored, 0);
  const dead = coverage.days.reduce((t, d) => t + d.dead_lettered, 0);
  const m = ctx.pack;
  const body = {
    schema: REPORT_SCHEMA,
    period: { from: p.from, to: p.to, tenant: p.tenant ?? null },
    system: {
      service: { name: 'probewatch', version: ctx.serviceVersion },
      monitored_models: coverage.models,
      tenants: coverage.tenants,
      packs_seen: coverage.packs,
      pack: { id: m.id, version: m.version, model: m.model.id, model_sha256: m.model.file_sha256, layer: m.model.layer, sae: m.sae.id, weights_sha256: Object.fromEntries(Object.entries(m.weights).map(([k, w]) => [k, w.sha256])) },
    },
    coverage: { events_scored: scored, dead_lettered: dead, share_scored: rate(scored, scored + dead), days: coverage.days },
    detections: detections.map((d) => {
      const b = prev.get(d.concept);
      const r = rate(d.flagged, d.events);
      const pr = b ? rate(b.flagged, b.events) : null;
      return { ...d, flagged_rate: r, previous_flagged_rate: pr, trend: r === null || pr === null ? null : Math.round((r - pr) * 10_000) / 10_000 };
    }),
    alerts: { by_rule: alerts, total: alerts.reduce((t, a) => t + a.alerts, 0) },
    silences: silences.map((s) => ({ ...s, matchers: JSON.parse(s.matchers) as unknown })),
    changes: {
      rule_sets: rules.map((r) => ({ ...r, ok: Number(r.ok) === 1, rules: Number(r.rules) })),
      audit: audit.map((a) => ({ at: a.at, actor: a.actor, action: a.action, target: a.target })),
    },
    calibration: Object.fromEntries(Object.entries(m.concepts).map(([c, spec]) => [c, { threshold: spec.threshold, evaluation: spec.evaluation ?? null }])),
    data_provenance: (m as unknown as { data?: unknown }).data ?? null,
    data_handling: { content_policy: ctx.contentPolicy, retention_days: ctx.retentionDays, erasures: audit.filter((a) => a.action === 'data.erase').length },
  };
  const sha256 = createHash('sha256').update(canonical(body)).digest('hex');
  const trail = await ctx.verify();
  return {
    ...body,
    generated_at: (ctx.now ?? (() => new Date()))().toISOString(),
    integrity: {
      audit_trail: { ok: trail.ok, entries: trail.entries, checkpoints: trail.checkpoints, problem: trail.problem },
      body_sha256: sha256,
      signature: sign(null, Buffer.from(sha256), ctx.signingKey).toString('base64'),
      signature_alg: 'Ed25519 over the hex sha256 of the canonical JSON body (all fields but generated_at and integrity)',
      key_id: keyId(ctx.publicKey),
    },
  };
}

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One CSV: `section,key,value` rows, then a table per list section. */
export function toCsv(r: Record<string, unknown>): string {
  const lines: string[] = ['section,field,value'];
  const add = (section: string, field: string, value: unknown): void => void lines.push([section, field, value].map(csvCell).join(','));
  const period = r.period as Record<string, unknown>;
  for (const [k, v] of Object.entries(period)) add('period', k, v);
  const cov = r.coverage as { events_scored: number; dead_lettered: number; share_scored: number | null; days: Array<Record<string, unknown>> };
  add('coverage', 'events_scored', cov.events_scored);
  add('coverage', 'dead_lettered', cov.dead_lettered);
  add('coverage', 'share_scored', cov.share_scored);
  for (const d of cov.days) add('coverage_by_day', String(d.day), `${d.scored} scored; ${d.dead_lettered} dead-lettered`);
  for (const d of r.detections as Array<Record<string, unknown>>) for (const k of ['events', 'flagged', 'flagged_rate', 'previous_flagged_rate', 'trend', 'p50', 'p90', 'p99']) add(`detections.${String(d.concept)}`, k, d[k]);
  for (const a of (r.alerts as { by_rule: Array<Record<string, unknown>> }).by_rule) add('alerts', `${String(a.rule)} (${String(a.severity)})`, `${a.alerts} alerts; ${a.series} series; ${a.acknowledged} acknowledged; median ack ${a.median_ack_seconds ?? '-'} s`);
  for (const s of r.silences as Array<Record<string, unknown>>) add('silences', String(s.id), `${s.created_by}: ${s.comment} (${s.starts_at} to ${s.ends_at})`);
  for (const c of (r.changes as { rule_sets: Array<Record<string, unknown>> }).rule_sets) add('rule_sets', String(c.at), `${c.ok ? 'accepted' : 'rejected'} ${c.hash}`);
  const integ = r.integrity as Record<string, unknown>;
  add('integrity', 'audit_trail_ok', (integ.audit_trail as { ok: boolean }).ok);
  add('integrity', 'body_sha256', integ.body_sha256);
  add('integrity', 'signature', integ.signature);
  return `${lines.join('\n')}\n`;
}

function esc(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function table(head: string[], rows: unknown[][]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

export function toHtml(r: Record<string, unknown>): string {
  const period = r.period as { from: string; to: string; tenant: string | null };
  const sys = r.system as { service: { version: string }; monitored_models: string[]; pack: Record<string, unknown>; packs_seen: string[] };
  const cov = r.coverage as { events_scored: number; dead_lettered: number; share_scored: number | null; days: Array<{ day: string; scored: number; dead_lettered: number }> };
  const det = r.detections as Array<Record<string, unknown>>;
  const al = (r.alerts as { by_rule: Array<Record<string, unknown>>; total: number });
  const sil = r.silences as Array<Record<string, unknown>>;
  const ch = r.changes as { rule_sets: Array<Record<string, unknown>>; audit: Array<Record<string, unknown>> };
  const cal = r.calibration as Record<string, { threshold: number; evaluation: { test?: Record<string, unknown> } | null }>;
  const dh = r.data_handling as Record<string, unknown>;
  const integ = r.integrity as { audit_trail: { ok: boolean; entries: number; problem: unknown }; body_sha256: string; signature: string; key_id: string };
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>probewatch report ${esc(period.from)} to ${esc(period.to)}</title>
<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto;color:#222}table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #bbb;padding:.25rem .5rem;text-align:left}th{background:#eee}code{word-break:break-all}</style></head>
<body>
<h1>probewatch compliance report</h1>
<p>Period ${esc(period.from)} to ${esc(period.to)}${period.tenant ? `, tenant ${esc(period.tenant)}` : ', all tenants'}. Generated ${esc(r.generated_at)}.</p>
<h2>System identification</h2>
${table(['item', 'value'], [['service version', sys.service.version], ['monitored models', sys.monitored_models.join(', ')], ['probe pack', `${sys.pack.id}@${sys.pack.version} (model ${sys.pack.model}, layer ${sys.pack.layer})`], ['model sha256', sys.pack.model_sha256], ['packs that scored events', sys.packs_seen.join(', ')]])}
<h2>Coverage</h2>
<p>${cov.events_scored} events scored, ${cov.dead_lettered} dead-lettered; share scored ${cov.share_scored ?? '-'}.</p>
${table(['day', 'scored', 'dead-lettered'], cov.days.map((d) => [d.day, d.scored, d.dead_lettered]))}
<h2>Detections per concept</h2>
${table(['concept', 'events', 'flagged', 'flagged rate', 'previous period', 'trend', 'p50', 'p90', 'p99'], det.map((d) => [d.concept, d.events, d.flagged, d.flagged_rate, d.previous_flagged_rate, d.trend, d.p50, d.p90, d.p99]))}
<h2>Alerts</h2>
<p>${al.total} alerts.</p>
${table(['rule', 'severity', 'alerts', 'series', 'acknowledged', 'median time to acknowledge (s)'], al.by_rule.map((a) => [a.rule, a.severity, a.alerts, a.series, a.acknowledged, a.median_ack_seconds ?? '-']))}
<h2>Silences</h2>
${table(['id', 'created by', 'reason', 'from', 'until'], sil.map((s) => [s.id, s.created_by, s.comment, s.starts_at, s.ends_at]))}
<h2>Rule and configuration changes</h2>
${table(['at', 'rule set', 'outcome', 'rules'], ch.rule_sets.map((c) => [c.at, c.hash, c.ok ? 'accepted' : 'rejected', c.rules]))}
${table(['at', 'actor', 'action', 'target'], ch.audit.map((a) => [a.at, a.actor, a.action, a.target]))}
<h2>Probe calibration evidence</h2>
${table(['concept', 'threshold', 'test AUROC (pairs)', 'recall', 'false positives on controls'], Object.entries(cal).map(([c, v]) => [c, v.threshold, v.evaluation?.test?.auroc_pairs ?? '-', v.evaluation?.test?.recall ?? '-', JSON.stringify((v.evaluation?.test?.fpr_controls as { rate?: number } | undefined)?.rate ?? '-')]))}
<h2>Data handling</h2>
${table(['item', 'value'], [['content policy', JSON.stringify(dh.content_policy)], ['retention (days)', dh.retention_days], ['erasures in the period', dh.erasures]])}
<h2>Integrity</h2>
${table(['item', 'value'], [['audit trail at generation', integ.audit_trail.ok ? `verified (${integ.audit_trail.entries} entries)` : `FAILED: ${JSON.stringify(integ.audit_trail.problem)}`], ['body sha256', integ.body_sha256], ['Ed25519 signature', integ.signature], ['signing key id', integ.key_id]])}
</body></html>
`;
}

export function render(r: Record<string, unknown>, format: ReportFormat): string {
  return format === 'json' ? `${JSON.stringify(r, null, 2)}\n` : format === 'csv' ? toCsv(r) : toHtml(r);
}
