/**
 * The audit trail on the real embedded store: entries hashed into a chain, checkpoints signed;
 * editing or deleting a row in ClickHouse makes verification fail and name it; an exported
 * bundle verifies offline (the CLI, without the store) and a tampered one does not.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { ClickHouseClient } from '@clickhouse/client';

import { AuditTrail, loadSigningKey, verifyBundle } from '../../../src/ops/audit/audit-trail';
import { AuditRepository } from '../../../src/storage/audit.repository';
import { openClickHouse } from '../../../src/storage/clickhouse-client';
import { migrate } from '../../../src/storage/migrator';

jest.setTimeout(120_000);

const root = path.resolve(__dirname, '..', '..', '..');

describe('audit trail (chDB)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pw-audit-'));
  const store = path.join(dir, 'ch');
  const keyFile = path.join(dir, 'audit-signing.key');
  let client: ClickHouseClient;
  let trail: AuditTrail;

  beforeAll(async () => {
    client = await openClickHouse({ kind: 'embedded', location: store, database: 'probewatch' });
    await migrate(client);
    const key = loadSigningKey(keyFile);
    expect(key.created).toBe(true);
    trail = new AuditTrail(new AuditRepository(client), 'svc-1', key.privateKey, key.publicKey, 100);
    await trail.open();
    for (let i = 0; i < 25; i++) {
      await trail.append(Array.from({ length: 10 }, (_, j) => ({ actor: 'key:0123456789abcdef (ana)', action: 'content.read', target: `ev-${i * 10 + j}`, tenant: i % 2 ? 'acme' : 'globex', detail: JSON.stringify({ n: i * 10 + j }) })));
    }
    await trail.checkpoint();
  });
  afterAll(async () => {
    await client?.close();
  });

  it('verifies, and continues the same chain after a restart', async () => {
    expect(await trail.verify()).toMatchObject({ ok: true, entries: 250, chains: 1, checkpoints: 3 });
    const again = new AuditTrail(new AuditRepository(client), 'svc-1', loadSigningKey(keyFile).privateKey, loadSigningKey(keyFile).publicKey, 100);
    await again.open();
    const [e] = await again.append([{ actor: 'probewatch', action: 'service.start', target: 'svc-1', tenant: '', detail: '{}' }]);
    expect(e.seq).toBe(251);
    await again.checkpoint();
    expect((await again.verify()).ok).toBe(true);
  });

  it('an exported bundle verifies offline with the CLI; a tampered one fails, naming the entry', async () => {
    const bundle = await trail.export({});
    const file = path.join(dir, 'bundle.json');
    writeFileSync(file, JSON.stringify(bundle));
    const ok = spawnSync(process.execPath, [path.join(root, 'bin', 'probewatch.js'), 'audit', 'verify', '--bundle', file], { encoding: 'utf8', env: { ...process.env, PROBEWATCH_CLICKHOUSE_DIR: path.join(dir, 'none') } });
    expect(ok.stdout).toMatch(/^ok: 251 entries in 1 chain\(s\), 4 signed checkpoint\(s\) verified/);
    expect(ok.status).toBe(0);
    const tampered = JSON.parse(readFileSync(file, 'utf8'));
    tampered.entries[120].target = 'ev-someone-else';
    writeFileSync(file, JSON.stringify(tampered));
    const bad = spawnSync(process.execPath, [path.join(root, 'bin', 'probewatch.js'), 'audit', 'verify', '--bundle', file], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(/^FAILED at chain svc-1 entry 121: its content does not match its hash/);
    expect(verifyBundle(JSON.stringify({ ...bundle, checkpoints: [] })).ok).toBe(false);
  });

  it('editing a row in ClickHouse fails verification at that entry; deleting one names the gap', async () => {
    await client.command({ query: "ALTER TABLE audit_log UPDATE target = 'ev-forged' WHERE chain = 'svc-1' AND seq = 42", clickhouse_settings: { mutations_sync: '2' } });
    expect((await trail.verify()).problem).toEqual({ chain: 'svc-1', seq: 42, reason: 'its content does not match its hash (the entry was altered)' });
    await client.command({ query: 'ALTER TABLE audit_log DELETE WHERE chain = \'svc-1\' AND seq IN (42, 43)', clickhouse_settings: { mutations_sync: '2' } });
    expect((await trail.verify()).problem).toEqual({ chain: 'svc-1', seq: 42, reason: 'entry 42 is missing (next is 44)' });
  });
});
