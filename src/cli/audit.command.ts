/**
 * `probewatch audit verify` (the store), `probewatch audit verify --bundle FILE` (offline, no
 * service, no store), `probewatch audit export --from T --to T --out FILE`. The store is the
 * configured one (a ClickHouse server, or an embedded store no running service holds); the public
 * key comes from the signing key file (PROBEWATCH_AUDIT_SIGNING_KEY_FILE).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import type { AppConfig } from '../config/app-config';
import { verifyBundle } from '../ops/audit/audit-trail';
import { CLI_ACTOR, cliTrail, openStore } from './cli-store';
import { UsageError } from './usage-error';

const USAGE = 'usage: probewatch audit verify [--bundle FILE] | export --from TIME --to TIME --out FILE';

function report(r: { ok: boolean; entries: number; checkpoints: number; chains: number; problem: { chain: string; seq: number; reason: string } | null }, out: (s: string) => void): number {
  if (r.ok) out(`ok: ${r.entries} entries in ${r.chains} chain(s), ${r.checkpoints} signed checkpoint(s) verified`);
  else out(`FAILED at chain ${r.problem?.chain} entry ${r.problem?.seq}: ${r.problem?.reason} (${r.entries} entries, ${r.checkpoints} checkpoints read)`);
  return r.ok ? 0 : 1;
}

export async function runAudit(cfg: AppConfig, args: string[], out: (s: string) => void): Promise<number> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { bundle: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, out: { type: 'string' } } });
  const action = positionals[0];
  if (action === 'verify' && values.bundle) {
    if (!existsSync(values.bundle)) throw new UsageError(`bundle ${values.bundle} not found`);
    const r = verifyBundle(readFileSync(values.bundle, 'utf8'));
    const code = report(r, out);
    for (const [chain, seq] of Object.entries(r.signed_through)) out(`  chain ${chain}: signed through entry ${seq}`);
    return code;
  }
  if (action !== 'verify' && action !== 'export') throw new UsageError(USAGE);
  if (action === 'export' && (!values.from || !values.to || !values.out)) throw new UsageError(USAGE);
  for (const t of [values.from, values.to]) if (t !== undefined && Number.isNaN(Date.parse(t))) throw new UsageError(`'${t}' is not a date and time`);
  if (!existsSync(cfg.audit.signingKeyFile)) throw new UsageError(`no audit signing key at ${cfg.audit.signingKeyFile} (PROBEWATCH_AUDIT_SIGNING_KEY_FILE): the service creates it at its first start`);
  const client = await openStore(cfg);
  try {
    // The CLI appends its own acts (exports) to a chain of its own.
    const trail = await cliTrail(cfg, client);
    if (action === 'verify') {
      const t0 = performance.now();
      const code = report(await trail.verify(), out);
      process.stderr.write(`probewatch: verified in ${((performance.now() - t0) / 1000).toFixed(2)} s\n`);
      return code;
    }
    const bundle = await trail.export({ from: new Date(values.from!).toISOString(), to: new Date(values.to!).toISOString() });
    writeFileSync(values.out!, `${JSON.stringify(bundle)}\n`);
    await trail.append([{ actor: CLI_ACTOR, action: 'audit.export', target: values.out!, tenant: '', detail: JSON.stringify({ from: values.from, to: values.to, entries: bundle.entries.length }) }]);
    out(`${values.out}: ${bundle.entries.length} entries, ${bundle.checkpoints.length} checkpoints`);
    return 0;
  } finally {
    await client.close();
  }
}
