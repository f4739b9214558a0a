/**
 * `202` means durable, on the real service (`node dist/main.js`, the default pack and model,
 * embedded ClickHouse): 300 events are posted one by one, each answered 202; the process is
 * killed with SIGKILL right after the last answer, while most are still queued for the probe;
 * after a restart on the same data directory all 300 are stored and scored, each exactly once.
 */
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { openClickHouse } from '../../src/storage/clickhouse-client';
import { ServiceProcess } from '../support/kafka-harness';
import { realModel, skipNote } from '../support/real-model';

jest.setTimeout(900_000);

const N = 300;
const TOPICS = ['my tax return', 'a birthday cake', 'learning the cello', 'a trip to Lisbon', 'fixing a bike chain'];

function event(i: number): Record<string, unknown> {
  return {
    id: `dur-${i}`, timestamp: new Date(Date.now() - 60_000).toISOString(), tenant: 'acme', source: 'chat-api', model: 'gpt-x',
    messages: [{ role: 'user', content: `Question ${i}: could you help me with ${TOPICS[i % TOPICS.length]}?` }],
  };
}

async function post(port: number, body: unknown): Promise<number> {
  const r = await fetch(`http://127.0.0.1:${port}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await r.arrayBuffer();
  return r.status;
}

async function storedCount(port: number): Promise<number> {
  const r = await fetch(`http://127.0.0.1:${port}/v1/events?tenant=acme&limit=1000`);
  return ((await r.json()) as { count: number }).count;
}

describe('durable acknowledgement on the HTTP path', () => {
  it('300 accepted events, SIGKILL, restart: 300 stored and scored, each once', async () => {
    const model = await realModel();
    if (typeof model === 'string') return skipNote(model);
    if (!existsSync(path.resolve(__dirname, '..', '..', 'dist', 'main.js'))) throw new Error('dist/main.js is missing: `npm test` compiles it first (or run `npm run build`)');
    const work = mkdtempSync(path.join(tmpdir(), 'pw-durable-'));
    const store = path.join(work, 'clickhouse');
    const walDir = path.join(work, 'accept-log');
    const svc = new ServiceProcess({
      PROBEWATCH_DATA_DIR: model.paths.dataDir, PROBEWATCH_AUTH: 'off', PROBEWATCH_CLICKHOUSE_DIR: store, PROBEWATCH_ACCEPT_LOG_DIR: walDir, PROBEWATCH_RULES_WATCH: 'false',
    }, 'durable');
    try {
      await svc.start(false);
      const statuses: number[] = [];
      for (let i = 0; i < N; i += 10) {
        statuses.push(...(await Promise.all(Array.from({ length: 10 }, (_, j) => post(svc.port, event(i + j))))));
      }
      expect(statuses.filter((s) => s === 202)).toHaveLength(N);
      await svc.kill('SIGKILL');
      // The accept log holds what was acknowledged; the store has at most a few of them.
      expect(readdirSync(walDir).filter((f) => f.endsWith('.wal')).length).toBeGreaterThan(0);

      await svc.start(false);
      const end = Date.now() + 600_000;
      let stored = 0;
      while ((stored = await storedCount(svc.port)) < N) {
        svc.assertAlive();
        if (Date.now() > end) throw new Error(`only ${stored} of ${N} stored after restart:\n${svc.tail(40)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
      const replayed = await svc.metric('probewatch_events_replayed_total');
      expect(replayed).toBeGreaterThan(0); // the kill did catch events before they were scored
      await svc.stop();
      expect(svc.output()).toMatch(/shutdown complete/);
      // Settled and cleanly closed: nothing left to replay.
      expect(readdirSync(walDir).filter((f) => f.endsWith('.wal'))).toEqual([]);
    } finally {
      await svc.kill('SIGKILL');
    }
    const client = await openClickHouse({ kind: 'embedded', location: store, database: 'probewatch' });
    try {
      const n = async (sql: string): Promise<number> => Number((await (await client.query({ query: sql, format: 'JSONEachRow' })).json<{ n: string }>())[0].n);
      expect(await n("SELECT count() AS n FROM events FINAL WHERE event_id LIKE 'dur-%'")).toBe(N);
      // Without FINAL: no event was stored twice, no concept scored twice.
      expect(await n("SELECT count() AS n FROM events WHERE event_id LIKE 'dur-%'")).toBe(N);
      expect(await n("SELECT count() AS n FROM concept_scores WHERE event_id LIKE 'dur-%'")).toBe(N * 4);
      expect(await n("SELECT uniqExact(event_id) AS n FROM concept_scores WHERE event_id LIKE 'dur-%'")).toBe(N);
      expect(await n('SELECT count() AS n FROM dead_letters')).toBe(0);
    } finally {
      await client.close();
    }
  });
});
