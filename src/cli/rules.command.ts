/**
 * `probewatch rules lint|test|backtest`: the detection engineer's tools.
 *   lint [paths…]                       every problem as file:line:col: message; exit 1 on any
 *   test [paths…]                       rule unit tests (*.test.yaml; default rules/tests); exit 1 on a failure
 *   backtest <rule-file…> --from --to   alerts the rules would have raised on stored history
 */
import { existsSync, mkdtempSync, promises as fs, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import type { ClickHouseClient } from '@clickhouse/client';

import { loadConfig } from '../config/app-config';
import type { RuntimePaths } from '../config/runtime-paths';
import { CONCEPT_IDS } from '../domain/concepts';
import { formatProblem } from '../rules/rule-file';
import { displayPath, readRuleSources } from '../rules/rule-loader';
import { compileRuleSet } from '../rules/rule-set';
import { RuleScope } from '../rules/rule-types';
import { RuleTestRunner, RuleTestStore } from '../rules/rule-test-runner';
import { clickhouseRuleStore } from '../storage/rule-store';
import { openClickHouse } from '../storage/clickhouse-client';
import { migrate } from '../storage/migrator';
import { resolvePackDir } from '../config/runtime-paths';
import { runBacktest } from './rules-backtest';

export const RULES_USAGE = `usage: probewatch rules <lint|test|backtest> …
  rules lint [paths…]                        check rule files (default: $PROBEWATCH_RULES_DIR or ./rules)
  rules test [paths…]                        run rule tests (*.test.yaml; default: rules/tests)
  rules backtest <rule-file…> --from T --to T [--step DUR] [--json]
                                             alerts the rules would have raised on stored events
options: --pack ID|DIR (feature indices are checked against this probe pack)`;

/** Concepts and, when the pack's manifest is at hand, its feature indices. */
async function ruleScope(paths: RuntimePaths, pack: string | undefined): Promise<RuleScope> {
  const manifest = path.join(resolvePackDir(paths, pack), 'manifest.json');
  if (!existsSync(manifest)) return { concepts: [...CONCEPT_IDS] };
  const m = JSON.parse(await fs.readFile(manifest, 'utf8')) as { features: Array<{ index: number }> };
  return { concepts: [...CONCEPT_IDS], features: new Set(m.features.map((f) => f.index)) };
}

function defaultRulesDir(paths: RuntimePaths): string {
  return process.env.PROBEWATCH_RULES_DIR ?? path.join(paths.projectRoot, 'rules');
}

export async function runRules(paths: RuntimePaths, argv: string[]): Promise<number> {
  try {
    return await rules(paths, argv);
  } catch (e) {
    process.stderr.write(`probewatch rules: ${(e as Error).message.split('\n')[0]}\n`);
    return 2;
  }
}

async function rules(paths: RuntimePaths, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { pack: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, step: { type: 'string' }, json: { type: 'boolean' } },
  });
  const scope = await ruleScope(paths, values.pack);
  switch (sub) {
    case 'lint':
      return lint(positionals.length ? positionals : [defaultRulesDir(paths)], scope);
    case 'test':
      return test(positionals.length ? positionals : [path.join(defaultRulesDir(paths), 'tests')], scope);
    case 'backtest': {
      if (!positionals.length || !values.from || !values.to) {
        process.stderr.write(`probewatch: rules backtest needs a rule file, --from and --to\n\n${RULES_USAGE}\n`);
        return 2;
      }
      return runBacktest(loadConfig(process.env), positionals, scope, { from: values.from, to: values.to, step: values.step, json: Boolean(values.json) });
    }
    default:
      process.stderr.write(`${RULES_USAGE}\n`);
      return 2;
  }
}

async function lint(paths: string[], scope: RuleScope): Promise<number> {
  const sources = await readRuleSources(paths).catch((e: Error) => {
    process.stderr.write(`probewatch: ${e.message}\n`);
    return null;
  });
  if (!sources) return 2;
  const set = compileRuleSet(sources, scope);
  for (const p of set.problems) process.stdout.write(`${formatProblem(p)}\n`);
  if (set.problems.length) {
    process.stderr.write(`${set.problems.length} problem(s) in ${sources.length} file(s)\n`);
    return 1;
  }
  const kinds = set.rules.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.kind]: (acc[r.kind] ?? 0) + 1 }), {});
  process.stderr.write(`${sources.length} file(s), ${set.rules.length} rules (${Object.entries(kinds).map(([k, n]) => `${n} ${k}`).join(', ')}): ok\n`);
  return 0;
}

/** Test files from paths: *.test.yaml in directories, or files named directly. */
async function testFiles(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const st = await fs.stat(p);
    if (st.isDirectory()) out.push(...(await fs.readdir(p)).filter((f) => /\.test\.ya?ml$/.test(f)).sort().map((f) => path.join(p, f)));
    else out.push(p);
  }
  return out;
}

/** A throwaway embedded ClickHouse for the windowed and sequence rules under test. */
async function scratchStore(): Promise<{ store: RuleTestStore; client: ClickHouseClient; dir: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'probewatch-rule-test-'));
  const client = await openClickHouse({ kind: 'embedded', location: dir, database: 'rule_tests' });
  await migrate(client);
  const store: RuleTestStore = {
    port: clickhouseRuleStore(client),
    reset: async () => {
      await client.command({ query: 'TRUNCATE TABLE concept_scores' });
    },
    insertScores: async (rows) => {
      if (rows.length) await client.insert({ table: 'concept_scores', values: rows, format: 'JSONEachRow' });
    },
  };
  return { store, client, dir };
}

async function test(paths: string[], scope: RuleScope): Promise<number> {
  const files = await testFiles(paths).catch((e: Error) => {
    process.stderr.write(`probewatch: ${e.message}\n`);
    return null;
  });
  if (!files) return 2;
  if (!files.length) {
    process.stderr.write(`probewatch: no *.test.yaml files in ${paths.join(', ')}\n`);
    return 2;
  }
  const { store, client, dir } = await scratchStore();
  let failed = 0;
  let passed = 0;
  try {
    const runner = new RuleTestRunner(store, scope, [...CONCEPT_IDS]);
    for (const f of files) {
      const shown = displayPath(f);
      const report = await runner.runFile(f, await fs.readFile(f, 'utf8'), (p) => readRuleSources(p));
      for (const p of report.problems) process.stdout.write(`${shown}: ${p}\n`);
      failed += report.problems.length;
      for (const r of report.results) {
        if (r.ok) {
          passed++;
          process.stdout.write(`  PASS  ${shown}: ${r.name}\n`);
        } else {
          failed++;
          process.stdout.write(`  FAIL  ${shown}: ${r.name}\n${r.failures.map((x) => `    ${x.replace(/\n/g, '\n    ')}`).join('\n')}\n`);
        }
      }
    }
  } finally {
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  return failed ? 1 : 0;
}
