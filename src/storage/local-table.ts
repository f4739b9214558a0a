/**
 * Where a mutation (ALTER … DELETE/UPDATE, DROP PARTITION, REMOVE TTL) must go. On one server or the embedded
 * engine that is the table itself. On a cluster laid out by `probewatch migrate --cluster`, the
 * name the service queries is a Distributed table, which takes no mutations: they go to the
 * replicated `<table>_local` on every node of the cluster the Distributed table names.
 */
import type { ClickHouseClient } from '@clickhouse/client';

export interface DistributedTarget {
  cluster: string;
  localTable: string;
}

/** Cluster and local table out of system.tables.engine_full of a Distributed table; null for any other engine. */
export function parseDistributedEngine(engineFull: string): DistributedTarget | null {
  // ClickHouse stores the arguments as literals ('c', 'db', 'local'); identifiers are accepted too.
  const m = /^Distributed\(\s*(?:'((?:[^'\\]|\\.)*)'|([A-Za-z_][A-Za-z0-9_]*))\s*,\s*(?:'[^']*'|[A-Za-z_][A-Za-z0-9_]*(?:\(\))?)\s*,\s*'?([A-Za-z_][A-Za-z0-9_]*)'?/.exec(engineFull.trim());
  return m ? { cluster: m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2], localTable: m[3] } : null;
}

/** The cluster and local table behind `table` when it is Distributed; null for any other table (or none). */
export async function distributedTargetOf(client: ClickHouseClient, table: string): Promise<DistributedTarget | null> {
  const res = await client.query({
    query: 'SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {table:String}',
    query_params: { table },
    format: 'JSONEachRow',
  });
  const [row] = await res.json<{ engine_full: string }>();
  return row ? parseDistributedEngine(row.engine_full) : null;
}

/** A cluster name as a ClickHouse string literal. */
export function clusterLiteral(cluster: string): string {
  return `'${cluster.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** `table`, or `<local> ON CLUSTER '<cluster>'` when `table` is Distributed (for `ALTER TABLE ${…}`). */
export async function mutationTarget(client: ClickHouseClient, table: string): Promise<string> {
  const d = await distributedTargetOf(client, table);
  return d ? `${d.localTable} ON CLUSTER ${clusterLiteral(d.cluster)}` : table;
}
