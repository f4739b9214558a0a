/**
 * A message that kills the consumer process outright (SIGKILL from inside its processing, as a
 * native crash would) on a real broker: after the restarts the in-flight ledger allows (see
 * src/kafka/poison-ledger.ts), the message is on the dead-letter topic as `poison` with its
 * original bytes, the consumer stays up, and every other message is processed and committed.
 * The consumer is test/support/poison-consumer.ts (KafkaIngest with a stub processing stage: the
 * Kafka side is under test here; the real pipeline is covered by kafka-reliability.spec.ts).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { KafkaBroker } from '../../../tools/infra/kafka-broker';
import { createTopic, groupLag, kafkaOf, kafkaPrerequisite, readAll, startBroker, testEvent } from '../../support/kafka-harness';
import { skipNote } from '../../support/real-model';

jest.setTimeout(600_000);

const ROOT = path.resolve(__dirname, '..', '..', '..');
const FIXTURE = path.join(ROOT, 'test', 'support', 'poison-consumer.ts');

/** One run of the consumer child: its output, and how it ended. */
class Consumer {
  readonly out: string[] = [];
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private readonly child: ChildProcess;

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', FIXTURE], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const feed = (b: Buffer): void => {
      this.out.push(b.toString('utf8'));
    };
    this.child.stdout?.on('data', feed);
    this.child.stderr?.on('data', feed);
    this.child.on('exit', (code, signal) => {
      this.exit = { code, signal };
    });
  }

  tail(n = 40): string {
    return this.out.join('').trimEnd().split('\n').slice(-n).join('\n');
  }

  stop(): Promise<void> {
    if (this.exit) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill('SIGTERM');
    });
  }
}

describe('a message that crashes the consumer process', () => {
  let broker: KafkaBroker | null = null;
  const children: Consumer[] = [];
  afterAll(async () => {
    for (const c of children) await c.stop();
    if (broker) await broker.destroy();
  });

  it('is quarantined to the DLQ after at most two deaths; the others are processed and committed', async () => {
    const skip = kafkaPrerequisite();
    if (skip) return skipNote(skip);
    broker = await startBroker();
    const bootstrap = (broker.info() as { bootstrap: string }).bootstrap;
    const topic = 'tp.events';
    const group = 'gp';
    const chunk = 5;
    const perPartition = 40;
    const markerOffset = 17;
    await createTopic(bootstrap, topic, 2);
    // Partition 0 carries the marker in the middle; partition 1 is consumed beside it.
    const marker = { ...testEvent(0, 'tp-marker'), id: 'tp-POISON' };
    const markerBytes = Buffer.from(JSON.stringify(marker));
    const producer = kafkaOf(bootstrap).producer();
    await producer.connect();
    for (const partition of [0, 1]) {
      await producer.send({ topic, acks: -1, messages: Array.from({ length: perPartition }, (_, i) => ({
        partition, key: `p${partition}-${i}`,
        value: partition === 0 && i === markerOffset ? markerBytes : JSON.stringify(testEvent(i, `tp-p${partition}`)),
      })) });
    }
    await producer.disconnect();

    const work = mkdtempSync(path.join(tmpdir(), 'pw-poison-'));
    const processedFile = path.join(work, 'processed.txt');
    const env = {
      KAFKA_BROKERS: bootstrap, KAFKA_TOPIC: topic, KAFKA_GROUP_ID: group, KAFKA_DLQ_TOPIC: `${topic}.dlq`, KAFKA_ALERTS_TOPIC: `${topic}.alerts`,
      KAFKA_CHUNK_EVENTS: String(chunk), KAFKA_PARTITIONS_CONCURRENCY: '2', PROBEWATCH_INSTANCE_ID: 'tp-a', PROBEWATCH_DATA_DIR: path.join(work, 'data'),
      POISON_MARKER: marker.id, POISON_PROCESSED_FILE: processedFile,
    };

    // Start the consumer; each time it dies, start it again on the same data directory.
    const deaths: string[] = [];
    let survivor: Consumer | null = null;
    for (let run = 1; run <= 4 && !survivor; run++) {
      const c = new Consumer(env);
      children.push(c);
      const end = Date.now() + 180_000;
      for (;;) {
        await new Promise((r) => setTimeout(r, 300));
        if (c.exit) {
          if (c.exit.signal !== 'SIGKILL') throw new Error(`consumer run ${run} ended with ${JSON.stringify(c.exit)}:\n${c.tail()}`);
          deaths.push(c.tail(8));
          break;
        }
        if ((await groupLag(bootstrap, group, topic)) === 0) {
          survivor = c;
          break;
        }
        if (Date.now() > end) throw new Error(`consumer run ${run} neither died nor caught up in 180 s:\n${c.tail()}`);
      }
    }
    if (!survivor) throw new Error(`the consumer crash-looped: ${deaths.length} deaths; last output:\n${deaths[deaths.length - 1]}`);
    // One death with the marker in a chunk, one with the marker handled alone; then quarantine.
    expect(deaths).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 2000));
    expect(survivor.exit).toBeNull();
    expect(survivor.out.join('')).toMatch(new RegExp(`${topic}\\[0\\] offset ${markerOffset}: the process died 2 time\\(s\\) .*; quarantined to ${topic}\\.dlq`));

    // The marker is on the DLQ, unprocessed, with its original bytes; nothing else is.
    const dlq = await readAll(bootstrap, `${topic}.dlq`);
    expect(dlq).toHaveLength(1);
    const [letter] = dlq;
    expect(letter.key?.toString()).toBe(`p0-${markerOffset}`);
    expect(letter.value?.equals(markerBytes)).toBe(true);
    const header = (name: string): string | undefined => letter.headers?.[name]?.toString();
    expect(header('probewatch-error')).toBe('poison');
    expect(header('probewatch-reason')).toMatch(/^the process died 2 time\(s\) with this message in flight, the last time while handling it alone/);
    expect([header('probewatch-original-topic'), header('probewatch-original-partition'), header('probewatch-original-offset')]).toEqual([topic, '0', String(markerOffset)]);

    // Every other message was processed; only those of a chunk in flight at a death more than
    // once; all committed.
    const seen = new Map<string, number>();
    for (const id of readFileSync(processedFile, 'utf8').split('\n').filter(Boolean)) seen.set(id, (seen.get(id) ?? 0) + 1);
    expect(seen.has(marker.id)).toBe(false);
    for (const p of [0, 1]) {
      const good = Array.from({ length: perPartition }, (_, i) => i).filter((i) => p !== 0 || i !== markerOffset);
      expect(good.filter((i) => !seen.has(`tp-p${p}-${i}`))).toEqual([]);
      const again = good.filter((i) => (seen.get(`tp-p${p}-${i}`) ?? 0) > 1);
      if (again.length) expect(Math.max(...again) - Math.min(...again)).toBeLessThan(chunk);
      if (p === 0) expect(again.every((i) => i > markerOffset - chunk && i < markerOffset)).toBe(true);
    }
    const admin = kafkaOf(bootstrap).admin();
    await admin.connect();
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    await admin.disconnect();
    expect(committed.partitions.map((x) => [x.partition, x.offset]).sort()).toEqual([[0, String(perPartition)], [1, String(perPartition)]]);

    // A graceful stop leaves nothing recorded in flight.
    await survivor.stop();
    expect(survivor.exit).toEqual({ code: 0, signal: null });
    const ledgerDir = path.join(work, 'data', 'kafka-inflight', 'tp-a', group);
    expect(existsSync(ledgerDir) ? readdirSync(ledgerDir) : []).toEqual([]);
  });
});
