/**
 * The rendered forms of a compliance report, on the fixed synthetic dataset of the samples
 * (tools/samples/synthetic-report.ts): the JSON validates against docs/report.schema.json, the
 * SVG charts are byte-identical on every rendering (whatever the time zone), the committed samples
 * in docs/ are what the code renders today, and the PDF that headless Chromium prints from the
 * HTML has pages, renders to a non-trivial PNG with pdftoppm, and carries the report's text.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import Ajv2020 from 'ajv/dist/2020';

import { buildReport, render } from '../../../src/ops/reports/report';
import { ChartData, renderCharts } from '../../../src/ops/reports/report-charts';
import { ChromiumMissingError } from '../../../src/ops/reports/report-pdf';
import { sampleContext, SAMPLE_PERIOD } from '../../../tools/samples/synthetic-report';
import { ensureChromium } from '../../support/browser';
import { ensurePoppler } from '../../support/poppler';

jest.setTimeout(180_000);

const root = path.resolve(__dirname, '..', '..', '..');

function schemaValidator(): (r: unknown) => string[] {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  const validate = ajv.compile(JSON.parse(readFileSync(path.join(root, 'docs', 'report.schema.json'), 'utf8')) as object);
  return (r) => (validate(r) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`));
}

function skip(reason: string): void {
  process.stderr.write(`SKIPPED (prerequisite missing): ${reason}\n`);
}

describe('report renderings (synthetic dataset)', () => {
  let report: Record<string, unknown>;
  beforeAll(async () => {
    report = await buildReport(SAMPLE_PERIOD, sampleContext());
  });

  it('the JSON form validates against docs/report.schema.json', () => {
    expect(schemaValidator()(report)).toEqual([]);
    // The schema is closed: a field it does not describe is an error.
    expect(schemaValidator()({ ...report, extra: 1 }).join('\n')).toMatch(/must NOT have additional properties/);
  });

  it('draws the same SVG charts, byte for byte, on every rendering and in any time zone', async () => {
    const data = { detections_by_day: report.detections_by_day, alerts: report.alerts } as ChartData;
    const first = await renderCharts(data);
    expect(first.detectionsByDay).toMatch(/^<svg[\s\S]*<\/svg>$/);
    expect(first.alertsByDay).toContain('critical');
    expect(first.timeToAcknowledge).toContain('not');
    const tz = process.env.TZ;
    try {
      process.env.TZ = 'Pacific/Kiritimati';
      expect(await renderCharts(data)).toEqual(first);
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
    // Ids are the chart's own, so three charts on one page never share a clip path.
    const html = await render(report, 'html') as string;
    const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => id.startsWith('chart-'))).toBe(true);
    expect(await render(report, 'html')).toBe(html);
  });

  it('the samples in docs/ are what the code renders today (npx tsc -p tsconfig.tools.json && node dist-tools/tools/samples/report-samples.js)', async () => {
    expect(readFileSync(path.join(root, 'docs', 'sample-report.json'), 'utf8')).toBe(await render(report, 'json'));
    expect(readFileSync(path.join(root, 'docs', 'sample-report.html'), 'utf8')).toBe(await render(report, 'html'));
    expect(readFileSync(path.join(root, 'docs', 'sample-report.pdf')).subarray(0, 5).toString('latin1')).toBe('%PDF-');
  });

  it('without a browser a PDF fails with an error that names what to install', async () => {
    const missing = path.join(tmpdir(), 'no-such-chromium');
    await expect(render(report, 'pdf', { chromium: missing })).rejects.toThrow(ChromiumMissingError);
    await expect(render(report, 'pdf', { chromium: null })).rejects.toThrow(/apt-get install chromium.*PROBEWATCH_CHROMIUM/);
  });

  it('prints the HTML to an A4 PDF with headless Chromium; pdftoppm renders its pages, pdftotext finds the report in it', async () => {
    const chromium = ensureChromium();
    if (typeof chromium !== 'string') return skip(chromium.skip);
    const poppler = ensurePoppler();
    if (poppler !== true) return skip(poppler.skip);
    const dir = mkdtempSync(path.join(tmpdir(), 'pw-report-pdf-'));
    const pdf = path.join(dir, 'report.pdf');
    const bytes = await render(report, 'pdf', { chromium }) as Buffer;
    writeFileSync(pdf, bytes);
    expect(bytes.subarray(0, 5).toString('latin1')).toBe('%PDF-');

    const info = spawnSync('pdfinfo', [pdf], { encoding: 'utf8' });
    expect(info.status).toBe(0);
    expect(Number(/^Pages:\s+(\d+)/m.exec(info.stdout)?.[1])).toBeGreaterThanOrEqual(1);
    expect(info.stdout).toMatch(/^Page size:\s+595\.\d+ x 842\.\d+ pts \(A4\)/m);

    const png = spawnSync('pdftoppm', ['-png', '-r', '50', '-f', '1', '-l', '2', pdf, path.join(dir, 'page')], { encoding: 'utf8' });
    expect(png.status).toBe(0);
    // pdftoppm numbers pages -1 or -01 depending on the page count.
    const page1 = ['page-1.png', 'page-01.png'].map((f) => path.join(dir, f)).find((f) => existsSync(f));
    expect(page1).toBeDefined();
    const head = readFileSync(page1!);
    expect(head.subarray(1, 4).toString('latin1')).toBe('PNG');
    // A blank A4 page at 50 dpi compresses to about 1 KB; text, tables and a chart make far more.
    expect(statSync(page1!).size).toBeGreaterThan(15_000);

    const text = spawnSync('pdftotext', ['-layout', pdf, '-'], { encoding: 'utf8' });
    expect(text.status).toBe(0);
    const flat = text.stdout.replace(/\s+/g, '');
    const integrity = report.integrity as { body_sha256: string; key_id: string };
    expect(text.stdout).toContain('probewatch compliance report');
    expect(text.stdout).toContain(`Period ${SAMPLE_PERIOD.from} to ${SAMPLE_PERIOD.to}`);
    for (const title of ['Detections per concept', 'Flagged events per day, by concept', 'Alerts per day, by severity', 'Integrity']) expect(text.stdout).toContain(title);
    expect(flat).toContain(integrity.body_sha256);
    expect(flat).toContain(integrity.key_id);
  });
});
