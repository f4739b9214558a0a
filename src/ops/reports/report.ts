/**
 * A compliance report for a period: system identification, coverage, detections per concept with
 * the trend against the previous period, alerts, silences, rule and configuration changes, the
 * pack's calibration evidence, data handling, and integrity (the audit trail's verification at
 * generation time, the report's sha256 and its Ed25519 signature with the audit key). JSON is the
 * source form (schema `probewatch-report/1`, described by docs/report.schema.json); CSV and HTML
 * (with SVG charts) are rendered from it, and the PDF is Chromium printing that HTML. The same
 * period and data give the same body (everything but `generated_at` and `integrity`).
 */
import { createHash, KeyObject, sign } from 'node:crypto';

import { keyId, VerifyResult } from '../../domain/audit-chain';
import { incidentStatus } from '../../domain/incident';
import type { PackManifest } from '../../probe/pack-manifest';
import type { ReportPeriod, ReportRepository } from '../../storage/report.repository';
import { ChartData, renderCharts } from './report-charts';
import { toHtml } from './report-html';
import { printPdf } from './report-pdf';

export { toHtml } from './report-html';

export const REPORT_SCHEMA = 'probewatch-report/1';
export const REPORT_FORMATS = ['json', 'csv', 'html', 'pdf'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** The figures a report reads: the repository's queries (a fixed dataset in the samples and tests). */
export type ReportSource = Pick<ReportRepository, 'coverage' | 'detections' | 'detectionsByDay' | 'alerts' | 'alertsByDay' | 'timeToAcknowledge' | 'silences' | 'ruleChanges' | 'auditActions' | 'incidents'>;

export interface ReportContext {
  repo: ReportSource;
  pack: PackManifest;
  serviceVersion: string;
  contentPolicy: { default: string; by_tenant: Record<string, string> };
  retentionDays: number;
  verify: () => Promise<VerifyResult>;
  signingKey: KeyObject;
  publicKey: KeyObject;
  now?: () => Date;
}

/** A store time ('2026-11-30 07:00:00.000', UTC) as ISO 8601. */
const utc = (t: string): string => `${t.replace(' ', 'T')}Z`;

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
  const [coverage, detections, before, byDay, alerts, alertsByDay, ack, silences, rules, audit, incidents] = await Promise.all([
    ctx.repo.coverage(p), ctx.repo.detections(p), ctx.repo.detections(previous(p)), ctx.repo.detectionsByDay(p), ctx.repo.alerts(p), ctx.repo.alertsByDay(p), ctx.repo.timeToAcknowledge(p),
    ctx.repo.silences(p), ctx.repo.ruleChanges(p),
    ctx.repo.auditActions(p, ['service.start', 'alerting.reload', 'alerting.reload.rejected', 'data.erase', 'key.create', 'key.revoke', 'pack.load', 'retention.drop', 'retention.drop.failed']),
    ctx.repo.incidents(p),
  ]);
  const periodEnd = Date.parse(p.to);
  const retention = audit.filter((a) => a.action === 'retention.drop' || a.action === 'retention.drop.failed');
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
    detections_by_day: byDay,
    alerts: { by_rule: alerts, total: alerts.reduce((t, a) => t + a.alerts, 0), by_day: alertsByDay, time_to_acknowledge: ack },
    silences: silences.map((s) => ({ ...s, matchers: JSON.parse(s.matchers) as unknown })),
    // Status as of the end of the period, so the same period and data give the same report.
    incidents: incidents.map((i) => ({ ...i, status: incidentStatus({ deadline: utc(i.deadline), reported_at: i.reported_at ? utc(i.reported_at) : null }, periodEnd) })),
    changes: {
      rule_sets: rules.map((r) => ({ ...r, ok: Number(r.ok) === 1, rules: Number(r.rules) })),
      audit: audit.filter((a) => !retention.includes(a)).map((a) => ({ at: a.at, actor: a.actor, action: a.action, target: a.target })),
    },
    calibration: Object.fromEntries(Object.entries(m.concepts).map(([c, spec]) => [c, { threshold: spec.threshold, evaluation: spec.evaluation ?? null }])),
    data_provenance: (m as unknown as { data?: unknown }).data ?? null,
    data_handling: {
      content_policy: ctx.contentPolicy, retention_days: ctx.retentionDays, erasures: audit.filter((a) => a.action === 'data.erase').length,
      retention_drops: retention.map((a) => ({ at: a.at, action: a.action, target: a.target, rows: Number((JSON.parse(a.detail || '{}') as { rows?: number }).rows ?? 0) })),
    },
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

function chartData(r: Record<string, unknown>): ChartData {
  return { detections_by_day: r.detections_by_day as ChartData['detections_by_day'], alerts: r.alerts as ChartData['alerts'] };
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
  for (const d of chartData(r).detections_by_day) add(`detections_by_day.${d.concept}`, d.day, `${d.flagged} flagged of ${d.events}`);
  for (const a of (r.alerts as { by_rule: Array<Record<string, unknown>> }).by_rule) add('alerts', `${String(a.rule)} (${String(a.severity)})`, `${a.alerts} alerts; ${a.series} series; ${a.acknowledged} acknowledged; median ack ${a.median_ack_seconds ?? '-'} s`);
  const al = chartData(r).alerts;
  for (const a of al.by_day) add(`alerts_by_day.${a.severity}`, a.day, a.alerts);
  for (const b of al.time_to_acknowledge) add('time_to_acknowledge', b.bucket, b.alerts);
  for (const s of r.silences as Array<Record<string, unknown>>) add('silences', String(s.id), `${s.created_by}: ${s.comment} (${s.starts_at} to ${s.ends_at})`);
  for (const i of r.incidents as Array<Record<string, unknown>>) add('incidents', String(i.alert_id), `${i.status}; ${i.category}; aware ${i.aware_at}; due ${i.deadline}; reported ${i.reported_at ?? '-'}; tenant ${i.tenant}; ${i.rule}: ${i.summary}`);
  for (const d of (r.data_handling as { retention_drops: Array<Record<string, unknown>> }).retention_drops) add('retention', String(d.at), `${d.action} ${d.target} (${d.rows} rows)`);
  for (const c of (r.changes as { rule_sets: Array<Record<string, unknown>> }).rule_sets) add('rule_sets', String(c.at), `${c.ok ? 'accepted' : 'rejected'} ${c.hash}`);
  const integ = r.integrity as Record<string, unknown>;
  add('integrity', 'audit_trail_ok', (integ.audit_trail as { ok: boolean }).ok);
  add('integrity', 'body_sha256', integ.body_sha256);
  add('integrity', 'signature', integ.signature);
  return `${lines.join('\n')}\n`;
}

/** Options of a rendering: the browser that prints PDFs (config's PROBEWATCH_CHROMIUM). */
export interface RenderOptions {
  chromium?: string | null;
}

/**
 * A report in one format. HTML carries the charts (SVG rendered here); the PDF prints that same
 * HTML, so it shows the same body, sha256 and signature.
 */
export async function render(r: Record<string, unknown>, format: ReportFormat, opts: RenderOptions = {}): Promise<string | Buffer> {
  if (format === 'json') return `${JSON.stringify(r, null, 2)}\n`;
  if (format === 'csv') return toCsv(r);
  const html = toHtml(r, await renderCharts(chartData(r)));
  return format === 'html' ? html : printPdf(html, opts.chromium ?? null);
}
