/**
 * `npm run bench:probe`: probe throughput on this machine, written to bench/results/probe.json.
 * Measured, never asserted: no figure here fails a build.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import type { RuntimePaths } from '../../src/config/runtime-paths';
import { validateEvent } from '../../src/ingest/event-contract';
import { ProbeEvent } from '../../src/domain/event';
import { ensurePythonEnv, setupModel } from '../../src/probe/model-setup';
import { ProbeEngine } from '../../src/probe/probe-engine';
import { loadProbePack, ProbePack } from '../../src/probe/probe-pack.loader';
import { benchPipeline } from './bench-pipeline';
import { resolvePackDir } from '../../src/config/runtime-paths';
import { stderrReporter } from '../../src/cli/progress-reporter';

const BATCH_SIZES = [1, 4, 16, 32];

interface Row {
  batch_events: number;
  events_per_s: number;
  tokens_per_s: number;
  gflops: number;
  batches: number;
  padding_overhead: number;
}

/** Forward FLOPs per token up to the pack's layer (2 per multiply-add), plus the SAE features. */
export function flopsPerToken(pack: ProbePack, avgContext: number): number {
  const c = (pack.manifest.model as unknown as { config: Record<string, number> }).config;
  const hd = c.d_model / c.n_heads;
  const proj = c.d_model * (c.n_heads * hd) * 2 + c.d_model * (c.n_kv_heads * hd) * 2; // q, o and k, v
  const mlp = 3 * c.d_model * c.d_mlp;
  const attention = 2 * c.n_heads * hd * avgContext; // QK^T and AV, per token, average over a causal window
  const perLayer = 2 * (proj + mlp) + 2 * attention;
  const sae = 2 * pack.manifest.features.length * c.d_model;
  return pack.manifest.model.layer * perLayer + sae;
}

async function measure(engine: ProbeEngine, events: ProbeEvent[], batch: number): Promise<{ seconds: number; tokens: number }> {
  const t0 = performance.now();
  let tokens = 0;
  for (let i = 0; i < events.length; i += batch) {
    const res = await Promise.all(events.slice(i, i + batch).map((e) => engine.score(e)));
    tokens += res.reduce((n, r) => n + r.tokens_scored, 0);
  }
  return { seconds: (performance.now() - t0) / 1000, tokens };
}

export async function runBench(paths: RuntimePaths, args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { out: { type: 'string' }, events: { type: 'string' }, pack: { type: 'string' }, rounds: { type: 'string' }, server: { type: 'string' }, conversations: { type: 'string' } } });
  if (positionals[0] === 'pipeline') {
    const out = values.out ?? path.join(paths.projectRoot, 'bench', 'results', 'pipeline.json');
    await benchPipeline(paths, out, Number(values.rounds ?? 2), values.server ? path.resolve(values.server) : undefined);
    process.stdout.write(`${out}\n`);
    return 0;
  }
  if (positionals[0] === 'guard') {
    const { benchGuard } = await import('./guard');
    const out = values.out ?? path.join(paths.projectRoot, 'bench', 'results', 'guard.json');
    await benchGuard(paths, out);
    process.stdout.write(`${out}\n`);
    return 0;
  }
  if (positionals[0] === 'reports') {
    const { benchReports } = await import('./reports');
    const out = values.out ?? path.join(paths.projectRoot, 'bench', 'results', 'reports.json');
    await benchReports(out, Number(values.rounds ?? 0) > 0 ? Number(values.rounds) * 1_000_000 : 1_000_000);
    process.stdout.write(`${out}\n`);
    return 0;
  }
  if (positionals[0] === 'access') {
    const { benchAccess } = await import('./access');
    const out = values.out ?? path.join(paths.projectRoot, 'bench', 'results', 'access.json');
    await benchAccess(out);
    process.stdout.write(`${out}\n`);
    return 0;
  }
  if (positionals[0] === 'alerts') {
    const { benchAlerts } = await import('./alerts');
    const out = values.out ?? path.join(paths.projectRoot, 'bench', 'results', 'alerts.json');
    await benchAlerts(out);
    process.stdout.write(`${out}\n`);
    return 0;
  }
  if (positionals[0] === 'kafka') {
    const { benchKafka } = await import('./bench-kafka');
    const out = values.out ?? path.join(paths.projectRoot, 'bench', 'results', 'kafka.json');
    const rounds = Number(values.rounds ?? 1);
    await benchKafka(paths, out, 600 * rounds, 6000 * rounds);
    process.stdout.write(`${out}\n`);
    return 0;
  }
  if (positionals[0] === 'rules') {
    const { benchRules } = await import('./bench-rules');
    const out = values.out ?? path.join(paths.projectRoot, 'bench', 'results', 'rules.json');
    await benchRules(out, Number(values.events ?? 10_000_000));
    process.stdout.write(`${out}\n`);
    return 0;
  }
  if (positionals[0] === 'prefix') {
    const { benchPrefix } = await import('./bench-prefix');
    const out = values.out ?? path.join(paths.projectRoot, 'bench', 'results', 'prefix.json');
    await benchPrefix(paths, await loadProbePack(resolvePackDir(paths, values.pack)), out, Number(values.conversations ?? 200));
    process.stdout.write(`${out}\n`);
    return 0;
  }
  if (positionals[0] === 'context') {
    const { benchContext } = await import('./bench-context');
    const out = values.out ?? path.join(paths.projectRoot, 'bench', 'results', 'context.json');
    await benchContext(paths, await loadProbePack(resolvePackDir(paths, values.pack)), out);
    process.stdout.write(`${out}\n`);
    return 0;
  }
  if (positionals[0] !== 'probe') throw new Error(`unknown benchmark '${positionals[0] ?? ''}' (available: probe, context, prefix, pipeline, kafka, rules, alerts, access, reports, guard)`);
  const eventsFile = values.events ?? path.join(paths.projectRoot, 'bench', 'events.jsonl');
  const outFile = values.out ?? path.join(paths.projectRoot, 'bench', 'results', 'probe.json');
  const packDir = resolvePackDir(paths, values.pack);
  const pack = await loadProbePack(packDir);
  const reporter = stderrReporter();
  const artifacts = await setupModel(paths, pack.manifest, reporter);
  const events = readFileSync(eventsFile, 'utf8').split('\n').filter((l) => l.trim()).map((l, i) => {
    const v = validateEvent(JSON.parse(l));
    if (!v.ok) throw new Error(`${eventsFile}:${i + 1}: ${v.errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`);
    return v.event;
  });
  const rows: Row[] = [];
  let nodeScores: Record<string, Record<string, number>> = {};
  let avgTokens = 0;
  for (const batch of BATCH_SIZES) {
    // A group's events enqueue in the same tick, so the default short wait forms the whole batch;
    // a long wait would only add idle time (the token budget is never reached by small events).
    const engine = await ProbeEngine.create(pack, artifacts, { tokenBudget: batch * pack.manifest.runtime.chunk_tokens, maxWaitMs: 10 });
    try {
      await measure(engine, events.slice(0, Math.min(events.length, batch * 2)), batch); // warm-up
      const before = { ...engine.stats };
      const m = await measure(engine, events, batch);
      const padded = engine.stats.paddedTokens - before.paddedTokens;
      avgTokens = m.tokens / events.length;
      const flops = flopsPerToken(pack, avgTokens / 2);
      rows.push({
        batch_events: batch,
        events_per_s: round(events.length / m.seconds),
        tokens_per_s: round(m.tokens / m.seconds),
        gflops: round((m.tokens * flops) / m.seconds / 1e9),
        batches: engine.stats.batches - before.batches,
        padding_overhead: round(padded / m.tokens - 1),
      });
      process.stderr.write(`batch ${batch}: ${rows[rows.length - 1].tokens_per_s} tokens/s, ${rows[rows.length - 1].events_per_s} events/s\n`);
      if (batch === 16) {
        const scored = await Promise.all(events.map((e) => engine.score(e)));
        nodeScores = Object.fromEntries(scored.map((s) => [s.id, Object.fromEntries(Object.entries(s.concepts).map(([c, r]) => [c, r.score]))]));
      }
    } finally {
      await engine.close();
    }
  }
  reporter.step('running the Python ONNX Runtime reference on the same events');
  const py = await ensurePythonEnv(paths, ['test'], reporter);
  const refOut = path.join(mkdtempSync(path.join(os.tmpdir(), 'bench-')), 'ref.json');
  const r = spawnSync(py, ['-m', 'probe_builder', 'bench-reference', '--events', eventsFile, '--pack', packDir, '--model-dir', artifacts.dir,
    '--batch-events', '16', '--out', refOut], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, PYTHONPATH: path.join(paths.projectRoot, 'tools', 'probe-builder') } });
  if (r.status !== 0) throw new Error('Python reference benchmark failed');
  const ref = JSON.parse(readFileSync(refOut, 'utf8')) as { tokens_per_s: number; events_per_s: number; matmul_gflops: number; onnxruntime: string; scores: Record<string, Record<string, number>> };
  let maxDiff = 0;
  for (const [id, cs] of Object.entries(ref.scores)) for (const [c, s] of Object.entries(cs)) maxDiff = Math.max(maxDiff, Math.abs(s - (nodeScores[id]?.[c] ?? NaN)));
  const node16 = rows.find((x) => x.batch_events === 16) as Row;
  const flops = flopsPerToken(pack, avgTokens / 2);
  const result = {
    generated_at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, memory_gb: round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()}-${os.arch()}` },
    pack: { id: pack.manifest.id, version: pack.manifest.version, layer: pack.manifest.model.layer, features: pack.manifest.features.length },
    execution_provider: 'cpu',
    events: events.length,
    avg_tokens_per_event: round(avgTokens),
    model_flops_per_token: Math.round(flops),
    model_flops_note: 'forward pass up to the pack layer (projections, MLP, attention at half the average event length) plus the selected SAE rows; 2 FLOPs per multiply-add',
    matmul_peak_gflops: round(ref.matmul_gflops),
    matmul_peak_note: 'ONNX Runtime MatMul 1024x1024x1024 float32 on this machine, measured in the same run',
    node: rows.map((x) => ({ ...x, fraction_of_matmul_peak: round(x.gflops / ref.matmul_gflops) })),
    reference: { implementation: `Python onnxruntime ${ref.onnxruntime} + numpy scoring, same ONNX graph and tokenizer`, batch_events: 16,
      tokens_per_s: round(ref.tokens_per_s), events_per_s: round(ref.events_per_s) },
    node_to_reference_ratio_at_batch_16: round(node16.tokens_per_s / ref.tokens_per_s),
    max_abs_score_difference_vs_reference: maxDiff,
  };
  mkdirSync(path.dirname(outFile), { recursive: true });
  writeFileSync(outFile, JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(`${outFile}\n`);
  return 0;
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
