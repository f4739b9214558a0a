/**
 * The rules engine inside the real service (real model, embedded ClickHouse): a windowed rule
 * evaluated on its schedule raises one alert per group; rule files are watched and reloaded; a
 * broken file is rejected with file:line:col while the last good set stays active, visible in the
 * API and /metrics; every set is hashed and its changes recorded in the audit trail.
 */
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';

import { loadConfig } from '../../src/config/app-config';
import { createApp } from '../../src/main';
import { realModel, skipNote } from '../support/real-model';
import { until } from '../support/until';

jest.setTimeout(300_000);

const ROOT = path.resolve(__dirname, '..', '..');

const BURST_RULES = `apiVersion: probewatch/v1
engine: ">=1.1"
rules:
  - rule: Burst From One User
    desc: Test rule; two events of one user from the e2e source within a minute.
    severity: low
    tags: [sandbox, test]
    kind: windowed
    where: event.source == "rules-e2e" and known_user
    aggregate: count()
    window: 1m
    every: 1s
    group_by: [user]
    condition: value >= 2
    annotations: {summary: "{{ labels.user }} sent {{ value }} events in {{ window }}"}
`;


describe('rules in the running service', () => {
  let app: NestExpressApplication | null = null;
  let rulesDir = '';

  afterAll(async () => {
    if (app) await app.close();
  });

  it('evaluates windowed rules on schedule, reloads on change, keeps the last good set, and records history', async () => {
    const env = await realModel();
    if (typeof env === 'string') return skipNote(env);
    const dir = mkdtempSync(path.join(tmpdir(), 'pw-rules-e2e-'));
    rulesDir = path.join(dir, 'rules');
    mkdirSync(rulesDir);
    copyFileSync(path.join(ROOT, 'rules', 'default.yaml'), path.join(rulesDir, 'default.yaml'));
    writeFileSync(path.join(rulesDir, 'team.yaml'), BURST_RULES);
    const cfg = loadConfig({ ...process.env, PROBEWATCH_DATA_DIR: env.paths.dataDir, PROBEWATCH_AUTH: 'off', PROBEWATCH_RULES_DIR: rulesDir, PROBEWATCH_RULES_TICK_MS: '200', PROBEWATCH_WRITER_FLUSH_MS: '100' });
    cfg.store = { kind: 'embedded', location: path.join(dir, 'clickhouse'), database: 'probewatch' };
    app = await createApp(cfg);
    await app.init();
    const http = app.getHttpServer();

    const first = await request(http).get('/v1/rules').expect(200);
    expect(first.body.rules).toBe(8);
    expect(first.body.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(first.body.items.find((r: { rule: string }) => r.rule === 'Burst From One User')).toMatchObject({ kind: 'windowed', window: '1m', every: '1s', group_by: ['tenant', 'user'] });

    // Two events of user u1 (and one of u2) at the current time: one windowed alert, for u1 only.
    const now = new Date().toISOString();
    const ev = (id: string, user: string) => ({ id, timestamp: now, tenant: 'acme', source: 'rules-e2e', model: 'm', user, messages: [{ role: 'user', content: 'What is a good name for a cat?' }] });
    await request(http).post('/v1/events').send([ev('r1', 'u1'), ev('r2', 'u1'), ev('r3', 'u2')]).expect(202);
    const fired = await until(async () => {
      const r = await request(http).get('/v1/alerts').query({ tenant: 'acme', rule: 'Burst From One User' });
      return r.body.count >= 1 ? r.body.items : null;
    });
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ kind: 'windowed', labels: { alertname: 'Burst From One User', severity: 'low', tenant: 'acme', user: 'u1' }, value: 2 });
    expect(fired[0].annotations.summary).toBe('u1 sent 2 events in 1m');
    // Evaluations keep running each second; the alert stays one alert.
    await new Promise((r) => setTimeout(r, 2500));
    const still = await request(http).get('/v1/alerts').query({ tenant: 'acme', rule: 'Burst From One User' });
    expect(still.body.count).toBe(1);

    const health = await request(http).get('/v1/rules').expect(200);
    const burst = health.body.items.find((r: { rule: string }) => r.rule === 'Burst From One User');
    expect(burst.health).toMatchObject({ lastError: null, errors: 0 });
    expect(burst.health.evaluations).toBeGreaterThan(2);
    expect(Date.parse(burst.health.lastEvaluation)).toBeGreaterThan(Date.now() - 10_000);
    const harmful = health.body.items.find((r: { rule: string }) => r.rule === 'Harmful Intent Request');
    expect(harmful.health.evaluations).toBeGreaterThanOrEqual(3);
    const metrics = await request(http).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/probewatch_rule_last_evaluation_timestamp_seconds\{rule="Burst From One User",kind="windowed"\} \d/);
    expect(metrics.text).toMatch(/probewatch_rule_healthy\{rule="Burst From One User",kind="windowed"\} 1/);
    expect(metrics.text).toMatch(/probewatch_rule_last_evaluation_timestamp_seconds\{rule="Harmful Intent Request",kind="event"\} \d/);
    expect(metrics.text).toMatch(/probewatch_rule_healthy\{rule="Harmful Intent Request",kind="event"\} 1/);

    // A broken edit is rejected with its position; the last good set (8 rules) stays active.
    writeFileSync(path.join(rulesDir, 'team.yaml'), BURST_RULES.replace('value >= 2', 'value >= 2 and colour == "red"'));
    const rejected = await until(async () => {
      const r = await request(http).get('/v1/rules');
      return r.body.lastReload.ok === false ? r.body : null;
    });
    expect(rejected.rules).toBe(8);
    expect(rejected.hash).toBe(first.body.hash);
    expect(rejected.lastReload.problems).toEqual([expect.stringMatching(/team\.yaml:14:31: unknown macro 'colour'/)]);
    expect((await request(http).get('/metrics')).text).toMatch(/probewatch_rules_last_reload_success 0/);

    // A good edit (the user tunes a shipped rule in their own file) is picked up by the watcher.
    writeFileSync(path.join(rulesDir, 'team.yaml'), `${BURST_RULES}
  - rule: Sycophantic Assistant Reply
    enabled: false
`);
    const reloaded = await until(async () => {
      const r = await request(http).get('/v1/rules');
      return r.body.lastReload.ok && r.body.hash !== first.body.hash ? r.body : null;
    });
    expect(reloaded.items.find((r: { rule: string }) => r.rule === 'Sycophantic Assistant Reply').enabled).toBe(false);
    expect((await request(http).get('/metrics')).text).toMatch(/probewatch_rules_last_reload_success 1/);

    // POST /v1/rules/reload with nothing changed: same set, nothing recorded.
    const again = await request(http).post('/v1/rules/reload').expect(200);
    expect(again.body).toMatchObject({ ok: true, changed: false, hash: reloaded.hash });

    const history = await request(http).get('/v1/rules/history').expect(200);
    const items = history.body.items as Array<{ ok: boolean; hash: string; previousHash: string; added: string[]; changed: string[]; problems: string[]; files: Record<string, string> }>;
    expect(items).toHaveLength(3);
    expect(items[0]).toMatchObject({ ok: true, hash: reloaded.hash, previousHash: first.body.hash, changed: ['Sycophantic Assistant Reply'], added: [] });
    expect(Object.keys(items[0].files).sort()).toEqual(['default.yaml', 'team.yaml']);
    expect(items[1]).toMatchObject({ ok: false });
    expect(items[1].problems[0]).toMatch(/unknown macro 'colour'/);
    expect(items[2]).toMatchObject({ ok: true, hash: first.body.hash, previousHash: '' });
    expect(items[2].added).toHaveLength(8);
  });
});
