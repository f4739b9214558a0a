/** `probewatch keys create|list|revoke` as an operator runs them, on an embedded store. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { ApiKeys } from '../../../src/ops/auth/api-keys';
import { ApiKeysRepository } from '../../../src/storage/api-keys.repository';
import { openClickHouse } from '../../../src/storage/clickhouse-client';

jest.setTimeout(120_000);

const root = path.resolve(__dirname, '..', '..', '..');

describe('probewatch keys', () => {
  const store = path.join(mkdtempSync(path.join(tmpdir(), 'pw-keys-')), 'ch');
  const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(root, 'bin', 'probewatch.js'), 'keys', ...args], {
    env: { ...process.env, PROBEWATCH_CLICKHOUSE_DIR: store }, encoding: 'utf8',
  });

  it('creates a key shown once, lists it without its secret, revokes it; the service then refuses it', async () => {
    const created = cli('create', '--role', 'safety', '--tenant', 'acme', '--tenant', 'initech', '--name', 'on-call');
    expect(created.status).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^pwk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toMatch(/created safety key [0-9a-f]{16} for tenants acme, initech/);
    const id = key.split('_')[1];

    const listed = cli('list');
    expect(listed.status).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+safety\\s+acme,initech\\s+active\\s+on-call`));
    expect(listed.stdout).not.toContain(key.slice(21));

    const bad = cli('create', '--role', 'root');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/role must be one of admin, safety, reviewer, rule-author, ingest/);

    expect(cli('revoke', id).status).toBe(0);
    expect(cli('list').stdout).toMatch(new RegExp(`${id}\\s+safety.*revoked`));
    const client = await openClickHouse({ kind: 'embedded', location: store, database: 'probewatch' });
    try {
      expect(await new ApiKeys(new ApiKeysRepository(client)).authenticate(key)).toBeNull();
    } finally {
      await client.close();
    }
  });
});
