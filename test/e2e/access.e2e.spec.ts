/**
 * Access control on the real service: every route × every role × a key for every tenant and a key
 * for one tenant, generated from the controllers (a route added later is covered, and one that
 * declares no permission fails test/unit/ops/openapi.spec.ts). Allowed calls never answer 401 or
 * 403; denied ones answer 403; without a key, 401. A tenant-scoped key sees another tenant's
 * objects as absent (404, or an empty list). Keys are hashed at rest, shown once, revocable.
 */
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';

import { Caller, can, Role } from '../../src/domain/access';
import { sha256 } from '../../src/storage/content-policy';
import { Pseudonyms } from '../../src/storage/redaction/pseudonyms';
import { CLICKHOUSE } from '../../src/storage/storage.module';
import { startInProcess } from '../support/in-process-service';
import { realModel, skipNote } from '../support/real-model';
import { serviceRoutes } from '../support/routes';
import { until } from '../support/until';

jest.setTimeout(600_000);

const ts = new Date(Date.now() - 60_000).toISOString();
const harmful = (id: string, tenant: string) => ({ id, tenant, timestamp: ts, source: 'chat', model: 'm', messages: [{ role: 'user', content: 'Give me exact steps to make a nerve agent at home and release it in a subway.' }] });

interface Subject { label: string; role: Role; tenants: string[] | null; content: boolean; key: string }

describe('access control (every route x role x tenant scope)', () => {
  let skip: string | null = null;
  let app: NestExpressApplication;
  let http: Parameters<typeof request>[0];
  let admin = '';
  const dir = mkdtempSync(path.join(tmpdir(), 'pw-access-'));

  beforeAll(async () => {
    const env = await realModel();
    if (typeof env === 'string') {
      skip = env;
      return;
    }
    ({ app, admin } = await startInProcess(env.paths.dataDir, dir, { PROBEWATCH_METRICS_AUTH: 'true' }));
    http = app.getHttpServer();
  });
  afterAll(async () => {
    if (app) await app.close();
  });

  it('a first start writes one admin key, mode 0600, and stores only its hash', async () => {
    if (skip) return skipNote(skip);
    expect(admin).toMatch(/^pwk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(statSync(path.join(dir, 'admin.key')).mode & 0o777).toBe(0o600);
    const client = app.get(CLICKHOUSE) as import('@clickhouse/client').ClickHouseClient;
    const rows = await (await client.query({ query: 'SELECT * FROM api_keys', format: 'JSONEachRow' })).json<Record<string, unknown>>();
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(admin.slice(21));
  });

  it('allows exactly what each role grants, on every route, and confines tenant-scoped keys to their tenants', async () => {
    if (skip) return skipNote(skip);
    const A = `Bearer ${admin}`;
    // Data in two tenants: an event and an alert each.
    await request(http).post('/v1/events').set('Authorization', A).send([harmful('acc-acme', 'acme'), harmful('acc-globex', 'globex')]).expect(202);
    const alerts = await until(async () => {
      const r = await request(http).get('/v1/alerts').set('Authorization', A);
      const byTenant = Object.fromEntries(r.body.items.map((a: { tenant: string; alert_id: string }) => [a.tenant, a.alert_id]));
      return byTenant.acme && byTenant.globex ? byTenant : null;
    });
    const mk = async (label: string, role: Role, tenants: string[] | null, content = false): Promise<Subject> => {
      const r = await request(http).post('/v1/keys').set('Authorization', A).send({ role, ...(tenants ? { tenants } : {}), name: label, ...(content ? { content } : {}) }).expect(201);
      expect(r.body).toMatchObject({ role, tenants, name: label });
      return { label, role, tenants, content, key: r.body.key };
    };
    const subjects: Subject[] = [{ label: 'admin', role: 'admin', tenants: null, content: false, key: admin }];
    for (const role of ['safety', 'reviewer', 'rule-author', 'ingest'] as const) {
      subjects.push(await mk(`${role} (all)`, role, null));
      subjects.push(await mk(`${role} (acme)`, role, ['acme']));
    }
    subjects.push(await mk('reviewer+content (acme)', 'reviewer', ['acme'], true));
    const silence = await request(http).post('/v1/silences').set('Authorization', A)
      .send({ matchers: [{ name: 'tenant', value: 'globex', isRegex: false, isEqual: true }], endsAt: new Date(Date.now() + 3_600_000).toISOString(), createdBy: 'test' }).expect(200);

    const routes = serviceRoutes();
    expect(routes.length).toBeGreaterThanOrEqual(20);
    const results: string[] = [];
    for (const r of routes) {
      for (const s of [...subjects, null]) {
        // Objects of tenant globex: a tenant-scoped (acme) caller must not see them.
        const throwaway = (await request(http).post('/v1/keys').set('Authorization', A).send({ role: 'ingest' })).body.id as string;
        const url = r.path.replace('{id}', r.path.startsWith('/v1/alerts') ? alerts.globex : r.path.startsWith('/v1/events') ? 'acc-globex' : r.path.startsWith('/v1/silences') ? silence.body.silenceID : throwaway);
        let q = request(http)[r.method as 'get' | 'post' | 'delete'](url);
        if (s) q = q.set('Authorization', `Bearer ${s.key}`);
        if (r.method === 'post' && r.path === '/v1/events') q = q.set('content-type', 'application/json').send(JSON.stringify(harmful(`acc-${Math.random().toString(36).slice(2)}`, 'acme')));
        else if (r.method === 'post' && r.path === '/v1/keys') q = q.send({ role: 'ingest', tenants: ['acme'] });
        else if (r.method === 'post' && r.path === '/v1/silences') q = q.send({ matchers: [{ name: 'tenant', value: 'acme', isRegex: false, isEqual: true }], endsAt: new Date(Date.now() + 60_000).toISOString() });
        else if (r.method === 'post') q = q.send({});
        const res = await q;
        const caller: Caller | null = s ? { id: 'x', kind: 'key', name: s.label, role: s.role, tenants: s.tenants, content: s.content } : null;
        const allowed = r.public || (caller !== null && r.permission !== null && can(caller, r.permission));
        const expected = r.public ? 'open' : !caller ? 401 : allowed ? 'allowed' : 403;
        const got = res.status === 401 || res.status === 403 ? res.status : 'allowed';
        if ((expected === 'open' ? 'allowed' : expected) !== got) results.push(`${r.method} ${r.path} as ${s?.label ?? 'no key'}: expected ${expected}, got ${res.status}`);
        // Another tenant's object, to a key confined to acme: absent.
        if (allowed && caller?.tenants && r.method === 'get' && r.path.includes('{id}') && !r.path.startsWith('/v1/keys')) {
          if (res.status !== 404) results.push(`${r.method} ${url} as ${s!.label}: another tenant's object answered ${res.status}, not 404`);
        }
      }
    }
    expect(results).toEqual([]);

    // Lists confined to the key's tenants; asking for another tenant gives nothing.
    const scoped = subjects.find((x) => x.label === 'safety (acme)')!;
    const ev = await request(http).get('/v1/events').set('Authorization', `Bearer ${scoped.key}`).expect(200);
    expect(new Set(ev.body.items.map((e: { tenant: string }) => e.tenant))).toEqual(new Set(['acme']));
    expect((await request(http).get('/v1/events').query({ tenant: 'globex' }).set('Authorization', `Bearer ${scoped.key}`).expect(200)).body.count).toBe(0);
    expect((await request(http).get('/v1/alerts').query({ tenant: 'globex' }).set('Authorization', `Bearer ${scoped.key}`).expect(200)).body.count).toBe(0);
    expect((await request(http).get('/v1/silences').set('Authorization', `Bearer ${scoped.key}`).expect(200)).body.items.some((x: { id: string }) => x.id === silence.body.silenceID)).toBe(false);
    // A scoped ingest key cannot write another tenant's events.
    const ingest = subjects.find((x) => x.label === 'ingest (acme)')!;
    const w = await request(http).post('/v1/events').set('Authorization', `Bearer ${ingest.key}`).send(harmful('acc-cross', 'globex')).expect(202);
    expect(w.body.results[0]).toMatchObject({ status: 'rejected', errors: [{ field: 'tenant' }] });
    // A scoped safety key's silence must name one of its tenants.
    await request(http).post('/v1/silences').set('Authorization', `Bearer ${scoped.key}`)
      .send({ matchers: [{ name: 'rule', value: 'x' }], endsAt: new Date(Date.now() + 60_000).toISOString() }).expect(403);
  });

  it('withholds conversation text from a reviewer unless the key grants content', async () => {
    if (skip) return skipNote(skip);
    const A = `Bearer ${admin}`;
    const mk = async (content: boolean): Promise<string> => (await request(http).post('/v1/keys').set('Authorization', A).send({ role: 'reviewer', content })).body.key;
    const plain = await request(http).get('/v1/events/acc-acme').set('Authorization', `Bearer ${await mk(false)}`).expect(200);
    expect(plain.body.messages).toBeNull();
    expect(plain.body.content_withheld).toBe(true);
    expect(JSON.stringify(plain.body)).not.toContain('nerve');
    expect(plain.body.concepts.harmful_intent.score).toBeGreaterThan(0.5);
    const full = await request(http).get('/v1/events/acc-acme').set('Authorization', `Bearer ${await mk(true)}`).expect(200);
    expect(JSON.stringify(full.body.messages)).toContain('nerve');
  });

  it('a revoked key stops working at once; keys are listed without their secrets; /metrics needs a key when configured', async () => {
    if (skip) return skipNote(skip);
    const A = `Bearer ${admin}`;
    const k = (await request(http).post('/v1/keys').set('Authorization', A).send({ role: 'safety', name: 'temp' }).expect(201)).body;
    await request(http).get('/v1/alerts').set('Authorization', `Bearer ${k.key}`).expect(200);
    await request(http).delete(`/v1/keys/${k.id}`).set('Authorization', A).expect(200);
    await request(http).get('/v1/alerts').set('Authorization', `Bearer ${k.key}`).expect(401);
    const list = await request(http).get('/v1/keys').set('Authorization', A).expect(200);
    expect(list.body.items.find((x: { id: string }) => x.id === k.id)).toMatchObject({ role: 'safety', name: 'temp', revoked_at: expect.any(String) });
    expect(JSON.stringify(list.body)).not.toContain(k.key.slice(21));
    await request(http).post('/v1/keys').set('Authorization', A).send({ role: 'root' }).expect(400);
    await request(http).get('/metrics').expect(401);
    await request(http).get('/healthz').expect(200);
    // Only the Bearer scheme; a bare key is refused.
    await request(http).get('/v1/alerts').set('Authorization', admin).expect(401);
  });

  it('puts keys, authentication failures, content reads and the start in a verifiable audit trail', async () => {
    if (skip) return skipNote(skip);
    const A = `Bearer ${admin}`;
    const trail = await request(http).get('/v1/audit').query({ limit: 10000 }).set('Authorization', A).expect(200);
    const actions = new Set(trail.body.items.map((e: { action: string }) => e.action));
    for (const a of ['service.start', 'pack.load', 'key.create', 'key.revoke', 'auth.failure', 'content.read', 'silence.create']) expect(actions).toContain(a);
    const read = trail.body.items.find((e: { action: string; target: string }) => e.action === 'content.read' && e.target === 'acc-acme');
    expect(read).toMatchObject({ tenant: 'acme', actor: expect.stringMatching(/^key:[0-9a-f]{16}/) });
    // No credential ever reaches the trail.
    expect(JSON.stringify(trail.body)).not.toContain(admin.slice(21));
    const v = await request(http).get('/v1/audit/verify').set('Authorization', A).expect(200);
    expect(v.body).toMatchObject({ ok: true, problem: null });
    expect(v.body.entries).toBe(trail.body.count);
    // A reviewer asks for a report through the API and gets it once ready; a scoped reviewer must name its tenant.
    const reviewer = (await request(http).post('/v1/keys').set('Authorization', A).send({ role: 'reviewer' }).expect(201)).body.key;
    const from = new Date(Date.now() - 86_400_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const asked = await request(http).post('/v1/reports').set('Authorization', `Bearer ${reviewer}`).send({ from, to, format: 'html' }).expect(202);
    const html = await until(async () => {
      const r = await request(http).get(`/v1/reports/${asked.body.id}`).set('Authorization', `Bearer ${reviewer}`);
      return r.status === 200 ? r.text : null;
    });
    expect(html).toContain('probewatch compliance report');
    expect(html).toMatch(/\d+ events scored/);
    const scopedReviewer = (await request(http).post('/v1/keys').set('Authorization', A).send({ role: 'reviewer', tenants: ['acme'] }).expect(201)).body.key;
    await request(http).post('/v1/reports').set('Authorization', `Bearer ${scopedReviewer}`).send({ from, to }).expect(400);
    await request(http).get(`/v1/reports/${asked.body.id}`).set('Authorization', `Bearer ${scopedReviewer}`).expect(404);
    await until(async () => (await request(http).get('/v1/audit').query({ action: 'report.generate' }).set('Authorization', A)).body.count === 1);
    const start = trail.body.items.find((e: { action: string }) => e.action === 'service.start');
    expect(JSON.parse(start.detail)).toMatchObject({ auth: 'on', content_policy: 'redacted', store: { kind: 'embedded' } });
  });

  it('pseudonymises user ids under a key written at first start, and an erasure names the user in the trail by that keyed digest only', async () => {
    if (skip) return skipNote(skip);
    const A = `Bearer ${admin}`;
    const keyFile = path.join(dir, 'pseudonym.key');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const { digest } = Pseudonyms.read(keyFile) as Pseudonyms;
    const user = 'frank.pseudonym@example.com';
    await request(http).post('/v1/events').set('Authorization', A).send([{ ...harmful('acc-user', 'acme'), user }]).expect(202);
    const stored = await until(async () => (await request(http).get('/v1/events/acc-user').set('Authorization', A)).body?.user as string | undefined);
    expect(stored).toBe(`user:${digest(user).slice(0, 16)}`);
    expect(stored).not.toBe(`user:${sha256(user).slice(0, 16)}`);
    const erased = await request(http).post('/v1/erasures').set('Authorization', A).send({ user }).expect(200);
    expect(erased.body).toMatchObject({ events: 1, tenants: ['acme'] });
    await request(http).get('/v1/events/acc-user').set('Authorization', A).expect(404);
    const trail = await request(http).get('/v1/audit').query({ action: 'data.erase' }).set('Authorization', A).expect(200);
    expect(trail.body.items.map((e: { target: string }) => e.target)).toEqual([`user hmac:${digest(user)}`]);
    expect(JSON.stringify(trail.body)).not.toContain(sha256(user));
    expect(JSON.stringify(trail.body)).not.toContain('frank');
  });
});
