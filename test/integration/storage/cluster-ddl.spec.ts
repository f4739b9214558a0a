/**
 * `probewatch migrate --cluster NAME --print`: every statement is checked by ClickHouse's own
 * parser (chDB's `formatQuery`, which parses without executing: chDB has no cluster to run it
 * on), and the layout is asserted on the parser's normalised text: every MergeTree table became a
 * Replicated `<table>_local` with its engine parameters kept, behind a Distributed table under the
 * original name, sharded by columns of its sort key; every ALTER runs ON CLUSTER.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

import { queryBind } from 'chdb';

import { ClusterDdlError, statementForCluster } from '../../../src/storage/cluster-ddl';
import { parseDistributedEngine } from '../../../src/storage/local-table';
import { clusterMigrationDdl, migrationDdl } from '../../../src/storage/migrator';

jest.setTimeout(60_000);

const root = path.resolve(__dirname, '..', '..', '..');

/** ClickHouse's formatting of `stmt`; throws the parser's error when it does not parse. */
function formatQuery(stmt: string): string {
  return queryBind('SELECT formatQuery({q:String})', { q: stmt }, 'TSVRaw').replace(/\\n/g, '\n').trim();
}

interface Table { name: string; engine: string; args: string; orderBy: string[] }

/** The MergeTree tables the single-server schema creates, read back from chDB's formatting. */
function singleServerTables(): Table[] {
  return migrationDdl().filter((s) => /^CREATE TABLE/i.test(s)).map((s) => {
    const f = formatQuery(s);
    const name = /^CREATE TABLE IF NOT EXISTS (\w+)/.exec(f)![1];
    const engine = /ENGINE = (\w+)(?:\(([^)]*)\))?/.exec(f)!;
    const order = /ORDER BY \(?([^)\n]+)\)?/.exec(f)![1];
    return { name, engine: engine[1], args: engine[2] ?? '', orderBy: order.split(',').map((c) => c.trim()) };
  });
}

describe('cluster DDL (migrate --cluster NAME --print)', () => {
  const ddl = clusterMigrationDdl({ cluster: '{cluster}' });
  const formatted = ddl.map((stmt) => ({ stmt, text: formatQuery(stmt) }));
  const tables = singleServerTables();

  it('parses, statement by statement, with ClickHouse\'s parser (named cluster and macro)', () => {
    expect(formatted.length).toBeGreaterThan(tables.length * 2);
    for (const stmt of clusterMigrationDdl({ cluster: 'probewatch_cluster' })) expect(() => formatQuery(stmt)).not.toThrow();
    // The check itself rejects what does not parse.
    expect(() => formatQuery('CREATE TABLE x ON CLUSTER c (a String) ENGINE = ReplicatedMergeTree(')).toThrow(/Syntax error/);
  });

  it('turns every MergeTree table into a Replicated local table with its engine parameters, behind a Distributed one', () => {
    expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['schema_migrations', 'events', 'concept_scores', 'alerts', 'api_keys', 'audit_log']));
    for (const t of tables) {
      expect(t.engine).toMatch(/MergeTree$/);
      const local = formatted.find((f) => f.text.startsWith(`CREATE TABLE IF NOT EXISTS ${t.name}_local ON CLUSTER \`{cluster}\``));
      expect(local).toBeDefined();
      const params = [`'/clickhouse/tables/{shard}/{database}/${t.name}'`, "'{replica}'", ...(t.args ? [t.args] : [])].join(', ');
      expect(local!.text).toContain(`ENGINE = Replicated${t.engine}(${params})`);
      const dist = formatted.find((f) => f.text.startsWith(`CREATE TABLE IF NOT EXISTS ${t.name} ON CLUSTER \`{cluster}\``));
      expect(dist).toBeDefined();
      const d = /ENGINE = Distributed\('\{cluster\}', currentDatabase\(\), (\w+), cityHash64\(([^)]*)\)\)/.exec(dist!.text);
      expect(d?.[1]).toBe(`${t.name}_local`);
      // Rows a ReplacingMergeTree collapses share their sort key, so a key built from it keeps them on one shard.
      for (const col of d![2].split(',').map((c) => c.trim())) expect(t.orderBy).toContain(col);
      // A Distributed table carries columns only, no skip index.
      expect(dist!.text).not.toMatch(/\bINDEX\b/);
    }
    expect(formatted.filter((f) => /^CREATE TABLE/.test(f.text)).length).toBe(tables.length * 2);
  });

  it('keeps one event\'s rows together: events, scores and feature evidence share the sharding key', () => {
    const keys = ['events', 'concept_scores', 'feature_activations'].map((t) => /Distributed\([^,]+, [^,]+, \w+, (.*)\)$/m.exec(formatted.find((f) => f.text.startsWith(`CREATE TABLE IF NOT EXISTS ${t} ON`))!.text)![1]);
    expect(new Set(keys)).toEqual(new Set(['cityHash64(tenant, event_id)']));
  });

  it('runs every ALTER on the cluster: column changes on both tables, everything else on the local one', () => {
    const alters = formatted.filter((f) => f.text.startsWith('ALTER TABLE'));
    expect(alters.length).toBeGreaterThan(0);
    for (const a of alters) expect(a.text).toMatch(/^ALTER TABLE \w+ ON CLUSTER `\{cluster\}`/);
    expect(alters.some((a) => a.text.startsWith('ALTER TABLE events_local ON'))).toBe(true);
    expect(alters.some((a) => a.text.startsWith('ALTER TABLE events ON'))).toBe(true);
    const ttl = statementForCluster('ALTER TABLE events MODIFY TTL toDateTime(ts) + INTERVAL 90 DAY', { cluster: 'c' });
    expect(ttl).toEqual(["ALTER TABLE events_local ON CLUSTER 'c' MODIFY TTL toDateTime(ts) + INTERVAL 90 DAY"]);
    expect(() => formatQuery(ttl[0])).not.toThrow();
  });

  it('records every version in schema_migrations, so a service started on the cluster applies nothing', () => {
    const last = formatted[formatted.length - 1];
    expect(last.text).toMatch(/^INSERT INTO schema_migrations/);
    expect(last.stmt).toContain("(10, '010_audit', now())");
  });

  it('refuses statements it has no cluster form for instead of guessing', () => {
    expect(() => statementForCluster('CREATE MATERIALIZED VIEW mv TO t AS SELECT 1', { cluster: 'c' })).toThrow(ClusterDdlError);
    expect(() => statementForCluster('CREATE TABLE t (a String) ENGINE = Log', { cluster: 'c' })).toThrow(/engine Log/);
    expect(() => statementForCluster('CREATE TABLE t (a String) ENGINE = MergeTree ORDER BY a', { cluster: ' ' })).toThrow(/empty/);
  });

  it('finds the local table and cluster behind a Distributed table (where retention and erasure mutate)', () => {
    expect(parseDistributedEngine("Distributed('{cluster}', 'probewatch', 'events_local', cityHash64(tenant, event_id))")).toEqual({ cluster: '{cluster}', localTable: 'events_local' });
    expect(parseDistributedEngine('Distributed(pw, currentDatabase(), events_local, rand())')).toEqual({ cluster: 'pw', localTable: 'events_local' });
    expect(parseDistributedEngine("ReplacingMergeTree(version) PARTITION BY toYYYYMM(ts) ORDER BY (tenant, event_id)")).toBeNull();
  });

  it('is what the CLI prints: `probewatch migrate --cluster NAME --print` (compiled), and --cluster alone is refused', () => {
    const bin = path.join(root, 'bin', 'probewatch.js');
    const dist = path.join(root, 'dist', 'cli', 'migrate.command.js');
    if (!existsSync(dist)) {
      if (process.env.CI === 'true') throw new Error('CI=true and a prerequisite is missing: dist/ (npx tsc -p tsconfig.build.json)');
      process.stderr.write('SKIPPED (prerequisite missing): dist/cli/migrate.command.js: run npx tsc -p tsconfig.build.json\n');
      return;
    }
    const r = spawnSync(process.execPath, [bin, 'migrate', '--cluster', '{cluster}', '--print'], { encoding: 'utf8', cwd: root });
    expect(r.status).toBe(0);
    const printed = r.stdout.split(/;\n\n/).map((s) => s.replace(/^--[^\n]*\n/, '').trim()).filter(Boolean);
    expect(printed).toEqual(ddl);
    const bad = spawnSync(process.execPath, [bin, 'migrate', '--cluster', 'c'], { encoding: 'utf8', cwd: root });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--cluster needs --print');
  });
});
