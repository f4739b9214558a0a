/**
 * `probewatch bench kafka`: topic -> stored, on a real broker started for the run, written to
 * bench/results/kafka.json. For each pack (the real default pack, then the trivial pack that
 * reads block 1 instead of block 18, showing the pipeline's own ceiling) a backlog of events is
 * produced to a fresh topic, the real service (child process, embedded ClickHouse) consumes it,
 * and the consumer group's lag is sampled every second until it reaches zero. In the same run a
 * bare kafkajs consumer reads the same backlog without processing: the reference ratio.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { Kafka, logLevel } from 'kafkajs';

import { DEFAULT_PACK_ID, RuntimePaths } from '../../src/config/runtime-paths';
import { ensureKafkaJars, KafkaBroker } from '../../tools/infra/kafka-broker';
import { freePort } from '../../tools/infra/process-util';
import { groupLag } from '../../src/kafka/group-lag';
import { createTopicsReady } from '../../src/kafka/topics';
import { setupModel } from '../../src/probe/model-setup';
import { loadProbePack } from '../../src/probe/probe-pack.loader';
import { writeTrivialPack } from '../../src/probe/trivial-pack';
import { peakRssMb } from './proc-stats';

const say = (m: string): void => void process.stderr.write(`bench kafka: ${m}\n`);

function client(bootstrap: string): Kafka {
  return new Kafka({ clientId: 'pw-bench', brokers: [bootstrap], logLevel: logLevel.NOTHING });
}

async function backlog(kafka: Kafka, topic: string, events: Array<Record<string, unknown>>, n: number, tag: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await createTopicsReady(admin, [topic], 4);
  } finally {
    await admin.disconnect();
  }
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < n; i += 500) {
    const messages = Array.from({ length: Math.min(500, n - i) }, (_, j) => {
      const e = events[(i + j) % events.length];
      return { key: `${tag}-${i + j}`, value: JSON.stringify({ ...e, id: `${e.id as string}-${tag}-${i + j}`, timestamp: new Date().toISOString() }) };
    });
    await producer.send({ topic, acks: -1, messages });
  }
  await producer.disconnect();
}

interface PhaseResult {
  pack: string;
  events: number;
  events_per_s: number;
  seconds_to_drain: number;
  seconds_to_first_commit: number;
  lag: Array<[number, number]>;
  peak_rss_mb: number;
}

async function runPhase(paths: RuntimePaths, kafka: Kafka, bootstrap: string, pack: string, label: string, events: Array<Record<string, unknown>>, n: number): Promise<PhaseResult> {
  const topic = `bench.${label}.events`;
  say(`${label}: producing a backlog of ${n} events to ${topic}`);
  await backlog(kafka, topic, events, n, label);
  const port = await freePort();
  const store = mkdtempSync(path.join(os.tmpdir(), 'pw-bench-kafka-'));
  const group = `bench-${label}`;
  const child: ChildProcess = spawn(process.execPath, [path.join(paths.projectRoot, 'dist', 'main.js')], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', PROBEWATCH_DATA_DIR: paths.dataDir, PROBEWATCH_CLICKHOUSE_DIR: store, PROBEWATCH_PACK: pack,
      KAFKA_BROKERS: bootstrap, KAFKA_TOPIC: topic, KAFKA_GROUP_ID: group, KAFKA_DLQ_TOPIC: `${topic}.dlq`, KAFKA_ALERTS_TOPIC: `${topic}.alerts`, PROBEWATCH_INSTANCE_ID: `bench-${label}` },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    const t0 = Date.now();
    const lag: Array<[number, number]> = [];
    let firstCommit = NaN;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}`);
      const l = await groupLag(kafka, group, topic);
      const t = (Date.now() - t0) / 1000;
      lag.push([Math.round(t * 10) / 10, l]);
      if (l < n && Number.isNaN(firstCommit)) firstCommit = t;
      if (l === 0) break;
      if (t > 3600) throw new Error('did not drain within an hour');
      await new Promise((r) => setTimeout(r, 1000));
    }
    const done = lag[lag.length - 1][0];
    // Throughput once consuming: from the first commit (after start-up and group join) to drained.
    const firstLag = lag.find(([t]) => t === firstCommit)?.[1] ?? n;
    const rate = (firstLag) / Math.max(0.001, done - firstCommit);
    say(`${label}: ${n} events drained in ${done.toFixed(1)} s (${rate.toFixed(1)} events/s after the first commit)`);
    return { pack, events: n, events_per_s: Math.round(rate * 10) / 10, seconds_to_drain: done, seconds_to_first_commit: firstCommit, lag, peak_rss_mb: Math.round(peakRssMb(child.pid as number)) };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

/** A bare kafkajs consumer group reading the same backlog, no processing: the client's ceiling here. */
async function bareConsumer(kafka: Kafka, topic: string, n: number): Promise<{ messages: number; seconds: number; messages_per_s: number }> {
  const consumer = kafka.consumer({ groupId: `bench-bare-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let seen = 0;
  let t0 = 0;
  let t1 = 0;
  await consumer.run({ eachBatch: async ({ batch }) => {
    if (!t0) t0 = Date.now();
    seen += batch.messages.length;
    if (seen >= n && !t1) t1 = Date.now();
  } });
  const end = Date.now() + 300_000;
  while (!t1 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  await consumer.disconnect();
  const seconds = Math.max(0.001, (t1 - t0) / 1000);
  return { messages: seen, seconds: Math.round(seconds * 1000) / 1000, messages_per_s: Math.round(n / seconds) };
}

export async function benchKafka(paths: RuntimePaths, outFile: string, nReal: number, nTrivial: number): Promise<void> {
  const events = readFileSync(path.join(paths.projectRoot, 'bench', 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const realPack = path.join(paths.probesDir, DEFAULT_PACK_ID);
  const trivialPack = writeTrivialPack(realPack, path.join(mkdtempSync(path.join(os.tmpdir(), 'pw-bench-pack-')), 'trivial'));
  // Model artifacts for both packs before anything is timed.
  for (const p of [realPack, trivialPack]) await setupModel(paths, (await loadProbePack(p)).manifest, { step: say, progress: () => undefined, log: () => undefined });
  const broker = new KafkaBroker(mkdtempSync(path.join(os.tmpdir(), 'pw-bench-broker-')), ensureKafkaJars(path.join(paths.dataDir, 'cache'), { step: say }));
  const info = await broker.start({ step: say }, { port: await freePort() });
  const kafka = client(info.bootstrap);
  try {
    const real = await runPhase(paths, kafka, info.bootstrap, realPack, 'real', events, nReal);
    const trivial = await runPhase(paths, kafka, info.bootstrap, trivialPack, 'trivial', events, nTrivial);
    // The bare read of a few thousand messages takes milliseconds; read ten times as many.
    const nBare = nTrivial * 10;
    say(`bare kafkajs consumer: producing ${nBare} of the same events to bench.bare.events and reading them`);
    await backlog(kafka, 'bench.bare.events', events, nBare, 'bare');
    const bare = await bareConsumer(kafka, 'bench.bare.events', nBare);
    const result = {
      generated_at: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, node: process.version },
      setup: {
        broker: 'Apache Kafka 3.9.1 (KRaft, single node, 127.0.0.1), started for the run', topic_partitions: 4,
        service: 'node dist/main.js, embedded ClickHouse (fresh directory), default rules, one instance, defaults for KAFKA_CHUNK_EVENTS and KAFKA_PARTITIONS_CONCURRENCY',
        method: 'a backlog is produced first; throughput = backlog left at the first commit / time from the first commit until the group lag is 0',
        events: 'bench/events.jsonl, cycled with fresh ids',
      },
      real_probe: real,
      trivial_pack: { ...trivial, note: 'same service and model, residual after block 1 instead of 18 (src/probe/trivial-pack.ts): the pipeline\'s own ceiling' },
      bare_kafkajs_consumer: { ...bare, note: 'a kafkajs consumer group reading a backlog of the same events (10x the trivial one) from the same broker, no processing or commits in the loop' },
      ratio_to_bare_consumer: {
        real_probe: Number((real.events_per_s / bare.messages_per_s).toPrecision(3)),
        trivial_pack: Number((trivial.events_per_s / bare.messages_per_s).toPrecision(3)),
      },
      lag_note: 'lag: [seconds since the service was started, messages not yet committed by the group], sampled every second',
    };
    mkdirSync(path.dirname(outFile), { recursive: true });
    writeFileSync(outFile, JSON.stringify(result, null, 2) + '\n');
    say(`wrote ${outFile}`);
  } finally {
    await broker.destroy();
  }
}
