/**
 * `probewatch dashboards [--check] [--out DIR]`: writes the Grafana dashboards generated from
 * src/ops/dashboards to dashboards/ (or DIR), or, with --check, exits 1 when regenerating would
 * change, add or remove a file there (the suite runs the check on the committed files).
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { findProjectRoot } from '../config/runtime-paths';
import { checkDashboards, writeDashboards } from '../ops/dashboards/generate';
import { UsageError } from './usage-error';

const USAGE = 'usage: probewatch dashboards [--check] [--out DIR]';

export function defaultDashboardsDir(): string {
  return path.join(findProjectRoot(), 'dashboards');
}

export function runDashboards(args: string[], out: (l: string) => void, err: (l: string) => void): number {
  let values: { check?: boolean; out?: string };
  try {
    ({ values } = parseArgs({ args, options: { check: { type: 'boolean' }, out: { type: 'string' } } }));
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n${USAGE}`);
  }
  const dir = values.out !== undefined ? path.resolve(values.out) : defaultDashboardsDir();
  const shown = path.relative(process.cwd(), dir) || '.';
  if (!values.check) {
    for (const f of writeDashboards(dir)) out(path.join(shown, f));
    return 0;
  }
  const r = checkDashboards(dir);
  const problems = [
    ...r.missing.map((f) => `${path.join(shown, f)}: missing`),
    ...r.differ.map((f) => `${path.join(shown, f)}: differs from the generated dashboard`),
    ...r.extra.map((f) => `${path.join(shown, f)}: not generated (remove it, or add it to src/ops/dashboards)`),
  ];
  if (problems.length === 0) {
    out(`probewatch: the dashboards in ${shown}/ are up to date`);
    return 0;
  }
  for (const p of problems) err(p);
  err(`probewatch: the dashboards in ${shown}/ are out of date: run \`npx probewatch dashboards${values.out !== undefined ? ` --out ${values.out}` : ''}\``);
  return 1;
}
