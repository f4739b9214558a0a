/**
 * Scheduled reports on the real service: PROBEWATCH_REPORT_SCHEDULE runs through @nestjs/schedule,
 * writes the report into data/reports, and announces it through the receivers that
 * `alertname="probewatch report"` routes to (a real local webhook here).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Response as AgentResponse } from 'superagent';
import request from 'supertest';

import { ConfigError, loadConfig } from '../../src/config/app-config';
import { createApp } from '../../src/main';
import { ensureChromium } from '../support/browser';
import { realModel, skipNote } from '../support/real-model';
import { HttpSink } from '../support/receivers';
import { until } from '../support/until';

jest.setTimeout(300_000);

/** Collects a response body as bytes (a PDF), whatever its content type. */
function binary(res: AgentResponse, done: (err: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => done(null, Buffer.concat(chunks)));
}

describe('scheduled reports', () => {
  it('refuses a schedule that is not a cron expression', () => {
    expect(() => loadConfig({ PROBEWATCH_REPORT_SCHEDULE: 'every monday' })).toThrow(ConfigError);
    expect(loadConfig({ PROBEWATCH_REPORT_SCHEDULE: '0 6 * * 1' }).reports).toMatchObject({ schedule: '0 6 * * 1', format: 'html' });
    expect(loadConfig({ PROBEWATCH_REPORT_FORMAT: 'pdf', PROBEWATCH_CHROMIUM: '/opt/chrome' }).reports).toMatchObject({ format: 'pdf', chromium: '/opt/chrome' });
    // Scheduled PDFs with no browser would fail at every tick: refused at boot, naming what to install.
    expect(() => loadConfig({ PROBEWATCH_REPORT_SCHEDULE: '0 6 * * 1', PROBEWATCH_REPORT_FORMAT: 'pdf', PROBEWATCH_CHROMIUM: '/nonexistent/chromium' })).toThrow(/PROBEWATCH_REPORT_FORMAT=pdf: no Chromium at \/nonexistent\/chromium .*apt-get install chromium/);
  });

  it('writes a report on schedule and announces it through the alerting receivers', async () => {
    const env = await realModel();
    if (typeof env === 'string') return skipNote(env);
    const sink = await new HttpSink().start();
    const dir = mkdtempSync(path.join(tmpdir(), 'pw-sched-'));
    writeFileSync(path.join(dir, 'alerting.yaml'), `route:
  receiver: quiet
  routes:
    - {matchers: ['alertname="probewatch report"'], receiver: compliance}
receivers:
  - name: quiet
  - name: compliance
    webhook_configs: [{url: '${sink.url}/reports'}]
`);
    const cfg = loadConfig({ ...process.env, PROBEWATCH_DATA_DIR: env.paths.dataDir, PROBEWATCH_ADMIN_KEY_FILE: path.join(dir, 'admin.key'), PROBEWATCH_ALERTING_FILE: path.join(dir, 'alerting.yaml'),
      PROBEWATCH_ACCEPT_LOG_DIR: path.join(dir, 'wal'), PROBEWATCH_RULES_WATCH: 'false', PROBEWATCH_REPORT_SCHEDULE: '*/2 * * * * *', PROBEWATCH_REPORT_FORMAT: 'json', PROBEWATCH_REPORTS_DIR: path.join(dir, 'reports') });
    cfg.store = { kind: 'embedded', location: path.join(dir, 'clickhouse'), database: 'probewatch' };
    let app: NestExpressApplication | null = null;
    try {
      app = await createApp(cfg);
      await app.init();
      const http = app.getHttpServer();
      const key = readFileSync(path.join(dir, 'admin.key'), 'utf8').trim();
      const announced = await until(async () => sink.on('/reports')[0] ?? null, 60_000);
      const n = announced.body as { alerts: Array<{ labels: Record<string, string>; annotations: Record<string, string> }> };
      expect(n.alerts[0].labels).toMatchObject({ alertname: 'probewatch report', severity: 'info' });
      expect(n.alerts[0].annotations.summary).toMatch(/^Compliance report .* is ready$/);
      const id = /\/v1\/reports\/([0-9a-f-]{36})$/.exec(n.alerts[0].annotations.link)?.[1];
      expect(id).toBeDefined();
      const r = await request(http).get(`/v1/reports/${id}`).set('Authorization', `Bearer ${key}`).expect(200);
      expect(JSON.parse(r.text)).toMatchObject({ schema: 'probewatch-report/1', integrity: { audit_trail: { ok: true } } });
      const list = await request(http).get('/v1/reports').set('Authorization', `Bearer ${key}`).expect(200);
      expect(list.body.items.find((x: { id: string }) => x.id === id)).toMatchObject({ requested_by: 'schedule', status: 'ready', format: 'json' });

      // PDF through the API: Chromium prints the HTML; without a browser the report is failed, with what to install.
      const ask = async (): Promise<string> => (await request(http).post('/v1/reports').set('Authorization', `Bearer ${key}`).send({ from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z', format: 'pdf' }).expect(202)).body.id as string;
      const settled = (pid: string) => until(async () => {
        const x = await request(http).get(`/v1/reports/${pid}`).set('Authorization', `Bearer ${key}`).buffer(true).parse(binary);
        return x.status === 202 ? null : x;
      }, 60_000);
      const chromium = ensureChromium();
      if (typeof chromium === 'string') {
        cfg.reports.chromium = chromium;
        const pdf = await settled(await ask());
        expect(pdf.status).toBe(200);
        expect(pdf.headers['content-type']).toBe('application/pdf');
        expect((pdf.body as Buffer).subarray(0, 5).toString('latin1')).toBe('%PDF-');
      } else skipNote(chromium.skip);
      cfg.reports.chromium = path.join(dir, 'no-chromium');
      const failed = await settled(await ask());
      expect(failed.status).toBe(500);
      expect(JSON.parse((failed.body as Buffer).toString('utf8'))).toMatchObject({ status: 'failed', error: expect.stringMatching(/install Debian's chromium \(apt-get install chromium\)/) });
    } finally {
      await app?.close();
      await sink.close();
    }
  });
});
