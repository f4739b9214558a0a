/**
 * The HTML form of a report, with its charts inlined as SVG. The PDF is Chromium printing this
 * same page, so the print rules here (A4, no row or chart split across pages, table headers
 * repeated) decide the PDF's layout.
 */
import type { ReportCharts } from './report-charts';

function esc(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function table(head: string[], rows: unknown[][], empty = 'None in the period.'): string {
  if (!rows.length) return `<p class="empty">${esc(empty)}</p>`;
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

/** A chart as a figure; the SVG is ours (rendered from the report's numbers), so it is inlined as is. */
function figure(svg: string | null, caption: string): string {
  return svg ? `<figure class="chart"><figcaption>${esc(caption)}</figcaption>${svg}</figure>` : `<p class="empty">${esc(caption)}: nothing to chart in the period.</p>`;
}

const STYLE = [
  '@page{size:A4;margin:15mm}',
  'body{font-family:"DejaVu Sans","Liberation Sans",Arial,sans-serif;font-size:10.5pt;max-width:60rem;margin:2rem auto;color:#222}',
  'h1{font-size:18pt}h2{font-size:13pt;margin-top:1.5rem;border-bottom:1px solid #ccc}',
  'table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #bbb;padding:.2rem .45rem;text-align:left;vertical-align:top}th{background:#eee}',
  'td{overflow-wrap:break-word}code{font-family:"DejaVu Sans Mono",monospace;font-size:8.5pt;word-break:break-all}',
  'figure.chart{margin:.5rem 0 1.5rem}figcaption{font-weight:bold;margin-bottom:.25rem}figure.chart svg{max-width:100%;height:auto}',
  '.empty{color:#666;font-style:italic}',
  '@media print{body{margin:0;max-width:none}h2{break-after:avoid}tr,figure.chart,td,section.keep{break-inside:avoid}thead{display:table-header-group}}',
].join('\n');

export function toHtml(r: Record<string, unknown>, charts: ReportCharts): string {
  const period = r.period as { from: string; to: string; tenant: string | null };
  const sys = r.system as { service: { version: string }; monitored_models: string[]; pack: Record<string, unknown>; packs_seen: string[] };
  const cov = r.coverage as { events_scored: number; dead_lettered: number; share_scored: number | null; days: Array<{ day: string; scored: number; dead_lettered: number }> };
  const det = r.detections as Array<Record<string, unknown>>;
  const al = (r.alerts as { by_rule: Array<Record<string, unknown>>; total: number });
  const sil = r.silences as Array<Record<string, unknown>>;
  const inc = r.incidents as Array<Record<string, unknown>>;
  const ch = r.changes as { rule_sets: Array<Record<string, unknown>>; audit: Array<Record<string, unknown>> };
  const cal = r.calibration as Record<string, { threshold: number; evaluation: { test?: Record<string, unknown> } | null }>;
  const dh = r.data_handling as Record<string, unknown>;
  const integ = r.integrity as { audit_trail: { ok: boolean; entries: number; problem: unknown }; body_sha256: string; signature: string; key_id: string };
  const code = (s: string): string => `<code>${esc(s)}</code>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>probewatch report ${esc(period.from)} to ${esc(period.to)}</title>
<style>${STYLE}</style></head>
<body>
<h1>probewatch compliance report</h1>
<p>Period ${esc(period.from)} to ${esc(period.to)}${period.tenant ? `, tenant ${esc(period.tenant)}` : ', all tenants'}. Generated ${esc(r.generated_at)}.</p>
<p>Report body sha256 ${code(integ.body_sha256)} (signed with Ed25519, key ${esc(integ.key_id)}; see Integrity).</p>
<h2>System identification</h2>
${table(['item', 'value'], [['service version', sys.service.version], ['monitored models', sys.monitored_models.join(', ')], ['probe pack', `${sys.pack.id}@${sys.pack.version} (model ${sys.pack.model}, layer ${sys.pack.layer})`], ['model sha256', sys.pack.model_sha256], ['packs that scored events', sys.packs_seen.join(', ')]])}
<h2>Coverage</h2>
<p>${cov.events_scored} events scored, ${cov.dead_lettered} dead-lettered; share scored ${cov.share_scored ?? '-'}.</p>
${table(['day', 'scored', 'dead-lettered'], cov.days.map((d) => [d.day, d.scored, d.dead_lettered]))}
<h2>Detections per concept</h2>
${table(['concept', 'events', 'flagged', 'flagged rate', 'previous period', 'trend', 'p50', 'p90', 'p99'], det.map((d) => [d.concept, d.events, d.flagged, d.flagged_rate, d.previous_flagged_rate, d.trend, d.p50, d.p90, d.p99]))}
${figure(charts.detectionsByDay, 'Flagged events per day, by concept')}
<h2>Alerts</h2>
<p>${al.total} alerts.</p>
${table(['rule', 'severity', 'alerts', 'series', 'acknowledged', 'median time to acknowledge (s)'], al.by_rule.map((a) => [a.rule, a.severity, a.alerts, a.series, a.acknowledged, a.median_ack_seconds ?? '-']))}
${figure(charts.alertsByDay, 'Alerts per day, by severity')}
${figure(charts.timeToAcknowledge, 'Alerts by time to acknowledge')}
<h2>Silences</h2>
${table(['id', 'created by', 'reason', 'from', 'until'], sil.map((s) => [s.id, s.created_by, s.comment, s.starts_at, s.ends_at]))}
<h2>Serious incidents (EU AI Act Art. 73)</h2>
${table(['alert', 'category', 'aware since', 'report due by', 'reported', 'status at period end', 'summary'], inc.map((i) => [`${i.rule} (tenant ${i.tenant}, alert ${i.alert_id})`, String(i.category).replace(/_/g, ' '), i.aware_at, i.deadline, i.reported_at ?? '-', String(i.status).replace(/_/g, ' '), i.summary]), 'No alert was marked as a serious incident for the period.')}
<h2>Rule and configuration changes</h2>
${table(['at', 'rule set', 'outcome', 'rules'], ch.rule_sets.map((c) => [c.at, c.hash, c.ok ? 'accepted' : 'rejected', c.rules]), 'No rule-set changes in the period.')}
${table(['at', 'actor', 'action', 'target'], ch.audit.map((a) => [a.at, a.actor, a.action, a.target]), 'No configuration changes in the audit trail in the period.')}
<h2>Probe calibration evidence</h2>
${table(['concept', 'threshold', 'test AUROC (pairs)', 'recall', 'false positives on controls'], Object.entries(cal).map(([c, v]) => [c, v.threshold, v.evaluation?.test?.auroc_pairs ?? '-', v.evaluation?.test?.recall ?? '-', JSON.stringify((v.evaluation?.test?.fpr_controls as { rate?: number } | undefined)?.rate ?? '-')]))}
<h2>Data handling</h2>
${table(['item', 'value'], [['content policy', JSON.stringify(dh.content_policy)], ['retention (days)', dh.retention_days], ['erasures in the period', dh.erasures], ['partitions dropped by retention in the period', (dh.retention_drops as unknown[]).length]])}
${table(['at', 'retention action', 'table/partition', 'rows'], (dh.retention_drops as Array<Record<string, unknown>>).map((d) => [d.at, d.action, d.target, d.rows]), 'No partition was dropped by retention in the period.')}
<section class="keep">
<h2>Integrity</h2>
<table><thead><tr><th>item</th><th>value</th></tr></thead><tbody>
<tr><td>audit trail at generation</td><td>${esc(integ.audit_trail.ok ? `verified (${integ.audit_trail.entries} entries)` : `FAILED: ${JSON.stringify(integ.audit_trail.problem)}`)}</td></tr>
<tr><td>body sha256</td><td>${code(integ.body_sha256)}</td></tr>
<tr><td>Ed25519 signature</td><td>${code(integ.signature)}</td></tr>
<tr><td>signing key id</td><td>${code(integ.key_id)}</td></tr>
</tbody></table>
<p>The signature covers the report body: the canonical JSON (sorted keys) of every field of the JSON report but <code>generated_at</code> and <code>integrity</code>. This page, and a PDF printed from it, show that body; to verify, get the JSON form of the same report, check that the sha256 of its canonical body is the one above, and check the signature with the audit key.</p>
</section>
</body></html>
`;
}
