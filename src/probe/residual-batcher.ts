/**
 * Dynamic batching of conversations onto a pool of ONNX Runtime worker threads.
 *
 * A conversation of at most `chunkTokens` tokens is batched with others; a longer one is a batch
 * of its own, which the worker reads by chunked prefill (residual-worker.ts). Conversations queue up until the padded batch would exceed `tokenBudget` tokens or the oldest has
 * waited `maxWaitMs`; each flush is sorted by length so padding stays small. One batch per
 * worker is in flight at a time; the rest wait in the queue (bounded by `maxQueuedWindows`).
 * Priority conversations (the inline guard) skip that: the next free worker takes them at once,
 * in a batch of their own, ahead of whatever is queued; their caller bounds how many there are.
 *
 * With `prefixCacheBytes` (issue 15) each worker also keeps blocks of key/value state across
 * requests (prefix-cache.ts): a conversation whose leading blocks a worker holds runs alone on
 * that worker (when idle) and computes only the rest; one starting with the same block as a
 * conversation already in the batch waits for the next run, to reuse that block.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

import { PrefixCachePlanner, PrefixCacheStats, tokenBytes } from './prefix-cache';
import type { RunRequest, WorkerInit, WorkerReply } from './residual-worker';

export interface BatcherOptions {
  modelPath: string;
  outputName: string;
  dModel: number;
  padId: number;
  executionProvider: string;
  /** Key/value heads and head size of the model (the worker's cache tensors). */
  kvHeads: number;
  headDim: number;
  /** Prefill chunk: longer conversations run alone, chunk by chunk. */
  chunkTokens: number;
  workers: number;
  intraOpThreads: number;
  tokenBudget: number;
  maxWaitMs: number;
  maxQueuedWindows: number;
  /** Prefix cache budget per worker in bytes (absent or 0: off; also off for a graph without
   *  key/value cache inputs). */
  prefixCacheBytes?: number;
  /** Tokens per cached block (default 32). */
  prefixBlockTokens?: number;
}

export class ExecutionProviderError extends Error {
  readonly code = 'EXECUTION_PROVIDER';
}

export class QueueFullError extends Error {
  readonly code = 'QUEUE_FULL';
}

interface Pending {
  ids: readonly number[];
  resolve: (hidden: Float32Array) => void;
  reject: (e: Error) => void;
  enqueuedAt: number;
  priority: boolean;
  /** Read and fill the prefix cache (false for a truncated conversation). */
  cache: boolean;
}

interface Slot {
  worker: Worker;
  busy: boolean;
}

export interface BatchStats {
  batches: number;
  windows: number;
  tokens: number;
  paddedTokens: number;
  inferenceMs: number;
  /** Forward passes of long conversations read chunk by chunk (one per chunk). */
  chunks: number;
}

/** Prefix cache counters (all zero when it is off). `bytes`: cached tensors the workers hold. */
export interface PrefixCacheReport extends PrefixCacheStats {
  enabled: boolean;
  bytes: number;
  budgetBytes: number;
}

export class ResidualBatcher {
  private readonly queue: Pending[] = [];
  private readonly slots: Slot[] = [];
  private readonly inflight = new Map<number, { items: Pending[]; length: number }>();
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  readonly stats: BatchStats = { batches: 0, windows: 0, tokens: 0, paddedTokens: 0, inferenceMs: 0, chunks: 0 };
  /** Null when the prefix cache is off. */
  private prefix: PrefixCachePlanner<Slot> | null = null;
  /** Cached bytes each worker reported after its last run (the index's figure, measured). */
  private readonly heldBytes = new Map<Slot, number>();
  private cacheLayers = 0;

  private constructor(private readonly opts: BatcherOptions) {}

  static async start(opts: BatcherOptions): Promise<ResidualBatcher> {
    const b = new ResidualBatcher(opts);
    const workerFile = path.join(__dirname, __filename.endsWith('.ts') ? 'residual-worker.ts' : 'residual-worker.js');
    const init: WorkerInit = {
      modelPath: opts.modelPath,
      outputName: opts.outputName,
      executionProvider: opts.executionProvider,
      intraOpThreads: opts.intraOpThreads,
      kvHeads: opts.kvHeads,
      headDim: opts.headDim,
    };
    const ready = Array.from({ length: Math.max(1, opts.workers) }, () => b.spawn(workerFile, init));
    try {
      await Promise.all(ready);
    } catch (e) {
      await b.close();
      throw e;
    }
    b.startPrefixCache();
    return b;
  }

  /** The prefix cache needs a graph with key/value cache inputs (reported by the workers). */
  private startPrefixCache(): void {
    const budget = this.opts.prefixCacheBytes ?? 0;
    if (budget <= 0 || this.cacheLayers === 0) return;
    const blockTokens = this.opts.prefixBlockTokens ?? 32;
    const perToken = tokenBytes(this.cacheLayers, this.opts.kvHeads, this.opts.headDim, this.opts.dModel);
    this.prefix = new PrefixCachePlanner<Slot>(blockTokens, blockTokens * perToken, budget);
  }

  get prefixStats(): PrefixCacheReport {
    const p = this.prefix;
    let bytes = 0;
    for (const n of this.heldBytes.values()) bytes += n;
    return { enabled: p !== null, hitTokens: p?.stats.hitTokens ?? 0, missTokens: p?.stats.missTokens ?? 0, evictedBlocks: p?.stats.evictedBlocks ?? 0, bytes, budgetBytes: p?.budgetBytes ?? 0 };
  }

  private spawn(file: string, init: WorkerInit): Promise<void> {
    // Under ts-jest the worker source is TypeScript; register ts-node's transpiler only then.
    const execArgv = file.endsWith('.ts') ? ['-r', 'ts-node/register/transpile-only'] : undefined;
    const worker = new Worker(file, { workerData: init, execArgv });
    const slot: Slot = { worker, busy: false };
    return new Promise((resolve, reject) => {
      worker.on('message', (msg: WorkerReply) => {
        if (msg.type === 'ready') {
          this.cacheLayers = msg.layers;
          this.slots.push(slot);
          resolve();
          this.pump();
        } else if (msg.type === 'init-error') {
          reject(new ExecutionProviderError(`execution provider '${init.executionProvider}' could not start: ${msg.message}`));
        } else {
          this.onReply(slot, msg);
        }
      });
      worker.on('error', (e) => {
        reject(e);
        this.failAll(e);
      });
    });
  }

  /** Residuals [length, dModel] for one conversation's token ids, read in one context.
   *  `prefixCache: false`: neither read nor fill the prefix cache (a truncated conversation). */
  run(ids: readonly number[], opts: { priority?: boolean; prefixCache?: boolean } = {}): Promise<Float32Array> {
    const priority = opts.priority === true;
    if (this.closed) return Promise.reject(new Error('batcher is closed'));
    if (!priority && this.queue.length >= this.opts.maxQueuedWindows) return Promise.reject(new QueueFullError('probe queue is full'));
    return new Promise((resolve, reject) => {
      this.queue.push({ ids, resolve, reject, enqueuedAt: Date.now(), priority, cache: opts.prefixCache !== false });
      this.pump();
    });
  }

  get queued(): number {
    return this.queue.length;
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const slot = this.slots.find((s) => !s.busy);
      if (!slot) return;
      if (this.queue.some((p) => p.priority)) {
        this.dispatch(slot, this.takeBatch(true));
        continue;
      }
      const oldestWait = Date.now() - this.queue[0].enqueuedAt;
      const queuedTokens = this.queue.reduce((n, p) => n + p.ids.length, 0);
      if (queuedTokens < this.opts.tokenBudget && oldestWait < this.opts.maxWaitMs) {
        this.armTimer(this.opts.maxWaitMs - oldestWait);
        return;
      }
      this.dispatch(slot, this.takeBatch(false));
    }
  }

  private armTimer(ms: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.pump();
    }, Math.max(0, ms));
  }

  /** Longest-first greedy fill of the token budget (padded size = batch x longest); a
   *  conversation longer than a prefill chunk goes alone. Priority work never shares a batch with
   *  the backlog (that would make the guard wait for the backlog's compute). With the prefix
   *  cache, a conversation with a cached prefix also goes alone (the cache is read by lone runs
   *  only), and one sharing its first block with a conversation taken waits (PrefixCachePlanner). */
  private takeBatch(priority: boolean): Pending[] {
    const sorted = this.queue.filter((p) => p.priority === priority).sort((a, b) => b.ids.length - a.ids.length);
    if (sorted[0].ids.length > this.opts.chunkTokens || (this.prefix?.cachedTokens(sorted[0]) ?? 0) > 0) {
      this.queue.splice(this.queue.indexOf(sorted[0]), 1);
      return [sorted[0]];
    }
    const taken: Pending[] = [];
    let longest = 0;
    for (const p of sorted) {
      const l = Math.max(longest, p.ids.length);
      if (taken.length > 0 && (taken.length + 1) * l > this.opts.tokenBudget) continue;
      if (taken.length > 0 && this.prefix && !this.prefix.batchable(p, taken)) continue;
      taken.push(p);
      longest = l;
    }
    const set = new Set(taken);
    for (let i = this.queue.length - 1; i >= 0; i--) if (set.has(this.queue[i])) this.queue.splice(i, 1);
    return taken;
  }

  private dispatch(slot: Slot, items: Pending[]): void {
    // A lone conversation goes to the idle worker holding most of its prefix.
    if (this.prefix) slot = this.prefix.slotFor(items, this.slots.filter((s) => !s.busy), slot);
    const length = Math.max(...items.map((p) => p.ids.length));
    const ids = new BigInt64Array(items.length * length).fill(BigInt(this.opts.padId));
    const mask = new BigInt64Array(items.length * length);
    items.forEach((p, b) => {
      for (let t = 0; t < p.ids.length; t++) {
        ids[b * length + t] = BigInt(p.ids[t]);
        mask[b * length + t] = 1n;
      }
    });
    const seq = ++this.seq;
    this.inflight.set(seq, { items, length });
    slot.busy = true;
    const req: RunRequest = { seq, ids, mask, batch: items.length, length, chunk: this.opts.chunkTokens, prefix: this.prefix?.plan(seq, slot, items) };
    slot.worker.postMessage(req, [ids.buffer as ArrayBuffer, mask.buffer as ArrayBuffer]);
    this.stats.batches++;
    this.stats.windows += items.length;
    this.stats.tokens += items.reduce((n, p) => n + p.ids.length, 0);
    this.stats.paddedTokens += items.length * length;
  }

  private onReply(slot: Slot, msg: WorkerReply): void {
    slot.busy = false;
    if (msg.type !== 'result' && msg.type !== 'error') return;
    const job = this.inflight.get(msg.seq);
    this.inflight.delete(msg.seq);
    this.prefix?.settle(msg.seq, msg.type === 'result' ? msg.reused : null);
    if (msg.type === 'result' && this.prefix) this.heldBytes.set(slot, msg.cacheBytes);
    if (job) {
      if (msg.type === 'error') {
        for (const p of job.items) p.reject(new Error(`inference failed: ${msg.message}`));
      } else {
        this.stats.inferenceMs += msg.ms;
        if (msg.chunks > 1) this.stats.chunks += msg.chunks;
        const d = this.opts.dModel;
        job.items.forEach((p, b) => p.resolve(msg.hidden.slice(b * job.length * d, (b * job.length + p.ids.length) * d)));
      }
    }
    this.pump();
  }

  private failAll(e: Error): void {
    for (const p of this.queue.splice(0)) p.reject(e);
    for (const job of this.inflight.values()) for (const p of job.items) p.reject(e);
    this.inflight.clear();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.failAll(new Error('batcher closed'));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots.length = 0;
  }
}
