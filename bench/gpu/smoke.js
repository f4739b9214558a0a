// WebGPU execution provider of onnxruntime-node on the device: parity with CPU on the test fixture
// and on the SAE encoder's shape, and throughput (rows/s, GFLOP/s) for the SAE shape and a GEMM chain.
const ort = require('onnxruntime-node');
const { performance } = require('node:perf_hooks');
const out = {};
async function time(s, feeds, reps) {
  await s.run(feeds);
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await s.run(feeds);
  return (performance.now() - t0) / reps / 1000;
}
function maxDiff(a, b) { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i])); return m; }
(async () => {
  out.backends = ort.listSupportedBackends();
  // 1. the repository's tiny residual model
  const ids = new BigInt64Array([1n, 5n, 9n, 2n, 7n, 3n, 3n, 8n]);
  const feeds = { input_ids: new ort.Tensor('int64', ids, [2, 4]), attention_mask: new ort.Tensor('int64', new BigInt64Array(8).fill(1n), [2, 4]) };
  const cpuT = await ort.InferenceSession.create('test/fixtures/tiny-residual.onnx', { executionProviders: ['cpu'] });
  let gpuT;
  try {
    gpuT = await ort.InferenceSession.create('test/fixtures/tiny-residual.onnx', { executionProviders: ['webgpu'] });
  } catch (e) {
    out.webgpu_error = e.message.slice(0, 600);
    console.log(JSON.stringify(out, null, 1));
    return;
  }
  const a = (await cpuT.run(feeds)).hidden_1.data, b = (await gpuT.run(feeds)).hidden_1.data;
  out.tiny = { max_abs_diff: maxDiff(a, b), n: a.length };
  // 2. SAE encoder shape, 3. GEMM chain
  for (const [name, file, width, flopsPerRow, rows] of [['sae_encoder', '/tmp/sae.onnx', 576, 2 * 576 * 4096, [256, 4096, 32768]], ['gemm_chain', '/tmp/gemm.onnx', 2048, 4 * 2 * 2048 * 2048, [256, 4096, 16384]]]) {
    const cpu = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], intraOpNumThreads: 16 });
    const gpu = await ort.InferenceSession.create(file, { executionProviders: ['webgpu'] });
    const r = { parity: null, runs: [] };
    for (const n of rows) {
      const x = new Float32Array(n * width); for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37);
      const f = { x: new ort.Tensor('float32', x, [n, width]) };
      if (r.parity === null) { const c = (await cpu.run(f)).y.data, g = (await gpu.run(f)).y.data; let ref = 0; for (const v of c) ref = Math.max(ref, Math.abs(v)); r.parity = { max_abs_diff: maxDiff(c, g), max_abs_ref: ref, rows: n }; }
      const reps = n >= 16384 ? 5 : 20;
      const tc = await time(cpu, f, reps), tg = await time(gpu, f, reps);
      r.runs.push({ rows: n, cpu_rows_per_s: Math.round(n / tc), webgpu_rows_per_s: Math.round(n / tg), webgpu_gflops: Math.round(n * flopsPerRow / tg / 1e9), cpu_gflops: Math.round(n * flopsPerRow / tc / 1e9) });
    }
    out[name] = r;
  }
  console.log(JSON.stringify(out, null, 1));
})().catch((e) => { console.log(JSON.stringify(out)); console.error(e); process.exit(1); });
