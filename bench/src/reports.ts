/**
 * `npm run bench:reports`: how long a 30-day report takes over 1,000,000 events on embedded
 * ClickHouse, written to bench/results/reports.json. The events, their scores (4 concepts each)
 * and 20,000 alerts are generated inside ClickHouse (INSERT … SELECT FROM numbers), then the
 * report is built as `probewatch report` builds it, in JSON and HTML.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { CHROMIUM_CANDIDATES } from '../../src/config/app-config';
import { findProjectRoot } from '../../src/config/runtime-paths';
import { AuditTrail, loadSigningKey } from '../../src/ops/audit/audit-trail';
import { buildReport, render } from '../../src/ops/reports/report';
import type { PackManifest } from '../../src/probe/pack-manifest';
import { AuditRepository } from '../../src/storage/audit.repository';
import { openClickHouse } from '../../src/storage/clickhouse-client';
import { loadMigrations, migrate } from '../../src/storage/migrator';
import { ReportRepository } from '../../src/storage/report.repository';

const root = findProjectRoot();
const say = (m: string): void => void process.stderr.write(`bench reports: ${m}\n`);

export async function benchReports(out: string = path.join(root, 'bench', 'results', 'reports.json'), events = 1_000_000): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pw-bench-reports-'));
  const client = await openClickHouse({ kind: 'embedded', location: path.join(dir, 'ch'), database: 'bench' });
  await migrate(client, loadMigrations(path.join(root, 'src', 'storage', 'migrations')));
  const from = Date.UTC(2026, 9, 1);
  const days = 30;
  const spanMs = days * 86_400_000;
  say(`generating ${events.toLocaleString()} events over ${days} days (4 concept scores each, 20,000 alerts)`);
  const t0 = performance.now();
  const ts = `fromUnixTimestamp64Milli(toInt64(${from} + intDiv(number * ${spanMs}, ${events})))`;
  await client.command({ query: `INSERT INTO events (tenant, event_id, ts, received_at, source, model, user_id, content_policy, messages, metadata, content_sha256, pack_id, pack_version, tokens, truncated, result)
    SELECT concat('t', toString(number % 20)), concat('e', toString(number)), ${ts}, ${ts}, 'bench', concat('model-', toString(number % 3)), '', 'redacted', '[]', '{}', '', 'smollm2-135m-safety', '2.2.0', 100, 0, '{}'
    FROM numbers(${events})` });
  await client.command({ query: `INSERT INTO concept_scores (tenant, concept, ts, event_id, score, sae_score, dense_score, threshold, flagged, detector, source, model, pack_version)
    SELECT concat('t', toString(number % 20)), arrayJoin(['harmful_intent', 'prompt_injection', 'deception', 'sycophancy']) AS concept, ${ts}, concat('e', toString(number)),
           (cityHash64(number, concept) % 1000) / 1000 AS s, s, s, 0.5, s >= 0.97, 'dense', 'bench', concat('model-', toString(number % 3)), '2.2.0'
    FROM numbers(${events})` });
  await client.command({ query: `INSERT INTO alerts (tenant, alert_id, fingerprint, rule, severity, event_id, ts, value, labels, annotations, created_at, kind)
    SELECT concat('t', toString(number % 20)), concat('a', toString(number)), concat('f', toString(number % 500)), concat('Rule ', toString(number % 7)), 'high', concat('e', toString(number * 50)),
           ${ts.replace('number *', '(number * 50) *')}, 1, '{}', '{}', ${ts.replace('number *', '(number * 50) *')}, 'event'
    FROM numbers(${Math.floor(events / 50)})` });
  const generated = (performance.now() - t0) / 1000;
  const key = loadSigningKey(path.join(dir, 'k.pem'));
  const trail = new AuditTrail(new AuditRepository(client), 'bench', key.privateKey, key.publicKey);
  await trail.open();
  const manifest = JSON.parse(readFileSync(path.join(root, 'probes', 'smollm2-135m-safety', 'manifest.json'), 'utf8')) as PackManifest;
  const period = { from: new Date(from).toISOString(), to: new Date(from + spanMs).toISOString() };
  const ctx = { repo: new ReportRepository(client), pack: manifest, serviceVersion: 'bench', contentPolicy: { default: 'redacted', by_tenant: {} }, retentionDays: 90,
    verify: () => trail.verify(), signingKey: key.privateKey, publicKey: key.publicKey };
  const runs: number[] = [];
  let scored = 0;
  for (let i = 0; i < 3; i++) {
    const t1 = performance.now();
    const r = await buildReport(period, ctx);
    await render(r, 'html');
    runs.push(Math.round((performance.now() - t1)) / 1000);
    scored = (r.coverage as { events_scored: number }).events_scored;
  }
  const t2 = performance.now();
  const tenantReport = await buildReport({ ...period, tenant: 't3' }, ctx);
  const oneTenant = Math.round(performance.now() - t2) / 1000;
  // The PDF (headless Chromium printing the HTML with its charts), when a browser is installed.
  let pdfSeconds: number | null = null;
  let pdfBytes: number | null = null;
  const chromium = process.env.PROBEWATCH_CHROMIUM || CHROMIUM_CANDIDATES.find((c) => existsSync(c)) || null;
  if (chromium) {
    const t3 = performance.now();
    pdfBytes = (await render(tenantReport, 'pdf', { chromium })).length;
    pdfSeconds = Math.round(performance.now() - t3) / 1000;
  }
  await client.close();
  if (scored !== events) throw new Error(`the report counted ${scored} events, not ${events}`);
  const result = {
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? '', node: process.version },
    at: new Date().toISOString(),
    data: { events, days, concept_scores: events * 4, alerts: Math.floor(events / 50), generated_in_s: Math.round(generated * 10) / 10 },
    report_seconds: { runs, median: [...runs].sort((a, b) => a - b)[1] },
    one_tenant_report_seconds: oneTenant,
    pdf: pdfSeconds === null ? 'not measured: no chromium (PROBEWATCH_CHROMIUM)' : { seconds: pdfSeconds, bytes: pdfBytes, note: 'one tenant\'s 30-day report, HTML with charts printed to A4 by headless Chromium' },
  };
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  say(`${JSON.stringify(result.report_seconds)}; written to ${out}`);
}
