/**
 * The migrations rewritten for a ClickHouse cluster (pure text in, text out; nothing runs here).
 *
 * Each `CREATE TABLE t … ENGINE = XMergeTree(params)` becomes two tables:
 *   - `t_local ON CLUSTER c` with `ReplicatedXMergeTree('/clickhouse/tables/{shard}/{database}/t',
 *     '{replica}', params)`: the data, replicated inside a shard;
 *   - `t ON CLUSTER c` with `Distributed(c, currentDatabase(), t_local, key)`: what the service
 *     reads and writes, under the name its queries already use.
 * A column ALTER (ADD/DROP/MODIFY/RENAME/COMMENT COLUMN) goes to both tables; any other ALTER only
 * to the local one (a Distributed table has no TTL, index or partition). Anything else (views,
 * materialized views, inserts) is refused with the statement, so a future migration that adds one
 * gets a deliberate cluster form instead of a silently wrong one.
 *
 * Sharding key: the rows a ReplacingMergeTree collapses must land on one shard, or FINAL sees
 * both copies. So the key is always built from columns of the table's ORDER BY: by default a hash
 * of the whole sort key; the event tables use (tenant, event_id), a subset of each of their sort
 * keys, so an event's row, its scores and its feature evidence share a shard.
 */

export class ClusterDdlError extends Error {
  readonly code = 'CLUSTER_DDL';
}

/** Tables sharded by something narrower than their whole sort key (see the file comment). */
export const SHARDING_KEYS: Readonly<Record<string, string>> = {
  events: 'cityHash64(tenant, event_id)',
  concept_scores: 'cityHash64(tenant, event_id)',
  feature_activations: 'cityHash64(tenant, event_id)',
};

export interface ClusterDdlOptions {
  /** Cluster name as in remote_servers, or a macro such as '{cluster}'. */
  cluster: string;
  /** ZooKeeper/Keeper path of each replicated table; `<table>` is replaced by its name. */
  zooPath?: string;
}

const DEFAULT_ZOO_PATH = '/clickhouse/tables/{shard}/{database}/<table>';

interface TableShape {
  name: string;
  columns: string[];
  engine: string;
  engineArgs: string | null;
  /** What follows the engine: PARTITION BY, ORDER BY, SETTINGS… */
  tail: string;
  /** The sort key's expressions; null without ORDER BY. */
  orderBy: string[] | null;
}

function quote(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Index of the parenthesis closing the one at `open` (quotes respected). */
function closingParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === "'" || c === '`' || c === '"') {
      const end = s.indexOf(c, i + 1);
      if (end < 0) break;
      i = end;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  throw new ClusterDdlError(`unbalanced parentheses in: ${s.slice(0, 80)}…`);
}

/** Splits on commas outside parentheses and quotes. */
function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "'" || c === '`' || c === '"') i = Math.max(i, s.indexOf(c, i + 1));
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(s.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(s.slice(start).trim());
  return parts.filter(Boolean);
}

function parseCreateTable(stmt: string): TableShape {
  const head = /^CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*\(/i.exec(stmt);
  if (!head) throw new ClusterDdlError(`not a plain CREATE TABLE name (columns…): ${stmt.slice(0, 80)}…`);
  const open = head[0].length - 1;
  const close = closingParen(stmt, open);
  const rest = stmt.slice(close + 1);
  const eng = /^\s*ENGINE\s*=\s*([A-Za-z0-9_]+)\s*/i.exec(rest);
  if (!eng) throw new ClusterDdlError(`${head[1]}: no ENGINE clause`);
  let after = rest.slice(eng[0].length);
  let engineArgs: string | null = null;
  if (after.startsWith('(')) {
    const end = closingParen(after, 0);
    engineArgs = after.slice(1, end).trim();
    after = after.slice(end + 1);
  }
  const tail = after.trim();
  const order = /ORDER\s+BY\s+(\([^]*?\)|[^\s]+)(?=\s+(?:PRIMARY|SAMPLE|TTL|SETTINGS)\b|\s*$)/i.exec(tail);
  const orderText = order ? (order[1].startsWith('(') ? order[1].slice(1, -1) : order[1]) : null;
  return { name: head[1], columns: splitTopLevel(stmt.slice(open + 1, close)), engine: eng[1], engineArgs, tail, orderBy: orderText === null ? null : splitTopLevel(orderText) };
}

/** True for a column definition (not INDEX, PROJECTION or CONSTRAINT): what a Distributed table carries. */
function isColumn(def: string): boolean {
  return !/^(INDEX|PROJECTION|CONSTRAINT)\s/i.test(def);
}

function createForCluster(stmt: string, o: Required<ClusterDdlOptions>): string[] {
  const t = parseCreateTable(stmt);
  if (!/^(\w*)MergeTree$/.test(t.engine) || t.engine.startsWith('Replicated')) {
    throw new ClusterDdlError(`${t.name}: engine ${t.engine} has no cluster form here (expected a non-replicated *MergeTree)`);
  }
  if (!t.orderBy) throw new ClusterDdlError(`${t.name}: no ORDER BY (the sharding key is built from it)`);
  const local = `${t.name}_local`;
  const on = `ON CLUSTER ${quote(o.cluster)}`;
  const replicatedArgs = [quote(o.zooPath.replace('<table>', t.name)), quote('{replica}'), ...(t.engineArgs ? [t.engineArgs] : [])].join(', ');
  const key = SHARDING_KEYS[t.name] ?? `cityHash64(${t.orderBy.join(', ')})`;
  const body = (defs: string[]): string => `(\n    ${defs.join(',\n    ')}\n)`;
  return [
    `CREATE TABLE IF NOT EXISTS ${local} ${on}\n${body(t.columns)}\nENGINE = Replicated${t.engine}(${replicatedArgs})\n${t.tail}`,
    `CREATE TABLE IF NOT EXISTS ${t.name} ${on}\n${body(t.columns.filter(isColumn))}\nENGINE = Distributed(${quote(o.cluster)}, currentDatabase(), ${local}, ${key})`,
  ];
}

function alterForCluster(stmt: string, o: Required<ClusterDdlOptions>): string[] {
  const m = /^ALTER\s+TABLE\s+([A-Za-z_][A-Za-z0-9_]*)\s+([^]*)$/i.exec(stmt);
  if (!m) throw new ClusterDdlError(`not a plain ALTER TABLE name …: ${stmt.slice(0, 80)}…`);
  const [, table, actions] = m;
  const on = `ON CLUSTER ${quote(o.cluster)}`;
  const local = `ALTER TABLE ${table}_local ${on} ${actions}`;
  const columnsOnly = splitTopLevel(actions).every((a) => /^(ADD|DROP|MODIFY|RENAME|COMMENT)\s+COLUMN\b/i.test(a));
  return columnsOnly ? [local, `ALTER TABLE ${table} ${on} ${actions}`] : [local];
}

/** One migration statement in its cluster form (one or two statements). */
export function statementForCluster(stmt: string, opts: ClusterDdlOptions): string[] {
  const o: Required<ClusterDdlOptions> = { cluster: opts.cluster, zooPath: opts.zooPath ?? DEFAULT_ZOO_PATH };
  if (!o.cluster.trim()) throw new ClusterDdlError('the cluster name is empty');
  if (/^CREATE\s+TABLE\b/i.test(stmt)) return createForCluster(stmt, o);
  if (/^ALTER\s+TABLE\b/i.test(stmt)) return alterForCluster(stmt, o);
  throw new ClusterDdlError(`no cluster form for this statement (only CREATE TABLE and ALTER TABLE are handled): ${stmt.slice(0, 80)}…`);
}
