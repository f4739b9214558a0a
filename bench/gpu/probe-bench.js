// The real probe pack on the device: the same events scored on CPU and on WebGPU (onnxruntime-node's
// bundled provider), score parity, and throughput by batch size; plus one long conversation read by
// chunked prefill. Usage: node probe-bench.js <dist dir> <data dir> <events.jsonl> <out.json>
const path = require('node:path');
const fs = require('node:fs');
const { performance } = require('node:perf_hooks');
const [dist, dataDir, eventsFile, outFile] = process.argv.slice(2);
process.env.PROBEWATCH_DATA_DIR = dataDir;
const { resolveRuntimePaths, resolvePackDir } = require(path.resolve(dist, 'config/runtime-paths.js'));
const { findModelArtifacts } = require(path.resolve(dist, 'probe/model-setup.js'));
const { loadProbePack } = require(path.resolve(dist, 'probe/probe-pack.loader.js'));
const { ProbeEngine } = require(path.resolve(dist, 'probe/probe-engine.js'));
const { validateEvent } = require(path.resolve(dist, 'ingest/event-contract.js'));

// Forward FLOPs per token of the 18 blocks read (weights only: q,o 576x576, k,v 576x192, MLP 3x576x1536).
const FLOPS_PER_TOKEN = 2 * 18 * (576 * 576 * 2 + 576 * 192 * 2 + 3 * 576 * 1536);
const H200_FP32_TFLOPS = 67; // NVIDIA H200 SXM datasheet, FP32 (no tensor cores)

async function main() {
  const paths = resolveRuntimePaths();
  const pack = await loadProbePack(resolvePackDir(paths, undefined));
  const artifacts = await findModelArtifacts(paths, pack.manifest);
  if (!artifacts) throw new Error(`no model artifacts under ${dataDir}`);
  const events = fs.readFileSync(eventsFile, 'utf8').split('\n').filter((l) => l.trim()).map((l) => { const v = validateEvent(JSON.parse(l)); if (!v.ok) throw new Error(JSON.stringify(v.errors)); return v.event; });
  const long = { ...events[0], id: 'long', messages: Array.from({ length: 60 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `Turn ${i}: ${'We reviewed the quarterly logistics plan, the warehouse rota and the supplier contracts in detail. '.repeat(6)}` })) };
  const out = { flops_per_token: FLOPS_PER_TOKEN, peak_fp32_tflops: H200_FP32_TFLOPS, providers: {} };
  const scores = {};
  for (const provider of (process.env.PROVIDERS || 'cpu,webgpu').split(',')) {
    const r = { runs: [] };
    for (const batch of (process.env.BATCHES || '1,8,32,64').split(',').map(Number)) {
      const engine = await ProbeEngine.create(pack, artifacts, { executionProvider: provider, intraOpThreads: provider === 'cpu' ? 16 : 0, tokenBudget: batch * 512, maxWaitMs: 10, prefixCacheMb: 0 });
      try {
        const run = async () => { let tokens = 0; const t0 = performance.now(); for (let i = 0; i < events.length; i += batch) { const s = await Promise.all(events.slice(i, i + batch).map((e) => engine.score(e))); for (const x of s) tokens += x.tokens; } return { tokens, s: (performance.now() - t0) / 1000 }; };
        await run();
        const m = await run();
        r.runs.push({ batch_events: batch, events_per_s: +(events.length / m.s).toFixed(1), tokens_per_s: Math.round(m.tokens / m.s), gflops: Math.round(m.tokens * FLOPS_PER_TOKEN / m.s / 1e9), fraction_of_fp32_peak: provider === 'webgpu' ? +((m.tokens * FLOPS_PER_TOKEN / m.s / 1e12) / H200_FP32_TFLOPS).toFixed(4) : null });
        if (batch === 8) {
          scores[provider] = Object.fromEntries((await Promise.all(events.map((e) => engine.score(e)))).map((s) => [s.id, s.concepts]));
          const t0 = performance.now();
          const l = await engine.score(long);
          r.long = { tokens: l.tokens, seconds: +((performance.now() - t0) / 1000).toFixed(3), scores: Object.fromEntries(Object.entries(l.concepts).map(([c, v]) => [c, v.score])) };
        }
      } finally { await engine.close(); }
      process.stderr.write(`${provider} batch ${batch}: ${JSON.stringify(r.runs[r.runs.length - 1])}\n`);
    }
    out.providers[provider] = r;
  }
  if (!scores.webgpu) { fs.writeFileSync(outFile, JSON.stringify(out, null, 1)); return; }
  let maxScore = 0, maxContribution = 0, flagsDiffer = 0;
  for (const [id, cs] of Object.entries(scores.cpu)) for (const [c, v] of Object.entries(cs)) {
    const g = scores.webgpu[id][c];
    maxScore = Math.max(maxScore, Math.abs(v.score - g.score));
    if (v.flagged !== g.flagged) flagsDiffer++;
    for (let i = 0; i < Math.min((v.tokens || []).length, (g.tokens || []).length); i++) if (v.tokens[i].index === g.tokens[i].index) maxContribution = Math.max(maxContribution, Math.abs(v.tokens[i].activation - g.tokens[i].activation));
  }
  out.parity = { events: Object.keys(scores.cpu).length, max_abs_score_diff: maxScore, max_abs_token_contribution_diff: maxContribution, flagged_decisions_differ: flagsDiffer,
    long_max_abs_score_diff: Math.max(...Object.keys(out.providers.cpu.long.scores).map((c) => Math.abs(out.providers.cpu.long.scores[c] - out.providers.webgpu.long.scores[c]))) };
  fs.writeFileSync(outFile, JSON.stringify(out, null, 1));
  console.log(JSON.stringify(out.parity), JSON.stringify(out.providers.webgpu.runs));
}
main().catch((e) => { console.error(e); process.exit(1); });
