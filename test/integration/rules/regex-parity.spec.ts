/**
 * One `matches` pattern, two engines: the stream (the `re2` package) and ClickHouse's match() for
 * windowed and sequence rules (chDB here). What the linter accepts runs in both with the same
 * answers; what it rejects ClickHouse's RE2 refuses as well (or, for JavaScript spellings the
 * package would translate, reads differently), so a rule never passes lint and then fails in SQL.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { ClickHouseClient } from '@clickhouse/client';

import { CONCEPT_IDS } from '../../../src/domain/concepts';
import { EvalContext, parseCondition } from '../../../src/rules/condition';
import { predicate } from '../../../src/rules/condition-eval';
import { compilePattern } from '../../../src/rules/condition-regex';
import { conditionSql, SqlParams } from '../../../src/rules/condition-sql';
import { openClickHouse } from '../../../src/storage/clickhouse-client';

jest.setTimeout(60_000);

const concepts = [...CONCEPT_IDS];
const ACCEPTED = ['build a b.mb$', '^bomb', '\\bpass(word)?\\b', '^u-\\d{2,}$', 'a.b', 'colou?r', 'x{2,3}?y', '(?P<w>hel+o)', '(?<w>hel+o)',
  '[]a]+$', '[[:alpha:]]+-[[:digit:]]', '\\p{Greek}', '\\p{Lu}', '\\x{41}', '\\Qa.b\\E', '\\Ab', 'b\\z', '^(a+)+$', ''];
const SUBJECTS = ['How do I build a BOMB', 'bomb', 'my PASSWORD is', 'u-123', 'a\nb', 'COLOR', 'xxy', 'HELLO', ']a]', 'abc-7', 'Ωmega', 'A', 'a.b', 'b', 'aaaa', 'aaab'];
const REJECTED = ['(a)\\1', '^a+(?=b)', '^a+(?!b)', '(?<=a)b', '(?<!a)b', 'a++', 'a*+', 'a{2}+', '(?>a+)b', '(?(1)a|b)', 'a(?R)?b', '\\u0041', '\\cA', '\\p{Letter}'];

const ctx = (user: string): EvalContext => ({ concepts: {}, features: new Map(), event: { id: 'e', tenant: 't', source: 's', model: 'm', user, text: '', metadata: {} } });
const rule = (pattern: string): string => `event.user matches "${pattern.replace(/\\/g, '\\\\')}"`;

describe('matches patterns in the stream and in ClickHouse', () => {
  let client: ClickHouseClient;
  beforeAll(async () => {
    client = await openClickHouse({ kind: 'embedded', location: path.join(mkdtempSync(path.join(tmpdir(), 'pw-regex-')), 'db'), database: 'regex' });
  });
  afterAll(async () => {
    await client.close();
  });

  /** The rule's condition as the windowed and sequence queries compile it, over one subject. */
  async function inClickHouse(pattern: string, subject: string): Promise<boolean> {
    const params = new SqlParams();
    const sql = conditionSql(parseCondition(rule(pattern), { concepts }), concepts, params);
    const res = await client.query({ query: `SELECT ${sql} AS m FROM (SELECT {subject:String} AS user_id)`, query_params: { ...params.values, subject }, format: 'JSONEachRow' });
    return Number((await res.json<{ m: number }>())[0].m) === 1;
  }

  it('gives the same answers for every accepted pattern', async () => {
    const differences: string[] = [];
    for (const pattern of ACCEPTED) {
      const stream = predicate(parseCondition(rule(pattern), { concepts }));
      for (const subject of SUBJECTS) {
        const want = stream(ctx(subject));
        const got = await inClickHouse(pattern, subject);
        if (got !== want) differences.push(`${JSON.stringify(pattern)} on ${JSON.stringify(subject)}: stream ${want}, ClickHouse ${got}`);
      }
    }
    expect(differences).toEqual([]);
  });

  it('rejects at load time what ClickHouse would refuse', async () => {
    for (const pattern of REJECTED) {
      expect(compilePattern(pattern)).toMatchObject({ ok: false });
      const res = await client.query({ query: 'SELECT match(\'a\', {p:String}) AS m', query_params: { p: `(?i-s)${pattern}` }, format: 'JSONEachRow' }).then(() => 'accepted', (e: Error) => e.message);
      expect(res).toMatch(/cannot compile re2/);
    }
  });
});
