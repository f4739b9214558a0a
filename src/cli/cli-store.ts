/**
 * The configured store as the commands that write to it see it (a ClickHouse server, or an
 * embedded store no running service holds): opened and migrated, with the audit trail's chain of
 * this host's CLI (`cli@<host>`, a checkpoint after every entry) for what the command does.
 */
import { hostname } from 'node:os';

import type { ClickHouseClient } from '@clickhouse/client';

import type { AppConfig } from '../config/app-config';
import { AuditTrail, loadSigningKey } from '../ops/audit/audit-trail';
import { AuditRepository } from '../storage/audit.repository';
import { openClickHouse } from '../storage/clickhouse-client';
import { migrate } from '../storage/migrator';

export const CLI_ACTOR = `cli@${hostname()}`;

export async function openStore(cfg: AppConfig): Promise<ClickHouseClient> {
  let client: ClickHouseClient;
  try {
    client = await openClickHouse(cfg.store);
  } catch (e) {
    throw new Error(`cannot open the store ${cfg.store.location}: ${(e as Error).message}${cfg.store.kind === 'embedded' ? ' (an embedded store is held by a running service: use its API)' : ''}`);
  }
  await migrate(client);
  return client;
}

/** The CLI's audit chain on `client`, signed with the audit key (created when the store has none yet). */
export async function cliTrail(cfg: AppConfig, client: ClickHouseClient): Promise<AuditTrail> {
  const key = loadSigningKey(cfg.audit.signingKeyFile);
  const trail = new AuditTrail(new AuditRepository(client), CLI_ACTOR, key.privateKey, key.publicKey, 1);
  await trail.open();
  return trail;
}
