/**
 * The rule-set audit trail on chDB: migration 007 adds the sources of each accepted set to a table
 * that already holds rows, and the repository finds the newest accepted set that has them.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { ClickHouseClient } from '@clickhouse/client';

import { openClickHouse } from '../../../src/storage/clickhouse-client';
import { loadMigrations, migrate } from '../../../src/storage/migrator';
import { RuleHistoryRepository, RuleSetChange } from '../../../src/storage/rule-history.repository';

jest.setTimeout(60_000);

const change = (at: string, over: Partial<RuleSetChange>): RuleSetChange => ({
  at, instance: 'host-a', ok: true, hash: 'h', previousHash: '', rules: 1, files: { 'default.yaml': 'fh' }, added: [], removed: [], changed: [], problems: [], ...over,
});

describe('rule-set history on embedded ClickHouse', () => {
  let client: ClickHouseClient;
  beforeAll(async () => {
    client = await openClickHouse({ kind: 'embedded', location: path.join(mkdtempSync(path.join(tmpdir(), 'pw-history-')), 'db'), database: 'history' });
  });
  afterAll(async () => {
    await client.close();
  });

  it('keeps rows recorded before migration 007 and returns the newest accepted set with sources', async () => {
    const all = loadMigrations();
    expect(all.map((m) => m.name)).toContain('007_rule_set_sources');
    await migrate(client, all.filter((m) => m.version < 7));
    const repo = new RuleHistoryRepository(client);
    // A row from before the migration (the insert names no sources column).
    await client.insert({
      table: 'rule_set_history',
      values: [{ at: '2026-11-20 10:00:00.000', instance: 'old', ok: 1, hash: 'h0', previous_hash: '', rules: 3, files: '{}', added: [], removed: [], changed: [], problems: [] }],
      format: 'JSONEachRow',
    });
    // The rest, 007 onwards, apply on top of the old rows.
    expect(await migrate(client, all)).toEqual(all.filter((m) => m.version >= 7).map((m) => m.version));
    expect(await repo.latestGoodSet()).toBeNull();

    const sources = { 'default.yaml': 'apiVersion: probewatch/v1\n# "quotes", \\ and ünïcode\n', 'team.yaml': 'x: 1\n' };
    await repo.record(change('2026-11-21T10:00:00.000Z', { hash: 'h1', sources }));
    await repo.record(change('2026-11-22T10:00:00.000Z', { ok: false, hash: 'h2', previousHash: 'h1', problems: ['team.yaml:1:1: nope'] }));
    await repo.record(change('2026-11-23T10:00:00.000Z', { hash: 'h3', instance: 'host-b' }));

    expect(await repo.latestGoodSet()).toEqual({ at: '2026-11-21T10:00:00.000Z', instance: 'host-a', hash: 'h1', sources });
    await repo.record(change('2026-11-24T10:00:00.000Z', { hash: 'h4', instance: 'host-b', sources: { 'default.yaml': 'newer' } }));
    expect(await repo.latestGoodSet()).toMatchObject({ hash: 'h4', instance: 'host-b', sources: { 'default.yaml': 'newer' } });

    // The set an instance had in force at a moment: its newest accepted one loaded by then
    // (what an alert raised at that moment names in its notification).
    expect(await repo.hashAt('host-a', '2026-11-21T09:59:59.999Z')).toBeNull();
    expect(await repo.hashAt('host-a', '2026-11-21T10:00:00.000Z')).toBe('h1');
    expect(await repo.hashAt('host-a', '2026-11-23T12:00:00.000Z')).toBe('h1'); // h2 was rejected; h3 is host-b's
    expect(await repo.hashAt('host-b', '2026-11-23T12:00:00.000Z')).toBe('h3');
    expect(await repo.hashAt('host-b', '2026-11-30T00:00:00.000Z')).toBe('h4');

    // The history API reads as before (sources are not listed there).
    const listed = await repo.list(10);
    expect(listed.map((r) => r.hash)).toEqual(['h4', 'h3', 'h2', 'h1', 'h0']);
    expect(listed[0]).not.toHaveProperty('sources');
  });

  it('refuses sources that are not a {file: content} object', async () => {
    const repo = new RuleHistoryRepository(client);
    await client.insert({
      table: 'rule_set_history',
      values: [{ at: '2026-11-25 10:00:00.000', instance: 'x', ok: 1, hash: 'h5', previous_hash: '', rules: 1, files: '{}', sources: '["not", "a", "map"]', added: [], removed: [], changed: [], problems: [] }],
      format: 'JSONEachRow',
    });
    await expect(repo.latestGoodSet()).rejects.toThrow(/not a \{file: content\} object/);
  });
});
