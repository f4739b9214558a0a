/**
 * One client API for both stores: the embedded engine (chDB, in-process, the default) and a
 * ClickHouse server (CLICKHOUSE_URL). Both go through @clickhouse/client; chDB plugs in as its
 * connection, so every query, insert and parameter binding takes the same code path.
 */
import { mkdirSync } from 'node:fs';

import { ClickHouseClient, ClickHouseLogLevel, createClient } from '@clickhouse/client';

export type StoreKind = 'embedded' | 'server';

export interface StoreConfig {
  kind: StoreKind;
  /** embedded: directory of the chDB session; server: URL */
  location: string;
  username?: string;
  password?: string;
  database: string;
}

export async function openClickHouse(cfg: StoreConfig): Promise<ClickHouseClient> {
  if (cfg.kind === 'embedded') {
    mkdirSync(cfg.location, { recursive: true });
    // Loaded lazily: the native engine is only needed (and only installed) for the embedded store.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createChdbConnection } = require('chdb/connection') as typeof import('chdb/dist/connection');
    const boot = createClient({ connection: createChdbConnection({ path: cfg.location }) } as Parameters<typeof createClient>[0]);
    await boot.command({ query: `CREATE DATABASE IF NOT EXISTS ${ident(cfg.database)}` });
    await boot.command({ query: `USE ${ident(cfg.database)}` });
    return boot;
  }
  const admin = createClient({ url: cfg.location, username: cfg.username, password: cfg.password });
  await admin.command({ query: `CREATE DATABASE IF NOT EXISTS ${ident(cfg.database)}` });
  await admin.close();
  // The client's own error log would repeat every failed insert with a stack; the batch writer
  // logs failures once per retry, and query errors reach the API caller.
  return createClient({ url: cfg.location, username: cfg.username, password: cfg.password, database: cfg.database, log: { level: ClickHouseLogLevel.OFF } });
}

/** Identifiers come from configuration, never from requests; still, allow only plain names. */
export function ident(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`invalid ClickHouse identifier '${name}'`);
  return name;
}
