/**
 * `probewatch eval` end to end on held-out scenarios (test/fixtures/eval-scenarios.jsonl, written
 * by `probe-builder eval-events` from TEST families only). Each line carries the builder's own
 * score for the conversation, computed in Python (ONNX Runtime + numpy), so this also proves that
 * the service scores what the builder measured: same tokenizer, model, scope, aggregation and
 * calibration.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { realModel, skipNote } from '../../support/real-model';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BIN = path.join(ROOT, 'bin', 'probewatch.js');
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'eval-scenarios.jsonl');
jest.setTimeout(600_000);

describe('probewatch eval (CLI, real model)', () => {
  let skip: string | null = null;
  beforeAll(async () => {
    const env = await realModel();
    if (typeof env === 'string') skip = env;
  });

  it('measures every concept on labelled events and matches the builder\'s scores', () => {
    if (skip) return skipNote(skip);
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'eval-')), 'report.json');
    // The builder's reference reads each conversation whole, in context; so does the runtime with
    // the turn view off (long-context.spec.ts checks the turn view against the turn scored alone).
    const r = spawnSync(process.execPath, [BIN, 'eval', '--input', FIXTURE, '--out', out, '--turn-view', 'off'], { cwd: ROOT, encoding: 'utf8', timeout: 580_000 });
    expect(r.stderr).not.toMatch(/failed/);
    expect(r.status).toBe(0);
    const lines = readFileSync(FIXTURE, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { labels: Record<string, number> });
    const report = JSON.parse(readFileSync(out, 'utf8')) as {
      events: number;
      turn_view: string[];
      concepts: Record<string, { positives: number; negatives: number; auroc: number | null; max_abs_diff_vs_reference: number | null }>;
    };
    expect(report.events).toBe(lines.length);
    expect(report.turn_view).toEqual([]);
    for (const [c, e] of Object.entries(report.concepts)) {
      expect(e.positives).toBe(lines.filter((l) => l.labels[c] === 1).length);
      expect(e.negatives).toBe(lines.filter((l) => l.labels[c] === 0).length);
      expect(e.auroc).toEqual(expect.any(Number));
      // float32 in both; the difference is summation order
      expect(e.max_abs_diff_vs_reference).toBeLessThan(2e-3);
      expect(r.stdout).toContain(c);
    }
  });

  it('rejects a line without labels by number and still reports the rest', () => {
    if (skip) return skipNote(skip);
    const dir = mkdtempSync(path.join(tmpdir(), 'eval-'));
    const file = path.join(dir, 'in.jsonl');
    const first = readFileSync(FIXTURE, 'utf8').split('\n')[0];
    const noLabels = { ...JSON.parse(first), id: 'no-labels' } as Record<string, unknown>;
    delete noLabels.labels;
    require('node:fs').writeFileSync(file, `${first}\n${JSON.stringify(noLabels)}\n`);
    const r = spawnSync(process.execPath, [BIN, 'eval', '--input', file], { cwd: ROOT, encoding: 'utf8', timeout: 280_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/line 2: labels: must be an object/);
    expect(r.stdout).toMatch(/1 labelled events, 1 failed/);
  });
});
