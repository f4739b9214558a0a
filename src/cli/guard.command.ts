/**
 * `probewatch guard lint [file]`: every problem of a guard policy at file:line:col (exit 1 on any,
 * 0 otherwise), and on success the thresholds each concept gets.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { CONCEPT_IDS } from '../domain/concepts';
import { readGuardPolicy } from '../guard/guard-policy';
import { formatProblem } from '../rules/rule-file';
import { UsageError } from './usage-error';

export function guardFile(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(explicit || env.PROBEWATCH_GUARD_FILE || 'guard.yaml');
}

export function runGuard(args: string[], out: (s: string) => void, err: (s: string) => void, env: NodeJS.ProcessEnv = process.env): number {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  if (positionals[0] !== 'lint' || positionals.length > 2) throw new UsageError('usage: probewatch guard lint [file]');
  const file = guardFile(positionals[1], env);
  if (!existsSync(file)) throw new UsageError(`guard policy ${file} not found`);
  const { policy, problems } = readGuardPolicy(file, readFileSync(file, 'utf8'));
  for (const p of problems) err(formatProblem(p));
  if (!policy) return 1;
  const concepts = CONCEPT_IDS.map((c) => `${c} flag ${policy.concepts[c].flag} block ${policy.concepts[c].block}`);
  out(`${file}: ok (policy ${policy.hash}: ${concepts.join('; ')})`);
  return 0;
}
