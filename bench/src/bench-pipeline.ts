/**
 * `probewatch bench pipeline`: the whole service under HTTP load, written to
 * bench/results/pipeline.json. Starts the real server (embedded ClickHouse in a fresh
 * directory, the real pack), sends the benchmark events over HTTP at the rate the service
 * accepts (honouring 429 + Retry-After), and reads its own metrics.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import type { RuntimePaths } from '../../src/config/runtime-paths';
import { peakRssMb } from './proc-stats';

export function metric(text: string, name: string, labels = ''): number {
  const re = new RegExp(`^${name}${labels.replace(/[{}]/g, (c) => `\\${c}`)} ([0-9.eE+-]+)$`, 'm');
  const m = re.exec(text);
  return m ? Number(m[1]) : NaN;
}

export async function waitReady(base: string, child: ChildProcess): Promise<void> {
  const end = Date.now() + 600_000;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    const ok = await fetch(`${base}/readyz`).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('server did not become ready');
}

export function quantiles(ms: number[]): { p50: number; p90: number; p99: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number): number => Math.round((s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN) * 100) / 100;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) };
}

/** The key the server's first start wrote (access control is on, as in production). */
export function keyHeader(store: string): Record<string, string> {
  return { authorization: `Bearer ${readFileSync(path.join(store, 'admin.key'), 'utf8').trim()}` };
}

export function startServer(paths: RuntimePaths, serverRoot: string, extraEnv: Record<string, string>): { base: string; child: ChildProcess; store: string } {
  const port = 18000 + Math.floor(Math.random() * 1000);
  const store = mkdtempSync(path.join(os.tmpdir(), 'pw-bench-'));
  const child = spawn(process.execPath, [path.join(serverRoot, 'dist', 'main.js')], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', PROBEWATCH_CLICKHOUSE_DIR: path.join(store, 'clickhouse'), PROBEWATCH_ACCEPT_LOG_DIR: path.join(store, 'accept-log'), PROBEWATCH_DATA_DIR: paths.dataDir, PROBEWATCH_ADMIN_KEY_FILE: path.join(store, 'admin.key'), ...extraEnv },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return { base: `http://127.0.0.1:${port}`, child, store };
}

interface AckPhase {
  requests: number;
  events: number;
  concurrency: number;
  events_per_request: number;
  accepted_events_per_s: number;
  ingest_to_202_ms: { p50: number; p90: number; p99: number; max: number };
}

/**
 * ack: how fast `POST /v1/events` answers 202, apart from scoring (the queue is made large
 * enough that nothing is refused; the probe runs meanwhile and competes for the CPU, as it does
 * in production). With the accept log, 202 waits for the events to be on disk (fdatasync).
 */
async function ackPhase(paths: RuntimePaths, serverRoot: string, events: Array<Record<string, unknown>>, requests: number, perRequest: number, concurrency: number): Promise<AckPhase> {
  const { base, child, store } = startServer(paths, serverRoot, { PROBEWATCH_QUEUE_CAPACITY: String(requests * perRequest + 100), PROBEWATCH_MAX_BATCH: String(Math.max(100, perRequest)) });
  try {
    await waitReady(base, child);
    const latencies: number[] = [];
    let next = 0;
    const t0 = performance.now();
    const worker = async (): Promise<void> => {
      for (let r = next++; r < requests; r = next++) {
        const batch = Array.from({ length: perRequest }, (_, j) => {
          const e = events[(r * perRequest + j) % events.length];
          return { ...e, id: `${e.id as string}-ack-${r}-${j}`, timestamp: new Date().toISOString() };
        });
        const body = JSON.stringify(perRequest === 1 ? batch[0] : batch);
        const s = performance.now();
        const res = await fetch(`${base}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', ...keyHeader(store) }, body });
        await res.arrayBuffer();
        latencies.push(performance.now() - s);
        if (res.status !== 202) throw new Error(`ingest answered ${res.status}`);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const seconds = (performance.now() - t0) / 1000;
    return {
      requests, events: requests * perRequest, concurrency, events_per_request: perRequest,
      accepted_events_per_s: Math.round((requests * perRequest) / seconds), ingest_to_202_ms: quantiles(latencies),
    };
  } finally {
    // The backlog is not scored: this phase measures acknowledgement only.
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
  }
}

interface Phase {
  ingest_to_202_ms: { p50: number; p90: number; p99: number; max: number };
  events_per_s: number;
  seconds: number;
  events: number;
  throttled_requests_429: number;
  ingest_to_stored_seconds: { p50: number; p90: number; p99: number };
  peak_rss_mb: { idle_after_start: number; end: number };
  probe_share_of_ingest_to_stored: number;
  probe: { batches: number; tokens: number };
}

/**
 * saturate: send as fast as the service accepts (20 events per request, honouring 429), which
 * measures sustained throughput; latency then is mostly queueing. paced: one event per request
 * at `rate` events/s, which measures latency under a load the service keeps up with.
 */
async function runPhase(paths: RuntimePaths, serverRoot: string, events: Array<Record<string, unknown>>, mode: 'saturate' | 'paced', total: number, rate: number): Promise<Phase> {
  const { base, child, store } = startServer(paths, serverRoot, { PROBEWATCH_QUEUE_CAPACITY: '256' });
  const acks: number[] = [];
  try {
    await waitReady(base, child);
    const rssIdle = peakRssMb(child.pid as number);
    let throttled = 0;
    const t0 = Date.now();
    const step = mode === 'saturate' ? 20 : 1;
    for (let i = 0; i < total; i += step) {
      const batch = Array.from({ length: Math.min(step, total - i) }, (_, j) => {
        const e = events[(i + j) % events.length];
        return { ...e, id: `${e.id as string}-${mode}-${i + j}`, timestamp: new Date().toISOString() };
      });
      if (mode === 'paced') {
        const due = t0 + (i / rate) * 1000;
        if (due > Date.now()) await new Promise((w) => setTimeout(w, due - Date.now()));
      }
      for (;;) {
        const s = performance.now();
        const res = await fetch(`${base}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', ...keyHeader(store) }, body: JSON.stringify(batch) });
        if (res.status === 202) {
          await res.arrayBuffer();
          acks.push(performance.now() - s);
          break;
        }
        if (res.status !== 429) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
        throttled++;
        await new Promise((w) => setTimeout(w, 1000 * Number(res.headers.get('retry-after') ?? 1)));
      }
    }
    let text = '';
    for (;;) {
      text = await (await fetch(`${base}/metrics`)).text();
      if (metric(text, 'probewatch_events_scored_total') >= total) break;
      await new Promise((w) => setTimeout(w, 200));
    }
    const seconds = (Date.now() - t0) / 1000;
    const q = (p: string): number => metric(text, 'probewatch_ingest_to_stored_quantiles_seconds', `{quantile="${p}"}`);
    const probeSum = metric(text, 'probewatch_probe_seconds_sum');
    const e2eSum = metric(text, 'probewatch_ingest_to_stored_seconds_sum');
    const r3 = (v: number): number => Math.round(v * 1000) / 1000;
    return {
      ingest_to_202_ms: quantiles(acks),
      events_per_s: Math.round((total / seconds) * 100) / 100,
      seconds: r3(seconds),
      events: total,
      throttled_requests_429: throttled,
      ingest_to_stored_seconds: { p50: r3(q('0.5')), p90: r3(q('0.9')), p99: r3(q('0.99')) },
      peak_rss_mb: { idle_after_start: Math.round(rssIdle), end: Math.round(peakRssMb(child.pid as number)) },
      probe_share_of_ingest_to_stored: r3(probeSum / e2eSum),
      probe: { batches: metric(text, 'probewatch_probe_batches_total'), tokens: metric(text, 'probewatch_probe_tokens_total') },
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

/**
 * `serverRoot`: the checkout whose `dist/main.js` is measured (default: this one). Pointing it at
 * a build of an earlier commit gives the before/after of a change with the same client.
 */
export async function benchPipeline(paths: RuntimePaths, outFile: string, rounds: number, serverRoot: string = paths.projectRoot): Promise<void> {
  const events = readFileSync(path.join(paths.projectRoot, 'bench', 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const ackSingle = await ackPhase(paths, serverRoot, events, 400, 1, 8);
  const ackBatch = await ackPhase(paths, serverRoot, events, 40, 20, 4);
  const saturate = await runPhase(paths, serverRoot, events, 'saturate', events.length * rounds, 0);
  const rate = Math.max(0.5, Math.round(saturate.events_per_s * 0.5 * 10) / 10);
  const paced = await runPhase(paths, serverRoot, events, 'paced', Math.min(events.length, Math.round(rate * 30)), rate);
  const result = {
    generated_at: new Date().toISOString(),
    server: serverRoot === paths.projectRoot ? 'this checkout' : serverRoot,
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, node: process.version },
    acknowledgement: {
      single_event_requests: ackSingle,
      batches_of_20: ackBatch,
      note: 'client-measured time to 202 while the probe works through the backlog on the same 2 cores; with the accept log, 202 follows an fdatasync (group commit)',
    },
    setup: { store: 'embedded ClickHouse (chDB), fresh directory per phase', pack: 'default', provider: 'cpu', queue_capacity: 256, content_policy: 'redacted' },
    sustained_events_per_s: saturate.events_per_s,
    saturated: { ...saturate, note: 'open-loop overload: 20 events per request as fast as accepted (429 + Retry-After honoured); latency is mostly queueing' },
    paced_at_half_capacity: { rate_events_per_s: rate, ...paced, note: 'one event per request at half the sustained rate: latency a user sees when the service keeps up' },
    probe_share_note: 'sum of per-event probe time (tokenize, wait for a batch, infer, score) over sum of ingest-to-stored time; the rest is queueing before the probe, rules and the batched ClickHouse write',
  };
  mkdirSync(path.dirname(outFile), { recursive: true });
  writeFileSync(outFile, JSON.stringify(result, null, 2) + '\n');
}
