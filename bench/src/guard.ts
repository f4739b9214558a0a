/**
 * `npm run bench:guard`: latency of POST /v1/guard for conversations of about 200 tokens, written
 * to bench/results/guard.json. One server (dist/main.js, embedded ClickHouse in a fresh directory,
 * the real pack): guard calls with no other load; then the sustained ingest capacity, measured as
 * bench:pipeline measures it (20 events per request as fast as accepted); then guard calls again
 * while events are ingested in the background at half that capacity. Measured, never asserted.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import type { RuntimePaths } from '../../src/config/runtime-paths';
import { keyHeader, metric, quantiles, startServer, waitReady } from './bench-pipeline';

type Event = Record<string, unknown> & { messages: Array<{ role: string; content: string }> };

/** About 200 tokens: four benchmark conversations (about 70 tokens each, less their system prompts) in one, under the first one's system prompt. */
function guardConversation(events: Event[], i: number): Record<string, unknown> {
  const parts = [0, 1, 2, 3].map((k) => events[(i * 4 + k) % events.length]);
  const messages = parts.flatMap((e, k) => e.messages.filter((m) => k === 0 || m.role !== 'system'));
  return { tenant: 'bench', source: 'bench-guard', model: 'any', messages };
}

interface GuardRun {
  calls: number;
  client_ms: ReturnType<typeof quantiles>;
  server_latency_ms: ReturnType<typeof quantiles>;
  avg_tokens: number;
  verdicts: Record<string, number>;
}

async function guardCalls(base: string, auth: Record<string, string>, events: Event[], n: number, offset: number): Promise<GuardRun> {
  const client: number[] = [];
  const server: number[] = [];
  const verdicts: Record<string, number> = {};
  let tokens = 0;
  for (let i = 0; i < n; i++) {
    const body = JSON.stringify(guardConversation(events, offset + i));
    const s = performance.now();
    const res = await fetch(`${base}/v1/guard`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body });
    const json = (await res.json()) as { verdict: string; latency_ms: number; tokens: number };
    client.push(performance.now() - s);
    if (res.status !== 200) throw new Error(`guard answered ${res.status}: ${JSON.stringify(json)}`);
    server.push(json.latency_ms);
    tokens += json.tokens;
    verdicts[json.verdict] = (verdicts[json.verdict] ?? 0) + 1;
  }
  return { calls: n, client_ms: quantiles(client), server_latency_ms: quantiles(server), avg_tokens: Math.round(tokens / n), verdicts };
}

async function scoredTotal(base: string): Promise<number> {
  return metric(await (await fetch(`${base}/metrics`)).text(), 'probewatch_events_scored_total');
}

/** Sustained throughput: `total` events, 20 per request as fast as accepted (429 + Retry-After honoured), until all are scored. */
async function capacity(base: string, auth: Record<string, string>, events: Event[], total: number): Promise<number> {
  const before = await scoredTotal(base);
  const t0 = Date.now();
  for (let i = 0; i < total; i += 20) {
    const batch = Array.from({ length: Math.min(20, total - i) }, (_, j) => ({ ...events[(i + j) % events.length], id: `cap-${i + j}`, timestamp: new Date().toISOString() }));
    for (;;) {
      const res = await fetch(`${base}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(batch) });
      await res.arrayBuffer();
      if (res.status === 202) break;
      if (res.status !== 429) throw new Error(`ingest answered ${res.status}`);
      await new Promise((w) => setTimeout(w, 1000 * Number(res.headers.get('retry-after') ?? 1)));
    }
  }
  while ((await scoredTotal(base)) < before + total) await new Promise((w) => setTimeout(w, 200));
  return total / ((Date.now() - t0) / 1000);
}

/** One event per request at `rate` events/s until `stop` resolves; counts what was accepted and refused. */
async function backgroundIngest(base: string, auth: Record<string, string>, events: Event[], rate: number, stop: Promise<void>): Promise<{ sent: number; refused_429: number }> {
  let stopped = false;
  void stop.then(() => (stopped = true));
  let sent = 0;
  let refused = 0;
  const t0 = Date.now();
  while (!stopped) {
    const due = t0 + (sent / rate) * 1000;
    if (due > Date.now()) await new Promise((w) => setTimeout(w, due - Date.now()));
    if (stopped) break;
    const e = { ...events[sent % events.length], id: `bg-${sent}`, timestamp: new Date().toISOString() };
    const res = await fetch(`${base}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(e) });
    await res.arrayBuffer();
    if (res.status === 429) refused++;
    sent++;
  }
  return { sent, refused_429: refused };
}

export async function benchGuard(paths: RuntimePaths, outFile: string, calls = 60): Promise<void> {
  const events = readFileSync(path.join(paths.projectRoot, 'bench', 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Event);
  const { base, child, store } = startServer(paths, paths.projectRoot, { PROBEWATCH_QUEUE_CAPACITY: '256' });
  try {
    await waitReady(base, child);
    const auth = keyHeader(store);
    await guardCalls(base, auth, events, 5, 1000); // warm-up
    const idle = await guardCalls(base, auth, events, calls, 0);
    const sustained = await capacity(base, auth, events, 200);
    const rate = Math.max(0.5, Math.round(sustained * 0.5 * 10) / 10);
    let stopBackground: () => void = () => undefined;
    const background = backgroundIngest(base, auth, events, rate, new Promise((r) => (stopBackground = r)));
    await new Promise((w) => setTimeout(w, 3000)); // let the background load settle in
    const loaded = await guardCalls(base, auth, events, calls, calls);
    stopBackground();
    const bg = await background;
    const text = await (await fetch(`${base}/metrics`)).text();
    const result = {
      generated_at: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, node: process.version },
      setup: { store: 'embedded ClickHouse (chDB), fresh directory', pack: 'default', provider: 'cpu', policy: 'guard.yaml of this checkout (or built-in)', conversation: 'four benchmark conversations in one (about 200 tokens)' },
      no_other_load: idle,
      sustained_ingest_events_per_s: Math.round(sustained * 100) / 100,
      under_background_ingest: { background_rate_events_per_s: rate, background_events_sent: bg.sent, background_refused_429: bg.refused_429, ...loaded },
      guard_seconds_count: metric(text, 'probewatch_guard_seconds_count'),
      note: 'client_ms: sequential POST /v1/guard calls from this process (priority lane in the batcher, then the accept-log fdatasync before the answer); server_latency_ms: the latency_ms the service reports. Under load a guard call waits for at most the batch each worker has in flight, never for the queue.',
    };
    mkdirSync(path.dirname(outFile), { recursive: true });
    writeFileSync(outFile, JSON.stringify(result, null, 2) + '\n');
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}
