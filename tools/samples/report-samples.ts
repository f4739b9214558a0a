/**
 * Writes the sample reports under docs/ from the fixed synthetic dataset:
 *   docs/sample-report.json, .html, .pdf, and docs/sample-report-page-<n>.png (first pages, when
 *   pdftoppm is installed).
 * Regenerate with:
 *   npx tsc -p tsconfig.tools.json && node dist-tools/tools/samples/report-samples.js
 * JSON and HTML are byte-identical on every run; the PDF differs only in Chromium's creation date.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { CHROMIUM_CANDIDATES } from '../../src/config/app-config';
import { buildReport, render } from '../../src/ops/reports/report';
import { sampleContext, SAMPLE_PERIOD } from './synthetic-report';

const PNG_PAGES = 2;
const PNG_MAX_BYTES = 300_000;

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..', '..', ...(path.basename(path.resolve(__dirname, '..', '..')) === 'dist-tools' ? ['..'] : []));
  const docs = path.join(root, 'docs');
  const chromium = process.env.PROBEWATCH_CHROMIUM || CHROMIUM_CANDIDATES.find((p) => existsSync(p)) || null;
  const r = await buildReport(SAMPLE_PERIOD, sampleContext());
  for (const format of ['json', 'html', 'pdf'] as const) {
    const file = path.join(docs, `sample-report.${format}`);
    writeFileSync(file, await render(r, format, { chromium }));
    process.stdout.write(`${path.relative(root, file)}: ${statSync(file).size} bytes\n`);
  }
  for (const f of readdirSync(docs).filter((f) => /^sample-report-page-\d+\.png$/.test(f))) unlinkSync(path.join(docs, f));
  const png = spawnSync('pdftoppm', ['-png', '-r', '60', '-f', '1', '-l', String(PNG_PAGES), path.join(docs, 'sample-report.pdf'), path.join(docs, 'sample-report-page')]);
  if (png.error || png.status !== 0) {
    process.stdout.write('pdftoppm not found (Debian: apt-get install poppler-utils): no PNG pages written\n');
    return;
  }
  for (const f of readdirSync(docs).filter((f) => /^sample-report-page-\d+\.png$/.test(f)).sort()) {
    const size = statSync(path.join(docs, f)).size;
    // pdftoppm names pages -1 or -01 depending on the page count; keep one name form.
    const named = f.replace(/-0*(\d+)\.png$/, '-$1.png');
    if (size > PNG_MAX_BYTES) unlinkSync(path.join(docs, f));
    else {
      if (named !== f) renameSync(path.join(docs, f), path.join(docs, named));
      process.stdout.write(`docs/${named}: ${size} bytes\n`);
    }
  }
}

main().catch((e: Error) => {
  process.stderr.write(`report-samples: ${e.message}\n`);
  process.exit(1);
});
