/**
 * Worker thread that owns one ONNX Runtime session. `session.run()` blocks its thread for the
 * whole forward pass, so it never runs on the main event loop.
 *
 * A graph exported with a key/value cache (inputs past_key_<i> / past_value_<i>) reads a long
 * conversation by chunked prefill: `chunk` tokens at a time, each chunk attending to every
 * earlier token through the cache, so every token gets the residual one pass over the whole
 * conversation would give while attention memory stays chunk x context. The cache lives in this
 * thread for the duration of one request. A graph without cache inputs reads it in one pass.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

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
}

export type WorkerReply =
  | { type: 'ready'; cache: boolean }
  | { type: 'init-error'; message: string }
  | { type: 'result'; seq: number; hidden: Float32Array; ms: number; chunks: number }
  | { type: 'error'; seq: number; message: string };

interface Session {
  ort: ort.InferenceSession;
  init: WorkerInit;
  /** Number of transformer blocks with cache inputs (0: no cache). */
  blocks: number;
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
    session = { ort: s, init, blocks: s.inputNames.filter((n) => n.startsWith('past_key_')).length };
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
  port.postMessage({ type: 'ready', cache: session.blocks > 0 } satisfies WorkerReply);
}

function emptyCache(s: Session, batch: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (let i = 0; i < s.blocks; i++) {
    for (const kind of ['key', 'value']) feeds[`past_${kind}_${i}`] = new ort.Tensor('float32', new Float32Array(0), [batch, s.init.kvHeads, 0, s.init.headDim]);
  }
  return feeds;
}

async function runOne(s: Session, req: RunRequest): Promise<WorkerReply> {
  const t0 = performance.now();
  const out = s.init.outputName;
  try {
    if (s.blocks === 0 || req.batch > 1 || req.length <= req.chunk) {
      const feeds = {
        input_ids: new ort.Tensor('int64', req.ids, [req.batch, req.length]),
        attention_mask: new ort.Tensor('int64', req.mask, [req.batch, req.length]),
        ...(s.blocks > 0 ? emptyCache(s, req.batch) : {}),
      };
      const res = await s.ort.run(feeds, [out]);
      const data = res[out].data as Float32Array;
      // Copy into a fresh buffer we own so it can be transferred without touching ORT's memory.
      const hidden = new Float32Array(data.length);
      hidden.set(data);
      return { type: 'result', seq: req.seq, hidden, ms: performance.now() - t0, chunks: 1 };
    }
    // One long sequence, chunk by chunk through the cache.
    const present: string[] = [];
    for (let i = 0; i < s.blocks; i++) present.push(`present_key_${i}`, `present_value_${i}`);
    let past = emptyCache(s, 1);
    let hidden: Float32Array | null = null;
    let chunks = 0;
    for (let a = 0; a < req.length; a += req.chunk) {
      const b = Math.min(a + req.chunk, req.length);
      const feeds = {
        input_ids: new ort.Tensor('int64', req.ids.slice(a, b), [1, b - a]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(b).fill(1n), [1, b]),
        ...past,
      };
      const res = await s.ort.run(feeds, [out, ...present]);
      const data = res[out].data as Float32Array;
      hidden ??= new Float32Array((data.length / (b - a)) * req.length);
      hidden.set(data, (data.length / (b - a)) * a);
      past = {};
      for (const name of present) past[name.replace('present_', 'past_')] = res[name];
      chunks++;
    }
    return { type: 'result', seq: req.seq, hidden: hidden ?? new Float32Array(0), ms: performance.now() - t0, chunks };
  } catch (e) {
    return { type: 'error', seq: req.seq, message: (e as Error).message };
  }
}

void startWorker();
