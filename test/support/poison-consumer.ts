/**
 * Child process for test/integration/kafka/kafka-poison.spec.ts: a KafkaIngest on a real broker
 * whose processing stage is a stub. The stub appends the id of every event it is given to a file
 * (synchronously, so the record survives a kill) and kills its own process with SIGKILL when it
 * sees the marker id: a native crash that no try/catch can stop.
 * Run with `node -r ts-node/register/transpile-only test/support/poison-consumer.ts`; settings
 * come from the environment (KAFKA_*, PROBEWATCH_DATA_DIR, PROBEWATCH_INSTANCE_ID as for the
 * service; POISON_MARKER and POISON_PROCESSED_FILE for the stub). Exits 0 on SIGTERM after a
 * graceful stop.
 */
import { appendFileSync } from 'node:fs';

import { DEFAULT_EVENT_LIMITS } from '../../src/ingest/event-contract';
import { ProbeEvent } from '../../src/domain/event';
import type { EventOutcome } from '../../src/ingest/pipeline';
import { KafkaIngest } from '../../src/kafka/kafka-ingest';
import { parseKafkaSettings } from '../../src/kafka/kafka-settings';
import { Metrics } from '../../src/ops/metrics';

function processStub(marker: string, processedFile: string): (events: ProbeEvent[]) => Promise<EventOutcome[]> {
  return async function processEvents(events) {
    const seen: string[] = [];
    for (const e of events) {
      if (e.id === marker) {
        if (seen.length) appendFileSync(processedFile, seen.map((id) => `${id}\n`).join(''));
        process.stdout.write(`poison-consumer: marker ${marker} seen, dying by SIGKILL\n`);
        process.kill(process.pid, 'SIGKILL');
      }
      seen.push(e.id);
    }
    if (seen.length) appendFileSync(processedFile, seen.map((id) => `${id}\n`).join(''));
    return events.map(() => ({ status: 'stored', alerts: [] }));
  };
}

async function main(): Promise<void> {
  const marker = process.env.POISON_MARKER;
  const processedFile = process.env.POISON_PROCESSED_FILE;
  if (!marker || !processedFile) throw new Error('POISON_MARKER and POISON_PROCESSED_FILE are required');
  const problems: string[] = [];
  const settings = parseKafkaSettings(process.env, problems);
  if (!settings || problems.length) throw new Error(`bad Kafka settings: ${problems.join('; ') || 'KAFKA_BROKERS unset'}`);
  if (process.env.POISON_LEDGER === 'off') settings.inflightDir = null; // for overhead measurements
  const ingest = new KafkaIngest(settings, DEFAULT_EVENT_LIMITS, {
    process: processStub(marker, processedFile),
    storageHealthy: () => true,
    metrics: new Metrics(),
    log: (level, msg) => process.stdout.write(`${level}: ${msg}\n`),
  });
  process.once('SIGTERM', () => {
    void ingest.stop().then(() => {
      process.stdout.write(`poison-consumer: stopped ${JSON.stringify(ingest.stats)}\n`);
      process.exit(0);
    });
  });
  await ingest.start();
  process.stdout.write('poison-consumer: started\n');
}

main().catch((e: Error) => {
  process.stderr.write(`poison-consumer: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
