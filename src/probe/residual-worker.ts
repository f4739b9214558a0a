/**
 * Worker thread that owns one ONNX Runtime session. `session.run()` blocks its thread for the
 * whole forward pass, so it never runs on the main event loop.
 *
 * A graph exported with a key/value cache (inputs past_key_<i> / past_value_<i>) reads a long
 * conversation by chunked prefill: `chunk` tokens at a time, each chunk attending to every
 * earlier token through the cache, so every token gets the residual one pass over the whole
 * conversation would give while attention memory stays chunk x context. A graph without cache
 * inputs reads it in one pass.
 *
 * Prefix reuse (issue 15): with a plan from the batcher (prefix-cache.ts) the thread also keeps
 * blocks of key/value state and residuals across requests (kv-block-store.ts). A lone sequence
 * whose leading blocks are held starts from them as `past_*` and computes only the rest; any
 * run, padded batches included (right padding leaves each row's leading positions as they would
 * be alone), leaves the new full blocks of its rows in the store.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

import { KvBlockStore } from './kv-block-store';
import type { PrefixPlan } from './prefix-cache';

export interface WorkerInit {
  modelPath: string;
  outputName: string;
  executionProvider: string;
  intraOpThreads: number;
  /** Key/value heads and head size of the model (for the cache tensors). */
  kvHeads: number;
  headDim: number;
}

export interface RunRequest {
  seq: number;
  ids: BigInt64Array;
  mask: BigInt64Array;
  batch: number;
  length: number;
  /** Prefill chunk size; a single sequence longer than this is read chunk by chunk. */
  chunk: number;
  /** Prefix cache work of this run (absent: the cache is off). */
  prefix?: PrefixPlan;
}

export type WorkerReply =
  | { type: 'ready'; cache: boolean; layers: number }
  | { type: 'init-error'; message: string }
  | { type: 'result'; seq: number; hidden: Float32Array; ms: number; chunks: number; reused: number; cacheBytes: number }
  | { type: 'error'; seq: number; message: string };

interface Session {
  ort: ort.InferenceSession;
  init: WorkerInit;
  /** Number of transformer blocks with cache inputs (0: no cache). */
  blocks: number;
  /** Prefix blocks kept across requests; created by the first plan. */
  store: KvBlockStore | null;
}

async function startWorker(): Promise<void> {
  const init = workerData as WorkerInit;
  const port = parentPort;
  if (!port) return;
  let session: Session;
  try {
    const options: ort.InferenceSession.SessionOptions = { executionProviders: [init.executionProvider], graphOptimizationLevel: 'all' };
    if (init.intraOpThreads > 0) options.intraOpNumThreads = init.intraOpThreads; // 0: ONNX Runtime's default
    const s = await ort.InferenceSession.create(init.modelPath, options);
    session = { ort: s, init, blocks: s.inputNames.filter((n) => n.startsWith('past_key_')).length, store: null };
  } catch (e) {
    port.postMessage({ type: 'init-error', message: (e as Error).message } satisfies WorkerReply);
    return;
  }
  port.on('message', (req: RunRequest) => {
    void runOne(session, req).then((reply) => {
      if (reply.type === 'result') port.postMessage(reply, [reply.hidden.buffer as ArrayBuffer]);
      else port.postMessage(reply);
    });
  });
  port.postMessage({ type: 'ready', cache: session.blocks > 0, layers: session.blocks } satisfies WorkerReply);
}

function emptyCache(s: Session, batch: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (let i = 0; i < s.blocks; i++) {
    for (const kind of ['key', 'value']) feeds[`past_${kind}_${i}`] = new ort.Tensor('float32', new Float32Array(0), [batch, s.init.kvHeads, 0, s.init.headDim]);
  }
  return feeds;
}

function presentNames(s: Session): string[] {
  const names: string[] = [];
  for (let i = 0; i < s.blocks; i++) names.push(`present_key_${i}`, `present_value_${i}`);
  return names;
}

function storeOf(s: Session, plan: PrefixPlan): KvBlockStore {
  s.store ??= new KvBlockStore({ layers: s.blocks, kvHeads: s.init.kvHeads, headDim: s.init.headDim }, plan.blockTokens);
  return s.store;
}

/** Keeps the plan's new blocks, cut out of the run's last present_* tensors and its residuals. */
function keepBlocks(s: Session, plan: PrefixPlan | undefined, present: ort.InferenceSession.OnnxValueMapType | null, hidden: Float32Array, batch: number, length: number): void {
  if (!plan || plan.store.length === 0 || !present) return;
  const store = storeOf(s, plan);
  const tensors = presentNames(s).map((n) => present[n].data as Float32Array);
  for (const b of plan.store) store.put(b.key, tensors, batch, b.row, b.block, hidden, length);
}

type Reply = (hidden: Float32Array, chunks: number, reused: number) => WorkerReply;

async function runOne(s: Session, req: RunRequest): Promise<WorkerReply> {
  const t0 = performance.now();
  const plan = s.blocks > 0 ? req.prefix : undefined;
  const store = plan ? storeOf(s, plan) : null;
  // Evictions first, whatever happens next: the batcher's index has already let them go.
  store?.evict(plan?.evict ?? []);
  const reply: Reply = (hidden, chunks, reused) =>
    ({ type: 'result', seq: req.seq, hidden, ms: performance.now() - t0, chunks, reused, cacheBytes: store?.bytes ?? 0 });
  try {
    return s.blocks === 0 || req.batch > 1 ? await runPadded(s, req, plan, reply) : await runPrefilled(s, req, plan, reply);
  } catch (e) {
    return { type: 'error', seq: req.seq, message: (e as Error).message };
  }
}

/** A padded batch (or a graph without cache inputs) in one pass. */
async function runPadded(s: Session, req: RunRequest, plan: PrefixPlan | undefined, reply: Reply): Promise<WorkerReply> {
  const out = s.init.outputName;
  const feeds = {
    input_ids: new ort.Tensor('int64', req.ids, [req.batch, req.length]),
    attention_mask: new ort.Tensor('int64', req.mask, [req.batch, req.length]),
    ...(s.blocks > 0 ? emptyCache(s, req.batch) : {}),
  };
  const keep = plan !== undefined && plan.store.length > 0;
  const res = await s.ort.run(feeds, keep ? [out, ...presentNames(s)] : [out]);
  const data = res[out].data as Float32Array;
  // Copy into a fresh buffer we own so it can be transferred without touching ORT's memory.
  const hidden = new Float32Array(data.length);
  hidden.set(data);
  keepBlocks(s, plan, keep ? res : null, hidden, req.batch, req.length);
  return reply(hidden, 1, 0);
}

/**
 * One sequence: its cached leading blocks (if any) as the first `past_*`, then the rest chunk by
 * chunk through the cache, each chunk attending to every earlier token.
 */
async function runPrefilled(s: Session, req: RunRequest, plan: PrefixPlan | undefined, reply: Reply): Promise<WorkerReply> {
  const out = s.init.outputName;
  const present = presentNames(s);
  const prefix = plan && plan.reuse.length > 0 ? storeOf(s, plan).read(plan.reuse) : null;
  const start = prefix?.tokens ?? 0;
  let past = emptyCache(s, 1);
  let hidden: Float32Array | null = null;
  if (prefix && start > 0) {
    present.forEach((name, t) => {
      past[name.replace('present_', 'past_')] = new ort.Tensor('float32', prefix.past[t], [1, s.init.kvHeads, start, s.init.headDim]);
    });
    hidden = new Float32Array((prefix.hidden.length / start) * req.length);
    hidden.set(prefix.hidden);
  }
  const keep = plan !== undefined && plan.store.length > 0;
  let last: ort.InferenceSession.OnnxValueMapType | null = null;
  let chunks = 0;
  for (let a = start; a < req.length; a += req.chunk) {
    const b = Math.min(a + req.chunk, req.length);
    const feeds = {
      input_ids: new ort.Tensor('int64', req.ids.slice(a, b), [1, b - a]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(b).fill(1n), [1, b]),
      ...past,
    };
    const more = b < req.length;
    const res = await s.ort.run(feeds, more || keep ? [out, ...present] : [out]);
    const data = res[out].data as Float32Array;
    const d = data.length / (b - a);
    hidden ??= new Float32Array(d * req.length);
    hidden.set(data, d * a);
    if (more) {
      past = {};
      for (const name of present) past[name.replace('present_', 'past_')] = res[name];
    }
    last = res;
    chunks++;
  }
  // The last run's present_* hold every position, the reused prefix's included.
  keepBlocks(s, plan, last, hidden ?? new Float32Array(0), 1, req.length);
  return reply(hidden ?? new Float32Array(0), chunks, start);
}

void startWorker();
