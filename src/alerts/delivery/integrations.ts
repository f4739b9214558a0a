/**
 * Sending one notification to one integration of a receiver (webhook, Slack, email, PagerDuty,
 * Alertmanager, Kafka). Each send either resolves (delivered) or throws a DeliveryError saying
 * whether a retry could help. Secrets (URLs with tokens, routing keys, HMAC keys, SMTP passwords)
 * are read at send time from the environment or their files and never appear in an error.
 */
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { createTransport } from 'nodemailer';

import type { AlertmanagerConfig, EmailConfig, KafkaConfig, PagerdutyConfig, Receiver, SecretRef, SlackConfig, WebhookConfig } from '../alerting/alerting-config';
import { evidenceLines, Notification, title, truncated, withoutResolved } from './notification';

export class DeliveryError extends Error {
  constructor(message: string, readonly permanent: boolean) {
    super(message);
  }
}

export type Integration =
  | { kind: 'webhook'; key: string; cfg: WebhookConfig }
  | { kind: 'slack'; key: string; cfg: SlackConfig }
  | { kind: 'email'; key: string; cfg: EmailConfig }
  | { kind: 'pagerduty'; key: string; cfg: PagerdutyConfig }
  | { kind: 'alertmanager'; key: string; cfg: AlertmanagerConfig }
  | { kind: 'kafka'; key: string; cfg: KafkaConfig };

/** Publishes to a Kafka topic (given by the wiring when Kafka is configured). */
export interface AlertsTopicProducer {
  send(topic: string, messages: Array<{ key: string; value: string }>): Promise<void>;
}

export function integrationsOf(r: Receiver): Integration[] {
  return [
    ...r.webhook.map((cfg, i) => ({ kind: 'webhook' as const, key: `webhook_configs[${i}]`, cfg })),
    ...r.slack.map((cfg, i) => ({ kind: 'slack' as const, key: `slack_configs[${i}]`, cfg })),
    ...r.email.map((cfg, i) => ({ kind: 'email' as const, key: `email_configs[${i}]`, cfg })),
    ...r.pagerduty.map((cfg, i) => ({ kind: 'pagerduty' as const, key: `pagerduty_configs[${i}]`, cfg })),
    ...r.alertmanager.map((cfg, i) => ({ kind: 'alertmanager' as const, key: `alertmanager_configs[${i}]`, cfg })),
    ...r.kafka.map((cfg, i) => ({ kind: 'kafka' as const, key: `kafka_configs[${i}]`, cfg })),
  ];
}

export function sendsResolved(i: Integration): boolean {
  return i.cfg.sendResolved;
}

export function resolveSecret(s: SecretRef): string {
  if (s.kind !== 'file') return s.value;
  try {
    return readFileSync(s.path, 'utf8').trim();
  } catch (e) {
    throw new DeliveryError(`cannot read the secret file ${s.path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, false);
  }
}

/** An error message with every secret removed. */
function scrub(message: string, secrets: string[]): string {
  let m = message;
  for (const s of secrets) if (s) m = m.split(s).join('<secret>');
  return m;
}

/** The parts of a URL that may carry a token: the whole URL, its path and query, its credentials. */
function urlSecrets(url: string): string[] {
  try {
    const u = new URL(url);
    const tail = `${u.pathname}${u.search}`;
    return [url, ...(tail.length > 1 ? [tail] : []), u.username, u.password].filter((x) => x.length > 0);
  } catch {
    return [url];
  }
}

async function post(url: string, body: string, headers: Record<string, string>, timeoutMs: number, secretValues: string[], ok: (status: number) => boolean = (s) => s >= 200 && s < 300): Promise<void> {
  const secrets = [...urlSecrets(url), ...secretValues].sort((a, b) => b.length - a.length);
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    const why = err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `${err.message}${err.cause ? `: ${err.cause.code ?? err.cause.message}` : ''}`;
    throw new DeliveryError(scrub(why, secrets), false);
  }
  const text = await res.text().catch(() => '');
  if (ok(res.status)) return;
  const detail = scrub(text.slice(0, 200).replace(/\s+/g, ' '), secrets);
  // 4xx other than 408 and 429 will not change on a retry.
  const permanent = res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429;
  throw new DeliveryError(`HTTP ${res.status}${detail ? `: ${detail}` : ''}`, permanent);
}

const PD_SEVERITY: Record<string, string> = { critical: 'critical', high: 'error', medium: 'warning', low: 'info', info: 'info' };

export function pagerdutyEvent(n: Notification, routingKey: string, cfg: PagerdutyConfig): Record<string, unknown> {
  // One incident per group and receiver, as Alertmanager keys it.
  const dedupKey = createHash('sha256').update(`${n.receiver}\u0000${n.groupKey}`).digest('hex');
  if (n.status === 'resolved') return { routing_key: routingKey, event_action: 'resolve', dedup_key: dedupKey };
  const firing = n.alerts.filter((a) => a.status === 'firing');
  const first = firing[0] ?? n.alerts[0];
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: dedupKey,
    payload: {
      summary: title(n).slice(0, 1024),
      source: 'probewatch',
      severity: cfg.severity ?? PD_SEVERITY[first?.labels.severity ?? ''] ?? 'error',
      timestamp: first?.startsAt,
      component: first?.labels.tenant,
      group: first?.labels.rule,
      class: first?.labels.concept,
      custom_details: { firing: firing.length, alerts: firing.map((a) => ({ labels: a.labels, annotations: a.annotations, evidence: a.evidence, links: a.links })) },
    },
    client: 'probewatch',
    client_url: n.externalURL,
    links: firing.slice(0, 5).map((a) => ({ href: a.links.alert, text: `alert ${a.alert_id}` })),
  };
}

function cut(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/** Slack Block Kit: a header, one section per alert (at most 20) with its evidence, and links. */
export function slackMessage(n: Notification, cfg: SlackConfig): Record<string, unknown> {
  const head = cut(cfg.title ?? title(n), 150);
  const blocks: Array<Record<string, unknown>> = [{ type: 'header', text: { type: 'plain_text', text: head } }];
  if (cfg.text) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: cut(cfg.text, 3000) } });
  for (const a of n.alerts.slice(0, 20)) {
    const lines = [`*${a.status === 'firing' ? ':red_circle:' : ':large_green_circle:'} ${a.labels.rule ?? a.labels.alertname}* (${a.labels.severity}, tenant ${a.labels.tenant})`];
    if (a.annotations.summary) lines.push(a.annotations.summary);
    lines.push(...evidenceLines(a));
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: cut(lines.join('\n'), 3000) } });
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: cut(`<${a.links.alert}|alert ${a.alert_id}> · <${a.links.event}|event ${a.event_id}>`, 3000) }] });
  }
  if (n.alerts.length > 20) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `and ${n.alerts.length - 20} more` }] });
  return { ...(cfg.channel ? { channel: cfg.channel } : {}), ...(cfg.username ? { username: cfg.username } : {}), text: head, blocks };
}

function html(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

export function emailMessage(n: Notification): { subject: string; text: string; html: string } {
  const subject = title(n);
  const text: string[] = [subject, ''];
  const rows: string[] = [];
  for (const a of n.alerts) {
    text.push(`${a.status.toUpperCase()} ${a.labels.rule ?? a.labels.alertname} (${a.labels.severity}, tenant ${a.labels.tenant})`);
    for (const [k, v] of Object.entries(a.annotations)) text.push(`  ${k}: ${v}`);
    for (const l of evidenceLines(a)) text.push(`  ${l}`);
    text.push(`  alert: ${a.links.alert}`, `  event: ${a.links.event}`, '');
    const tokens = a.evidence?.tokens.slice(0, 12).map((t) => `<code>${html(t.token)}</code>`).join(' ') ?? '';
    rows.push(`<tr><td><b>${html(a.status)}</b></td><td>${html(a.labels.rule ?? '')}<br><small>${html(a.labels.severity ?? '')} · ${html(a.labels.tenant ?? '')}</small></td>
<td>${evidenceLines(a).map(html).join('<br>')}${tokens ? `<br>${tokens}` : ''}</td><td><a href="${html(a.links.alert)}">alert</a> · <a href="${html(a.links.event)}">event</a></td></tr>`);
  }
  const body = `<!doctype html><html><body><h2>${html(subject)}</h2><table border="1" cellpadding="6" cellspacing="0">
<tr><th>status</th><th>rule</th><th>evidence</th><th>links</th></tr>${rows.join('\n')}</table></body></html>`;
  return { subject, text: text.join('\n'), html: body };
}

/** Alertmanager's POST /api/v2/alerts body: `alertname` is the rule. */
export function alertmanagerAlerts(n: Notification): Array<Record<string, unknown>> {
  return n.alerts.map((a) => ({
    labels: { ...a.labels, alertname: a.labels.rule ?? a.labels.alertname },
    annotations: { ...a.annotations, probewatch_alert: a.links.alert, probewatch_event: a.links.event },
    startsAt: a.startsAt,
    ...(a.status === 'resolved' ? { endsAt: a.endsAt } : {}),
    generatorURL: a.generatorURL,
  }));
}

export interface SendContext {
  kafka: AlertsTopicProducer | null;
}

/**
 * Delivers `n` through `i`. Resolves to false when the integration wants nothing of it (only
 * resolved alerts and send_resolved off), true when delivered.
 */
export async function send(i: Integration, full: Notification, ctx: SendContext): Promise<boolean> {
  const n = sendsResolved(i) ? full : withoutResolved(full);
  if (!n) return false;
  switch (i.kind) {
    case 'webhook': {
      const url = resolveSecret(i.cfg.url);
      const body = JSON.stringify(truncated(n, i.cfg.maxAlerts));
      const headers: Record<string, string> = {};
      const secrets: string[] = [];
      if (i.cfg.hmacSecret) {
        const key = resolveSecret(i.cfg.hmacSecret);
        secrets.push(key);
        headers['x-probewatch-signature'] = `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;
      }
      await post(url, body, headers, i.cfg.timeoutMs, secrets);
      return true;
    }
    case 'slack': {
      const url = resolveSecret(i.cfg.apiUrl);
      await post(url, JSON.stringify(slackMessage(n, i.cfg)), {}, 10_000, []);
      return true;
    }
    case 'pagerduty': {
      const key = resolveSecret(i.cfg.routingKey);
      await post(i.cfg.url, JSON.stringify(pagerdutyEvent(n, key, i.cfg)), {}, 10_000, [key]);
      return true;
    }
    case 'alertmanager':
      await post(`${i.cfg.url}/api/v2/alerts`, JSON.stringify(alertmanagerAlerts(n)), {}, 10_000, []);
      return true;
    case 'kafka':
      if (!ctx.kafka) throw new DeliveryError('Kafka is not configured (set KAFKA_BROKERS) for kafka_configs', true);
      try {
        await ctx.kafka.send(i.cfg.topic, [{ key: n.groupKey, value: JSON.stringify(n) }]);
      } catch (e) {
        throw new DeliveryError(`Kafka: ${(e as Error).message}`, false);
      }
      return true;
    case 'email': {
      const [host, port] = i.cfg.smarthost.split(':');
      const password = i.cfg.authPassword ? resolveSecret(i.cfg.authPassword) : undefined;
      const transport = createTransport({
        host,
        port: Number(port),
        secure: Number(port) === 465,
        requireTLS: i.cfg.requireTls && Number(port) !== 465,
        ignoreTLS: !i.cfg.requireTls,
        connectionTimeout: 10_000,
        socketTimeout: 20_000,
        ...(i.cfg.authUsername ? { auth: { user: i.cfg.authUsername, pass: password ?? '' } } : {}),
      });
      const m = emailMessage(n);
      try {
        await transport.sendMail({ from: i.cfg.from, to: i.cfg.to, subject: m.subject, text: m.text, html: m.html, headers: i.cfg.headers });
      } catch (e) {
        const err = e as Error & { responseCode?: number };
        // 5xx SMTP replies are permanent; connection problems and 4xx are worth a retry.
        throw new DeliveryError(`SMTP: ${scrub(err.message, password ? [password] : [])}`, (err.responseCode ?? 0) >= 500);
      } finally {
        transport.close();
      }
      return true;
    }
  }
}
