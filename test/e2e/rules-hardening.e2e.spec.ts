/**
 * Rule files and the running service, hardened (real model, embedded ClickHouse):
 *  - a start whose rule files are rejected comes up on the last good set recorded in storage,
 *    reports the problem (file:line:col) in /readyz and /v1/rules, and still raises that set's
 *    alerts; a later good edit of the files switches back to them;
 *  - `matches` is RE2: a pattern RE2 cannot run (lookahead) is rejected at start, and the
 *    pathological `^(a+)+$`, which RE2 runs in linear time, does not freeze the service on long
 *    `aaaa…b` texts (/healthz over real HTTP answers within 1 s throughout);
 *  - a start with rejected files and no good set ever recorded fails, as before.
 * Three boots in all: the first records the good set, the second covers the first two points.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';

import { loadConfig } from '../../src/config/app-config';
import { createApp } from '../../src/main';
import { realModel, skipNote } from '../support/real-model';
import { until } from '../support/until';

jest.setTimeout(600_000);

const HEAD = 'apiVersion: probewatch/v1\nengine: ">=1.1"\nrules:\n';
const GOOD = `${HEAD}  - rule: Hardening Marker
    desc: Test rule; any event from the hardening e2e source.
    severity: low
    tags: [sandbox, test]
    condition: event.source == "hardening-e2e"
`;
// RE2 has no lookahead: rejected, at the pattern literal (line 8, column 35).
const LOOKAHEAD = `${HEAD}  - rule: Team Lookahead
    desc: Broken on purpose.
    severity: low
    tags: [sandbox, test]
    condition: event.text matches "^(a+)+(?=b)"
`;
// Catastrophic backtracking for JavaScript's RegExp (13.7 s on 29 characters); linear for RE2.
const PATHOLOGICAL = `${HEAD}  - rule: Long A Run
    desc: Test rule; a text of only a's from the regex e2e source.
    severity: low
    tags: [sandbox, test]
    condition: event.source == "hardening-regex" and event.text matches "^(a+)+$"
`;

interface RulesBody {
  hash: string;
  source: string;
  storedSet: { hash: string; recordedAt: string; instance: string } | null;
  lastReload: { ok: boolean; problems: string[] };
  items: Array<{ rule: string; health: { evaluations: number; lastError: string | null } | null }>;
}

describe('rule files on start and bounded regular expressions (real service)', () => {
  let root = '';
  let modelDataDir = '';
  let skip: string | null = null;
  const open: NestExpressApplication[] = [];

  beforeAll(async () => {
    const env = await realModel();
    if (typeof env === 'string') {
      skip = env;
      return;
    }
    modelDataDir = env.paths.dataDir;
    root = mkdtempSync(path.join(tmpdir(), 'pw-hardening-e2e-'));
  });
  afterAll(async () => {
    for (const app of open) await app.close().catch(() => undefined);
  });

  /** A service on its own rules directory and store; model artifacts are the suite's. */
  async function boot(rulesDir: string, store: string): Promise<NestExpressApplication> {
    const cfg = loadConfig({ ...process.env, PROBEWATCH_DATA_DIR: modelDataDir, PROBEWATCH_AUTH: 'off', PROBEWATCH_RULES_DIR: rulesDir, PROBEWATCH_WRITER_FLUSH_MS: '100' });
    cfg.store = { kind: 'embedded', location: path.join(root, store), database: 'probewatch' };
    const app = await createApp(cfg);
    open.push(app);
    await app.init();
    return app;
  }

  async function close(app: NestExpressApplication): Promise<void> {
    open.splice(open.indexOf(app), 1);
    await app.close();
  }

  const event = (id: string, source: string, content: string) => ({
    id, timestamp: new Date().toISOString(), tenant: 'acme', source, model: 'm', user: 'u1', messages: [{ role: 'user', content }],
  });

  it('comes up on the last good set when its files are rejected, and never freezes on a pathological pattern', async () => {
    if (skip) return skipNote(skip);
    const rulesDir = path.join(root, 'rules');
    mkdirSync(rulesDir);
    writeFileSync(path.join(rulesDir, 'default.yaml'), GOOD);

    // First start: good files; the set and its sources are recorded.
    let app = await boot(rulesDir, 'store');
    const good = (await request(app.getHttpServer()).get('/v1/rules').expect(200)).body as RulesBody;
    expect(good).toMatchObject({ source: 'files', storedSet: null, lastReload: { ok: true } });
    await close(app);

    // Second start on the same store, with a rejected file: up on the recorded set, degraded.
    writeFileSync(path.join(rulesDir, 'team.yaml'), LOOKAHEAD);
    app = await boot(rulesDir, 'store');
    const http = app.getHttpServer();
    const problem = expect.stringMatching(/team\.yaml:8:35: lookahead '\(\?=' is not supported: 'matches' uses RE2 syntax/);
    const ready = await request(http).get('/readyz').expect(200);
    expect(ready.body.status).toBe('degraded');
    expect(ready.body.checks.rules).toEqual({ ok: false, rules: 1, set: good.hash.slice(0, 12), source: 'storage', problems: [problem] });
    const restored = (await request(http).get('/v1/rules').expect(200)).body as RulesBody;
    expect(restored).toMatchObject({ hash: good.hash, source: 'storage', storedSet: { hash: good.hash }, lastReload: { ok: false, problems: [problem] } });
    expect(Date.parse(restored.storedSet?.recordedAt ?? '')).toBeLessThanOrEqual(Date.now());
    const history = await request(http).get('/v1/rules/history').expect(200);
    expect(history.body.items[0]).toMatchObject({ ok: false, previousHash: good.hash, problems: [problem] });

    // The recorded set still raises its alerts.
    await request(http).post('/v1/events').send([event('hardening-1', 'hardening-e2e', 'What is a good name for a cat?')]).expect(202);
    const marker = await until(async () => {
      const r = await request(http).get('/v1/alerts').query({ tenant: 'acme', rule: 'Hardening Marker' });
      return r.body.count >= 1 ? r.body.items : null;
    });
    expect(marker.map((a: { event_id: string }) => a.event_id)).toEqual(['hardening-1']);

    // The pathological pattern is RE2-runnable: the watcher picks it up and the files are back.
    writeFileSync(path.join(rulesDir, 'team.yaml'), PATHOLOGICAL);
    const back = await until(async () => {
      const r = await request(http).get('/v1/rules');
      return r.body.source === 'files' && r.body.lastReload.ok ? (r.body as RulesBody) : null;
    });
    expect(back.items.map((r) => r.rule).sort()).toEqual(['Hardening Marker', 'Long A Run']);
    expect((await request(http).get('/readyz').expect(200)).body).toMatchObject({ status: 'ready', checks: { rules: { ok: true, source: 'files', problems: [] } } });

    // Long aaaa…b texts (backtracking would never finish them) while /healthz is timed over real HTTP.
    await app.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    const long = 'a'.repeat(3000);
    const batch = [
      ...[1, 2, 3].map((i) => event(`regex-miss-${i}`, 'hardening-regex', `${long}b`)),
      event('regex-hit', 'hardening-regex', long),
    ];
    const evaluations = async (): Promise<{ evaluations: number; lastError: string | null } | null> => {
      const r = (await request(http).get('/v1/rules')).body as RulesBody;
      return r.items.find((x) => x.rule === 'Long A Run')?.health ?? null;
    };
    const before = (await evaluations())?.evaluations ?? 0;
    const latencies: number[] = [];
    const healthz = async (): Promise<void> => {
      const t0 = performance.now();
      const r = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(10_000) });
      latencies.push(performance.now() - t0);
      expect(r.status).toBe(200);
    };
    const posted = await fetch(`${base}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch) });
    expect(posted.status).toBe(202);
    const ran = await until(async () => {
      await healthz();
      const h = await evaluations();
      return h && h.evaluations >= before + batch.length ? h : null;
    });
    expect(ran.lastError).toBeNull();
    const hits = await until(async () => {
      await healthz();
      const r = await request(http).get('/v1/alerts').query({ tenant: 'acme', rule: 'Long A Run' });
      return r.body.count >= 1 ? r.body.items : null;
    });
    expect(hits.map((a: { event_id: string }) => a.event_id)).toEqual(['regex-hit']);
    expect(latencies.length).toBeGreaterThan(1);
    expect(Math.max(...latencies)).toBeLessThan(1000);
    await close(app);
  });

  it('fails a start with rejected files when no good set was ever recorded', async () => {
    if (skip) return skipNote(skip);
    const rulesDir = path.join(root, 'rules-fresh');
    mkdirSync(rulesDir);
    writeFileSync(path.join(rulesDir, 'default.yaml'), LOOKAHEAD);
    await expect(boot(rulesDir, 'store-fresh')).rejects.toThrow(/rules in .*rules-fresh are invalid:\n {2}.*default\.yaml:8:35: lookahead/);
  });
});
