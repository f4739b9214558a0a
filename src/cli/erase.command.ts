/** `probewatch erase --user <id>`: one end user's content removed from the configured store, recorded in the audit trail. */
import { parseArgs } from 'node:util';

import type { AppConfig } from '../config/app-config';
import { Pseudonyms } from '../storage/content-policy';
import { ErasureRepository } from '../storage/erasure.repository';
import { CLI_ACTOR, cliTrail, openStore } from './cli-store';
import { UsageError } from './usage-error';

export async function runErase(cfg: AppConfig, args: string[], out: (s: string) => void): Promise<number> {
  const { values } = parseArgs({ args, options: { user: { type: 'string' } } });
  if (!values.user) throw new UsageError('usage: probewatch erase --user <end user id>');
  const client = await openStore(cfg);
  try {
    // The deployment's pseudonym key, created if this store has none yet (then nothing keyed was
    // stored, and the new key names the user in the trail as the service would).
    const { pseudonyms } = Pseudonyms.readOrCreate(cfg.pseudonymKeyFile);
    const r = await new ErasureRepository(client, pseudonyms.digest).eraseUser(values.user, null);
    // Recorded in the trail (the signing key is created if this store has none yet).
    const trail = await cliTrail(cfg, client);
    await trail.append([{ actor: CLI_ACTOR, action: 'data.erase', target: pseudonyms.erasedUserTarget(values.user), tenant: '', detail: JSON.stringify(r) }]);
    out(`erased: ${r.events} events in ${r.tenants.length ? r.tenants.join(', ') : 'no tenant'}, ${r.alerts} alerts' annotations, ${r.dead_letters} dead letters`);
    return 0;
  } finally {
    await client.close();
  }
}
