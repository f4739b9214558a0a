/**
 * `probewatch retention apply [--dry-run]`: one retention pass on the configured store (a
 * ClickHouse server, or an embedded store no running service holds), what the service does daily.
 * Each drop is recorded in this host's CLI chain of the audit trail before it runs; --dry-run
 * prints what would be dropped and records nothing.
 */
import { parseArgs } from 'node:util';

import type { AppConfig } from '../config/app-config';
import type { AuditRecord } from '../domain/audit-chain';
import { RetentionOutcome, RetentionRunner } from '../ops/retention/retention-runner';
import { RetentionRepository } from '../storage/retention.repository';
import { CLI_ACTOR, cliTrail, openStore } from './cli-store';
import { UsageError } from './usage-error';

const USAGE = 'usage: probewatch retention apply [--dry-run]';

function print(r: RetentionOutcome, dryRun: boolean, out: (s: string) => void): void {
  out(`retention ${r.retention_days} days: cutoff ${r.cutoff} (a monthly partition goes once all its rows are older)`);
  for (const d of r.dropped) out(`${dryRun ? 'would drop' : 'dropped'} ${d.table} partition ${d.partition}: ${d.rows} rows, newest ${d.max_time}`);
  for (const f of r.failed) out(`FAILED ${f.table} partition ${f.partition}: ${f.error}`);
  for (const s of r.skipped) out(`skipped ${s.table} partition ${s.partition}: ${s.reason}`);
  for (const e of r.errors) out(`FAILED listing ${e.table}: ${e.error}`);
  if (!r.dropped.length && !r.failed.length) out('nothing to drop');
}

export async function runRetention(cfg: AppConfig, args: string[], out: (s: string) => void): Promise<number> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { 'dry-run': { type: 'boolean' } } });
  if (positionals.length !== 1 || positionals[0] !== 'apply') throw new UsageError(USAGE);
  const dryRun = Boolean(values['dry-run']);
  const client = await openStore(cfg);
  try {
    const repo = new RetentionRepository(client);
    // The trail (and the signing key, created if this store has none yet) only when something is recorded.
    const trail = dryRun ? null : await cliTrail(cfg, client);
    const append = (records: AuditRecord[]): Promise<unknown> => (trail ? trail.append(records) : Promise.reject(new Error('a dry run records nothing')));
    const r = await new RetentionRunner({ repo, append, actor: CLI_ACTOR, retentionDays: cfg.retentionDays }).apply({ dryRun });
    print(r, dryRun, out);
    return r.failed.length || r.errors.length ? 1 : 0;
  } finally {
    await client.close();
  }
}
