/**
 * `npm run bench:alerts`: alert delivery, written to bench/results/alerts.json.
 *
 * 1. delivery: alerts raised into the dispatcher (routing, grouping, the notification log on
 *    embedded ClickHouse) and sent by the delivery worker to a local webhook that answers at once:
 *    notifications/s, and p50/p99 from the alert being raised to the webhook receiving it.
 * 2. ingest: the real service (real pack and model) fed over HTTP with a rule that fires on every
 *    event, once with a receiver that answers each notification after 5 s and once with no
 *    receiver: scored events/s in both (notification is off the ingest path, so they should match).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import { readAlertingConfig } from '../../src/alerts/alerting/alerting-config';
import { DeliveryWorker } from '../../src/alerts/delivery/delivery-worker';
import { AlertDispatcher } from '../../src/alerts/delivery/dispatcher';
import { findProjectRoot, resolveRuntimePaths } from '../../src/config/runtime-paths';
import { Alert, alertId, fingerprint } from '../../src/domain/alert';
import { AlertDeliveryRepository } from '../../src/storage/alert-delivery.repository';
import { openClickHouse } from '../../src/storage/clickhouse-client';
import { loadMigrations, migrate } from '../../src/storage/migrator';

const root = findProjectRoot();
const say = (m: string): void => void process.stderr.write(`bench alerts: ${m}\n`);

function quantiles(ms: number[]): { p50: number; p90: number; p99: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number): number => Math.round((s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN) * 10) / 10;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) };
}

/** A webhook that answers after `delayMs` and calls `onAlert` for each alert it receives. */
async function webhook(delayMs: number, onAlert: (fp: string) => void = () => undefined): Promise<{ url: string; server: Server; requests: () => number }> {
  let n = 0;
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      n++;
      try {
        for (const a of (JSON.parse(raw) as { alerts: Array<{ fingerprint: string }> }).alerts) onAlert(a.fingerprint);
      } catch {
        // counted all the same
      }
      setTimeout(() => res.writeHead(200).end('ok'), delayMs).unref();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, requests: () => n };
}

/** `perSecond` 0: all at once (a burst); otherwise raised at that pace. */
async function delivery(alertsN: number, tickMs: number, perSecond = 0): Promise<Record<string, unknown>> {
  const raisedAt = new Map<string, number>();
  const latencies: number[] = [];
  let last = 0;
  const hook = await webhook(0, (fp) => {
    const t = raisedAt.get(fp);
    if (t !== undefined && raisedAt.delete(fp)) {
      last = performance.now();
      latencies.push(last - t);
    }
  });
  const client = await openClickHouse({ kind: 'embedded', location: path.join(mkdtempSync(path.join(os.tmpdir(), 'pw-bench-alerts-')), 'db'), database: 'bench' });
  await migrate(client, loadMigrations(path.join(root, 'src', 'storage', 'migrations')));
  const { config } = readAlertingConfig('alerting.yaml', `
route: {receiver: hook, group_by: ['...'], group_wait: 0s, group_interval: 5m, repeat_interval: 4h}
receivers:
  - name: hook
    webhook_configs: [{url: '${hook.url}/hook'}]
`, {});
  const repo = new AlertDeliveryRepository(client);
  const worker = new DeliveryWorker(repo, () => config!, 'bench', { kafka: null }, { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000, concurrency: 16, pollMs: tickMs });
  const d = new AlertDispatcher({ repo, config: () => config!, evidence: async () => null, latestAlerts: async () => [], silences: () => [], instance: 'bench',
    externalURL: 'http://bench', onQueued: () => worker.wake() });
  worker.start();
  let ticking = true;
  const loop = async (): Promise<void> => {
    while (ticking) {
      await d.tick();
      await new Promise((r) => setTimeout(r, tickMs));
    }
  };
  const ticker = loop();
  const t0 = performance.now();
  // As events raise them: a few alerts at a time, each its own series (tenant and rule vary).
  for (let i = 0; i < alertsN; i += 10) {
    const batch: Alert[] = [];
    for (let j = i; j < Math.min(alertsN, i + 10); j++) {
      const labels = { alertname: `Rule ${j % 20}`, severity: 'high', tenant: `t${j}` };
      const fp = fingerprint(labels);
      const at = new Date().toISOString();
      batch.push({ alert_id: alertId(fp, `e${j}`), fingerprint: fp, rule: labels.alertname, severity: 'high', labels, annotations: {}, value: 1, event_id: `e${j}`, tenant: labels.tenant, starts_at: at, ts: at, kind: 'event' });
      raisedAt.set(fp, performance.now());
    }
    await d.raised(batch);
    if (perSecond) {
      const due = t0 + ((i + 10) / perSecond) * 1000;
      await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
    } else {
      await new Promise((r) => setImmediate(r));
    }
  }
  const end = Date.now() + 600_000;
  while (raisedAt.size && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  ticking = false;
  await ticker;
  await worker.stop();
  hook.server.close();
  await client.close();
  const seconds = (last - t0) / 1000;
  return {
    alerts: alertsN,
    delivered: latencies.length,
    notifications: hook.requests(),
    tick_ms: tickMs,
    raised: perSecond ? `${perSecond} alerts/s` : 'all at once',
    notifications_per_s: Math.round((hook.requests() / seconds) * 10) / 10,
    raised_to_delivered_ms: quantiles(latencies),
  };
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name} ([0-9.eE+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

async function ingest(label: string, receiverDelayMs: number | null, events: Array<Record<string, unknown>>): Promise<Record<string, unknown>> {
  const paths = resolveRuntimePaths();
  const dir = mkdtempSync(path.join(os.tmpdir(), `pw-bench-ingest-${label}-`));
  const hook = receiverDelayMs === null ? null : await webhook(receiverDelayMs);
  mkdirSync(path.join(dir, 'rules'));
  writeFileSync(path.join(dir, 'rules', 'every.yaml'), `apiVersion: probewatch/v1
engine: ">=1.1"
rules:
  - rule: Every Event
    desc: fires on every event (benchmark)
    severity: high
    tags: [sandbox]
    condition: concept.harmful_intent.score >= 0
    labels: {concept: harmful_intent}
`);
  writeFileSync(path.join(dir, 'alerting.yaml'), hook
    ? `route: {receiver: slow, group_by: ['...'], group_wait: 0s, group_interval: 1s, repeat_interval: 4h}\nreceivers:\n  - name: slow\n    webhook_configs: [{url: '${hook.url}/slow', timeout: 30s}]\n`
    : 'route: {receiver: none}\nreceivers:\n  - name: none\n');
  const port = 18000 + Math.floor(Math.random() * 1000);
  const base = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(process.execPath, [path.join(root, 'dist', 'main.js')], {
    env: {
      ...process.env, PORT: String(port), HOST: '127.0.0.1', PROBEWATCH_DATA_DIR: paths.dataDir, PROBEWATCH_CLICKHOUSE_DIR: path.join(dir, 'clickhouse'),
      PROBEWATCH_ACCEPT_LOG_DIR: path.join(dir, 'accept-log'), PROBEWATCH_RULES_DIR: path.join(dir, 'rules'), PROBEWATCH_ALERTING_FILE: path.join(dir, 'alerting.yaml'),
      PROBEWATCH_QUEUE_CAPACITY: '100000', PROBEWATCH_ADMIN_KEY_FILE: path.join(dir, 'admin.key'),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    const ready = Date.now() + 600_000;
    while (!(await fetch(`${base}/readyz`).then((r) => r.ok, () => false))) {
      if (child.exitCode !== null || Date.now() > ready) throw new Error('the server did not start');
      await new Promise((r) => setTimeout(r, 500));
    }
    const auth = { authorization: `Bearer ${readFileSync(path.join(dir, 'admin.key'), 'utf8').trim()}` };
    const t0 = performance.now();
    for (let i = 0; i < events.length; i += 10) {
      const res = await fetch(`${base}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(events.slice(i, i + 10)) });
      if (res.status !== 202) throw new Error(`POST /v1/events answered ${res.status}`);
    }
    const accepted = performance.now();
    let scored = 0;
    while (scored < events.length) {
      await new Promise((r) => setTimeout(r, 200));
      scored = metric(await (await fetch(`${base}/metrics`)).text(), 'probewatch_events_scored_total');
    }
    const seconds = (performance.now() - t0) / 1000;
    const notifications = hook ? hook.requests() : 0;
    say(`${label}: ${events.length} events scored in ${seconds.toFixed(1)} s; the receiver had ${notifications} requests by then`);
    return {
      receiver: receiverDelayMs === null ? 'none' : `webhook answering after ${receiverDelayMs} ms`,
      events: events.length,
      accepted_in_s: Math.round((accepted - t0) / 10) / 100,
      scored_events_per_s: Math.round((events.length / seconds) * 100) / 100,
      receiver_requests_while_ingesting: notifications,
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
    hook?.server.close();
  }
}

export async function benchAlerts(out: string = path.join(root, 'bench', 'results', 'alerts.json')): Promise<void> {
  say('delivery: a burst of 2,000 alerts, each its own group, to a local webhook (tick 100 ms)');
  const burst = await delivery(2000, 100);
  say(`delivery: ${JSON.stringify(burst)}`);
  say('delivery: 1,000 alerts raised at 50/s (tick 100 ms)');
  const paced = await delivery(1000, 100, 50);
  say(`delivery: ${JSON.stringify(paced)}`);
  say('delivery: 500 alerts raised at 50/s at the default tick (1,000 ms)');
  const dflt = await delivery(500, 1000, 50);
  say(`delivery: ${JSON.stringify(dflt)}`);
  const lines = readFileSync(path.join(root, 'bench', 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const now = Date.now();
  const events = Array.from({ length: 150 }, (_, i) => ({ ...lines[i % lines.length], id: `ingest-${i}`, tenant: `tenant-${i % 30}`, timestamp: new Date(now - 60_000).toISOString() }));
  // Alternated, twice each: the two runs share the machine's noise.
  const none: Array<Record<string, unknown>> = [];
  const slow: Array<Record<string, unknown>> = [];
  for (let round = 0; round < 2; round++) {
    say(`ingest round ${round + 1}: the real service, no receiver`);
    none.push(await ingest('none', null, events.map((e) => ({ ...e, id: `${e.id}-n${round}` }))));
    say(`ingest round ${round + 1}: the real service, a receiver answering after 5 s`);
    slow.push(await ingest('slow', 5000, events.map((e) => ({ ...e, id: `${e.id}-s${round}` }))));
  }
  const mean = (rs: Array<Record<string, unknown>>): number => Math.round((rs.reduce((t, r) => t + (r.scored_events_per_s as number), 0) / rs.length) * 100) / 100;
  const result = {
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? '', node: process.version },
    at: new Date().toISOString(),
    delivery_burst: burst,
    delivery_paced: paced,
    delivery_paced_default_tick: dflt,
    ingest: {
      no_receiver: { scored_events_per_s: mean(none), runs: none },
      slow_receiver: { scored_events_per_s: mean(slow), runs: slow },
      ratio: Math.round((mean(slow) / mean(none)) * 1000) / 1000,
    },
  };
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  say(`written to ${out}`);
}
