/**
 * Kafka -> pipeline, at least once from Kafka and exactly once in effect:
 *   1. a chunk of messages is decoded; malformed ones are set aside for the dead-letter topic;
 *   2. the good events go through the pipeline, which resolves only when their rows are durably
 *      stored (storage is idempotent by event id, alerts by alert id);
 *   3. one Kafka transaction then publishes the chunk's alerts and dead letters and commits the
 *      consumer offsets. A crash before the commit redelivers the chunk: storage absorbs it, and
 *      the aborted transaction's messages are never seen by read_committed consumers.
 * Backpressure: each partition's batch is processed before more is fetched for it (memory is
 * bounded by the fetch size); while storage is failing the consumer is paused and resumes by
 * itself. Nest-free; the module wires it.
 */
import { Consumer, EachBatchPayload, Kafka, KafkaMessage, logLevel, Partitioners, Producer, SASLOptions, Transaction } from 'kafkajs';

import type { Alert } from '../alerts/alert';
import type { EventLimits, ProbeEvent } from '../ingest/event-contract';
import type { EventOutcome } from '../ingest/pipeline';
import type { Metrics } from '../ops/metrics';
import { decodeEventMessage, dlqHeaders } from './kafka-message';
import type { KafkaSettings } from './kafka-settings';

export interface KafkaIngestDeps {
  process(events: ProbeEvent[], receivedAt: Date): Promise<EventOutcome[]>;
  storageHealthy(): boolean;
  metrics: Metrics;
  log(level: 'log' | 'warn' | 'error', msg: string): void;
}

interface OutMessage {
  key: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, string>;
}

export function kafkaClient(s: KafkaSettings, log: KafkaIngestDeps['log'], role: string): Kafka {
  return new Kafka({
    clientId: `${s.clientId}-${role}`,
    brokers: s.brokers,
    ssl: s.ssl ? { rejectUnauthorized: s.ssl.rejectUnauthorized, ca: s.ssl.ca ? [s.ssl.ca] : undefined, cert: s.ssl.cert, key: s.ssl.key } : undefined,
    sasl: s.sasl ? ({ mechanism: s.sasl.mechanism, username: s.sasl.username, password: s.sasl.password } as SASLOptions) : undefined,
    connectionTimeout: 5000,
    retry: { initialRetryTime: 300, maxRetryTime: 5000, retries: 12 },
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, level, log: entry }) => {
      const msg = `kafka ${namespace}: ${entry.message}${entry.error ? ` (${entry.error})` : ''}`;
      // kafkajs logs every failed request of a connection as an error, including the retriable
      // ones it then retries (coordinator loading, concurrent transactions); those are warnings.
      log(level <= logLevel.ERROR && namespace !== 'Connection' ? 'error' : 'warn', msg);
    },
  });
}

/** A one-at-a-time lock: transactions of one producer must not overlap. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.then(() => undefined, () => undefined);
    return next;
  }
}

export class KafkaIngest {
  private readonly kafka: Kafka;
  private consumer: Consumer | null = null;
  private producer: Producer | null = null;
  private readonly txLock = new Mutex();
  private watch: NodeJS.Timeout | null = null;
  private paused = false;
  /** Group generation seen by this member (GROUP_JOIN count) and its current partitions. */
  private generation = 0;
  private assigned = new Set<string>();
  private stopping = false;
  /** Counters since start, for tests and logs. */
  readonly stats = { committed: 0, events: 0, deadLettered: 0, alertsPublished: 0, pauses: 0, consumerRestarts: 0 };

  constructor(private readonly s: KafkaSettings, private readonly limits: EventLimits, private readonly deps: KafkaIngestDeps) {
    this.kafka = kafkaClient(s, deps.log, 'ingest');
  }

  get isPaused(): boolean {
    return this.paused;
  }

  async start(): Promise<void> {
    if (this.s.createTopics) await this.ensureTopics();
    await this.connectProducer();
    await this.startConsumer();
    this.watch = setInterval(() => this.checkBackpressure(), 500);
    this.deps.log('log', `consuming ${this.s.topic} from ${this.s.brokers.join(',')} in group ${this.s.groupId} (instance ${this.s.instanceId})`);
  }

  private async startConsumer(): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: this.s.groupId,
      sessionTimeout: 30_000,
      rebalanceTimeout: 60_000,
      heartbeatInterval: 3000,
      maxBytesPerPartition: Math.max(this.s.maxMessageBytes, 1_048_576),
      maxBytes: 8 * 1_048_576,
      readUncommitted: false,
      retry: { initialRetryTime: 300, maxRetryTime: 5000, retries: 12, restartOnFailure: async (e: Error) => {
        this.deps.log('error', `kafka consumer failed (${e.message}); restarting`);
        return !this.stopping;
      } },
    });
    this.consumer = consumer;
    this.paused = false; // a new consumer starts unpaused; checkBackpressure pauses it again if need be
    this.deps.metrics.kafkaPaused.set(0);
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      const assignment = Object.entries(e.payload.memberAssignment) as Array<[string, number[]]>;
      this.generation++;
      this.assigned = new Set(assignment.flatMap(([t, ps]) => ps.map((p) => `${t}:${p}`)));
      const parts = assignment.map(([t, ps]) => `${t}[${ps.join(',')}]`).join(' ');
      this.deps.log('log', `joined group ${e.payload.groupId} as ${e.payload.memberId}: ${parts || 'no partitions'}`);
    });
    // kafkajs restarts a crashed consumer only after retriable errors; after any other error
    // (a transaction the broker refused, say) it would stay down. Nothing may stop ingestion for
    // good: start a fresh consumer, which resumes from the committed offsets.
    consumer.on(consumer.events.CRASH, (e) => {
      if (e.payload.restart || this.stopping || this.consumer !== consumer) return;
      this.deps.log('error', `kafka consumer stopped on ${e.payload.error.name}: ${e.payload.error.message}; starting a new one in 5 s`);
      setTimeout(() => void this.replaceConsumer(consumer), 5000);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [this.s.topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.s.partitionsConcurrency,
      eachBatch: (p) => this.eachBatch(p),
    });
  }

  private async replaceConsumer(old: Consumer): Promise<void> {
    if (this.stopping || this.consumer !== old) return;
    await old.disconnect().catch(() => undefined);
    for (let attempt = 1; !this.stopping; attempt++) {
      try {
        await this.startConsumer();
        this.stats.consumerRestarts++;
        this.deps.log('warn', 'kafka consumer restarted');
        return;
      } catch (e) {
        this.deps.log('error', `kafka consumer restart ${attempt} failed (${(e as Error).message}); retrying in 5 s`);
        await this.consumer?.disconnect().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 5000));
      }
    }
  }

  private async connectProducer(): Promise<void> {
    // Unlimited retries keep the idempotent producer's sequence numbers valid (kafkajs warns otherwise).
    this.producer = this.kafka.producer({ transactionalId: this.s.transactionalId, idempotent: true, maxInFlightRequests: 1, transactionTimeout: 60_000,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { initialRetryTime: 300, maxRetryTime: 5000, retries: Number.MAX_SAFE_INTEGER } });
    await this.producer.connect();
  }

  /**
   * After a transaction that could neither commit nor abort (the broker went away mid-way), the
   * kafkajs producer stays in that transaction. A new producer with the same transactional id
   * fences the old one, and the coordinator aborts whatever it left open.
   */
  private async resetProducer(): Promise<void> {
    const old = this.producer;
    this.producer = null;
    await old?.disconnect().catch(() => undefined);
    await this.connectProducer();
    this.deps.log('warn', 'transactional producer re-initialised after a failed transaction');
  }

  private async ensureTopics(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const wanted = [this.s.topic, this.s.dlqTopic, this.s.alertsTopic].filter((t) => !existing.has(t));
      if (wanted.length) {
        await admin.createTopics({ waitForLeaders: true, topics: wanted.map((topic) => ({ topic, numPartitions: this.s.topicPartitions })) });
        this.deps.log('log', `created topics ${wanted.join(', ')}`);
      }
    } catch (e) {
      this.deps.log('warn', `could not create topics (${(e as Error).message}); they must exist or be auto-created`);
    } finally {
      await admin.disconnect();
    }
  }

  /** Pause fetching while storage fails; resume when it is back. */
  private checkBackpressure(): void {
    if (!this.consumer || this.stopping) return;
    const healthy = this.deps.storageHealthy();
    if (!healthy && !this.paused) {
      this.paused = true;
      this.stats.pauses++;
      this.consumer.pause([{ topic: this.s.topic }]);
      this.deps.metrics.kafkaPaused.set(1);
      this.deps.log('warn', 'storage is failing: Kafka consumption paused until it recovers');
    } else if (healthy && this.paused) {
      this.paused = false;
      this.consumer.resume([{ topic: this.s.topic }]);
      this.deps.metrics.kafkaPaused.set(0);
      this.deps.log('log', 'storage recovered: Kafka consumption resumed');
    }
  }

  private async eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const { topic, partition } = batch;
    const n = this.s.chunkEvents;
    for (let i = 0; i < batch.messages.length; i += n) {
      if (!isRunning() || isStale()) return;
      const chunk = batch.messages.slice(i, i + n);
      const { rebalance, moved } = await this.handleChunk(topic, partition, chunk, heartbeat);
      // The partition went to another member while the chunk was processed: it will redeliver
      // (and publish) the chunk from the last commit; committing here would publish it twice.
      if (moved) return;
      const last = chunk[chunk.length - 1].offset;
      resolveOffset(last);
      const lag = Number(BigInt(batch.highWatermark) - BigInt(last) - 1n);
      this.deps.metrics.kafkaLag.set({ topic, partition: String(partition) }, Math.max(0, lag));
      // A rebalance seen while the chunk was processed: the chunk is committed, so stop here and
      // let kafkajs rejoin (a new member must not wait for the rest of a large batch).
      if (rebalance) throw rebalance;
      await heartbeat();
    }
  }

  /**
   * Processes and commits one chunk. Returns the rebalance error a heartbeat met meanwhile, and
   * whether the partition moved to another member (then nothing is committed or published).
   */
  private async handleChunk(topic: string, partition: number, chunk: KafkaMessage[], heartbeat: () => Promise<void>): Promise<{ rebalance: Error | null; moved: boolean }> {
    const generation = this.generation;
    const good: Array<{ event: ProbeEvent; msg: KafkaMessage }> = [];
    const dead: OutMessage[] = [];
    const toDlq = (msg: KafkaMessage, code: string, reason: string, errors: Array<{ field: string; message: string }> = []): void => {
      dead.push({ key: msg.key, value: msg.value, headers: dlqHeaders({ topic, partition, offset: msg.offset, timestamp: msg.timestamp }, code, reason, errors, this.s.instanceId) });
      this.deps.metrics.kafkaDeadLetters.inc({ error: code });
    };
    for (const msg of chunk) {
      this.deps.metrics.received.inc({ channel: 'kafka' });
      const d = decodeEventMessage(msg.value, this.s.maxMessageBytes, this.limits);
      if (d.ok) good.push({ event: d.event, msg });
      else {
        this.deps.metrics.rejected.inc({ reason: `kafka_${d.code}` });
        toDlq(msg, d.code, d.reason, d.errors);
      }
    }
    // Keep the group membership alive while storage may be slow or down.
    let rebalance: Error | null = null;
    const beat = setInterval(() => void heartbeat().catch((e: Error) => {
      rebalance = e;
    }), 2000);
    const t0 = performance.now();
    let outcomes: EventOutcome[];
    try {
      outcomes = await this.deps.process(good.map((g) => g.event), new Date());
    } finally {
      clearInterval(beat);
    }
    const alerts: Alert[] = [];
    outcomes.forEach((o, i) => {
      if (o.status === 'stored') alerts.push(...o.alerts);
      else toDlq(good[i].msg, 'processing_failed', o.reason);
    });
    const next = (BigInt(chunk[chunk.length - 1].offset) + 1n).toString();
    if (this.generation !== generation && !this.assigned.has(`${topic}:${partition}`)) {
      this.deps.log('warn', `${topic}[${partition}] moved to another member during a chunk; its stored events will be redelivered there and committed once`);
      return { rebalance, moved: true };
    }
    const t1 = performance.now();
    this.deps.metrics.kafkaChunkSeconds.observe((t1 - t0) / 1000);
    await this.commit(alerts, dead, { topic, partition, offset: next });
    this.deps.metrics.kafkaCommitSeconds.observe((performance.now() - t1) / 1000);
    this.stats.committed++;
    this.stats.events += good.length;
    this.stats.deadLettered += dead.length;
    this.stats.alertsPublished += alerts.length;
    this.deps.metrics.kafkaCommitted.inc(chunk.length);
    return { rebalance, moved: false };
  }

  /** Alerts, dead letters and the consumer offset in one transaction. */
  private commit(alerts: Alert[], dead: OutMessage[], offset: { topic: string; partition: number; offset: string }): Promise<void> {
    return this.txLock.run(async () => {
      try {
        await this.inTransaction(async (tx) => {
          if (alerts.length) await tx.send({ topic: this.s.alertsTopic, messages: alerts.map(alertMessage) });
          if (dead.length) await tx.send({ topic: this.s.dlqTopic, messages: dead });
          await tx.sendOffsets({ consumerGroupId: this.s.groupId, topics: [{ topic: offset.topic, partitions: [{ partition: offset.partition, offset: offset.offset }] }] });
        });
      } catch (e) {
        this.deps.log('warn', `kafka commit of ${offset.topic}[${offset.partition}] up to ${offset.offset} failed (${(e as Error).message}); the chunk will be redelivered`);
        throw e;
      }
    });
  }

  /** Alerts from other channels (HTTP ingest) go to the same topic, in their own transaction. */
  publishAlerts(alerts: Alert[]): Promise<void> {
    if (!alerts.length || !this.producer) return Promise.resolve();
    return this.txLock.run(() => this.inTransaction(async (tx) => {
      await tx.send({ topic: this.s.alertsTopic, messages: alerts.map(alertMessage) });
    }));
  }

  /**
   * Runs `fill` in a transaction and commits it. A retriable refusal (typically
   * CONCURRENT_TRANSACTIONS: the coordinator is still writing the previous transaction's
   * markers) aborts and runs the whole transaction again after a short pause; its content is
   * the same each time and an aborted transaction is invisible, so this is safe.
   */
  private async inTransaction(fill: (tx: Transaction) => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.transactOnce(fill);
      } catch (e) {
        const err = e as { retriable?: boolean; type?: string };
        if (attempt >= 20 || !(err.retriable === true || err.type === 'CONCURRENT_TRANSACTIONS') || this.stopping) throw e;
        await new Promise((r) => setTimeout(r, Math.min(1000, 20 * attempt)));
      }
    }
  }

  /** One transaction; on failure aborts it, or resets the producer when it cannot. */
  private async transactOnce(fill: (tx: Transaction) => Promise<void>): Promise<void> {
    if (!this.producer) await this.connectProducer();
    let tx: Transaction;
    try {
      tx = await (this.producer as Producer).transaction();
    } catch (e) {
      await this.resetProducer().catch(() => undefined);
      throw e;
    }
    try {
      await fill(tx);
      await tx.commit();
    } catch (e) {
      await tx.abort().catch(() => this.resetProducer().catch(() => undefined));
      throw e;
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.watch) clearInterval(this.watch);
    // disconnect() waits for the batch in progress; its chunk commits or is redelivered later.
    await this.consumer?.disconnect().catch((e: Error) => this.deps.log('warn', `consumer disconnect: ${e.message}`));
    await this.txLock.run(async () => undefined);
    await this.producer?.disconnect().catch((e: Error) => this.deps.log('warn', `producer disconnect: ${e.message}`));
  }
}

export function alertMessage(a: Alert): OutMessage {
  return { key: a.alert_id, value: JSON.stringify(a), headers: { 'probewatch-fingerprint': a.fingerprint, 'probewatch-rule': a.rule, 'probewatch-severity': a.severity } };
}
