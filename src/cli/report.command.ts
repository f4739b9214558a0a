/**
 * `probewatch report --from T --to T [--tenant T] --format json|csv|html|pdf --out FILE`: a
 * compliance report from the configured store (a ClickHouse server, or an embedded store no running
 * service holds), signed with the audit key; the generation is recorded in the audit trail. A PDF
 * needs Chromium (PROBEWATCH_CHROMIUM); without one the command exits 2 naming what to install,
 * before it opens the store.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import type { AppConfig } from '../config/app-config';
import { resolvePackDir, RuntimePaths } from '../config/runtime-paths';
import { buildReport, render, REPORT_FORMATS, ReportFormat, reportContext } from '../ops/reports/report';
import { requireChromium } from '../ops/reports/report-pdf';
import { SERVICE_VERSION } from '../ops/reports/reports.service';
import type { PackManifest } from '../probe/pack-manifest';
import { ReportRepository } from '../storage/report.repository';
import { CLI_ACTOR, cliTrail, openStore } from './cli-store';
import { UsageError } from './usage-error';

const USAGE = 'usage: probewatch report --from TIME --to TIME [--tenant T] [--format json|csv|html|pdf] --out FILE [--pack ID|DIR]';

export async function runReport(cfg: AppConfig, paths: RuntimePaths, args: string[], out: (s: string) => void): Promise<number> {
  const { values } = parseArgs({ args, options: { from: { type: 'string' }, to: { type: 'string' }, tenant: { type: 'string' }, format: { type: 'string' }, out: { type: 'string' }, pack: { type: 'string' } } });
  if (!values.from || !values.to || !values.out) throw new UsageError(USAGE);
  const from = Date.parse(values.from);
  const to = Date.parse(values.to);
  if (Number.isNaN(from) || Number.isNaN(to) || to <= from) throw new UsageError(`--from and --to must be dates with --to after --from\n${USAGE}`);
  const format = (values.format ?? 'json') as ReportFormat;
  if (!REPORT_FORMATS.includes(format)) throw new UsageError(`--format must be one of ${REPORT_FORMATS.join(', ')}`);
  if (format === 'pdf') requireChromium(cfg.reports.chromium);
  const pack = JSON.parse(readFileSync(path.join(resolvePackDir(paths, values.pack ?? cfg.pack), 'manifest.json'), 'utf8')) as PackManifest;
  const client = await openStore(cfg);
  try {
    const trail = await cliTrail(cfg, client);
    const t0 = performance.now();
    const period = { from: new Date(from).toISOString(), to: new Date(to).toISOString(), ...(values.tenant ? { tenant: values.tenant } : {}) };
    const r = await buildReport(period, reportContext(cfg, new ReportRepository(client), pack, SERVICE_VERSION, trail));
    writeFileSync(values.out, await render(r, format, { chromium: cfg.reports.chromium }), { mode: 0o600 });
    const sha = (r.integrity as { body_sha256: string }).body_sha256;
    await trail.append([{ actor: CLI_ACTOR, action: 'report.generate', target: values.out, tenant: values.tenant ?? '', detail: JSON.stringify({ from: values.from, to: values.to, format, body_sha256: sha }) }]);
    out(`${values.out}: ${format} report, body sha256 ${sha}`);
    process.stderr.write(`probewatch: report generated in ${((performance.now() - t0) / 1000).toFixed(2)} s\n`);
    return 0;
  } finally {
    await client.close();
  }
}
