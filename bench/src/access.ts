/**
 * `npm run bench:access`: access control and the audit trail, written to bench/results/access.json.
 * 1. The cost of authentication per request: the real service, the same route (GET /v1/rules)
 *    called 2,000 times with access control on (an API key) and off; p50/p90/p99 of each, and
 *    the p50 overhead. Also the key check alone (in memory, per call).
 * 2. `audit verify` time for 1,000,000 trail entries on embedded ClickHouse.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { findProjectRoot, resolveRuntimePaths } from '../../src/config/runtime-paths';
import { AuditTrail, loadSigningKey } from '../../src/ops/audit/audit-trail';
import { ApiKeys } from '../../src/ops/auth/api-keys';
import { ApiKeysRepository, StoredKey } from '../../src/storage/api-keys.repository';
import { AuditRepository } from '../../src/storage/audit.repository';
import { openClickHouse } from '../../src/storage/clickhouse-client';
import { loadMigrations, migrate } from '../../src/storage/migrator';

const root = findProjectRoot();
const say = (m: string): void => void process.stderr.write(`bench access: ${m}\n`);

function quantiles(ms: number[]): { p50: number; p90: number; p99: number } {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number): number => Math.round((s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN) * 1000) / 1000;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99) };
}

async function requests(auth: boolean, n: number): Promise<{ p50: number; p90: number; p99: number }> {
  const paths = resolveRuntimePaths();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pw-bench-access-'));
  const port = 18000 + Math.floor(Math.random() * 1000);
  const child: ChildProcess = spawn(process.execPath, [path.join(root, 'dist', 'main.js')], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', PROBEWATCH_DATA_DIR: paths.dataDir, PROBEWATCH_CLICKHOUSE_DIR: path.join(dir, 'ch'),
      PROBEWATCH_ACCEPT_LOG_DIR: path.join(dir, 'wal'), PROBEWATCH_ADMIN_KEY_FILE: path.join(dir, 'admin.key'), PROBEWATCH_AUTH: auth ? 'on' : 'off' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    const base = `http://127.0.0.1:${port}`;
    const end = Date.now() + 600_000;
    while (!(await fetch(`${base}/readyz`).then((r) => r.ok, () => false))) {
      if (child.exitCode !== null || Date.now() > end) throw new Error('the server did not start');
      await new Promise((r) => setTimeout(r, 300));
    }
    const headers: Record<string, string> = auth ? { authorization: `Bearer ${readFileSync(path.join(dir, 'admin.key'), 'utf8').trim()}` } : {};
    for (let i = 0; i < 200; i++) await (await fetch(`${base}/v1/rules`, { headers })).arrayBuffer();
    const ms: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const r = await fetch(`${base}/v1/rules`, { headers });
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`GET /v1/rules answered ${r.status}`);
      ms.push(performance.now() - t0);
    }
    return quantiles(ms);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
  }
}

async function keyCheck(n: number): Promise<{ p50_us: number; p99_us: number }> {
  const rows = new Map<string, StoredKey>();
  const keys = new ApiKeys({ save: async (k: StoredKey) => void rows.set(k.id, k), all: async () => [...rows.values()] } as unknown as ApiKeysRepository);
  const { key } = await keys.create({ role: 'safety', tenants: null, name: '', content: false }, 'bench');
  const us: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await keys.authenticate(key);
    us.push((performance.now() - t0) * 1000);
  }
  const q = quantiles(us);
  return { p50_us: q.p50, p99_us: q.p99 };
}

async function verifyMillion(n: number): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pw-bench-audit-'));
  const client = await openClickHouse({ kind: 'embedded', location: path.join(dir, 'ch'), database: 'bench' });
  await migrate(client, loadMigrations(path.join(root, 'src', 'storage', 'migrations')));
  const key = loadSigningKey(path.join(dir, 'k.pem'));
  const trail = new AuditTrail(new AuditRepository(client), 'bench', key.privateKey, key.publicKey, 10_000);
  await trail.open();
  const t0 = performance.now();
  for (let i = 0; i < n; i += 20_000) {
    await trail.append(Array.from({ length: Math.min(20_000, n - i) }, (_, j) => ({ actor: 'key:0123456789abcdef (ana)', action: 'content.read', target: `ev-${i + j}`, tenant: `t${(i + j) % 50}`, detail: '{"content_policy":"redacted"}' })));
    if (i % 200_000 === 0) say(`  appended ${i.toLocaleString()} entries`);
  }
  await trail.checkpoint();
  const appendS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const r = await trail.verify();
  const verifyS = (performance.now() - t1) / 1000;
  await client.close();
  if (!r.ok) throw new Error(`verification failed: ${JSON.stringify(r.problem)}`);
  return { entries: r.entries, checkpoints: r.checkpoints, append_seconds: Math.round(appendS * 10) / 10, verify_seconds: Math.round(verifyS * 10) / 10, entries_per_s_verified: Math.round(r.entries / verifyS) };
}

export async function benchAccess(out: string = path.join(root, 'bench', 'results', 'access.json')): Promise<void> {
  say('authentication: 2,000 x GET /v1/rules with a key, then with access control off');
  const on = await requests(true, 2000);
  const off = await requests(false, 2000);
  const check = await keyCheck(100_000);
  say(`on ${JSON.stringify(on)} off ${JSON.stringify(off)} key check ${JSON.stringify(check)}`);
  say('audit verify: 1,000,000 entries on embedded ClickHouse');
  const audit = await verifyMillion(1_000_000);
  say(JSON.stringify(audit));
  const result = {
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? '', node: process.version },
    at: new Date().toISOString(),
    authentication: { route: 'GET /v1/rules', requests: 2000, with_key_ms: on, auth_off_ms: off, p50_overhead_ms: Math.round((on.p50 - off.p50) * 1000) / 1000, key_check_in_memory: check },
    audit_verify: audit,
  };
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  say(`written to ${out}`);
}
