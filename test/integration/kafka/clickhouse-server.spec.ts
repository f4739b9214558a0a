/**
 * The network path to a ClickHouse server, on Debian's clickhouse-server 18.16 (the only server
 * installable here), started by the infra harness from `apt-get download` + `dpkg -x`.
 * 18.16 cannot run the project's schema (no DateTime64, TTL or query parameters), so, as the
 * issue allows, these tests run the writer against a table that server accepts, in the same
 * ReplacingMergeTree shape as `events`:
 *   - the batch writer inserts over HTTP with @clickhouse/client, retries with backoff while the
 *     server is down, and flushes on close;
 *   - reliability test 3: Kafka (real broker) -> real probe engine (trivial pack) -> pipeline ->
 *     writer -> server; the server is stopped for 30 s mid-stream: the consumer pauses, resumes by
 *     itself, and every event is stored.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { ClickHouseClient, ClickHouseLogLevel, createClient } from '@clickhouse/client';

import { resolveRuntimePaths } from '../../../src/config/runtime-paths';
import { ClickHouseServer, ensureClickHouseServer } from '../../../tools/infra/clickhouse-server';
import type { KafkaBroker } from '../../../tools/infra/kafka-broker';
import { Pipeline } from '../../../src/ingest/pipeline';
import { DEFAULT_EVENT_LIMITS } from '../../../src/ingest/event-contract';
import { KafkaIngest } from '../../../src/kafka/kafka-ingest';
import { parseKafkaSettings } from '../../../src/kafka/kafka-settings';
import { Metrics } from '../../../src/ops/metrics';
import { openEngine } from '../../../src/cli/main';
import type { ProbeEngine } from '../../../src/probe/probe-engine';
import { writeTrivialPack } from '../../../src/probe/trivial-pack';
import { BatchWriter } from '../../../src/storage/batch-writer';
import { chTime } from '../../../src/storage/events.repository';
import { createTopic, groupLag, kafkaPrerequisite, produceEvents, startBroker } from '../../support/kafka-harness';
import { realModel, skipNote } from '../../support/real-model';

jest.setTimeout(600_000);

const TABLE = `CREATE TABLE IF NOT EXISTS events_compat (
  tenant String, event_id String, ts DateTime, received_at DateTime, harmful_intent Float32, version UInt64
) ENGINE = ReplacingMergeTree(version) ORDER BY (tenant, event_id)`;

const quiet = { step: (m: string) => process.stderr.write(`[harness] ${m}\n`) };

function serverPrerequisite(): string | null {
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const ok = ['apt-get', 'dpkg'].every((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
  if (ok) return null;
  const reason = 'apt-get and dpkg are needed to fetch Debian\'s clickhouse-server for the network-path tests';
  if (process.env.CI === 'true') throw new Error(`CI=true and a prerequisite is missing: ${reason}`);
  return reason;
}

async function count(client: ClickHouseClient, prefix: string): Promise<number> {
  // 18.16 has no query parameters; the prefix is a test constant.
  const res = await client.query({ query: `SELECT count() AS n FROM events_compat FINAL WHERE startsWith(event_id, '${prefix}-')`, format: 'JSONEachRow' });
  return Number((await res.json<{ n: string }>())[0].n);
}

describe('ClickHouse server (Debian 18.16) network path', () => {
  let skip: string | null = null;
  let server: ClickHouseServer;
  let client: ClickHouseClient;
  let url = '';

  beforeAll(async () => {
    skip = serverPrerequisite();
    if (skip) return;
    const paths = resolveRuntimePaths();
    server = new ClickHouseServer(mkdtempSync(path.join(tmpdir(), 'pw-ch-')), ensureClickHouseServer(path.join(paths.dataDir, 'cache'), quiet));
    url = (await server.start(quiet, { httpPort: await (await import('../../../tools/infra/process-util')).freePort() })).url;
    client = createClient({ url, log: { level: ClickHouseLogLevel.OFF } });
    await client.command({ query: TABLE });
  });

  afterAll(async () => {
    await client?.close();
    if (server) await server.destroy();
  });

  it('the writer retries while the server is down, then stores everything; close() flushes', async () => {
    if (skip) return skipNote(skip);
    const logs: string[] = [];
    const w = new BatchWriter(client, { maxRows: 100, flushMs: 50, maxBackoffMs: 500 }, (m) => logs.push(m));
    const row = (i: number): Record<string, unknown> => ({ tenant: 'acme', event_id: `w-${i}`, ts: '2026-11-24 10:00:00', received_at: '2026-11-24 10:00:00', harmful_intent: 0.5, version: 1 });
    await w.write('events_compat', [row(0), row(1)]);
    expect(await count(client, 'w')).toBe(2);
    await server.stop();
    const pending = w.write('events_compat', [row(2), row(3)]);
    await new Promise((r) => setTimeout(r, 1500));
    expect(w.healthy).toBe(false);
    expect(w.stats.failures).toBeGreaterThan(1);
    expect(logs.join('\n')).toMatch(/retrying in \d+ ms/);
    await server.start(quiet);
    await pending;
    expect(w.healthy).toBe(true);
    // Rows written just before close are flushed by close(); the same ids again change nothing.
    void w.write('events_compat', [row(4), row(0)]);
    await w.close();
    expect(await count(client, 'w')).toBe(5);
  });

  describe('with Kafka', () => {
    let broker: KafkaBroker | null = null;
    let engine: ProbeEngine | null = null;
    afterAll(async () => {
      await engine?.close();
      if (broker) await broker.destroy();
    });

    it('3. the server stops for 30 s mid-stream: the consumer pauses, resumes by itself, nothing lost', async () => {
      if (skip) return skipNote(skip);
      const model = await realModel();
      const kskip = kafkaPrerequisite();
      if (typeof model === 'string' || kskip) return skipNote(typeof model === 'string' ? model : (kskip as string));
      broker = await startBroker();
      const bootstrap = (broker.info() as { bootstrap: string }).bootstrap;
      const packDir = writeTrivialPack(path.join(model.paths.probesDir, model.pack.manifest.id), path.join(mkdtempSync(path.join(tmpdir(), 'pw-pack-')), 'p'));
      engine = await openEngine(model.paths, packDir, {});
      const metrics = new Metrics();
      const logs: string[] = [];
      const writer = new BatchWriter(client, { maxRows: 500, flushMs: 100, maxBackoffMs: 1000 }, (m) => logs.push(m));
      const eng = engine;
      const pipeline = new Pipeline({
        score: (e) => eng.score(e),
        evaluate: () => ({ alerts: [], errors: [] }),
        store: (e, s, _a, at) => writer.write('events_compat', [{ tenant: e.tenant, event_id: e.id, ts: chTime(e.timestamp).slice(0, 19), received_at: chTime(at.toISOString()).slice(0, 19),
          harmful_intent: s.concepts.harmful_intent.score, version: at.getTime() }]),
        raise: () => undefined,
        deadLetter: async () => undefined,
        log: (_l, m) => logs.push(m),
      }, metrics, 256, 32);
      const problems: string[] = [];
      const settings = parseKafkaSettings({ KAFKA_BROKERS: bootstrap, KAFKA_TOPIC: 't3.events', KAFKA_GROUP_ID: 'g3', PROBEWATCH_INSTANCE_ID: 't3' }, problems);
      expect(problems).toEqual([]);
      const N = 6000;
      await createTopic(bootstrap, 't3.events', 4);
      await produceEvents(bootstrap, 't3.events', 't3', N);
      const ingest = new KafkaIngest(settings as NonNullable<typeof settings>, { ...DEFAULT_EVENT_LIMITS, maxContentChars: 100_000 }, {
        process: (events, at) => pipeline.process(events, at), storageHealthy: () => writer.healthy, metrics, log: (_l, m) => logs.push(m),
      });
      await ingest.start();
      try {
        while (ingest.stats.events < 100) await new Promise((r) => setTimeout(r, 100));
        await server.stop();
        const stoppedAt = Date.now();
        // While the server is down: the consumer pauses and commits nothing.
        while (!ingest.isPaused) {
          if (Date.now() - stoppedAt > 20_000) throw new Error(`consumer did not pause: ${JSON.stringify({ stats: ingest.stats, writer: writer.stats, pending: writer.pendingRows, depth: pipeline.depth })}\n${logs.slice(-15).join('\n')}`);
          await new Promise((r) => setTimeout(r, 100));
        }
        const committedWhileDown = ingest.stats.committed;
        const lagWhileDown = await groupLag(bootstrap, 'g3', 't3.events');
        await new Promise((r) => setTimeout(r, 30_000 - (Date.now() - stoppedAt)));
        expect(ingest.stats.committed).toBe(committedWhileDown);
        expect(await groupLag(bootstrap, 'g3', 't3.events')).toBe(lagWhileDown);
        expect(lagWhileDown).toBeGreaterThan(0);
        await server.start(quiet);
        const end = Date.now() + 300_000;
        while ((await groupLag(bootstrap, 'g3', 't3.events')) > 0) {
          if (Date.now() > end) throw new Error(`not caught up:\n${logs.slice(-10).join('\n')}`);
          await new Promise((r) => setTimeout(r, 500));
        }
        expect(ingest.isPaused).toBe(false);
        expect(ingest.stats.pauses).toBeGreaterThanOrEqual(1);
        expect(logs.join('\n')).toMatch(/consumption paused/);
        expect(logs.join('\n')).toMatch(/consumption resumed/);
      } finally {
        await ingest.stop();
        await pipeline.stop();
        await writer.close();
      }
      expect(await count(client, 't3')).toBe(N);
    });
  });
});
