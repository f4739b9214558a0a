/**
 * Client of the redaction worker (redaction-worker.ts). Fails closed: a crashed, stuck or
 * unloadable worker rejects the scan with RedactionUnavailableError rather than letting text
 * through unscanned; the next scan starts a fresh worker.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

import type { ScanReply, ScanRequest } from './redaction-worker';
import type { SensitiveSpan } from './sensitive-span';

export class RedactionUnavailableError extends Error {
  readonly code = 'REDACTION_UNAVAILABLE';
}

export interface SpanScanner {
  /** Merged, sorted spans of each text, in the order given. */
  scan(texts: readonly string[]): Promise<SensitiveSpan[][]>;
}

export interface WorkerScannerOptions {
  /** Time a scan may take before the worker is presumed stuck: a base, plus per MB of text. */
  timeoutMs: number;
  timeoutMsPerMb: number;
}

const DEFAULTS: WorkerScannerOptions = { timeoutMs: 10_000, timeoutMsPerMb: 20_000 };

interface Pending {
  resolve: (spans: SensitiveSpan[][]) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class WorkerSpanScanner implements SpanScanner {
  /** The worker in use or starting; events of a worker that is no longer `current` are ignored. */
  private current: Worker | null = null;
  private ready: Promise<Worker> | null = null;
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  private readonly opts: WorkerScannerOptions;

  constructor(options: Partial<WorkerScannerOptions> = {}) {
    this.opts = { ...DEFAULTS, ...options };
  }

  async scan(texts: readonly string[]): Promise<SensitiveSpan[][]> {
    if (texts.every((t) => t.length === 0)) return texts.map(() => []);
    const worker = await this.ensureWorker();
    const seq = ++this.seq;
    const chars = texts.reduce((n, t) => n + t.length, 0);
    const timeoutMs = this.opts.timeoutMs + (this.opts.timeoutMsPerMb * chars) / 1_000_000;
    return new Promise<SensitiveSpan[][]>((resolve, reject) => {
      // The timer also keeps the process alive while a scan is in flight (the worker is unref'd).
      const timer = setTimeout(() => this.onGone(worker, new RedactionUnavailableError('redaction scan timed out')), timeoutMs);
      this.pending.set(seq, { resolve, reject, timer });
      worker.postMessage({ seq, texts: [...texts] } satisfies ScanRequest);
    });
  }

  /** Starts the worker now rather than on the first scan (loading secretlint takes ~100 ms). */
  async start(): Promise<void> {
    await this.ensureWorker();
  }

  async close(): Promise<void> {
    const w = this.current;
    this.current = null;
    this.ready = null;
    this.failAll(new RedactionUnavailableError('redaction scanner closed'));
    if (w) await w.terminate();
  }

  private ensureWorker(): Promise<Worker> {
    this.ready ??= this.spawn();
    return this.ready;
  }

  private spawn(): Promise<Worker> {
    const file = path.join(__dirname, __filename.endsWith('.ts') ? 'redaction-worker.ts' : 'redaction-worker.js');
    // Under ts-jest the worker source is TypeScript; register ts-node's transpiler only then.
    const execArgv = file.endsWith('.ts') ? ['-r', 'ts-node/register/transpile-only'] : undefined;
    const worker = new Worker(file, { execArgv });
    this.current = worker;
    return new Promise<Worker>((resolve, reject) => {
      const fail = (e: Error): void => {
        clearTimeout(timer);
        reject(e);
        this.onGone(worker, e);
      };
      const timer = setTimeout(() => fail(new RedactionUnavailableError('redaction worker did not start')), this.opts.timeoutMs);
      worker.on('message', (msg: ScanReply) => {
        if (msg.type === 'ready') {
          clearTimeout(timer);
          // An idle scanner must not keep the process alive.
          worker.unref();
          resolve(worker);
        } else if (msg.type === 'init-error') {
          fail(new RedactionUnavailableError(`redaction worker could not load secretlint: ${msg.message}`));
        } else {
          this.settle(msg.seq, msg.type === 'result' ? msg.spans : new RedactionUnavailableError(`redaction scan failed: ${msg.message}`));
        }
      });
      worker.on('error', (e) => fail(new RedactionUnavailableError(`redaction worker failed: ${e.message}`)));
      worker.on('exit', (code) => fail(new RedactionUnavailableError(`redaction worker exited (${code})`)));
    });
  }

  private settle(seq: number, outcome: SensitiveSpan[][] | Error): void {
    const p = this.pending.get(seq);
    if (!p) return;
    this.pending.delete(seq);
    clearTimeout(p.timer);
    if (outcome instanceof Error) p.reject(outcome);
    else p.resolve(outcome);
  }

  /** The worker died, hung or failed to load: fail its scans; the next scan starts a new one. */
  private onGone(worker: Worker, e: Error): void {
    if (worker !== this.current) return;
    this.current = null;
    this.ready = null;
    this.failAll(e);
    void worker.terminate();
  }

  private failAll(e: Error): void {
    for (const [seq, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(seq);
      p.reject(e);
    }
  }
}

let shared: WorkerSpanScanner | null = null;

/** The process-wide scanner (one worker thread); redaction uses it unless given another. */
export function sharedSpanScanner(): WorkerSpanScanner {
  shared ??= new WorkerSpanScanner();
  return shared;
}

/** For shutdown and tests: stops the shared worker (a later scan starts a new one). */
export async function closeSharedSpanScanner(): Promise<void> {
  const s = shared;
  shared = null;
  if (s) await s.close();
}
