/**
 * KafkaIngest on a real broker with failure injection in its processing stage (storage stands in
 * as a map here: the point is the consumer's recovery, the real stores are tested elsewhere).
 */
import type { KafkaBroker } from '../../../tools/infra/kafka-broker';
import { DEFAULT_EVENT_LIMITS } from '../../../src/ingest/event-contract';
import { ProbeEvent } from '../../../src/domain/event';
import type { EventOutcome } from '../../../src/ingest/pipeline';
import { KafkaIngest } from '../../../src/kafka/kafka-ingest';
import { parseKafkaSettings } from '../../../src/kafka/kafka-settings';
import { Metrics } from '../../../src/ops/metrics';
import { createTopic, groupLag, kafkaPrerequisite, produceEvents, startBroker } from '../../support/kafka-harness';
import { skipNote } from '../../support/real-model';

jest.setTimeout(300_000);

describe('KafkaIngest recovery', () => {
  let broker: KafkaBroker | null = null;
  afterAll(async () => {
    if (broker) await broker.destroy();
  });

  it('a non-retriable error in processing does not stop ingestion: a new consumer resumes from the last commit', async () => {
    const skip = kafkaPrerequisite();
    if (skip) return skipNote(skip);
    broker = await startBroker();
    const bootstrap = (broker.info() as { bootstrap: string }).bootstrap;
    await createTopic(bootstrap, 'ti.events', 2);
    await produceEvents(bootstrap, 'ti.events', 'ti', 300);
    const problems: string[] = [];
    const settings = parseKafkaSettings({ KAFKA_BROKERS: bootstrap, KAFKA_TOPIC: 'ti.events', KAFKA_GROUP_ID: 'gi', PROBEWATCH_INSTANCE_ID: 'ti', KAFKA_CHUNK_EVENTS: '25' }, problems);
    expect(problems).toEqual([]);
    const stored = new Map<string, number>();
    const logs: string[] = [];
    let failures = 0;
    const ingest = new KafkaIngest(settings as NonNullable<typeof settings>, { ...DEFAULT_EVENT_LIMITS, maxMessages: 16, maxContentChars: 10_000, maxIdChars: 64 }, {
      process: async (events: ProbeEvent[]): Promise<EventOutcome[]> => {
        if (failures < 2 && stored.size >= 100) {
          failures++;
          // Non-retriable, like kafkajs' own errors from a transaction the broker refused.
          throw Object.assign(new Error('injected failure'), { retriable: false });
        }
        for (const e of events) stored.set(e.id, (stored.get(e.id) ?? 0) + 1);
        return events.map(() => ({ status: 'stored', alerts: [] }));
      },
      storageHealthy: () => true,
      metrics: new Metrics(),
      log: (_l, m) => logs.push(m),
    });
    await ingest.start();
    try {
      const end = Date.now() + 120_000;
      while ((await groupLag(bootstrap, 'gi', 'ti.events')) > 0) {
        if (Date.now() > end) throw new Error(`not caught up:\n${logs.slice(-15).join('\n')}`);
        await new Promise((r) => setTimeout(r, 300));
      }
    } finally {
      await ingest.stop();
    }
    expect(failures).toBe(2);
    expect(stored.size).toBe(300);
    // Nothing committed past an unprocessed chunk; the retried chunks were processed again.
    expect([...stored.values()].every((n) => n >= 1)).toBe(true);
    expect(ingest.stats.consumerRestarts).toBeGreaterThanOrEqual(1);
    // Transactions refused while the coordinator finishes the previous one are retried in place.
    expect(logs.join('\n')).not.toMatch(/commit of .* failed \(The producer attempted to update a transaction while another concurrent operation/);
    expect(logs.join('\n')).toMatch(/kafka consumer stopped on KafkaJSNonRetriableError: injected failure; starting a new one/);
  });
});
