/**
 * The import layering written down in .dependency-cruiser.cjs, checked with dependency-cruiser:
 * no cycles, and no lower layer imports a higher one.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
jest.setTimeout(60_000);

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}

function cruise(cwd: string): Violation[] {
  const r = spawnSync(process.execPath, [BIN, 'src', '--config', path.join(ROOT, '.dependency-cruiser.cjs'), '--output-type', 'json'], { cwd, encoding: 'utf8' });
  if (!r.stdout) throw new Error(`dependency-cruiser failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

describe('import layering (dependency-cruiser)', () => {
  it('src/ has no cycle and no import from a lower layer to a higher one', () => {
    expect(cruise(ROOT).map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`)).toEqual([]);
  });

  it('catches a cycle and imports against the layering (a fixture tree with both)', () => {
    const names = cruise(path.join(ROOT, 'test', 'fixtures', 'layering')).map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`);
    expect(names).toEqual(expect.arrayContaining([
      'domain-is-the-base: src/domain/event.ts -> src/rules/rule.ts',
      'probe-and-storage-below-rules: src/storage/store.ts -> src/rules/rule.ts',
      expect.stringMatching(/^no-circular: src\/(domain\/event|rules\/rule)\.ts -> /),
    ]));
  });

  it('SQL is written only in storage/, apart from the rule compiler, and the service has no benchmark or local daemon', () => {
    const { readdirSync, readFileSync, statSync } = jest.requireActual<typeof import('node:fs')>('node:fs');
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const f of readdirSync(dir)) {
        const p = path.join(dir, f);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts')) files.push(path.relative(ROOT, p));
      }
    };
    walk(path.join(ROOT, 'src'));
    // The rule language compiles windowed and sequence rules to parameterised query text; storage runs it.
    const compiler = ['src/rules/windowed-query.ts'];
    const sql = /\b(SELECT|INSERT INTO|ALTER TABLE|CREATE TABLE|OPTIMIZE TABLE)\b/;
    const outside = files.filter((f) => !f.startsWith('src/storage/') && !compiler.includes(f) && sql.test(readFileSync(path.join(ROOT, f), 'utf8')));
    expect(outside).toEqual([]);
    expect(compiler.every((f) => sql.test(readFileSync(path.join(ROOT, f), 'utf8')))).toBe(true);
    expect(files.filter((f) => /(^|\/)bench|^src\/infra\//.test(f))).toEqual([]);
  });
});

