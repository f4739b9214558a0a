import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import type { ClickHouseClient } from '@clickhouse/client';

import { findProjectRoot } from '../config/runtime-paths';

export const MIGRATIONS_DIR = path.join(findProjectRoot(), 'src', 'storage', 'migrations');

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 3)), name: f.replace(/\.sql$/, ''), sql: readFileSync(path.join(dir, f), 'utf8') }));
}

/** Statements of a migration file: split on `;` at line ends, comments removed. */
export function statements(sql: string): string[] {
  return sql
    .split('\n')
    .filter((l) => !l.trim().startsWith('--'))
    .join('\n')
    .split(/;\s*$/m)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Applies pending migrations in order; idempotent (a version is recorded after it succeeds). */
export async function migrate(client: ClickHouseClient, migrations: Migration[] = loadMigrations()): Promise<number[]> {
  await client.command({
    query: 'CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, applied_at DateTime) ENGINE = MergeTree ORDER BY version',
  });
  const res = await client.query({ query: 'SELECT version FROM schema_migrations', format: 'JSONEachRow' });
  const applied = new Set((await res.json<{ version: number }>()).map((r) => Number(r.version)));
  const done: number[] = [];
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    for (const stmt of statements(m.sql)) await client.command({ query: stmt });
    await client.insert({ table: 'schema_migrations', values: [{ version: m.version, name: m.name, applied_at: Math.floor(Date.now() / 1000) }], format: 'JSONEachRow' });
    done.push(m.version);
  }
  return done;
}

/** Retention from configuration, applied on every start (idempotent). */
export async function applyRetention(client: ClickHouseClient, days: number): Promise<void> {
  const n = Math.max(1, Math.floor(days));
  for (const [table, col] of [['events', 'ts'], ['concept_scores', 'ts'], ['feature_activations', 'ts'], ['alerts', 'ts'], ['dead_letters', 'received_at'], ['alert_history', 'at'], ['notifications', 'created_at']]) {
    await client.command({ query: `ALTER TABLE ${table} MODIFY TTL toDateTime(${col}) + INTERVAL ${n} DAY` });
  }
}
