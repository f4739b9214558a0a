import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import type { ClickHouseClient } from '@clickhouse/client';

import { findProjectRoot } from '../config/runtime-paths';
import { ClusterDdlOptions, statementForCluster } from './cluster-ddl';
import { mutationTarget } from './local-table';

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

/** The table that records applied versions (created before any migration runs). */
export const SCHEMA_MIGRATIONS_DDL = 'CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, applied_at DateTime) ENGINE = MergeTree ORDER BY version';

/** Every statement `migrate` would run on an empty store, in order (`probewatch migrate --print`). */
export function migrationDdl(migrations: Migration[] = loadMigrations()): string[] {
  return [SCHEMA_MIGRATIONS_DDL, ...migrations.flatMap((m) => statements(m.sql))];
}

/**
 * The same schema for a ClickHouse cluster (`probewatch migrate --cluster NAME --print`): see
 * cluster-ddl.ts. It ends by recording every version in schema_migrations, so a service started
 * on the cluster finds nothing to apply (were it to run first, every statement is IF [NOT] EXISTS
 * and a no-op on the Distributed tables anyway).
 */
export function clusterMigrationDdl(opts: ClusterDdlOptions, migrations: Migration[] = loadMigrations()): string[] {
  const ddl = migrationDdl(migrations).flatMap((stmt) => statementForCluster(stmt, opts));
  if (!migrations.length) return ddl;
  const rows = migrations.map((m) => `(${m.version}, '${m.name}', now())`).join(', ');
  return [...ddl, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ${rows}`];
}

/** Applies pending migrations in order; idempotent (a version is recorded after it succeeds). */
export async function migrate(client: ClickHouseClient, migrations: Migration[] = loadMigrations()): Promise<number[]> {
  await client.command({ query: SCHEMA_MIGRATIONS_DDL });
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

/** Retention from configuration, applied on every start (idempotent); on a cluster, to the local tables. */
export async function applyRetention(client: ClickHouseClient, days: number): Promise<void> {
  const n = Math.max(1, Math.floor(days));
  for (const [table, col] of [['events', 'ts'], ['concept_scores', 'ts'], ['feature_activations', 'ts'], ['alerts', 'ts'], ['dead_letters', 'received_at'], ['alert_history', 'at'], ['notifications', 'created_at']]) {
    await client.command({ query: `ALTER TABLE ${await mutationTarget(client, table)} MODIFY TTL toDateTime(${col}) + INTERVAL ${n} DAY` });
  }
}
