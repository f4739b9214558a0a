import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import type { ClickHouseClient } from '@clickhouse/client';

import { findProjectRoot } from '../config/runtime-paths';
import { ClusterDdlOptions, statementForCluster } from './cluster-ddl';
import { distributedTargetOf, mutationTarget } from './local-table';
import { RETAINED_TABLES } from './retention.repository';

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

/**
 * Earlier versions kept retention as a row TTL on the retained tables, which deleted rows
 * silently. Retention now drops whole partitions, each recorded in the audit trail
 * (retention.repository.ts, ops/retention), so a start removes such a TTL. Idempotent: ClickHouse
 * refuses REMOVE TTL on a table without one, so the table's definition is checked first (on a
 * cluster, the local table on this node; a node without it answers that refusal, ignored too).
 * Returns the tables whose TTL was removed.
 */
export async function removeRetentionTtl(client: ClickHouseClient): Promise<string[]> {
  const removed: string[] = [];
  for (const { table } of RETAINED_TABLES) {
    const d = await distributedTargetOf(client, table);
    const res = await client.query({
      query: 'SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {name:String}',
      query_params: { name: d ? d.localTable : table }, format: 'JSONEachRow',
    });
    const [row] = await res.json<{ engine_full: string }>();
    if (row && !/\sTTL\s/.test(row.engine_full)) continue;
    if (!row && !d) continue;
    try {
      await client.command({ query: `ALTER TABLE ${await mutationTarget(client, table)} REMOVE TTL` });
      removed.push(table);
    } catch (e) {
      if (!/doesn't have any table TTL/i.test((e as Error).message)) throw e;
    }
  }
  return removed;
}
