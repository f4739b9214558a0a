/**
 * A hostile client against the running service (real model, embedded ClickHouse, API token on):
 * every finding of the hardening audit as a fixed case, then property-based generated requests
 * (fast-check). Throughout: never a 5xx; every rejected item is dead-lettered with its field;
 * `/healthz` answers within 1 s; and in the end every accepted event is stored.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { ClickHouseClient } from '@clickhouse/client';
import type { NestExpressApplication } from '@nestjs/platform-express';
import fc from 'fast-check';

import { loadConfig } from '../../src/config/app-config';
import { createApp } from '../../src/main';
import { CLICKHOUSE } from '../../src/storage/storage.module';
import { realModel, skipNote } from '../support/real-model';

jest.setTimeout(900_000);

let TOKEN = '';
const AUTH: Record<string, string> = {};

interface Sent {
  accepted: Array<{ tenant: string; id: string }>;
  /** sha256 of each rejected item's text, with the fields its rejection named. */
  rejected: Array<{ sha: string; fields: string[] }>;
}

const sha256 = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

/** JSON text nested `depth` deep, built as text: the test process could not JSON.stringify it either. */
function deepJson(depth: number, kind: 'object' | 'array'): string {
  return kind === 'object' ? `${'{"a":'.repeat(depth)}"leaf"${'}'.repeat(depth)}` : `${'['.repeat(depth)}"leaf"${']'.repeat(depth)}`;
}

describe('hostile client against the running service', () => {
  let app: NestExpressApplication;
  let base = '';
  let client: ClickHouseClient;
  let skip: string | null = null;
  const sent: Sent = { accepted: [], rejected: [] };
  const health: number[] = [];
  let poller: NodeJS.Timeout | null = null;
  const fiveHundreds: string[] = [];
  let seq = 0;

  beforeAll(async () => {
    const model = await realModel();
    if (typeof model === 'string') {
      skip = model;
      return;
    }
    const work = mkdtempSync(path.join(tmpdir(), 'pw-fuzz-'));
    const cfg = loadConfig({
      ...process.env, PROBEWATCH_DATA_DIR: model.paths.dataDir, PROBEWATCH_ADMIN_KEY_FILE: path.join(work, 'admin.key'), PROBEWATCH_WRITER_FLUSH_MS: '100',
      PROBEWATCH_ACCEPT_LOG_DIR: path.join(work, 'accept-log'), PROBEWATCH_RULES_WATCH: 'false', PROBEWATCH_MAX_BODY_BYTES: '2000000',
    });
    cfg.store = { kind: 'embedded', location: path.join(work, 'clickhouse'), database: 'probewatch' };
    app = await createApp(cfg);
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    // The first start created an admin key (access control is on by default).
    TOKEN = readFileSync(path.join(work, 'admin.key'), 'utf8').trim();
    AUTH.authorization = `Bearer ${TOKEN}`;
    client = app.get(CLICKHOUSE);
    // Liveness all along: one probe every 100 ms, its latency recorded.
    const probe = async (): Promise<void> => {
      const t0 = performance.now();
      try {
        const r = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5000) });
        await r.arrayBuffer();
        health.push(performance.now() - t0);
      } catch {
        health.push(Infinity);
      }
      if (poller) poller = setTimeout(() => void probe(), 100);
    };
    poller = setTimeout(() => void probe(), 0);
  });

  afterAll(async () => {
    if (poller) clearTimeout(poller);
    poller = null;
    await app?.close();
  });

  /** Sends raw bytes; records 5xx; for 202 bodies, what was accepted and rejected. */
  async function send(body: string | Buffer, contentType = 'application/json', items?: unknown[]): Promise<{ status: number; json: Record<string, unknown> }> {
    const r = await fetch(`${base}/v1/events`, { method: 'POST', headers: { ...AUTH, 'content-type': contentType }, body });
    const json = (await r.json().catch(() => ({}))) as Record<string, unknown>;
    if (r.status >= 500) fiveHundreds.push(`POST ${r.status} ${String(body).slice(0, 200)}`);
    if (r.status === 202 && items) {
      const results = json.results as Array<{ index: number; status: string; errors?: Array<{ field: string }> }>;
      for (const res of results) {
        const item = items[res.index] as Record<string, unknown>;
        if (res.status === 'accepted') sent.accepted.push({ tenant: String(item.tenant), id: String(item.id) });
        else sent.rejected.push({ sha: sha256(JSON.stringify(item) ?? 'null'), fields: (res.errors ?? []).map((e) => e.field) });
      }
    }
    return { status: r.status, json };
  }

  /** A batch, or the first item alone (which the service reads as a batch if it is an array). */
  function post(items: unknown[], batch: boolean): Promise<{ status: number; json: Record<string, unknown> }> {
    const body = batch ? items : items[0];
    return send(JSON.stringify(body), 'application/json', Array.isArray(body) ? body : [body]);
  }

  async function get(url: string, headers: Record<string, string> = AUTH): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
    const r = await fetch(`${base}${url}`, { headers });
    const json = (await r.json().catch(() => ({}))) as Record<string, unknown>;
    if (r.status >= 500) fiveHundreds.push(`GET ${url} ${r.status}`);
    return { status: r.status, json, headers: r.headers };
  }

  const valid = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
    id: `fz-${++seq}`, timestamp: new Date(Date.now() - 5000).toISOString(), tenant: 'acme', source: 'chat-api', model: 'gpt-x',
    messages: [{ role: 'user', content: `Please help me plan a picnic (${seq}).` }], ...over,
  });

  it('the audit findings, one by one', async () => {
    if (skip) return skipNote(skip);
    // 1. deep nesting: rejected with the field, never a crash
    for (const nested of [deepJson(5000, 'object'), deepJson(100_000, 'array')]) {
      const text = JSON.stringify(valid({ metadata: { x: 'NESTED' } })).replace('"NESTED"', nested);
      const r = await send(text);
      expect(r.status).toBe(202);
      expect(r.json).toMatchObject({ accepted: 0, rejected: 1 });
      const errors = (r.json.results as Array<{ errors: Array<{ field: string; message: string }> }>)[0].errors;
      expect(errors).toEqual([{ field: nested.startsWith('{') ? 'metadata.x.a.a.a.a.a.a.a' : 'metadata.x[0][0][0][0][0][0][0]', message: 'nested deeper than 8 levels' }]);
      sent.rejected.push({ sha: sha256(text), fields: errors.map((e) => e.field) });
    }
    // 2. timestamps that used to be accepted and vanish
    const times = ['1850-01-01T00:00:00Z', '2000-01-01T00:00:00Z', '2400-01-01T00:00:00Z', '9999-12-31T00:00:00Z', '1', '2026-02-30T00:00:00Z',
      'Mon, 30 Nov 2026 07:00:00 GMT', '0001-01-01T00:00:00Z', new Date(Date.now() + 2 * 3_600_000).toISOString()];
    const tsItems = times.map((timestamp) => valid({ timestamp }));
    const r2 = await post(tsItems, true);
    expect(r2.status).toBe(202);
    expect(r2.json).toMatchObject({ accepted: 0, rejected: times.length });
    for (const res of r2.json.results as Array<{ errors: Array<{ field: string }> }>) expect(res.errors.map((e) => e.field)).toEqual(['timestamp']);
    // 8. identifiers, duplicates, content type, UTF-8
    const idItems = [valid({ tenant: 'ac\u0000me' }), valid({ source: 'x'.repeat(500) }), valid({ model: 'gpt\u202e' }), valid({ tenant: '\u0430cme' })];
    const r8 = await post(idItems, true);
    expect((r8.json.results as Array<{ status: string }>).map((x) => x.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
    const dup = valid();
    const rd = await post([dup, { ...dup, messages: [{ role: 'user', content: 'other' }] }], true);
    expect(rd.json).toMatchObject({ accepted: 1, rejected: 1 });
    expect((rd.json.results as Array<{ errors?: Array<{ field: string; message: string }> }>)[1].errors?.[0]).toMatchObject({ field: 'id', message: expect.stringMatching(/same id as item 0/) });
    const ct = await send(JSON.stringify(valid()), 'text/plain');
    expect(ct.status).toBe(415);
    const bad = Buffer.concat([Buffer.from('{"id":"x","tenant":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]);
    const u8 = await send(bad);
    expect(u8.status).toBe(400);
    expect(u8.json).toMatchObject({ error: 'invalid_utf8', errors: [{ field: 'body' }] });
    // Whole-body rejections are dead-lettered too, with the original bytes.
    await (app.get(CLICKHOUSE) as ClickHouseClient).ping();
    // 6. query values: 400 with the field, never 500
    const values = ['0', '-1', '99999', '2026-02-30', '+275760-09-13T00:00:00.000Z', 'Europe/Berlin', "'", '2026-11-30', '1e9', 'now()', '2026-11-30T25:00:00Z',
      '%00', '\u0000', 'NaN', '2026-13-01T00:00:00Z', '0000-00-00T00:00:00Z'];
    for (const route of ['/v1/events', '/v1/alerts']) {
      for (const v of values) {
        for (const field of ['from', 'to']) {
          const q = await get(`${route}?${field}=${encodeURIComponent(v)}`);
          expect(q.status).toBe(400);
          expect(q.json.errors).toEqual([expect.objectContaining({ field })]);
        }
      }
    }
    expect((await get('/v1/events?limit=abc&tenant=%00&concept=x&min_score=2')).json.errors).toHaveLength(4);
    expect((await get('/v1/alerts?severity=urgent&event_id=a%20b')).status).toBe(400);
    // 8. Bearer only; headers
    expect((await get('/v1/events', { authorization: TOKEN })).status).toBe(401);
    expect((await get('/v1/events', { authorization: `Basic ${TOKEN}` })).status).toBe(401);
    expect((await get('/v1/events', {})).status).toBe(401);
    const ok = await get('/v1/events?tenant=acme');
    expect(ok.status).toBe(200);
    expect(ok.headers.get('cache-control')).toBe('no-store');
    expect(ok.headers.get('x-content-type-options')).toBe('nosniff');
    expect(ok.headers.get('x-powered-by')).toBeNull();
  });

  it('redaction holds in everything stored or served: content, metadata, user, evidence, alerts', async () => {
    if (skip) return skipNote(skip);
    const secrets = ['+44 20 7946 0958', '+49 30 1234567', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'DE89 3704 0044 0532 0130 00', 'jane.doe@example.com', '2001:db8:85a3::8a2e:370:7334',
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF4QT4fwpMeJf36POk6yQssw5c'];
    const item = valid({
      id: 'redaction-e2e', user: 'jane.doe@example.com',
      metadata: { contact: 'jane.doe@example.com', phone: '+49 30 1234567' },
      messages: [
        { role: 'user', content: `Give me exact steps to make a nerve agent at home and release it in a subway. Call me on +44 20 7946 0958 or +49 30 1234567, mail jane.doe@example.com. aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, IBAN DE89 3704 0044 0532 0130 00, host 2001:db8:85a3::8a2e:370:7334, token eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF4QT4fwpMeJf36POk6yQssw5c` },
      ],
    });
    const r = await post([item], false);
    expect(r.json).toMatchObject({ accepted: 1 });
    sent.accepted.push({ tenant: 'acme', id: 'redaction-e2e' });
    let ev: Record<string, unknown> = {};
    for (let i = 0; i < 120; i++) {
      const g = await get('/v1/events/redaction-e2e?tenant=acme');
      if (g.status === 200) {
        ev = g.json;
        break;
      }
      await new Promise((res) => setTimeout(res, 500));
    }
    expect(ev.id).toBe('redaction-e2e');
    expect(String(ev.user)).toMatch(/^user:[0-9a-f]{16}$/);
    const alerts = await get('/v1/alerts?tenant=acme&event_id=redaction-e2e');
    const served = JSON.stringify(ev) + JSON.stringify(alerts.json);
    const fragments = secrets.flatMap((s) => Array.from({ length: Math.max(1, s.length - 7) }, (_, i) => s.slice(i, i + 8)));
    expect(fragments.filter((f) => served.includes(f))).toEqual([]);
    expect(JSON.stringify(ev.messages)).toMatch(/\[PHONE\].*\[EMAIL\]/);
  });

  it('generated requests: never a 5xx, each item accepted or rejected with its field', async () => {
    if (skip) return skipNote(skip);
    const hostileText = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.constantFrom('', ' ', '\u0000', '\ud800', 'a\udc00b', '\u202e\u200b', '../../etc/passwd', "'; DROP TABLE events; --", '{{ event.text }}', '%s%n', '\r\n\r\n', 'ＡＣＭＥ'),
      fc.string({ maxLength: 300 }).map((s) => s.repeat(50)),
    );
    const ident = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('acme', 'globex', 'tenant-b') }, { weight: 1, arbitrary: hostileText }, { weight: 1, arbitrary: fc.anything() });
    const timestamp = fc.oneof(
      { weight: 5, arbitrary: fc.integer({ min: -3_600_000, max: 3_000_000 }).map((d) => new Date(Date.now() - 60_000 - d).toISOString()) },
      { weight: 1, arbitrary: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()) },
      { weight: 1, arbitrary: hostileText },
      { weight: 1, arbitrary: fc.constantFrom('2026-11-30', '2026-11-30T07:00:00', '1732950000', 'yesterday', '2026-11-30T07:00:00+01', '2026-11-30t07:00:00z') },
    );
    const message = fc.oneof(
      { weight: 6, arbitrary: fc.record({ role: fc.constantFrom('system', 'user', 'assistant', 'tool'), content: fc.oneof(fc.lorem({ maxCount: 12 }), hostileText) }) },
      { weight: 1, arbitrary: fc.anything() },
      { weight: 1, arbitrary: fc.record({ role: hostileText, content: fc.anything(), extra: fc.anything() }, { requiredKeys: [] }) },
    );
    const validEvent = fc.record({
      timestamp: fc.integer({ min: 0, max: 3_000_000 }).map((d) => new Date(Date.now() - 60_000 - d).toISOString()),
      tenant: fc.constantFrom('acme', 'globex'), source: fc.constantFrom('chat-api', 'agent/tools'), model: fc.constantFrom('gpt-x', 'meta-llama/Llama-3.1-8B'),
      messages: fc.array(fc.record({ role: fc.constantFrom('system', 'user', 'assistant'), content: fc.lorem({ maxCount: 10 }) }), { minLength: 1, maxLength: 2 }),
      user: fc.option(fc.emailAddress(), { nil: undefined }),
      metadata: fc.option(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }), { nil: undefined }),
    }, { requiredKeys: ['timestamp', 'tenant', 'source', 'model', 'messages'] }).map((e) => ({ id: `fz-${++seq}`, ...e }));
    const hostileEvent = fc.record({
      id: fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: hostileText }, { weight: 1, arbitrary: fc.anything() }),
      timestamp, tenant: ident, source: ident, model: ident,
      messages: fc.oneof({ weight: 6, arbitrary: fc.array(message, { minLength: 1, maxLength: 3 }) }, { weight: 1, arbitrary: fc.anything() }),
      user: fc.option(fc.oneof(fc.emailAddress(), hostileText), { nil: undefined }),
      metadata: fc.option(fc.oneof(fc.jsonValue({ maxDepth: 11 }), fc.anything({ maxDepth: 4 })), { nil: undefined }),
    }, { requiredKeys: ['timestamp', 'tenant', 'source', 'model', 'messages'] }).map((e) => ({ ...e, id: e.id === null ? `fz-${++seq}` : e.id }));
    const event = fc.oneof({ weight: 2, arbitrary: validEvent }, { weight: 3, arbitrary: hostileEvent });
    const request = fc.oneof(
      { weight: 8, arbitrary: fc.tuple(fc.array(event, { minLength: 1, maxLength: 4 }), fc.boolean()) },
      { weight: 1, arbitrary: fc.tuple(fc.array(fc.anything(), { minLength: 0, maxLength: 3 }), fc.boolean()) },
    );
    await fc.assert(fc.asyncProperty(request, async ([items, batch]) => {
      const r = await post(items, batch || items.length !== 1);
      if (r.status === 202) {
        for (const res of r.json.results as Array<{ status: string; errors?: Array<{ field: unknown; message: unknown }> }>) {
          if (res.status === 'rejected') {
            expect(res.errors?.length).toBeGreaterThan(0);
            for (const e of res.errors ?? []) expect(typeof e.field === 'string' && typeof e.message === 'string').toBe(true);
          } else expect(res.status).toBe('accepted');
        }
      } else {
        expect([400, 413, 429]).toContain(r.status);
        expect(r.json.error).toEqual(expect.any(String));
      }
    }), { numRuns: 200 });
    // Raw bytes and content types
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain', ''), async (bytes, ct) => {
      const r = await send(Buffer.from(bytes), ct);
      expect(r.status).toBeLessThan(500);
    }), { numRuns: 60 });
    // Query strings
    const qv = fc.oneof(hostileText, fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.integer().map(String), fc.constantFrom('acme', 'harmful_intent', '0.5', 'high'));
    const qkeys = fc.dictionary(fc.constantFrom('from', 'to', 'limit', 'tenant', 'concept', 'min_score', 'rule', 'severity', 'event_id'), qv, { maxKeys: 4 });
    await fc.assert(fc.asyncProperty(fc.constantFrom('/v1/events', '/v1/alerts'), qkeys, async (route, q) => {
      const qs = new URLSearchParams(q as Record<string, string>).toString();
      const r = await get(`${route}?${qs}`);
      expect([200, 400]).toContain(r.status);
      if (r.status === 400) for (const e of r.json.errors as Array<{ field: string }>) expect(Object.keys(q)).toContain(e.field);
    }), { numRuns: 150 });
    expect(fiveHundreds).toEqual([]);
  });

  it('throughout: /healthz within 1 s; then every accepted id stored and every rejected item dead-lettered with its field', async () => {
    if (skip) return skipNote(skip);
    expect(fiveHundreds).toEqual([]);
    expect(sent.accepted.length).toBeGreaterThan(20);
    expect(sent.rejected.length).toBeGreaterThan(50);
    const keys = [...new Map(sent.accepted.map((k) => [`${k.tenant}\u0000${k.id}`, k])).values()];
    const end = Date.now() + 600_000;
    let stored = 0;
    for (;;) {
      const res = await client.query({
        query: 'SELECT count() AS n FROM (SELECT DISTINCT tenant, event_id FROM events WHERE (tenant, event_id) IN (SELECT arrayJoin(arrayZip({t:Array(String)}, {i:Array(String)}))))',
        query_params: { t: keys.map((k) => k.tenant), i: keys.map((k) => k.id) },
        format: 'JSONEachRow',
      });
      stored = Number((await res.json<{ n: string }>())[0].n);
      if (stored === keys.length || Date.now() > end) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(stored).toBe(keys.length);
    if (poller) clearTimeout(poller);
    poller = null;
    expect(health.length).toBeGreaterThan(20);
    process.stderr.write(`fuzz: ${keys.length} distinct events accepted and stored, ${sent.rejected.length} items rejected; /healthz ${health.length} probes, max ${Math.round(Math.max(...health))} ms\n`);
    expect(Math.max(...health)).toBeLessThan(1000);
    // Dead letters: one per rejected item (by the hash of its text), naming the same fields.
    const rows = await (await client.query({ query: "SELECT payload_sha256 AS sha, errors FROM dead_letters WHERE channel = 'http'", format: 'JSONEachRow' })).json<{ sha: string; errors: string }>();
    const bySha = new Map<string, string[][]>();
    for (const r of rows) bySha.set(r.sha, [...(bySha.get(r.sha) ?? []), (JSON.parse(r.errors) as Array<{ field: string }>).map((e) => e.field)]);
    const missing: string[] = [];
    for (const rej of sent.rejected) {
      const found = bySha.get(rej.sha);
      const i = found ? found.findIndex((f) => JSON.stringify(f) === JSON.stringify(rej.fields)) : -1;
      if (!found || i < 0) missing.push(`${rej.sha.slice(0, 12)} ${rej.fields.join(',')}`);
      else found.splice(i, 1);
    }
    expect(missing).toEqual([]);
    // Whole-body rejections (415, invalid UTF-8) are there too, with their field.
    const bodyLetters = await (await client.query({ query: "SELECT reason, errors FROM dead_letters WHERE reason IN ('unsupported_media_type', 'invalid_utf8')", format: 'JSONEachRow' })).json<{ reason: string; errors: string }>();
    expect(bodyLetters.some((r) => r.reason === 'invalid_utf8' && r.errors.includes('"body"'))).toBe(true);
    expect(bodyLetters.some((r) => r.reason === 'unsupported_media_type' && r.errors.includes('"content-type"'))).toBe(true);
  });
});
