/**
 * A compliance report on the real embedded store: its figures match the seeded data, the same
 * period and data give the same signed body, the signature verifies with the audit key, and the
 * CLI writes it (JSON, CSV, HTML, PDF) from an embedded store no service holds; the JSON matches
 * docs/report.schema.json.
 */
import { spawnSync } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { ClickHouseClient } from '@clickhouse/client';
import Ajv2020 from 'ajv/dist/2020';

import { alertId, fingerprint } from '../../../src/domain/alert';
import type { ScoredEvent } from '../../../src/domain/scored-event';
import { AuditTrail, loadSigningKey } from '../../../src/ops/audit/audit-trail';
import { buildReport, canonical, render } from '../../../src/ops/reports/report';
import type { PackManifest } from '../../../src/probe/pack-manifest';
import { AlertDeliveryRepository } from '../../../src/storage/alert-delivery.repository';
import { AlertsRepository } from '../../../src/storage/alerts.repository';
import { AuditRepository } from '../../../src/storage/audit.repository';
import { IncidentsRepository } from '../../../src/storage/incidents.repository';
import { incidentDeadline } from '../../../src/domain/incident';
import { BatchWriter } from '../../../src/storage/batch-writer';
import { openClickHouse } from '../../../src/storage/clickhouse-client';
import { DeadLetterRepository } from '../../../src/storage/dead-letter.repository';
import { EventsRepository } from '../../../src/storage/events.repository';
import { migrate } from '../../../src/storage/migrator';
import { ReportRepository } from '../../../src/storage/report.repository';
import { RuleHistoryRepository } from '../../../src/storage/rule-history.repository';
import { ensureChromium } from '../../support/browser';
import { Pseudonyms } from '../../../src/storage/redaction/pseudonyms';

jest.setTimeout(120_000);

const root = path.resolve(__dirname, '..', '..', '..');
const scored = (id: string, s: number): ScoredEvent => {
  const c = { score: s, threshold: 0.5, flagged: s >= 0.5, detector: 'dense' as const, scores: { sae: s, dense: s }, tokens_in_scope: 2, in_scope: true, features: [] };
  return { id, pack: { id: 'smollm2-135m-safety', version: '2.2.0' }, truncated: false, tokens: 5, tokens_scored: 5, concepts: { harmful_intent: c, deception: c, sycophancy: c, prompt_injection: c } };
};

describe('compliance report (chDB)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pw-report-'));
  const store = path.join(dir, 'ch');
  const keyFile = path.join(dir, 'audit.key');
  let client: ClickHouseClient;
  const manifest = JSON.parse(readFileSync(path.join(root, 'probes', 'smollm2-135m-safety', 'manifest.json'), 'utf8')) as PackManifest;
  const period = { from: '2026-11-24T00:00:00.000Z', to: '2026-11-25T00:00:00.000Z' };
  let incidentAlert = '';

  beforeAll(async () => {
    client = await openClickHouse({ kind: 'embedded', location: store, database: 'probewatch' });
    await migrate(client);
    const w = new BatchWriter(client, { maxRows: 1000, flushMs: 10, maxBackoffMs: 100 });
    const events = new EventsRepository(client, w, () => 'redacted', Pseudonyms.fromKey(Buffer.alloc(32, 1)).digest);
    const ev = (id: string, tenant: string) => ({ id, timestamp: '2026-11-24T10:00:00Z', tenant, source: 's', model: 'chat-model-x', messages: [{ role: 'user' as const, content: 'hi' }] });
    await events.store(ev('r1', 'acme'), scored('r1', 0.9), new Date());
    await events.store(ev('r2', 'acme'), scored('r2', 0.2), new Date());
    await events.store(ev('r3', 'acme'), scored('r3', 0.7), new Date());
    await events.store(ev('r4', 'globex'), scored('r4', 0.1), new Date());
    await events.store({ ...ev('old', 'acme'), timestamp: '2026-11-23T10:00:00Z' }, scored('old', 0.9), new Date());
    await new DeadLetterRepository(w, () => 'redacted').record([{ channel: 'http', reason: 'bad', errors: [], payload: '{}', tenant: 'acme' }], new Date('2026-11-24T11:00:00Z'));
    const labels = { alertname: 'R', severity: 'high', tenant: 'acme' };
    const fp = fingerprint(labels);
    const id = alertId(fp, 'r1');
    incidentAlert = id;
    await new AlertsRepository(client, w).store([{ alert_id: id, fingerprint: fp, rule: 'R', severity: 'high', labels, annotations: {}, value: 0.9, event_id: 'r1', tenant: 'acme', starts_at: '2026-11-24T10:00:00.000Z', ts: '2026-11-24T10:00:00.000Z' }]);
    await w.close();
    const delivery = new AlertDeliveryRepository(client);
    await delivery.recordStates([
      { tenant: 'acme', alert_id: id, fingerprint: fp, state: 'firing', at: '2026-11-24T10:00:00.000Z', actor: 'probewatch', detail: '', instance: 'i' },
      { tenant: 'acme', alert_id: id, fingerprint: fp, state: 'acknowledged', at: '2026-11-24T10:01:00.000Z', actor: 'ana', detail: '', instance: 'i' },
    ]);
    await delivery.saveSilence({ id: 's-1', matchers: '[{"name":"tenant","value":"globex","isRegex":false,"isEqual":true}]', starts_at: '2026-11-24T09:00:00.000Z', ends_at: '2026-11-24T12:00:00.000Z',
      created_by: 'bo', comment: 'maintenance window', recurring: '', created_at: '2026-11-24T09:00:00.000Z', updated_at: '2026-11-24T09:00:00.000Z' });
    await new RuleHistoryRepository(client).record({ at: '2026-11-24T08:00:00.000Z', instance: 'i', ok: true, hash: 'abc123', previousHash: '', rules: 7, files: {}, added: [], removed: [], changed: [] , problems: [] });
    const key = loadSigningKey(keyFile);
    const trail = new AuditTrail(new AuditRepository(client), 'i', key.privateKey, key.publicKey, 10, () => new Date('2026-11-24T07:00:00.000Z'));
    await trail.open();
    await trail.append([{ actor: 'probewatch', action: 'service.start', target: 'i', tenant: '', detail: '{}' }]);
    await trail.append([{ actor: 'probewatch', action: 'retention.drop', target: 'events/202605', tenant: '', detail: '{"table":"events","partition":"202605","rows":1234}' }]);
    // A serious incident the provider became aware of in the period, due 2 days later, not reported by the period's end.
    await new IncidentsRepository(client).save({ tenant: 'acme', alert_id: id, fingerprint: fp, rule: 'R', category: 'widespread_or_critical_infrastructure', summary: 'alarm systems disabled',
      aware_at: '2026-11-24T10:05:00.000Z', deadline: incidentDeadline('widespread_or_critical_infrastructure', '2026-11-24T10:05:00.000Z'), reported_at: null, marked_by: 'ana', updated_at: '2026-11-24T10:06:00.000Z' });
    // Another tenant's incident, withdrawn: not reported.
    await new IncidentsRepository(client).save({ tenant: 'globex', alert_id: 'x1', fingerprint: 'f', rule: 'R', category: 'other', summary: 'false alarm', aware_at: '2026-11-24T10:05:00.000Z',
      deadline: '2026-12-09T10:05:00.000Z', reported_at: null, marked_by: 'bo', updated_at: '2026-11-24T10:06:00.000Z' }, true);
    await trail.checkpoint();
  });
  afterAll(async () => {
    await client?.close();
  });

  function ctx() {
    const key = loadSigningKey(keyFile);
    const trail = new AuditTrail(new AuditRepository(client), 'i', key.privateKey, key.publicKey);
    return { repo: new ReportRepository(client), pack: manifest, serviceVersion: '0.1.0', contentPolicy: { default: 'redacted', by_tenant: {} }, retentionDays: 90,
      verify: () => trail.verify(), signingKey: key.privateKey, publicKey: key.publicKey };
  }

  it('reports what the store holds for the period, reproducibly, signed', async () => {
    const r = await buildReport(period, ctx()) as Record<string, any>;
    expect(r.schema).toBe('probewatch-report/1');
    expect(r.coverage).toEqual({ events_scored: 4, dead_lettered: 1, share_scored: 0.8, days: [{ day: '2026-11-24', scored: 4, dead_lettered: 1 }] });
    expect(r.system.monitored_models).toEqual(['chat-model-x']);
    expect(r.system.pack).toMatchObject({ id: 'smollm2-135m-safety', layer: 18 });
    const hi = r.detections.find((d: { concept: string }) => d.concept === 'harmful_intent');
    expect(hi).toMatchObject({ events: 4, flagged: 2, flagged_rate: 0.5, previous_flagged_rate: 1, trend: -0.5 });
    expect(r.alerts.by_rule).toEqual([{ rule: 'R', severity: 'high', alerts: 1, series: 1, acknowledged: 1, median_ack_seconds: 60 }]);
    // The charts' series: per day and concept, per day and severity, and the time to acknowledge (60 s: the 1-5 min bucket).
    expect(r.detections_by_day.filter((d: { concept: string }) => d.concept === 'harmful_intent')).toEqual([{ day: '2026-11-24', concept: 'harmful_intent', events: 4, flagged: 2 }]);
    expect(r.detections_by_day).toHaveLength(4);
    expect(r.alerts.by_day).toEqual([{ day: '2026-11-24', severity: 'high', alerts: 1 }]);
    expect(r.alerts.time_to_acknowledge.filter((b: { alerts: number }) => b.alerts > 0)).toEqual([{ bucket: '1-5 min', max_seconds: 300, alerts: 1 }]);
    expect(r.alerts.time_to_acknowledge.map((b: { bucket: string }) => b.bucket)).toEqual(['< 1 min', '1-5 min', '5-15 min', '15-60 min', '1-4 h', '4-24 h', '>= 24 h', 'not acknowledged']);
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    const validate = ajv.compile(JSON.parse(readFileSync(path.join(root, 'docs', 'report.schema.json'), 'utf8')) as object);
    expect(validate(r) ? [] : validate.errors).toEqual([]);
    expect(r.silences).toEqual([expect.objectContaining({ id: 's-1', created_by: 'bo', comment: 'maintenance window' })]);
    expect(r.changes.rule_sets).toEqual([expect.objectContaining({ hash: 'abc123', ok: true, rules: 7 })]);
    expect(r.changes.audit.map((a: { action: string }) => a.action)).toEqual(['service.start']);
    expect(r.incidents).toEqual([{ tenant: 'acme', alert_id: incidentAlert, rule: 'R', category: 'widespread_or_critical_infrastructure', summary: 'alarm systems disabled',
      aware_at: '2026-11-24 10:05:00.000', deadline: '2026-11-26 10:05:00.000', reported_at: null, status: 'open' }]);
    expect(r.data_handling.retention_drops).toEqual([{ at: expect.any(String), action: 'retention.drop', target: 'events/202605', rows: 1234 }]);
    expect(r.calibration.harmful_intent.threshold).toBe(manifest.concepts.harmful_intent.threshold);
    expect(r.integrity.audit_trail.ok).toBe(true);
    // The same period and data: the same body and hash; the signature verifies with the audit key.
    const again = await buildReport(period, ctx()) as Record<string, any>;
    expect(again.integrity.body_sha256).toBe(r.integrity.body_sha256);
    const { generated_at: _g, integrity: _i, ...body } = r;
    expect(require('node:crypto').createHash('sha256').update(canonical(body)).digest('hex')).toBe(r.integrity.body_sha256);
    const pub = createPublicKey(loadSigningKey(keyFile).privateKey);
    expect(verify(null, Buffer.from(r.integrity.body_sha256), pub, Buffer.from(r.integrity.signature, 'base64'))).toBe(true);
    // One tenant only.
    const acme = await buildReport({ ...period, tenant: 'acme' }, ctx()) as Record<string, any>;
    expect(acme.coverage.events_scored).toBe(3);
    // Renderings.
    expect(await render(r, 'csv')).toMatch(/^section,field,value\n[\s\S]*coverage,events_scored,4\n[\s\S]*alerts_by_day\.high,2026-11-24,1\n/);
    const html = await render(r, 'html') as string;
    expect(html).toContain('<td>R</td><td>high</td><td>1</td><td>1</td><td>1</td><td>60</td>');
    expect(html).toContain(r.integrity.body_sha256);
    expect(html).toContain('<figcaption>Flagged events per day, by concept</figcaption><svg');
    expect(html).toContain('<figcaption>Alerts by time to acknowledge</figcaption><svg');
  });

  it('the CLI writes a report from an embedded store no service holds, and records it in the trail', async () => {
    // chDB keeps a store locked for the life of the process that opened it: the CLI gets a store of its own.
    const own = path.join(dir, 'cli-store');
    const out = path.join(dir, 'report.html');
    const env = { ...process.env, PROBEWATCH_CLICKHOUSE_DIR: own, PROBEWATCH_AUDIT_SIGNING_KEY_FILE: keyFile };
    const r = spawnSync(process.execPath, [path.join(root, 'bin', 'probewatch.js'), 'report', '--from', period.from, '--to', period.to, '--format', 'html', '--out', out], { encoding: 'utf8', env });
    expect(r.stderr).toMatch(/report generated in/);
    expect(r.status).toBe(0);
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('<h2>Detections per concept</h2>');
    expect(html).toContain('0 events scored, 0 dead-lettered');
    const v = spawnSync(process.execPath, [path.join(root, 'bin', 'probewatch.js'), 'audit', 'verify'], { encoding: 'utf8', env });
    expect(v.stdout).toMatch(/^ok: 1 entries in 1 chain/);
    // PDF: without a browser, exit 2 naming what to install (before the store is opened); with one, a PDF.
    const pdf = path.join(dir, 'report.pdf');
    const noBrowser = spawnSync(process.execPath, [path.join(root, 'bin', 'probewatch.js'), 'report', '--from', period.from, '--to', period.to, '--format', 'pdf', '--out', pdf],
      { encoding: 'utf8', env: { ...env, PROBEWATCH_CHROMIUM: path.join(dir, 'no-chromium') } });
    expect(noBrowser.status).toBe(2);
    expect(noBrowser.stderr).toMatch(/PDF reports need a headless Chromium; install Debian's chromium \(apt-get install chromium\) or set PROBEWATCH_CHROMIUM/);
    const chromium = ensureChromium();
    if (typeof chromium === 'string') {
      const printed = spawnSync(process.execPath, [path.join(root, 'bin', 'probewatch.js'), 'report', '--from', period.from, '--to', period.to, '--format', 'pdf', '--out', pdf],
        { encoding: 'utf8', env: { ...env, PROBEWATCH_CHROMIUM: chromium } });
      expect(printed.stderr).toMatch(/report generated in/);
      expect(printed.status).toBe(0);
      expect(readFileSync(pdf).subarray(0, 5).toString('latin1')).toBe('%PDF-');
    } else process.stderr.write(`SKIPPED the CLI's PDF (prerequisite missing): ${chromium.skip}\n`);
    const bad = spawnSync(process.execPath, [path.join(root, 'bin', 'probewatch.js'), 'report', '--from', period.to, '--to', period.from, '--out', out], { encoding: 'utf8', env });
    expect(bad.status).toBe(2);
  });
});
