/**
 * Alert delivery beside Kafka ingestion, on a real broker with the real service as a child
 * process: kafka_configs puts notifications on a topic, and a webhook that holds every
 * notification for 10 s does not hold up the consumer's commits.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { KafkaBroker } from '../../../tools/infra/kafka-broker';
import { writeTrivialPack } from '../../../src/probe/trivial-pack';
import { createTopic, freshStore, kafkaPrerequisite, produceEvents, readAll, ServiceProcess, startBroker } from '../../support/kafka-harness';
import { realModel, skipNote } from '../../support/real-model';
import { HttpSink } from '../../support/receivers';
import { until } from '../../support/until';

jest.setTimeout(600_000);

const RULES = `apiVersion: probewatch/v1
engine: ">=1.0"
rules:
  - rule: Test Marker
    desc: fires on events whose text carries the marker
    severity: high
    tags: [sandbox, testing]
    condition: event.text contains "ALERT-ME"
    labels: {concept: test}
`;

describe('alert receivers beside Kafka ingestion (real broker)', () => {
  let skip: string | null = null;
  let broker: KafkaBroker | null = null;
  let svc: ServiceProcess | null = null;
  const slow = new HttpSink();

  beforeAll(async () => {
    const model = await realModel();
    const prereq = kafkaPrerequisite();
    if (typeof model === 'string' || prereq) {
      skip = typeof model === 'string' ? model : prereq;
      return;
    }
    await slow.start();
    slow.respond = () => ({ status: 200, delayMs: 10_000 });
    const work = mkdtempSync(path.join(tmpdir(), 'pw-kafka-recv-'));
    const packDir = writeTrivialPack(path.join(model.paths.probesDir, model.pack.manifest.id), path.join(work, 'pack'));
    mkdirSync(path.join(work, 'rules'));
    writeFileSync(path.join(work, 'rules', 'test.yaml'), RULES);
    writeFileSync(path.join(work, 'alerting.yaml'), `route: {receiver: team, group_by: ['...'], group_wait: 0s, group_interval: 1s, repeat_interval: 1h}
receivers:
  - name: team
    kafka_configs: [{topic: recv.notifications}]
    webhook_configs: [{url: '${slow.url}/slow', timeout: 30s}]
`);
    broker = await startBroker();
    const bootstrap = (broker.info() as { bootstrap: string }).bootstrap;
    for (const t of ['recv', 'recv.dlq', 'recv.alerts', 'recv.notifications']) await createTopic(bootstrap, t, 2);
    svc = new ServiceProcess({
      PROBEWATCH_DATA_DIR: model.paths.dataDir, PROBEWATCH_PACK: packDir, PROBEWATCH_RULES_DIR: path.join(work, 'rules'), PROBEWATCH_CLICKHOUSE_DIR: freshStore(),
      PROBEWATCH_WRITER_FLUSH_MS: '200', PROBEWATCH_ALERTING_FILE: path.join(work, 'alerting.yaml'), PROBEWATCH_NOTIFY_TICK_MS: '200',
      KAFKA_BROKERS: bootstrap, KAFKA_TOPIC: 'recv', KAFKA_GROUP_ID: 'recv', KAFKA_DLQ_TOPIC: 'recv.dlq', KAFKA_ALERTS_TOPIC: 'recv.alerts', PROBEWATCH_INSTANCE_ID: 'recv-1',
    }, 'recv');
    await svc.start();
  });

  afterAll(async () => {
    await svc?.kill('SIGKILL');
    await broker?.destroy();
    await slow.close();
  });

  it('commits while the webhook holds its notifications, and puts the notifications on the kafka_configs topic', async () => {
    if (skip) return skipNote(skip);
    const bootstrap = (broker!.info() as { bootstrap: string }).bootstrap;
    await produceEvents(bootstrap, 'recv', 'rv', 10);
    await until(async () => slow.on('/slow').length > 0, 120_000);
    const heldFrom = slow.on('/slow')[0].at;
    // The webhook has not answered anything yet; the consumer goes on committing new events.
    await produceEvents(bootstrap, 'recv', 'rv', 100, 10);
    await svc!.waitForCommitted(110, 120_000);
    expect(Date.now()).toBeLessThan(heldFrom + 10_000);

    const messages = await until(async () => {
      const m = await readAll(bootstrap, 'recv.notifications');
      return m.length >= 1 ? m : null;
    }, 120_000);
    const n = JSON.parse(messages[0].value!.toString()) as { version: string; receiver: string; status: string; alerts: Array<{ labels: Record<string, string>; event_id: string }> };
    expect(n).toMatchObject({ version: '4', receiver: 'team', status: 'firing' });
    expect(n.alerts[0].labels).toMatchObject({ rule: 'Test Marker', severity: 'high' });
    expect(n.alerts[0].event_id).toMatch(/^rv-\d+$/);
  });
});
