/**
 * The transactional producer of one instance: a chunk's alerts, its dead letters and the
 * consumer offset past it commit in one Kafka transaction, so a read_committed reader sees all of
 * them or none. Transactions of one producer must not overlap: they run one at a time.
 */
import { Kafka, Partitioners, Producer, Transaction } from 'kafkajs';

import type { Alert } from '../domain/alert';
import type { KafkaLog } from './kafka-client';
import type { KafkaSettings } from './kafka-settings';
import { Mutex } from './locks';

export interface OutMessage {
  key: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, string>;
}

export interface CommitOffset {
  topic: string;
  partition: number;
  /** The next offset to consume. */
  offset: string;
}

export class KafkaTransactions {
  private producer: Producer | null = null;
  private readonly lock = new Mutex();

  constructor(private readonly kafka: Kafka, private readonly s: KafkaSettings, private readonly log: KafkaLog, private readonly stopping: () => boolean) {}

  async connect(): Promise<void> {
    // Unlimited retries keep the idempotent producer's sequence numbers valid (kafkajs warns otherwise).
    this.producer = this.kafka.producer({ transactionalId: this.s.transactionalId, idempotent: true, maxInFlightRequests: 1, transactionTimeout: 60_000,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { initialRetryTime: 300, maxRetryTime: 5000, retries: Number.MAX_SAFE_INTEGER } });
    await this.producer.connect();
  }

  get connected(): boolean {
    return this.producer !== null;
  }

  /** Alerts, dead letters and the consumer offset in one transaction. */
  commit(alerts: Alert[], dead: OutMessage[], offset: CommitOffset): Promise<void> {
    return this.lock.run(async () => {
      try {
        await this.inTransaction(async (tx) => {
          if (alerts.length) await tx.send({ topic: this.s.alertsTopic, messages: alerts.map(alertMessage) });
          if (dead.length) await tx.send({ topic: this.s.dlqTopic, messages: dead });
          await tx.sendOffsets({ consumerGroupId: this.s.groupId, topics: [{ topic: offset.topic, partitions: [{ partition: offset.partition, offset: offset.offset }] }] });
        });
      } catch (e) {
        this.log('warn', `kafka commit of ${offset.topic}[${offset.partition}] up to ${offset.offset} failed (${(e as Error).message}); the chunk will be redelivered`);
        throw e;
      }
    });
  }

  /** Alerts from other channels (HTTP ingest) go to the same topic, in their own transaction. */
  publishAlerts(alerts: Alert[]): Promise<void> {
    return this.lock.run(() => this.inTransaction(async (tx) => {
      await tx.send({ topic: this.s.alertsTopic, messages: alerts.map(alertMessage) });
    }));
  }

  /** Notifications of kafka_configs receivers: their own transaction on the instance's producer. */
  publish(topic: string, messages: Array<{ key: string; value: string }>): Promise<void> {
    return this.lock.run(() => this.inTransaction(async (tx) => {
      await tx.send({ topic, messages });
    }));
  }

  /** Waits for the transaction in progress, then disconnects. */
  async close(): Promise<void> {
    await this.lock.run(async () => undefined);
    await this.producer?.disconnect().catch((e: Error) => this.log('warn', `producer disconnect: ${e.message}`));
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
    await this.connect();
    this.log('warn', 'transactional producer re-initialised after a failed transaction');
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
        if (attempt >= 20 || !(err.retriable === true || err.type === 'CONCURRENT_TRANSACTIONS') || this.stopping()) throw e;
        await new Promise((r) => setTimeout(r, Math.min(1000, 20 * attempt)));
      }
    }
  }

  /** One transaction; on failure aborts it, or resets the producer when it cannot. */
  private async transactOnce(fill: (tx: Transaction) => Promise<void>): Promise<void> {
    if (!this.producer) await this.connect();
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
}

export function alertMessage(a: Alert): OutMessage {
  return { key: a.alert_id, value: JSON.stringify(a), headers: { 'probewatch-fingerprint': a.fingerprint, 'probewatch-rule': a.rule, 'probewatch-severity': a.severity } };
}
