/**
 * Worker thread that owns one ONNX Runtime session. `session.run()` blocks its thread for the
 * whole forward pass, so it never runs on the main event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

export interface WorkerInit {
  modelPath: string;
  outputName: string;
  executionProvider: string;
  intraOpThreads: number;
}

export interface RunRequest {
  seq: number;
  ids: BigInt64Array;
  mask: BigInt64Array;
  batch: number;
  length: number;
}

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'init-error'; message: string }
  | { type: 'result'; seq: number; hidden: Float32Array; ms: number }
  | { type: 'error'; seq: number; message: string };

async function startWorker(): Promise<void> {
  const init = workerData as WorkerInit;
  const port = parentPort;
  if (!port) return;
  let session: ort.InferenceSession;
  try {
    const options: ort.InferenceSession.SessionOptions = { executionProviders: [init.executionProvider], graphOptimizationLevel: 'all' };
    if (init.intraOpThreads > 0) options.intraOpNumThreads = init.intraOpThreads; // 0: ONNX Runtime's default
    session = await ort.InferenceSession.create(init.modelPath, options);
  } catch (e) {
    port.postMessage({ type: 'init-error', message: (e as Error).message } satisfies WorkerReply);
    return;
  }
  port.on('message', (req: RunRequest) => {
    void runOne(session, init.outputName, req).then((reply) => {
      if (reply.type === 'result') port.postMessage(reply, [reply.hidden.buffer as ArrayBuffer]);
      else port.postMessage(reply);
    });
  });
  port.postMessage({ type: 'ready' } satisfies WorkerReply);
}

async function runOne(session: ort.InferenceSession, outputName: string, req: RunRequest): Promise<WorkerReply> {
  const t0 = performance.now();
  try {
    const feeds = {
      input_ids: new ort.Tensor('int64', req.ids, [req.batch, req.length]),
      attention_mask: new ort.Tensor('int64', req.mask, [req.batch, req.length]),
    };
    const out = await session.run(feeds, [outputName]);
    const data = out[outputName].data as Float32Array;
    // Copy into a fresh buffer we own so it can be transferred without touching ORT's memory.
    const hidden = new Float32Array(data.length);
    hidden.set(data);
    return { type: 'result', seq: req.seq, hidden, ms: performance.now() - t0 };
  } catch (e) {
    return { type: 'error', seq: req.seq, message: (e as Error).message };
  }
}

void startWorker();
