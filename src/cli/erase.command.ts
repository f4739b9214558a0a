/** `probewatch erase --user <id>`: one end user's content removed from the configured store, recorded in the audit trail. */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';

import type { AppConfig } from '../config/app-config';
import { AuditTrail, loadSigningKey } from '../ops/audit/audit-trail';
import { AuditRepository } from '../storage/audit.repository';
import { openClickHouse } from '../storage/clickhouse-client';
import { sha256 } from '../storage/content-policy';
import { ErasureRepository } from '../storage/erasure.repository';
import { migrate } from '../storage/migrator';

export class EraseUsageError extends Error {}

export async function runErase(cfg: AppConfig, args: string[], out: (s: string) => void): Promise<number> {
  const { values } = parseArgs({ args, options: { user: { type: 'string' } } });
  if (!values.user) throw new EraseUsageError('usage: probewatch erase --user <end user id>');
  const client = await openClickHouse(cfg.store);
  try {
    await migrate(client);
    const r = await new ErasureRepository(client).eraseUser(values.user, null);
    // Recorded in the trail (the signing key is created if this store has none yet).
    const key = loadSigningKey(cfg.audit.signingKeyFile);
    const trail = new AuditTrail(new AuditRepository(client), `cli@${hostname()}`, key.privateKey, key.publicKey, 1);
    await trail.open();
    await trail.append([{ actor: `cli@${hostname()}`, action: 'data.erase', target: `user sha256:${sha256(values.user)}`, tenant: '', detail: JSON.stringify(r) }]);
    out(`erased: ${r.events} events in ${r.tenants.length ? r.tenants.join(', ') : 'no tenant'}, ${r.alerts} alerts' annotations, ${r.dead_letters} dead letters`);
    return 0;
  } finally {
    await client.close();
  }
}
