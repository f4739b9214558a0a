/**
 * OIDC against a real OpenID Provider (`oidc-provider` from npm, run in its own process): the
 * service (also its own process, as deployed) verifies the provider's JWT access tokens against
 * its JWKS, takes the role and the tenants from the token's claims, and refuses tokens that are
 * tampered with, lack a role, or were issued for another audience.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { chromium } from 'playwright-core';

import { freePort } from '../../tools/infra/process-util';
import { ensureChromium } from '../support/browser';
import { freshStore, ServiceProcess } from '../support/kafka-harness';
import { realModel, skipNote } from '../support/real-model';

jest.setTimeout(300_000);

const AUDIENCE = 'https://probewatch.test';

async function startProvider(audience: string, consoleRedirect?: string): Promise<{ child: ChildProcess; issuer: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'support', 'oidc-provider.mjs'), String(port), audience, ...(consoleRedirect ? [consoleRedirect] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  const issuer = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      const m = /ready (\S+)/.exec(b.toString());
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`the OpenID Provider exited with ${code}`)));
  });
  return { child, issuer };
}

async function token(issuer: string, client: string): Promise<string> {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${client}:${client}-secret`).toString('base64')}` },
    body: `grant_type=client_credentials&scope=probewatch&resource=${encodeURIComponent(AUDIENCE)}`,
  });
  if (!res.ok) throw new Error(`token endpoint answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

describe('OIDC bearer tokens (real OpenID Provider)', () => {
  let skip: string | null = null;
  let provider: { child: ChildProcess; issuer: string } | null = null;
  let other: { child: ChildProcess; issuer: string } | null = null;
  let svc: ServiceProcess | null = null;

  beforeAll(async () => {
    const env = await realModel();
    if (typeof env === 'string') {
      skip = env;
      return;
    }
    // The service's origin is fixed first: the provider registers the console's redirect URI.
    const svcPort = await freePort();
    provider = await startProvider(AUDIENCE, `http://127.0.0.1:${svcPort}/console`);
    other = await startProvider('https://someone-else.test');
    const dir = mkdtempSync(path.join(tmpdir(), 'pw-oidc-'));
    svc = new ServiceProcess({
      PROBEWATCH_DATA_DIR: env.paths.dataDir, PROBEWATCH_CLICKHOUSE_DIR: freshStore(), PROBEWATCH_ACCEPT_LOG_DIR: path.join(dir, 'wal'), PROBEWATCH_ADMIN_KEY_FILE: path.join(dir, 'admin.key'),
      PROBEWATCH_OIDC_ISSUER: provider.issuer, PROBEWATCH_OIDC_AUDIENCE: AUDIENCE, PROBEWATCH_RULES_WATCH: 'false', PROBEWATCH_ALERTING_WATCH: 'false',
      PROBEWATCH_OIDC_CONSOLE_CLIENT_ID: 'pw-console', PROBEWATCH_OIDC_CONSOLE_SCOPE: 'openid probewatch', PORT: String(svcPort),
    }, 'oidc');
    await svc.start(false);
  });
  afterAll(async () => {
    await svc?.kill('SIGTERM');
    provider?.child.kill();
    other?.child.kill();
  });

  it('takes the role and tenants from the token, and refuses tampered, role-less and foreign tokens', async () => {
    if (skip) return skipNote(skip);
    const base = `http://127.0.0.1:${svc!.port}`;
    const call = (p: string, t: string, init: RequestInit = {}) => fetch(`${base}${p}`, { ...init, headers: { ...(init.headers ?? {}), authorization: `Bearer ${t}` } });
    const safety = await token(provider!.issuer, 'pw-safety-acme');
    expect((await call('/v1/alerts', safety)).status).toBe(200);
    expect((await call('/v1/keys', safety)).status).toBe(403);
    // Tenants from the claim: acme only.
    const ingest = await token(provider!.issuer, 'pw-ingest-acme');
    const ts = new Date(Date.now() - 60_000).toISOString();
    const ev = (id: string, tenant: string) => ({ id, tenant, timestamp: ts, source: 's', model: 'm', messages: [{ role: 'user', content: 'hello there' }] });
    const posted = await call('/v1/events', ingest, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([ev('o1', 'acme'), ev('o2', 'globex')]) });
    expect(posted.status).toBe(202);
    expect(((await posted.json()) as { results: Array<{ status: string }> }).results.map((r) => r.status)).toEqual(['accepted', 'rejected']);
    expect((await call('/v1/alerts', ingest)).status).toBe(403);
    // Every tenant ('*') for the reviewer, who may read the audit trail.
    const reviewer = await token(provider!.issuer, 'pw-reviewer-all');
    const audit = await call('/v1/audit?action=auth.failure&limit=1000', reviewer);
    expect(audit.status).toBe(200);
    // Refused: no role claim, a tampered token, a token another issuer signed for another audience.
    expect((await call('/v1/alerts', await token(provider!.issuer, 'pw-norole'))).status).toBe(401);
    const parts = safety.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(parts[1], 'base64url').toString()), probewatch_role: 'admin' })).toString('base64url');
    expect((await call('/v1/keys', `${parts[0]}.${forged}.${parts[2]}`)).status).toBe(401);
    expect((await call('/v1/alerts', await token(other!.issuer, 'pw-safety-acme'))).status).toBe(401);
    // The refusals and the accepted callers are in the audit trail, named by their subject.
    const trail = (await (await call('/v1/audit?limit=1000', reviewer)).json()) as { items: Array<{ action: string; detail: string }> };
    const reasons = trail.items.filter((e) => e.action === 'auth.failure').map((e) => JSON.parse(e.detail).reason);
    expect(reasons).toEqual(expect.arrayContaining([expect.stringMatching(/no probewatch role/), expect.stringMatching(/token refused/)]));
  });

  it('signs a person in to the console through the provider (authorization code with PKCE), with the role from the token', async () => {
    if (skip) return skipNote(skip);
    const exe = ensureChromium();
    if (typeof exe !== 'string') return skipNote(exe.skip);
    const base = `http://127.0.0.1:${svc!.port}`;
    const cfg = (await (await fetch(`${base}/v1/console/config`)).json()) as { oidc: { issuer: string; client_id: string } };
    expect(cfg.oidc).toMatchObject({ issuer: provider!.issuer, client_id: 'pw-console' });
    // The console page may talk to the provider, and to nothing else.
    const csp = (await fetch(`${base}/console`)).headers.get('content-security-policy') ?? '';
    expect(csp).toContain(`connect-src 'self' ${provider!.issuer}`);
    const browser = await chromium.launch({ executablePath: exe, args: ['--no-sandbox'] });
    try {
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${base}/console#/alerts`);
      await page.getByRole('button', { name: 'Sign in with your identity provider' }).click();
      // The provider's own sign-in and consent pages.
      await page.waitForURL((u) => u.toString().startsWith(provider!.issuer));
      await page.locator('input[name=login]').fill('alice');
      await page.locator('input[name=password]').fill('any');
      await page.locator('button[type=submit]').click();
      await page.locator('button[type=submit]').click(); // consent: continue
      // Back in the console, signed in as alice with the safety role for acme.
      await page.waitForURL((u) => u.toString().startsWith(`${base}/console`) && !u.search);
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
      expect(await page.locator('#who').textContent()).toMatch(/safety · tenants acme/);
      expect(await page.getByRole('navigation').getByRole('link').allTextContents()).toEqual(['Alerts', 'Incidents', 'Events', 'Rules', 'Silences', 'Probe pack']);
      await page.getByRole('heading', { name: 'Alert inbox' }).waitFor();
      // The token the console holds is the provider's JWT, accepted by the API as alice.
      const token = await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }).sessionStorage.getItem('probewatch.credential'));
      const who = (await (await fetch(`${base}/v1/session`, { headers: { authorization: `Bearer ${token}` } })).json()) as { kind: string; id: string; role: string };
      expect(who).toMatchObject({ kind: 'oidc', id: 'alice', role: 'safety' });
    } finally {
      await browser.close();
    }
  });
});
