/** API keys as stored: never the key itself, only the SHA-256 of its secret part. */
import type { ClickHouseClient } from '@clickhouse/client';

import { chTime, fromChTime, nextVersion } from './events.repository';

export interface StoredKey {
  id: string;
  name: string;
  role: string;
  /** null: every tenant. */
  tenants: string[] | null;
  content: boolean;
  secret_sha256: string;
  created_at: string;
  created_by: string;
  revoked_at: string | null;
  revoked_by: string;
}


export class ApiKeysRepository {
  constructor(private readonly client: ClickHouseClient) {}

  async save(k: StoredKey): Promise<void> {
    await this.client.insert({
      table: 'api_keys',
      values: [{
        id: k.id, name: k.name, role: k.role, tenants: k.tenants ?? [], all_tenants: k.tenants === null ? 1 : 0, content: k.content ? 1 : 0,
        secret_sha256: k.secret_sha256, created_at: chTime(k.created_at), created_by: k.created_by,
        revoked_at: k.revoked_at ? chTime(k.revoked_at) : null, revoked_by: k.revoked_by, version: nextVersion(),
      }],
      format: 'JSONEachRow',
    });
  }

  async all(): Promise<StoredKey[]> {
    const res = await this.client.query({
      query: `SELECT id, name, role, tenants, all_tenants, content, secret_sha256, toString(created_at) AS created_text, created_by,
                     if(isNull(revoked_at), '', toString(revoked_at)) AS revoked_text, revoked_by
              FROM api_keys FINAL ORDER BY created_at, id`,
      format: 'JSONEachRow',
    });
    const rows = await res.json<{ id: string; name: string; role: string; tenants: string[]; all_tenants: number; content: number; secret_sha256: string; created_text: string; created_by: string; revoked_text: string; revoked_by: string }>();
    return rows.map((r) => ({
      id: r.id, name: r.name, role: r.role, tenants: Number(r.all_tenants) === 1 ? null : r.tenants, content: Number(r.content) === 1, secret_sha256: r.secret_sha256,
      created_at: fromChTime(r.created_text), created_by: r.created_by, revoked_at: r.revoked_text ? fromChTime(r.revoked_text) : null, revoked_by: r.revoked_by,
    }));
  }
}
