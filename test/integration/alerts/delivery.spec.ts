/**
 * Alert delivery on the real embedded store (chDB) with real peers: local HTTP receivers checking
 * the webhook's HMAC and the Slack and PagerDuty payloads against those services' documented
 * shapes, a real SMTP server (smtp-server) whose mail is parsed (mailparser), and Debian's real
 * Alertmanager. The dispatcher's clock is driven by the test; the worker sends for real.
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { ClickHouseClient } from '@clickhouse/client';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

import { readAlertingConfig } from '../../../src/alerts/alerting/alerting-config';
import { AlertDispatcher } from '../../../src/alerts/delivery/dispatcher';
import { DeliveryWorker } from '../../../src/alerts/delivery/delivery-worker';
import type { Evidence } from '../../../src/alerts/delivery/notification';
import { readSilence, Silence } from '../../../src/alerts/delivery/silences';
import { Alert, alertId, fingerprint } from '../../../src/domain/alert';
import { AlertDeliveryRepository } from '../../../src/storage/alert-delivery.repository';
import { AlertsRepository } from '../../../src/storage/alerts.repository';
import { BatchWriter } from '../../../src/storage/batch-writer';
import { openClickHouse } from '../../../src/storage/clickhouse-client';
import { migrate } from '../../../src/storage/migrator';
import { HttpSink } from '../../support/receivers';
import { until } from '../../support/until';

jest.setTimeout(120_000);

const EVIDENCE: Evidence = {
  concepts: { harmful_intent: { score: 0.91, threshold: 0.5, flagged: true } },
  features: [{ concept: 'harmful_intent', feature: 1234, label: 'weapons synthesis', contribution: 1.7, activation: 3.2 }],
  tokens: [{ concept: 'harmful_intent', index: 7, token: ' nerve', contribution: 0.8, message: 0 }],
  rule: { name: 'Harmful', set: 'abcdef0123456789' },
  pack: { id: 'smollm2-135m-safety', version: '2.2.0' },
};

let seq = 0;
function alertOf(rule: string, tenant: string, labels: Record<string, string>, severity: Alert['severity'] = 'critical', kind: Alert['kind'] = 'windowed'): Alert {
  const all = { alertname: rule, severity, tenant, ...labels };
  const fp = fingerprint(all);
  const ev = `ev-${++seq}`;
  const at = new Date().toISOString();
  return { alert_id: alertId(fp, ev), fingerprint: fp, rule, severity, labels: all, annotations: { summary: `${rule} for ${tenant}` }, value: 0.9, event_id: ev, tenant, starts_at: at, ts: at, kind };
}

/** Delivery options that retry within milliseconds, for tests on a clock they move. */
const FAST = { maxAttempts: 4, baseDelayMs: 20, maxDelayMs: 200, concurrency: 8, pollMs: 20 };

describe('alert delivery (chDB, real receivers)', () => {
  let client: ClickHouseClient;
  let repo: AlertDeliveryRepository;
  let alerts: AlertsRepository;
  let writer: BatchWriter;
  let sink: HttpSink;
  const dir = mkdtempSync(path.join(tmpdir(), 'pw-delivery-'));
  let instanceN = 0;

  beforeAll(async () => {
    client = await openClickHouse({ kind: 'embedded', location: path.join(dir, 'db'), database: 'pwdelivery' });
    await migrate(client);
    repo = new AlertDeliveryRepository(client);
    writer = new BatchWriter(client, { maxRows: 1000, flushMs: 10, maxBackoffMs: 100 });
    alerts = new AlertsRepository(client, writer);
    sink = await new HttpSink().start();
  });
  afterAll(async () => {
    await sink.close();
    await writer.close();
    await client.close();
  });

  /** A dispatcher and worker on a config text, with a clock the test moves. */
  function setup(yaml: string, env: Record<string, string> = {}, opts: { maxAttempts?: number } = {}) {
    const { config, problems } = readAlertingConfig('alerting.yaml', yaml, env);
    if (!config) throw new Error(problems.map((p) => `${p.line}:${p.col} ${p.message}`).join('\n'));
    const clock = { t: Date.now() };
    const silences: Silence[] = [];
    const instance = `test-${++instanceN}`;
    const logs: string[] = [];
    const worker = new DeliveryWorker(repo, () => config, instance, { kafka: null }, { ...FAST, maxAttempts: opts.maxAttempts ?? FAST.maxAttempts },
      (_l, m) => logs.push(m), undefined, () => clock.t);
    const d = new AlertDispatcher({
      repo, config: () => config, evidence: async () => EVIDENCE, latestAlerts: (fps) => alerts.latestOf(fps), silences: () => silences,
      instance, externalURL: 'http://probewatch.test', now: () => clock.t, onQueued: () => worker.wake(),
    });
    worker.start();
    const step = async (ms: number): Promise<void> => {
      clock.t += ms;
      await d.tick();
      await worker.poll();
      await worker.idle();
    };
    return { d, worker, clock, silences, instance, step, logs };
  }

  it('routes and groups, then delivers a signed webhook and Slack and PagerDuty payloads in their documented shapes, and resolves them', async () => {
    writeFileSync(path.join(dir, 'pd.key'), 'pd-routing-key-0123456789abcdef\n');
    const yaml = `
route:
  receiver: default
  group_by: [rule, tenant]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['severity="critical"']
      receiver: oncall
      continue: true
    - matchers: ['tenant="acme"']
      receiver: chat
receivers:
  - name: default
  - name: oncall
    webhook_configs:
      - url: ${sink.url}/hook
        hmac_secret: \${HOOK_SECRET}
    pagerduty_configs:
      - routing_key_file: ${path.join(dir, 'pd.key')}
        url: ${sink.url}/pd
  - name: chat
    slack_configs:
      - api_url: ${sink.url}/slack
        channel: '#safety'
        send_resolved: true
`;
    const t = setup(yaml, { HOOK_SECRET: 'hook-secret-for-hmac' });
    const a1 = alertOf('Harmful', 'acme', { concept: 'harmful_intent' });
    const a2 = alertOf('Harmful', 'acme', { concept: 'prompt_injection' });
    await alerts.store([a1, a2]);
    await t.d.raised([a1, a2]);
    await t.step(0);

    // One notification per receiver, both alerts in it (grouped by rule and tenant).
    const hooks = sink.on('/hook');
    expect(hooks).toHaveLength(1);
    const sig = createHmac('sha256', 'hook-secret-for-hmac').update(hooks[0].raw).digest('hex');
    expect(hooks[0].headers['x-probewatch-signature']).toBe(`sha256=${sig}`);
    const hook = hooks[0].body as { version: string; status: string; receiver: string; groupLabels: Record<string, string>; commonLabels: Record<string, string>; alerts: Array<{ status: string; labels: Record<string, string>; evidence: Evidence; links: { event: string } }> };
    expect(hook).toMatchObject({ version: '4', status: 'firing', receiver: 'oncall', groupLabels: { rule: 'Harmful', tenant: 'acme' } });
    expect(hook.alerts).toHaveLength(2);
    expect(hook.alerts[0].labels).toMatchObject({ rule: 'Harmful', severity: 'critical', tenant: 'acme' });
    expect(hook.alerts[0].evidence.features[0].label).toBe('weapons synthesis');
    expect(hook.alerts[0].links.event).toMatch(/^http:\/\/probewatch\.test\/v1\/events\/ev-/);
    expect(hooks[0].raw).not.toContain('hook-secret-for-hmac');

    // PagerDuty Events API v2: routing_key, event_action, dedup_key, payload {summary, source, severity}.
    const pd = sink.on('/pd');
    expect(pd).toHaveLength(1);
    const trigger = pd[0].body as { routing_key: string; event_action: string; dedup_key: string; payload: { summary: string; source: string; severity: string; timestamp: string } };
    expect(trigger.routing_key).toBe('pd-routing-key-0123456789abcdef');
    expect(trigger.event_action).toBe('trigger');
    expect(trigger.dedup_key).toMatch(/^[0-9a-f]{64}$/);
    expect(trigger.payload.summary.length).toBeLessThanOrEqual(1024);
    expect(trigger.payload.source).toBe('probewatch');
    expect(['critical', 'error', 'warning', 'info']).toContain(trigger.payload.severity);
    expect(Number.isNaN(Date.parse(trigger.payload.timestamp))).toBe(false);

    // Slack incoming webhook with Block Kit: text fallback; header (plain_text, <= 150), sections (mrkdwn, <= 3000).
    const slack = sink.on('/slack');
    expect(slack).toHaveLength(1);
    const msg = slack[0].body as { channel: string; text: string; blocks: Array<{ type: string; text?: { type: string; text: string }; elements?: unknown[] }> };
    expect(msg.channel).toBe('#safety');
    expect(msg.text).toMatch(/FIRING:2/);
    expect(msg.blocks.length).toBeLessThanOrEqual(50);
    expect(msg.blocks[0]).toMatchObject({ type: 'header', text: { type: 'plain_text' } });
    expect(msg.blocks[0].text?.text.length).toBeLessThanOrEqual(150);
    for (const b of msg.blocks) {
      expect(['header', 'section', 'context']).toContain(b.type);
      if (b.type === 'section') expect(b.text?.type).toBe('mrkdwn');
      if (b.text) expect(b.text.text.length).toBeLessThanOrEqual(3000);
    }
    expect(msg.blocks.map((b) => b.text?.text ?? '').join('\n')).toContain('weapons synthesis');

    // The notification log says what went where, after how many attempts.
    const logged = await repo.list({ tenants: ['acme'], alertId: a1.alert_id, limit: 10 });
    expect(logged.map((n) => `${n.receiver}/${n.integration}/${n.outcome}/${n.attempts}`).sort()).toEqual(
      ['chat/slack_configs[0]/sent/1', 'oncall/pagerduty_configs[0]/sent/1', 'oncall/webhook_configs[0]/sent/1']);
    expect(await repo.list({ tenants: ['other'], alertId: a1.alert_id, limit: 10 })).toEqual([]);

    // Nothing new: the next group interval sends nothing.
    await t.step(1100);
    expect(sink.on('/hook')).toHaveLength(1);

    // Resolved: the webhook says so; PagerDuty resolves the same incident.
    await t.d.resolved([{ ...a1, ends_at: new Date(t.clock.t).toISOString() }, { ...a2, ends_at: new Date(t.clock.t).toISOString() }]);
    await t.step(1100);
    expect(sink.on('/hook')).toHaveLength(2);
    expect((sink.on('/hook')[1].body as { status: string }).status).toBe('resolved');
    const resolve = sink.on('/pd')[1].body as { event_action: string; dedup_key: string };
    expect(resolve).toEqual({ routing_key: 'pd-routing-key-0123456789abcdef', event_action: 'resolve', dedup_key: trigger.dedup_key });
    expect(sink.on('/slack')).toHaveLength(2);
    const history = await repo.history(['acme'], a1.fingerprint);
    expect(history.map((h) => h.state)).toEqual(['firing', 'resolved']);
    await t.worker.stop();
  });

  it('silences mute, are shown on the alert, and when one ends with the alert still firing it notifies again', async () => {
    const t = setup(`
route: {receiver: team, group_by: [rule], group_wait: 0s, group_interval: 1s, repeat_interval: 1h}
receivers:
  - name: team
    webhook_configs: [{url: '${sink.url}/silenced'}]
`);
    const now = new Date(t.clock.t);
    const silence = readSilence({ matchers: [{ name: 'rule', value: 'Sil.*', isRegex: true, isEqual: true }], endsAt: new Date(t.clock.t + 60_000).toISOString(), createdBy: 'ana', comment: 'maintenance' }, 'api', now);
    t.silences.push(silence);
    const a = alertOf('Silenced rule', 't1', {});
    await alerts.store([a]);
    await t.d.raised([a]);
    await t.step(0);
    await t.step(1100);
    expect(sink.on('/silenced')).toHaveLength(0);
    const h = await repo.history(['t1'], a.fingerprint);
    expect(h.at(-1)).toMatchObject({ state: 'silenced', detail: silence.id });
    expect((await repo.silenceLastMatched([silence.id])).has(silence.id)).toBe(true);
    const listed = await alerts.list({ scope: { tenants: ['t1'] }, limit: 10, silenced: true });
    expect(listed.map((x) => x.alert_id)).toEqual([a.alert_id]);
    expect(listed[0].silenced_by).toEqual([silence.id]);

    // The silence ends (expired) while the alert still fires: notified now, not after repeat_interval.
    t.silences[0] = { ...silence, endsAt: new Date(t.clock.t).toISOString() };
    await t.step(1100);
    expect(sink.on('/silenced')).toHaveLength(1);
    expect((await repo.history(['t1'], a.fingerprint)).at(-1)?.state).toBe('firing');
    await t.worker.stop();
  });

  it('an acknowledged alert stops repeat notifications; withdrawing the acknowledgement restores them', async () => {
    const t = setup(`
route: {receiver: team, group_by: [rule], group_wait: 0s, group_interval: 1s, repeat_interval: 2s}
receivers:
  - name: team
    webhook_configs: [{url: '${sink.url}/acked'}]
`);
    const a = alertOf('Acked rule', 't2', {});
    await alerts.store([a]);
    await t.d.raised([a]);
    await t.step(0);
    expect(sink.on('/acked')).toHaveLength(1);
    await t.step(2100);
    expect(sink.on('/acked')).toHaveLength(2); // repeat_interval
    await repo.recordAck({ tenant: 't2', fingerprint: a.fingerprint, alert_id: a.alert_id, acked: true, actor: 'bo', comment: 'on it', at: new Date().toISOString() });
    await t.d.refresh();
    await t.step(2100);
    await t.step(2100);
    expect(sink.on('/acked')).toHaveLength(2);
    const acked = await alerts.list({ scope: { tenants: ['t2'] }, limit: 10, acked: true });
    expect(acked[0]).toMatchObject({ alert_id: a.alert_id, state: 'acknowledged', ack: { by: 'bo', comment: 'on it' } });
    await repo.recordAck({ tenant: 't2', fingerprint: a.fingerprint, alert_id: a.alert_id, acked: false, actor: 'bo', comment: '', at: new Date(Date.now() + 1).toISOString() });
    await t.d.refresh();
    await t.step(1100);
    expect(sink.on('/acked')).toHaveLength(3);
    expect((await alerts.list({ scope: { tenants: ['t2'] }, limit: 10, acked: false }))[0]).toMatchObject({ state: 'firing', ack: null });
    const states = (await repo.history(['t2'], a.fingerprint)).map((x) => `${x.state}:${x.actor}`);
    expect(states).toEqual(['firing:probewatch', 'acknowledged:bo', 'firing:probewatch']);
    await t.worker.stop();
  });

  it('retries with backoff from the log, and records a dead notification after a refusal or the last attempt', async () => {
    const t = setup(`
route: {receiver: team, group_by: ['...'], group_wait: 0s, group_interval: 1s, repeat_interval: 1h}
receivers:
  - name: team
    webhook_configs: [{url: '${sink.url}/flaky'}, {url: '${sink.url}/refuses'}, {url: '${sink.url}/down'}]
`, {}, { maxAttempts: 3 });
    sink.respond = (r, _n) => {
      if (r.path === '/flaky') return { status: sink.on('/flaky').length < 3 ? 503 : 200 };
      if (r.path === '/refuses') return { status: 400, body: 'bad payload' };
      if (r.path === '/down') return { status: 500 };
      return { status: 200 };
    };
    const a = alertOf('Flaky rule', 't3', {});
    await alerts.store([a]);
    await t.d.raised([a]);
    await t.step(0);
    const done = await until(async () => {
      t.clock.t += 250;
      await t.worker.poll();
      const rows = await repo.list({ tenants: ['t3'], alertId: a.alert_id, limit: 10 });
      return rows.length === 3 && rows.every((r) => r.outcome === 'sent' || r.outcome === 'dead') ? rows : null;
    }, 30_000);
    const by = Object.fromEntries(done.map((r) => [r.integration, r]));
    expect(by['webhook_configs[0]']).toMatchObject({ outcome: 'sent', attempts: 3, last_error: '' });
    expect(by['webhook_configs[1]']).toMatchObject({ outcome: 'dead', attempts: 1, last_error: 'HTTP 400: bad payload' });
    expect(by['webhook_configs[2]']).toMatchObject({ outcome: 'dead', attempts: 3 });
    expect(sink.on('/flaky')).toHaveLength(3);
    expect(sink.on('/refuses')).toHaveLength(1);
    expect(t.logs.some((l) => /dead after 3 attempt/.test(l))).toBe(true);
    sink.respond = () => ({ status: 200 });
    await t.worker.stop();
  });

  it('a new dispatcher on the same instance id resumes open alerts and pending notifications without sending twice', async () => {
    const yaml = `
route: {receiver: team, group_by: [rule], group_wait: 0s, group_interval: 1s, repeat_interval: 1h}
receivers:
  - name: team
    webhook_configs: [{url: '${sink.url}/resume'}]
`;
    const first = setup(yaml);
    let up = false;
    sink.respond = (r) => (r.path === '/resume' && !up ? { status: 503 } : { status: 200 });
    const a = alertOf('Resume rule', 't4', {});
    await alerts.store([a]);
    await writer.flushSoon();
    await first.d.raised([a]);
    await first.step(0);
    await first.worker.stop();
    expect(sink.on('/resume').length).toBeGreaterThanOrEqual(1);
    // "Restart": a fresh dispatcher and worker with the same instance id, the receiver now up.
    up = true;
    const { config } = readAlertingConfig('alerting.yaml', yaml, {});
    const later = first.clock.t + 5000;
    const worker = new DeliveryWorker(repo, () => config!, first.instance, { kafka: null }, FAST,
      undefined, undefined, () => later);
    const d = new AlertDispatcher({ repo, config: () => config!, evidence: async () => null, latestAlerts: (fps) => alerts.latestOf(fps), silences: () => [],
      instance: first.instance, externalURL: 'http://x', now: () => later });
    await d.resume();
    expect(d.snapshot().series).toBe(1);
    await d.tick();
    await worker.poll();
    await worker.idle();
    const ok = sink.on('/resume').filter((_r, i) => i >= 0);
    const rows = await repo.list({ tenants: ['t4'], alertId: a.alert_id, limit: 10 });
    expect(rows).toHaveLength(1); // the group was already notified: no second notification
    expect(rows[0].outcome).toBe('sent');
    expect(ok.length).toBe(rows[0].attempts);
  });

  it('a second instance on the same store shares acknowledgements but does not take over (or repeat) the first one\'s alerts', async () => {
    const yaml = `
route: {receiver: team, group_by: [rule], group_wait: 0s, group_interval: 1s, repeat_interval: 1h}
receivers:
  - name: team
    webhook_configs: [{url: '${sink.url}/shared'}]
`;
    const a = setup(yaml);
    const b = setup(yaml);
    const x = alertOf('Shared rule', 't6', {});
    await alerts.store([x]);
    await a.d.raised([x]);
    await a.step(0);
    await b.d.resume();
    await b.step(0);
    expect(b.d.snapshot().series).toBe(0);
    expect(sink.on('/shared')).toHaveLength(1);
    // An acknowledgement made through either instance is in storage for both.
    await repo.recordAck({ tenant: 't6', fingerprint: x.fingerprint, alert_id: x.alert_id, acked: true, actor: 'cy', comment: '', at: new Date().toISOString() });
    a.clock.t += 10;
    await a.d.refresh();
    expect((await repo.history(['t6'], x.fingerprint)).map((h) => `${h.state}@${h.instance}`)).toEqual([`firing@${a.instance}`, `acknowledged@${a.instance}`]);
    await a.worker.stop();
    await b.worker.stop();
  });

  it('adopts and delivers the pending notification of an instance that is gone, once nobody has touched it for the takeover time', async () => {
    const yaml = `
route: {receiver: team, group_by: [rule], group_wait: 0s, group_interval: 1s, repeat_interval: 1h}
receivers:
  - name: team
    webhook_configs: [{url: '${sink.url}/takeover'}]
`;
    const gone = setup(yaml);
    let up = false;
    sink.respond = (r) => (r.path === '/takeover' && !up ? { status: 503 } : { status: 200 });
    const a = alertOf('Takeover rule', 't7', {});
    await alerts.store([a]);
    await writer.flushSoon();
    await gone.d.raised([a]);
    await gone.step(0);
    await gone.worker.stop(); // the instance is gone for good; its notification waits for a retry
    const [left] = await repo.list({ tenants: ['t7'], alertId: a.alert_id, limit: 10 });
    expect(left).toMatchObject({ instance: gone.instance, outcome: 'retrying', attempts: 1 });
    const mine = async () => (await repo.list({ tenants: ['t7'], alertId: a.alert_id, limit: 10 })).find((n) => n.notification_id === left.notification_id)!;

    up = true;
    const { config } = readAlertingConfig('alerting.yaml', yaml, {});
    let t = gone.clock.t + 30_000;
    const logs: string[] = [];
    const heir = new DeliveryWorker(repo, () => config!, 'heir', { kafka: null }, { ...FAST, takeoverMs: 60_000 },
      (_l, m) => logs.push(m), undefined, () => t);
    // Untouched for 30 s of a 60 s takeover time: still the other instance's, and not sent.
    await heir.poll();
    await heir.idle();
    expect(await mine()).toMatchObject({ instance: gone.instance, outcome: 'retrying' });
    expect(sink.on('/takeover')).toHaveLength(1);
    // Past it: adopted under this instance and delivered, once.
    t = gone.clock.t + 62_000;
    await heir.poll();
    await heir.idle();
    expect(await mine()).toMatchObject({ instance: 'heir', outcome: 'sent', attempts: 2 });
    expect(sink.on('/takeover')).toHaveLength(2);
    expect(logs).toContain(`notification ${left.notification_id} to team/webhook_configs[0] adopted from instance ${gone.instance}, untouched for 62 s`);
    // A later poll finds nothing more of it to send.
    t += 120_000;
    await heir.poll();
    await heir.idle();
    expect(sink.on('/takeover')).toHaveLength(2);
    await heir.stop();
  });

  it('email: sends HTML and text through a real SMTP server, carrying the evidence', async () => {
    const mails: string[] = [];
    const smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      onData(stream, _session, cb) {
        let raw = '';
        stream.on('data', (c: Buffer) => (raw += c.toString('utf8')));
        stream.on('end', () => {
          mails.push(raw);
          cb();
        });
      },
    });
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
    const port = (smtp.server.address() as { port: number }).port;
    try {
      const t = setup(`
route: {receiver: mail, group_by: [rule], group_wait: 0s, group_interval: 1s, repeat_interval: 1h}
receivers:
  - name: mail
    email_configs:
      - to: safety@example.test
        from: probewatch@example.test
        smarthost: 127.0.0.1:${port}
        require_tls: false
`);
      const a = alertOf('Mail rule', 't5', { concept: 'harmful_intent' });
      await alerts.store([a]);
      await t.d.raised([a]);
      await t.step(0);
      expect(mails).toHaveLength(1);
      const m = await simpleParser(mails[0]);
      expect(m.subject).toBe('[FIRING:1] Mail rule (tenant t5)');
      expect(m.to && !Array.isArray(m.to) ? m.to.text : '').toBe('safety@example.test');
      expect(m.text).toContain('weapons synthesis');
      expect(m.text).toContain('harmful_intent 0.910 (flagged)');
      expect(String(m.html)).toContain('<code> nerve</code>');
      expect(String(m.html)).toContain('http://probewatch.test/v1/events/');
      const rows = await repo.list({ tenants: ['t5'], alertId: a.alert_id, limit: 10 });
      expect(rows[0]).toMatchObject({ integration: 'email_configs[0]', outcome: 'sent' });
      await t.worker.stop();
    } finally {
      await new Promise<void>((r) => smtp.close(() => r()));
    }
  });
});

describe('alert delivery across a SIGKILL (separate processes on one store)', () => {
  it('delivers every pending notification after the restart, and none twice to the same receiver', async () => {
    const { spawn } = await import('node:child_process');
    const dir = mkdtempSync(path.join(tmpdir(), 'pw-restart-'));
    const sink = await new HttpSink().start();
    let answering = false;
    // Until the restart the receiver takes each request and never answers: the notifications are in flight when the process dies.
    sink.respond = () => (answering ? { status: 200 } : { status: 200, delayMs: 3_600_000 });
    const file = path.join(dir, 'alerting.yaml');
    writeFileSync(file, `route: {receiver: team, group_by: ['...'], group_wait: 0s, group_interval: 1s, repeat_interval: 1h}
receivers:
  - name: team
    webhook_configs: [{url: '${sink.url}/restart', timeout: 60s}]
`);
    const store = path.join(dir, 'db');
    const child = (alertsJson: string) => {
      const p = spawn(process.execPath, [path.join(__dirname, '..', '..', 'support', 'delivery-child.js'), store, file, alertsJson], { stdio: ['ignore', 'pipe', 'inherit'] });
      const ready = new Promise<void>((resolve, reject) => {
        p.stdout.on('data', (b: Buffer) => b.toString().includes('ready') && resolve());
        p.on('exit', (code) => reject(new Error(`child exited with ${code} before it was ready`)));
      });
      const exited = new Promise<void>((r) => p.on('exit', () => r()));
      return { p, ready, exited };
    };
    const list = [0, 1, 2].map((i) => alertOf(`Restart ${i}`, 'tr', {}));
    try {
      const first = child(JSON.stringify(list));
      await first.ready;
      await until(async () => sink.on('/restart').length >= 3, 60_000);
      first.p.kill('SIGKILL');
      await first.exited;
      const before = sink.on('/restart').map((r) => (r.body as { probewatch: { notification_id: string } }).probewatch.notification_id).sort();
      expect(new Set(before).size).toBe(3);

      answering = true;
      const second = child('-');
      await second.ready;
      await until(async () => sink.on('/restart').length >= 6, 60_000);
      await new Promise((r) => setTimeout(r, 1500));
      second.p.kill('SIGTERM');
      await second.exited;
      const after = sink.on('/restart').slice(3).map((r) => (r.body as { probewatch: { notification_id: string } }).probewatch.notification_id).sort();
      // Each pending notification is delivered once after the restart: the at-least-once window is the one interrupted attempt.
      expect(after).toEqual(before);

      // A third start finds nothing left to send.
      const third = child('-');
      await third.ready;
      await new Promise((r) => setTimeout(r, 1500));
      third.p.kill('SIGTERM');
      await third.exited;
      expect(sink.on('/restart')).toHaveLength(6);

      const c = await openClickHouse({ kind: 'embedded', location: store, database: 'pwrestart' });
      try {
        const rows = await new AlertDeliveryRepository(c).list({ tenants: ['tr'], limit: 10 });
        expect(rows.map((r) => r.outcome)).toEqual(['sent', 'sent', 'sent']);
      } finally {
        await c.close();
      }
    } finally {
      await sink.close();
    }
  });
});
