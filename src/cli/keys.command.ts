/**
 * `probewatch keys create --role <role> [--tenant <t>…] [--name <n>] [--content]`, `keys list`,
 * `keys revoke <id>`: API keys in the configured store (a ClickHouse server, or an embedded store
 * that no running service holds). The key is printed once, on stdout; only its hash is stored.
 */
import { parseArgs } from 'node:util';

import type { AppConfig } from '../config/app-config';
import { ApiKeys, checkKeyRequest, KeyError } from '../ops/auth/api-keys';
import { ApiKeysRepository } from '../storage/api-keys.repository';
import { openStore } from './cli-store';
import { UsageError } from './usage-error';

const USAGE = 'usage: probewatch keys create --role admin|safety|reviewer|rule-author|ingest [--tenant T]… [--name N] [--content] | list [--json] | revoke <id>';

export async function runKeys(cfg: AppConfig, args: string[], out: (s: string) => void): Promise<number> {
  const { positionals, values } = parseArgs({
    args, allowPositionals: true,
    options: { role: { type: 'string' }, tenant: { type: 'string', multiple: true }, name: { type: 'string' }, content: { type: 'boolean' }, json: { type: 'boolean' } },
  });
  const action = positionals[0];
  if (!['create', 'list', 'revoke'].includes(action ?? '')) throw new UsageError(USAGE);
  let req: ReturnType<typeof checkKeyRequest> | null = null;
  if (action === 'create') {
    try {
      req = checkKeyRequest({ role: values.role, ...(values.tenant ? { tenants: values.tenant } : {}), ...(values.name ? { name: values.name } : {}), ...(values.content ? { content: true } : {}) });
    } catch (e) {
      if (e instanceof KeyError) throw new UsageError(`${e.message}\n${USAGE}`);
      throw e;
    }
  }
  if (action === 'revoke' && !positionals[1]) throw new UsageError(USAGE);
  const client = await openStore(cfg);
  try {
    const keys = new ApiKeys(new ApiKeysRepository(client));
    if (req) {
      const { key, info } = await keys.create(req, 'probewatch keys create (cli)');
      out(key);
      process.stderr.write(`probewatch: created ${info.role} key ${info.id}${info.tenants ? ` for tenants ${info.tenants.join(', ')}` : ' for every tenant'}; it is shown only now\n`);
      return 0;
    }
    if (action === 'list') {
      const list = await keys.list();
      if (values.json) out(JSON.stringify(list));
      else for (const k of list) out(`${k.id}  ${k.role.padEnd(11)}  ${(k.tenants?.join(',') ?? '*').padEnd(20)}  ${k.revoked_at ? `revoked ${k.revoked_at}` : 'active'}  ${k.name}`);
      return 0;
    }
    const r = await keys.revoke(positionals[1], 'probewatch keys revoke (cli)');
    if (!r) {
      process.stderr.write(`probewatch: no key ${positionals[1]}\n`);
      return 1;
    }
    out(`${r.id} revoked at ${r.revoked_at}`);
    return 0;
  } finally {
    await client.close();
  }
}
