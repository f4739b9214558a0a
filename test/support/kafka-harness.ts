/**
 * Real components for the Kafka tests: a single-node broker from the Maven Central jars, the
 * service as a child process (so it can be SIGKILLed), and Kafka helpers (produce, read a topic
 * read_committed, wait until a consumer group has caught up).
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { Kafka, KafkaMessage, logLevel } from 'kafkajs';

import { resolveRuntimePaths } from '../../src/config/runtime-paths';
import { ensureKafkaJars, KafkaBroker } from '../../tools/infra/kafka-broker';
import { freePort } from '../../tools/infra/process-util';
import { groupLag as lagOf } from '../../src/kafka/group-lag';
import { createTopicsReady } from '../../src/kafka/topics';

const quiet = { step: (m: string) => process.stderr.write(`[harness] ${m}\n`) };

/** Null when Java and Maven are present; else the reason (an error under CI=true). */
export function kafkaPrerequisite(): string | null {
  const missing = ['java', 'mvn'].filter((c) => {
    const r = spawnSync(c, [c === 'java' ? '-version' : '-v'], { stdio: 'ignore' });
    return r.error || r.status !== 0;
  });
  if (!missing.length) return null;
  const reason = `${missing.join(' and ')} not found: the Kafka tests run a real broker from Maven Central jars (needs Java 17 and Maven)`;
  if (process.env.CI === 'true') throw new Error(`CI=true and a prerequisite is missing: ${reason}`);
  return reason;
}

export async function startBroker(): Promise<KafkaBroker> {
  const paths = resolveRuntimePaths();
  const lib = ensureKafkaJars(path.join(paths.dataDir, 'cache'), quiet);
  const broker = new KafkaBroker(mkdtempSync(path.join(tmpdir(), 'pw-kafka-')), lib);
  await broker.start(quiet, { port: await freePort() });
  return broker;
}

export function kafkaOf(bootstrap: string): Kafka {
  return new Kafka({ clientId: 'pw-test', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 200, maxRetryTime: 3000 } });
}

export async function createTopic(bootstrap: string, topic: string, partitions = 4): Promise<void> {
  const admin = kafkaOf(bootstrap).admin();
  await admin.connect();
  try {
    await createTopicsReady(admin, [topic], partitions);
  } finally {
    await admin.disconnect();
  }
}

export async function produce(bootstrap: string, topic: string, messages: Array<{ key?: string; value: string | Buffer }>, chunk = 500): Promise<void> {
  const producer = kafkaOf(bootstrap).producer({ allowAutoTopicCreation: true });
  await producer.connect();
  for (let i = 0; i < messages.length; i += chunk) await producer.send({ topic, acks: -1, messages: messages.slice(i, i + chunk) });
  await producer.disconnect();
}

/** Events from..from+n-1 of the test stream `prefix` (see testEvent), keyed k<i>. */
export function produceEvents(bootstrap: string, topic: string, prefix: string, n: number, from = 0): Promise<void> {
  return produce(bootstrap, topic, Array.from({ length: n }, (_, j) => ({ key: `k${from + j}`, value: JSON.stringify(testEvent(from + j, prefix)) })));
}

/** A fresh embedded-ClickHouse directory for one service instance. */
export function freshStore(): string {
  return path.join(mkdtempSync(path.join(tmpdir(), 'pw-store-')), 'ch');
}

/** Every committed message of a topic (read_committed), once the topic has been idle for `idleMs`. */
export async function readAll(bootstrap: string, topic: string, idleMs = 2500): Promise<KafkaMessage[]> {
  const kafka = kafkaOf(bootstrap);
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `reader-${Date.now()}-${Math.random().toString(36).slice(2)}`, readUncommitted: false });
  const out: KafkaMessage[] = [];
  let last = Date.now();
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => {
    out.push(message);
    last = Date.now();
  } });
  const hasData = ends.some((p) => p.high !== p.low && p.high !== '0');
  const start = Date.now();
  while (Date.now() - last < idleMs || (hasData && out.length === 0 && Date.now() - start < 30_000)) await new Promise((r) => setTimeout(r, 200));
  await consumer.disconnect();
  return out;
}

/** Messages the group has not committed yet on the topic (see src/kafka/group-lag.ts). */
export function groupLag(bootstrap: string, groupId: string, topic: string): Promise<number> {
  return lagOf(kafkaOf(bootstrap), groupId, topic);
}

export async function waitCaughtUp(bootstrap: string, groupId: string, topic: string, timeoutMs: number, alive?: () => void, logs?: () => string): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    alive?.();
    const lag = await groupLag(bootstrap, groupId, topic);
    if (lag === 0) return;
    if (Date.now() > end) throw new Error(`group ${groupId} still ${lag} messages behind on ${topic} after ${timeoutMs / 1000} s${logs ? `\n--- service log ---\n${logs()}` : ''}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The real service (`node dist/main.js`) as a child process. */
export class ServiceProcess {
  private child: ChildProcess | null = null;
  readonly logFile: string;
  private logs: string[] = [];
  exitCode: number | null = null;
  port = 0;

  constructor(private readonly env: Record<string, string>, readonly name = 'svc') {
    this.logFile = path.join(mkdtempSync(path.join(tmpdir(), 'pw-svc-')), `${name}.log`);
  }

  /** Starts the process and waits until /readyz is 200 (and Kafka is up, if `waitKafka`). */
  async start(waitKafka = true): Promise<void> {
    // A fixed PORT in the env (a test that must know the origin before start), else a free one.
    this.port = this.env.PORT ? Number(this.env.PORT) : await freePort();
    this.exitCode = null;
    const root = path.resolve(__dirname, '..', '..');
    const child = spawn(process.execPath, [path.join(root, 'dist', 'main.js')], {
      env: { ...process.env, ...this.env, PORT: String(this.port), HOST: '127.0.0.1', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const feed = (b: Buffer): void => {
      this.logs.push(b.toString('utf8'));
    };
    child.stdout?.on('data', feed);
    child.stderr?.on('data', feed);
    child.on('exit', (code, signal) => {
      this.exitCode = code ?? (signal ? 128 : -1);
    });
    const end = Date.now() + 180_000;
    for (;;) {
      if (this.exitCode !== null) throw new Error(`${this.name} exited during start (${this.exitCode}):\n${this.tail()}`);
      try {
        const r = await fetch(`http://127.0.0.1:${this.port}/readyz`);
        const body = (await r.json()) as { checks?: { kafka?: { ok: boolean } } };
        if (!waitKafka && body.checks) return;
        if (r.ok && body.checks?.kafka?.ok !== false) return;
      } catch {
        /* not up yet */
      }
      if (Date.now() > end) throw new Error(`${this.name} not ready after 180 s:\n${this.tail()}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  /** Throws if the process died unexpectedly. */
  assertAlive(): void {
    if (this.exitCode !== null) throw new Error(`${this.name} died (${this.exitCode}):\n${this.tail()}`);
  }

  output(): string {
    return this.logs.join('');
  }

  tail(n = 30): string {
    return this.output().trimEnd().split('\n').slice(-n).join('\n');
  }

  async readyz(): Promise<{ status: number; body: { checks: Record<string, { ok: boolean; last_error?: string | null }> } }> {
    const r = await fetch(`http://127.0.0.1:${this.port}/readyz`);
    return { status: r.status, body: (await r.json()) as { checks: Record<string, { ok: boolean; last_error?: string | null }> } };
  }

  /** Waits until this instance has committed at least `min` Kafka messages. */
  async waitForCommitted(min: number, timeoutMs = 300_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while ((await this.metric('probewatch_kafka_committed_messages_total')) < min) {
      this.assertAlive();
      if (Date.now() > end) throw new Error(`${this.name} committed fewer than ${min} messages in ${timeoutMs / 1000} s:\n${this.tail()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async metric(name: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${this.port}/metrics`)).text();
    return text.split('\n').filter((l) => l.startsWith(name) && !l.startsWith('#')).reduce((s, l) => s + Number(l.split(' ').pop()), 0);
  }

  kill(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || this.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }

  /** Graceful stop (SIGTERM): drains and flushes. */
  stop(): Promise<void> {
    return this.kill('SIGTERM');
  }
}

/** Event times: an hour before the harness was loaded (inside the accepted window of any run). */
const STREAM_T0 = Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000;

/** Event i of a test stream; every tenth carries the ALERT-ME marker the test rules fire on. */
export function testEvent(i: number, prefix: string): Record<string, unknown> {
  const risky = i % 10 === 0;
  return {
    id: `${prefix}-${i}`,
    timestamp: new Date(STREAM_T0 + i * 1000).toISOString(),
    tenant: 'acme',
    source: 'kafka-test',
    model: 'm',
    messages: [
      { role: 'user', content: `Question ${i}: how do I ${['bake bread', 'fix a bike', 'learn Rust', 'plan a trip'][i % 4]}?${risky ? ' ALERT-ME' : ''}` },
      { role: 'assistant', content: `Here are a few steps for item ${i}.` },
    ],
  };
}
