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
 * itself. A message that kills the process outright (no catch can stop a native crash) would be
 * redelivered forever: each chunk's range is recorded in flight on local disk first, and after a
 * restart the range that was in flight is replayed one message at a time and the message that
 * killed the process alone is quarantined to the dead-letter topic (poison-ledger.ts).
 * Nest-free; the module wires it.
 */
import { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';

import type { Alert } from '../domain/alert';
import type { EventLimits } from '../ingest/event-contract';
import type { ProbeEvent } from '../domain/event';
import type { EventOutcome } from '../ingest/pipeline';
import type { Metrics } from '../ops/metrics';
import { kafkaClient } from './kafka-client';
import { decodeEventMessage, dlqHeaders } from './kafka-message';
import type { KafkaSettings } from './kafka-settings';
import { KafkaTransactions, OutMessage } from './kafka-transactions';
import { ChunkGate } from './locks';
import { ChunkPlan, PoisonLedger } from './poison-ledger';
import { createTopicsReady } from './topics';

export interface KafkaIngestDeps {
  process(events: ProbeEvent[], receivedAt: Date): Promise<EventOutcome[]>;
  storageHealthy(): boolean;
  metrics: Metrics;
  log(level: 'log' | 'warn' | 'error', msg: string): void;
}

export class KafkaIngest {
  private readonly kafka: Kafka;
  private consumer: Consumer | null = null;
  private readonly tx: KafkaTransactions;
  /** Null when the settings have no in-flight directory, or it could not be opened. */
  private ledger: PoisonLedger | null = null;
  private ledgerOpened = false;
  private ledgerFailing = false;
  private readonly gate = new ChunkGate();
  private watch: NodeJS.Timeout | null = null;
  private paused = false;
  /** Group generation seen by this member (GROUP_JOIN count) and its current partitions. */
  private generation = 0;
  private assigned = new Set<string>();
  private stopping = false;
  /** Counters since start, for tests and logs. */
  readonly stats = { committed: 0, events: 0, deadLettered: 0, alertsPublished: 0, pauses: 0, consumerRestarts: 0, quarantined: 0 };

  constructor(private readonly s: KafkaSettings, private readonly limits: EventLimits, private readonly deps: KafkaIngestDeps) {
    this.kafka = kafkaClient(s, deps.log, 'ingest');
    this.tx = new KafkaTransactions(this.kafka, s, deps.log, () => this.stopping);
  }

  get isPaused(): boolean {
    return this.paused;
  }

  async start(): Promise<void> {
    if (this.s.createTopics) await this.ensureTopics();
    await this.openLedger();
    await this.tx.connect();
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

  /**
   * Once per process, before the first chunk: every record found then was left by a process that
   * died. Without a usable directory ingestion goes on, unprotected against poison messages.
   */
  private async openLedger(): Promise<void> {
    if (this.ledgerOpened || !this.s.inflightDir) return;
    this.ledgerOpened = true;
    try {
      const { ledger, problems } = await PoisonLedger.open(this.s.inflightDir, this.s.instanceId, this.s.groupId);
      for (const p of problems) this.deps.log('warn', `in-flight ledger: ${p}`);
      for (const r of ledger.inheritedRecords) {
        const lone = r.alone && r.firstOffset === r.lastOffset;
        this.deps.log('warn', lone
          ? `the previous process died while handling ${r.topic}[${r.partition}] offset ${r.firstOffset} alone; if redelivered here, it goes to ${this.s.dlqTopic} unprocessed`
          : `the previous process died with ${r.topic}[${r.partition}] offsets ${r.firstOffset}..${r.lastOffset} in flight; if redelivered here, they are replayed one message at a time`);
      }
      this.ledger = ledger;
    } catch (e) {
      this.deps.log('error', `in-flight ledger in ${this.s.inflightDir} unusable (${(e as Error).message}); a message that crashes the process will be redelivered after each restart`);
    }
  }

  private async ensureTopics(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const wanted = [this.s.topic, this.s.dlqTopic, this.s.alertsTopic].filter((t) => !existing.has(t));
      if (wanted.length) {
        await createTopicsReady(admin, wanted, this.s.topicPartitions);
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
    for (let i = 0; i < batch.messages.length;) {
      if (!isRunning() || isStale()) return;
      const plan: ChunkPlan = this.ledger?.plan(topic, partition, batch.messages[i]) ?? { kind: 'chunk' };
      const chunk = batch.messages.slice(i, i + (plan.kind === 'chunk' ? this.s.chunkEvents : 1));
      const { rebalance, moved } = plan.kind === 'quarantine'
        ? await this.quarantine(topic, partition, chunk[0], plan.reason)
        : await this.handleChunk(topic, partition, chunk, heartbeat, plan);
      // The partition went to another member while the chunk was processed: it will redeliver
      // (and publish) the chunk from the last commit; committing here would publish it twice.
      if (moved) return;
      i += chunk.length;
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
   * Processes and commits one chunk (one message when the plan says it runs alone), recorded in
   * flight meanwhile. Returns the rebalance error a heartbeat met meanwhile, and whether the
   * partition moved to another member (then nothing is committed or published).
   */
  private async handleChunk(topic: string, partition: number, chunk: KafkaMessage[], heartbeat: () => Promise<void>, plan: ChunkPlan): Promise<{ rebalance: Error | null; moved: boolean }> {
    const generation = this.generation;
    // Keep the group membership alive while storage may be slow or down, or while a lone message
    // waits for the other partitions' chunks.
    let rebalance: Error | null = null;
    const beat = setInterval(() => void heartbeat().catch((e: Error) => {
      rebalance = e;
    }), 2000);
    const release = await this.gate.enter(plan.kind === 'alone');
    try {
      await this.recordInFlight(topic, partition, chunk, plan);
      try {
        const moved = await this.processAndCommit(topic, partition, chunk, generation, () => clearInterval(beat));
        return { rebalance, moved };
      } finally {
        // Committed, or failed with an error this process survives: nothing is in flight.
        await this.ledger?.end(topic, partition).catch((e: Error) => this.ledgerProblem(e));
      }
    } finally {
      release();
      clearInterval(beat);
    }
  }

  /** Returns whether the partition moved to another member since `generation` (then nothing is committed). */
  private async processAndCommit(topic: string, partition: number, chunk: KafkaMessage[], generation: number, processed: () => void): Promise<boolean> {
    const good: Array<{ event: ProbeEvent; msg: KafkaMessage }> = [];
    const dead: OutMessage[] = [];
    const toDlq = (msg: KafkaMessage, code: string, reason: string, errors: Array<{ field: string; message: string }> = []): void => {
      dead.push(this.deadLetter(topic, partition, msg, code, reason, errors));
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
    const t0 = performance.now();
    let outcomes: EventOutcome[];
    try {
      outcomes = await this.deps.process(good.map((g) => g.event), new Date());
    } finally {
      processed();
    }
    const alerts: Alert[] = [];
    outcomes.forEach((o, i) => {
      if (o.status === 'stored') alerts.push(...o.alerts);
      else toDlq(good[i].msg, 'processing_failed', o.reason);
    });
    const next = (BigInt(chunk[chunk.length - 1].offset) + 1n).toString();
    if (this.generation !== generation && !this.assigned.has(`${topic}:${partition}`)) {
      this.deps.log('warn', `${topic}[${partition}] moved to another member during a chunk; its stored events will be redelivered there and committed once`);
      return true;
    }
    const t1 = performance.now();
    this.deps.metrics.kafkaChunkSeconds.observe((t1 - t0) / 1000);
    await this.tx.commit(alerts, dead, { topic, partition, offset: next });
    this.deps.metrics.kafkaCommitSeconds.observe((performance.now() - t1) / 1000);
    this.stats.committed++;
    this.stats.events += good.length;
    this.stats.deadLettered += dead.length;
    this.stats.alertsPublished += alerts.length;
    this.deps.metrics.kafkaCommitted.inc(chunk.length);
    return false;
  }

  /** The process died while handling this message alone: dead-letter it, unprocessed, with its offset. */
  private async quarantine(topic: string, partition: number, msg: KafkaMessage, reason: string): Promise<{ rebalance: null; moved: false }> {
    this.deps.metrics.received.inc({ channel: 'kafka' });
    this.deps.log('error', `${topic}[${partition}] offset ${msg.offset}: ${reason}; quarantined to ${this.s.dlqTopic}`);
    await this.tx.commit([], [this.deadLetter(topic, partition, msg, 'poison', reason)], { topic, partition, offset: (BigInt(msg.offset) + 1n).toString() });
    this.ledger?.quarantined(topic, partition);
    await this.ledger?.end(topic, partition).catch((e: Error) => this.ledgerProblem(e));
    this.deps.metrics.kafkaDeadLetters.inc({ error: 'poison' });
    this.deps.metrics.kafkaCommitted.inc(1);
    this.stats.committed++;
    this.stats.deadLettered++;
    this.stats.quarantined++;
    return { rebalance: null, moved: false };
  }

  private deadLetter(topic: string, partition: number, msg: KafkaMessage, code: string, reason: string, errors: Array<{ field: string; message: string }> = []): OutMessage {
    return { key: msg.key, value: msg.value, headers: dlqHeaders({ topic, partition, offset: msg.offset, timestamp: msg.timestamp }, code, reason, errors, this.s.instanceId) };
  }

  /** A ledger that cannot be written must not stop ingestion: the chunk goes on unrecorded. */
  private async recordInFlight(topic: string, partition: number, chunk: KafkaMessage[], plan: ChunkPlan): Promise<void> {
    if (!this.ledger) return;
    try {
      await this.ledger.begin(topic, partition, chunk[0], chunk[chunk.length - 1].offset, plan);
      if (this.ledgerFailing) this.deps.log('log', 'in-flight ledger writable again');
      this.ledgerFailing = false;
    } catch (e) {
      this.ledgerProblem(e as Error);
    }
  }

  private ledgerProblem(e: Error): void {
    if (!this.ledgerFailing) this.deps.log('error', `in-flight ledger: ${e.message}; chunks go on unrecorded, unprotected against a message that crashes the process`);
    this.ledgerFailing = true;
  }

  /** Alerts from other channels (HTTP ingest) go to the same topic, in their own transaction. */
  publishAlerts(alerts: Alert[]): Promise<void> {
    if (!alerts.length || !this.tx.connected) return Promise.resolve();
    return this.tx.publishAlerts(alerts);
  }

  /** Publishes to any topic (the notifications of kafka_configs receivers). */
  publish(topic: string, messages: Array<{ key: string; value: string }>): Promise<void> {
    if (!this.tx.connected) return Promise.reject(new Error('the Kafka producer is not connected'));
    return this.tx.publish(topic, messages);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.watch) clearInterval(this.watch);
    // disconnect() waits for the batch in progress; its chunk commits or is redelivered later.
    await this.consumer?.disconnect().catch((e: Error) => this.deps.log('warn', `consumer disconnect: ${e.message}`));
    await this.tx.close();
  }
}
