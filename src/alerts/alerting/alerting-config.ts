/**
 * `alerting.yaml`: routing, inhibition, time intervals and receivers in Alertmanager's
 * configuration shape, so a team's Alertmanager knowledge and files carry across. Reading is
 * total: every problem of the file is reported at file:line:col, and a file with any error is
 * not used (the service keeps the last good configuration). Pure: the environment is passed in
 * (secrets may be `${VAR}` references), secret values never appear in a problem.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, Scalar, YAMLMap, YAMLSeq, Node as YamlNode } from 'yaml';

import { makeMatcher, Matcher, MatcherError, parseMatcher } from './matchers';
import { checkLocation, IntervalError, parseClock, parseRange, TimePeriod } from './time-intervals';

export interface AlertingProblem {
  file: string;
  line: number;
  col: number;
  message: string;
  severity: 'error' | 'warning';
}

export function formatAlertingProblem(p: AlertingProblem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.severity === 'warning' ? 'warning: ' : ''}${p.message}`;
}

export interface RouteNode {
  receiver: string;
  /** Label names, or '...' for every label (each alert its own group). */
  groupBy: string[] | '...';
  groupWaitMs: number;
  groupIntervalMs: number;
  repeatIntervalMs: number;
  matchers: Matcher[];
  continue: boolean;
  muteTimeIntervals: string[];
  activeTimeIntervals: string[];
  routes: RouteNode[];
  /** Where it is written: `route`, `route.routes[0]`, … and its line. */
  path: string;
  line: number;
}

export interface InhibitRule {
  source: Matcher[];
  target: Matcher[];
  equal: string[];
  line: number;
}

/** A secret as written: a literal, an environment reference, or a file; resolved by the receiver. */
export type SecretRef = { kind: 'literal'; value: string } | { kind: 'env'; name: string; value: string } | { kind: 'file'; path: string };

export interface WebhookConfig { url: SecretRef; sendResolved: boolean; maxAlerts: number; hmacSecret?: SecretRef; timeoutMs: number }
export interface SlackConfig { apiUrl: SecretRef; channel?: string; username?: string; title?: string; text?: string; sendResolved: boolean }
export interface EmailConfig {
  to: string;
  from: string;
  smarthost: string;
  authUsername?: string;
  authPassword?: SecretRef;
  requireTls: boolean;
  headers: Record<string, string>;
  sendResolved: boolean;
}
export interface PagerdutyConfig { routingKey: SecretRef; url: string; severity?: string; sendResolved: boolean }
export interface AlertmanagerConfig { url: string; sendResolved: boolean }
export interface KafkaConfig { topic: string; sendResolved: boolean }

export interface Receiver {
  name: string;
  webhook: WebhookConfig[];
  slack: SlackConfig[];
  email: EmailConfig[];
  pagerduty: PagerdutyConfig[];
  alertmanager: AlertmanagerConfig[];
  kafka: KafkaConfig[];
  line: number;
}

export interface AlertingConfig {
  file: string;
  route: RouteNode;
  inhibitRules: InhibitRule[];
  timeIntervals: Map<string, TimePeriod[]>;
  receivers: Map<string, Receiver>;
  resolveTimeoutMs: number;
}

export interface ReadResult {
  config: AlertingConfig | null;
  problems: AlertingProblem[];
}

// Alertmanager's defaults.
export const DEFAULT_GROUP_WAIT_MS = 30_000;
export const DEFAULT_GROUP_INTERVAL_MS = 5 * 60_000;
export const DEFAULT_REPEAT_INTERVAL_MS = 4 * 3_600_000;
const DEFAULT_RESOLVE_TIMEOUT_MS = 5 * 60_000;
const DEFAULT_PAGERDUTY_URL = 'https://events.pagerduty.com/v2/enqueue';
export const DEFAULT_ALERTS_TOPIC = 'probewatch.alerts';

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const DURATION_UNITS: Record<string, number> = { y: 365 * 86_400_000, w: 7 * 86_400_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** Prometheus durations: `30s`, `5m`, `1h30m`, `2d`, `1w`, units in that order. */
export function parsePromDuration(text: string): number | null {
  if (text === '0') return 0;
  const m = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/.exec(text);
  if (!m || text === '') return null;
  const units = ['y', 'w', 'd', 'h', 'm', 's', 'ms'];
  return units.reduce((t, u, i) => t + Number(m[i + 1] ?? 0) * DURATION_UNITS[u], 0);
}

const RECEIVER_KINDS = ['webhook_configs', 'slack_configs', 'email_configs', 'pagerduty_configs', 'alertmanager_configs', 'kafka_configs'] as const;
const UNSUPPORTED_RECEIVERS = ['opsgenie_configs', 'victorops_configs', 'pushover_configs', 'wechat_configs', 'sns_configs', 'telegram_configs', 'webex_configs', 'discord_configs', 'msteams_configs', 'msteamsv2_configs', 'jira_configs', 'rocketchat_configs'];

class Reader {
  readonly problems: AlertingProblem[] = [];
  readonly lc = new LineCounter();
  constructor(readonly file: string, private readonly env: Readonly<Record<string, string | undefined>>) {}

  report(n: YamlNode | null | undefined, message: string, severity: 'error' | 'warning' = 'error'): void {
    const p = this.lc.linePos(n?.range?.[0] ?? 0);
    this.problems.push({ file: this.file, line: p.line, col: p.col, message, severity });
  }

  line(n: YamlNode | null | undefined): number {
    return this.lc.linePos(n?.range?.[0] ?? 0).line;
  }

  /** The map's entries, reporting keys outside `allowed`. */
  fields(map: YAMLMap, allowed: readonly string[], what: string): Map<string, { key: YamlNode; value: YamlNode | null }> {
    const out = new Map<string, { key: YamlNode; value: YamlNode | null }>();
    for (const pair of map.items) {
      const key = pair.key as YamlNode;
      const name = isScalar(key) ? String(key.value) : '';
      if (!allowed.includes(name)) {
        const unsupported = UNSUPPORTED_RECEIVERS.includes(name) ? ` (probewatch does not send to ${name.replace('_configs', '')}; use webhook_configs)` : '';
        this.report(key, `unknown key '${name}' in ${what}${unsupported}; expected one of: ${allowed.join(', ')}`);
        continue;
      }
      if (out.has(name)) this.report(key, `'${name}' is given twice in ${what}`);
      out.set(name, { key, value: (pair.value as YamlNode | null) ?? null });
    }
    return out;
  }

  map(n: YamlNode | null, what: string): YAMLMap | null {
    if (isMap(n)) return n;
    this.report(n, `${what} must be a mapping`);
    return null;
  }

  seq(n: YamlNode | null, what: string): YAMLSeq | null {
    if (isSeq(n)) return n;
    this.report(n, `${what} must be a list`);
    return null;
  }

  string(n: YamlNode | null | undefined, what: string): string | null {
    if (isScalar(n) && (typeof n.value === 'string' || typeof n.value === 'number') && String(n.value) !== '') return String(n.value);
    this.report(n, `${what} must be a non-empty string`);
    return null;
  }

  bool(n: YamlNode | null | undefined, what: string, dflt: boolean): boolean {
    if (n === undefined) return dflt;
    if (isScalar(n) && typeof n.value === 'boolean') return n.value;
    this.report(n, `${what} must be true or false`);
    return dflt;
  }

  duration(n: YamlNode | null | undefined, what: string, dflt: number): number {
    if (n === undefined) return dflt;
    const s = isScalar(n) ? String(n.value) : '';
    const ms = parsePromDuration(s);
    if (ms === null) {
      this.report(n, `${what} must be a duration like 30s, 5m, 4h or 1h30m (got '${s}')`);
      return dflt;
    }
    return ms;
  }

  strings(n: YamlNode | null | undefined, what: string): string[] {
    if (n === undefined) return [];
    const s = this.seq(n ?? null, what);
    if (!s) return [];
    return s.items.map((i) => this.string(i as YamlNode, `each entry of ${what}`)).filter((x): x is string => x !== null);
  }

  /** A secret: `key` (a literal, or `${VAR}` from the environment) or `key_file` (a path). */
  secret(f: Map<string, { key: YamlNode; value: YamlNode | null }>, key: string, where: YamlNode, required: boolean, warnInline = true): SecretRef | undefined {
    const inline = f.get(key);
    const file = f.get(`${key}_file`);
    if (inline && file) {
      this.report(file.key, `give either '${key}' or '${key}_file', not both`);
      return undefined;
    }
    if (file) {
      const p = this.string(file.value, `'${key}_file'`);
      return p ? { kind: 'file', path: p } : undefined;
    }
    if (!inline) {
      if (required) this.report(where, `missing '${key}' (or '${key}_file')`);
      return undefined;
    }
    const v = isScalar(inline.value) ? String(inline.value.value ?? '') : '';
    const ref = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(v);
    if (ref) {
      const value = this.env[ref[1]];
      if (value === undefined || value === '') {
        this.report(inline.value, `'${key}' refers to the environment variable ${ref[1]}, which is not set`);
        return undefined;
      }
      return { kind: 'env', name: ref[1], value };
    }
    if (v === '') {
      this.report(inline.value, `'${key}' must not be empty`);
      return undefined;
    }
    if (warnInline) this.report(inline.value, `'${key}' is written in the file; prefer '${key}_file' or a \${VAR} reference so the secret stays out of the configuration`, 'warning');
    return { kind: 'literal', value: v };
  }
}

function matchersOf(r: Reader, f: Map<string, { key: YamlNode; value: YamlNode | null }>, key: string): Matcher[] {
  const out: Matcher[] = [];
  const e = f.get(key);
  if (!e) return out;
  const list = r.seq(e.value, `'${key}'`);
  for (const item of list?.items ?? []) {
    const node = item as YamlNode;
    if (!isScalar(node) || typeof node.value !== 'string') {
      r.report(node, `each entry of '${key}' must be a matcher string like severity="critical"`);
      continue;
    }
    try {
      out.push(parseMatcher(node.value));
    } catch (err) {
      if (!(err instanceof MatcherError)) throw err;
      const quoted = (node as Scalar).type === 'QUOTE_DOUBLE' || (node as Scalar).type === 'QUOTE_SINGLE' ? 1 : 0;
      // Escapes inside a double-quoted YAML string make the offset approximate; it stays on the line.
      const p = r.lc.linePos((node.range?.[0] ?? 0) + quoted + err.offset);
      r.problems.push({ file: r.file, line: p.line, col: p.col, message: `${key}: ${err.message}`, severity: 'error' });
    }
  }
  return out;
}

/** Alertmanager's older `match` / `match_re` maps, still accepted. */
function legacyMatchers(r: Reader, f: Map<string, { key: YamlNode; value: YamlNode | null }>): Matcher[] {
  const out: Matcher[] = [];
  for (const [key, op] of [['match', '='], ['match_re', '=~']] as const) {
    const e = f.get(key);
    if (!e) continue;
    const m = r.map(e.value, `'${key}'`);
    for (const pair of m?.items ?? []) {
      const k = pair.key as YamlNode;
      const name = isScalar(k) ? String(k.value) : '';
      if (!LABEL_NAME.test(name)) {
        r.report(k, `'${name}' is not a label name`);
        continue;
      }
      const v = r.string(pair.value as YamlNode, `${key}.${name}`);
      if (v === null) continue;
      try {
        out.push(makeMatcher(name, op, v));
      } catch (err) {
        r.report(pair.value as YamlNode, `${key}.${name}: ${(err as Error).message}`);
      }
    }
  }
  return out;
}

const ROUTE_KEYS = ['receiver', 'group_by', 'group_wait', 'group_interval', 'repeat_interval', 'matchers', 'match', 'match_re', 'continue', 'routes', 'mute_time_intervals', 'active_time_intervals'];

function readRoute(r: Reader, node: YamlNode | null, parent: RouteNode | null, path: string, refs: { receivers: Array<[string, YamlNode]>; intervals: Array<[string, YamlNode]> }): RouteNode | null {
  const map = r.map(node, path);
  if (!map) return null;
  const f = r.fields(map, ROUTE_KEYS, path);
  const receiverNode = f.get('receiver');
  let receiver = parent?.receiver ?? '';
  if (receiverNode) {
    const s = r.string(receiverNode.value, `${path}.receiver`);
    if (s) {
      receiver = s;
      refs.receivers.push([s, receiverNode.value as YamlNode]);
    }
  } else if (!parent) {
    r.report(map, `the root route needs a 'receiver'`);
  }
  let groupBy: RouteNode['groupBy'] = parent?.groupBy ?? [];
  const gb = f.get('group_by');
  if (gb) {
    const names = r.strings(gb.value, `${path}.group_by`);
    if (names.includes('...')) {
      if (names.length > 1) r.report(gb.value, `'...' (group by every label) cannot be combined with label names`);
      groupBy = '...';
    } else {
      for (const [i, n] of names.entries()) if (!LABEL_NAME.test(n)) r.report((gb.value as YAMLSeq).items[i] as YamlNode, `'${n}' is not a label name`);
      groupBy = [...new Set(names)];
    }
  }
  const matchers = [...matchersOf(r, f, 'matchers'), ...legacyMatchers(r, f)];
  const cont = r.bool(f.get('continue')?.value ?? undefined, `${path}.continue`, false);
  const mute = r.strings(f.get('mute_time_intervals')?.value ?? undefined, `${path}.mute_time_intervals`);
  const active = r.strings(f.get('active_time_intervals')?.value ?? undefined, `${path}.active_time_intervals`);
  for (const key of ['mute_time_intervals', 'active_time_intervals']) {
    const e = f.get(key);
    if (!e) continue;
    if (!parent) r.report(e.key, `the root route cannot have ${key} (put them on a child route)`);
    for (const item of (isSeq(e.value) ? e.value.items : []) as YamlNode[]) if (isScalar(item)) refs.intervals.push([String(item.value), item]);
  }
  if (!parent) {
    if (matchers.length) r.report(f.get('matchers')?.key ?? f.get('match')?.key ?? map, 'the root route matches every alert; it cannot have matchers');
    if (f.get('continue')) r.report(f.get('continue')?.key, 'the root route cannot have continue');
  }
  const route: RouteNode = {
    receiver,
    groupBy,
    groupWaitMs: r.duration(f.get('group_wait')?.value ?? undefined, `${path}.group_wait`, parent?.groupWaitMs ?? DEFAULT_GROUP_WAIT_MS),
    groupIntervalMs: r.duration(f.get('group_interval')?.value ?? undefined, `${path}.group_interval`, parent?.groupIntervalMs ?? DEFAULT_GROUP_INTERVAL_MS),
    repeatIntervalMs: r.duration(f.get('repeat_interval')?.value ?? undefined, `${path}.repeat_interval`, parent?.repeatIntervalMs ?? DEFAULT_REPEAT_INTERVAL_MS),
    matchers,
    continue: cont,
    muteTimeIntervals: mute,
    activeTimeIntervals: active,
    routes: [],
    path,
    line: r.line(map),
  };
  for (const key of ['group_interval', 'repeat_interval'] as const) {
    const e = f.get(key);
    if (e && (key === 'group_interval' ? route.groupIntervalMs : route.repeatIntervalMs) === 0) r.report(e.value, `${path}.${key} must be greater than zero`);
  }
  const children = f.get('routes');
  if (children) {
    const list = r.seq(children.value, `${path}.routes`);
    (list?.items ?? []).forEach((c, i) => {
      const child = readRoute(r, c as YamlNode, route, `${path}.routes[${i}]`, refs);
      if (child) route.routes.push(child);
    });
  }
  return route;
}

function readIntervals(r: Reader, node: YamlNode | null, out: Map<string, TimePeriod[]>, key: string): void {
  const list = r.seq(node, `'${key}'`);
  for (const item of list?.items ?? []) {
    const m = r.map(item as YamlNode, `each entry of '${key}'`);
    if (!m) continue;
    const f = r.fields(m, ['name', 'time_intervals'], `a time interval`);
    const name = f.get('name') ? r.string(f.get('name')?.value, 'the time interval name') : (r.report(m, `a time interval needs a 'name'`), null);
    if (name && out.has(name)) r.report(f.get('name')?.value, `time interval '${name}' is defined twice`);
    const periods: TimePeriod[] = [];
    const ps = f.get('time_intervals');
    for (const p of (ps ? r.seq(ps.value, `${name}.time_intervals`)?.items ?? [] : []) as YamlNode[]) {
      const pm = r.map(p, `each period of '${name}'`);
      if (!pm) continue;
      const pf = r.fields(pm, ['times', 'weekdays', 'days_of_month', 'months', 'years', 'location'], `a period of '${name}'`);
      const period: TimePeriod = { location: 'UTC' };
      const loc = pf.get('location');
      if (loc) {
        const tz = r.string(loc.value, 'location');
        if (tz) {
          try {
            checkLocation(tz === 'Local' ? 'UTC' : tz);
            period.location = tz === 'Local' ? 'UTC' : tz;
          } catch (e) {
            r.report(loc.value, (e as Error).message);
          }
        }
      }
      const times = pf.get('times');
      if (times) {
        period.times = [];
        for (const t of (r.seq(times.value, 'times')?.items ?? []) as YamlNode[]) {
          const tm = r.map(t, 'each entry of times');
          if (!tm) continue;
          const tf = r.fields(tm, ['start_time', 'end_time'], 'a time range');
          const s = r.string(tf.get('start_time')?.value ?? tm, 'start_time');
          const e = r.string(tf.get('end_time')?.value ?? tm, 'end_time');
          if (!s || !e) continue;
          try {
            const range = { startMinute: parseClock(s, false), endMinute: parseClock(e, true) };
            if (range.endMinute <= range.startMinute) r.report(tm, `end_time ${e} must be after start_time ${s}`);
            else period.times.push(range);
          } catch (err) {
            if (!(err instanceof IntervalError)) throw err;
            r.report(tm, err.message);
          }
        }
      }
      for (const [k, field] of [['weekdays', 'weekdays'], ['days_of_month', 'daysOfMonth'], ['months', 'months'], ['years', 'years']] as const) {
        const e = pf.get(k);
        if (!e) continue;
        const ranges = [];
        for (const it of (r.seq(e.value, k)?.items ?? []) as YamlNode[]) {
          const s = isScalar(it) ? String(it.value) : '';
          try {
            ranges.push(parseRange(s, k));
          } catch (err) {
            if (!(err instanceof IntervalError)) throw err;
            r.report(it, err.message);
          }
        }
        period[field] = ranges;
      }
      periods.push(period);
    }
    if (name) out.set(name, periods);
  }
}

const WEBHOOK_KEYS = ['url', 'url_file', 'send_resolved', 'max_alerts', 'hmac_secret', 'hmac_secret_file', 'timeout'];
const SLACK_KEYS = ['api_url', 'api_url_file', 'channel', 'username', 'title', 'text', 'send_resolved'];
const EMAIL_KEYS = ['to', 'from', 'smarthost', 'auth_username', 'auth_password', 'auth_password_file', 'require_tls', 'headers', 'send_resolved'];
const PAGERDUTY_KEYS = ['routing_key', 'routing_key_file', 'url', 'severity', 'send_resolved'];
const GLOBAL_KEYS = ['resolve_timeout', 'smtp_from', 'smtp_smarthost', 'smtp_auth_username', 'smtp_auth_password', 'smtp_auth_password_file', 'smtp_require_tls',
  'slack_api_url', 'slack_api_url_file', 'pagerduty_url'];

function httpUrl(r: Reader, n: YamlNode | null | undefined, what: string): string | null {
  const s = r.string(n, what);
  if (s === null) return null;
  try {
    const u = new URL(s);
    if (u.protocol === 'http:' || u.protocol === 'https:') return s;
  } catch {
    // reported below
  }
  r.report(n, `${what} must be an http or https URL`);
  return null;
}

function readReceiver(r: Reader, m: YAMLMap, globals: Map<string, { key: YamlNode; value: YamlNode | null }>): Receiver | null {
  const f = r.fields(m, ['name', ...RECEIVER_KINDS], 'a receiver');
  const name = f.get('name') ? r.string(f.get('name')?.value, 'the receiver name') : (r.report(m, `a receiver needs a 'name'`), null);
  if (!name) return null;
  const rec: Receiver = { name, webhook: [], slack: [], email: [], pagerduty: [], alertmanager: [], kafka: [], line: r.line(m) };
  const each = (kind: (typeof RECEIVER_KINDS)[number], keys: readonly string[], fn: (cf: Map<string, { key: YamlNode; value: YamlNode | null }>, node: YAMLMap) => void): void => {
    const e = f.get(kind);
    if (!e) return;
    for (const c of (r.seq(e.value, `${name}.${kind}`)?.items ?? []) as YamlNode[]) {
      const cm = r.map(c, `each entry of ${name}.${kind}`);
      if (cm) fn(r.fields(cm, keys, `${name}.${kind}`), cm);
    }
  };
  each('webhook_configs', WEBHOOK_KEYS, (cf, node) => {
    // A webhook URL is read like a secret (url_file, ${VAR}) but may be written inline without a warning.
    const url = r.secret(cf, 'url', node, true, false);
    if (url && url.kind !== 'file') {
      try {
        if (!['http:', 'https:'].includes(new URL(url.value).protocol)) throw new Error();
      } catch {
        r.report(cf.get('url')?.value, `${name}.webhook_configs url must be an http or https URL`);
      }
    }
    const max = cf.get('max_alerts');
    const maxAlerts = max ? Number(isScalar(max.value) ? max.value.value : NaN) : 0;
    if (max && (!Number.isInteger(maxAlerts) || maxAlerts < 0)) r.report(max.value, 'max_alerts must be a whole number (0: no limit)');
    const hmac = r.secret(cf, 'hmac_secret', node, false);
    if (url) rec.webhook.push({ url, sendResolved: r.bool(cf.get('send_resolved')?.value ?? undefined, 'send_resolved', true), maxAlerts: Math.max(0, maxAlerts || 0), hmacSecret: hmac, timeoutMs: r.duration(cf.get('timeout')?.value ?? undefined, 'timeout', 10_000) });
  });
  each('slack_configs', SLACK_KEYS, (cf, node) => {
    const apiUrl = r.secret(cf, 'api_url', node, false) ?? r.secret(globals, 'slack_api_url', node, false);
    if (!apiUrl) {
      r.report(node, `${name}.slack_configs needs 'api_url' (or 'api_url_file', or global 'slack_api_url')`);
      return;
    }
    const opt = (k: string): string | undefined => (cf.get(k) ? r.string(cf.get(k)?.value, k) ?? undefined : undefined);
    rec.slack.push({ apiUrl, channel: opt('channel'), username: opt('username'), title: opt('title'), text: opt('text'), sendResolved: r.bool(cf.get('send_resolved')?.value ?? undefined, 'send_resolved', false) });
  });
  each('email_configs', EMAIL_KEYS, (cf, node) => {
    const pick = (k: string, g: string): YamlNode | null | undefined => cf.get(k)?.value ?? globals.get(g)?.value;
    const to = cf.get('to') ? r.string(cf.get('to')?.value, 'to') : (r.report(node, `${name}.email_configs needs 'to'`), null);
    const fromNode = pick('from', 'smtp_from');
    const from = fromNode !== undefined ? r.string(fromNode, 'from') : (r.report(node, `${name}.email_configs needs 'from' (or global 'smtp_from')`), null);
    const hostNode = pick('smarthost', 'smtp_smarthost');
    const host = hostNode !== undefined ? r.string(hostNode, 'smarthost') : (r.report(node, `${name}.email_configs needs 'smarthost' (or global 'smtp_smarthost')`), null);
    if (host && !/^[^:\s]+:\d+$/.test(host)) r.report(hostNode, `smarthost must be host:port (got '${host}')`);
    const userNode = pick('auth_username', 'smtp_auth_username');
    const headers: Record<string, string> = {};
    const h = cf.get('headers');
    if (h) for (const pair of r.map(h.value, 'headers')?.items ?? []) headers[String((pair.key as Scalar).value)] = String((pair.value as Scalar | null)?.value ?? '');
    const password = r.secret(cf, 'auth_password', node, false) ?? r.secret(globals, 'smtp_auth_password', node, false);
    if (to && from && host) {
      rec.email.push({
        to, from, smarthost: host, authUsername: userNode ? r.string(userNode, 'auth_username') ?? undefined : undefined, authPassword: password,
        requireTls: r.bool(cf.get('require_tls')?.value ?? globals.get('smtp_require_tls')?.value ?? undefined, 'require_tls', true), headers,
        sendResolved: r.bool(cf.get('send_resolved')?.value ?? undefined, 'send_resolved', false),
      });
    }
  });
  each('pagerduty_configs', PAGERDUTY_KEYS, (cf, node) => {
    const key = r.secret(cf, 'routing_key', node, true);
    const urlNode = cf.get('url')?.value ?? globals.get('pagerduty_url')?.value;
    const url = urlNode !== undefined ? httpUrl(r, urlNode, 'url') : DEFAULT_PAGERDUTY_URL;
    const severity = cf.get('severity') ? r.string(cf.get('severity')?.value, 'severity') ?? undefined : undefined;
    if (key && url) rec.pagerduty.push({ routingKey: key, url, severity, sendResolved: r.bool(cf.get('send_resolved')?.value ?? undefined, 'send_resolved', true) });
  });
  each('alertmanager_configs', ['url', 'send_resolved'], (cf, node) => {
    const url = cf.get('url') ? httpUrl(r, cf.get('url')?.value, 'url') : (r.report(node, `${name}.alertmanager_configs needs 'url' (the Alertmanager's base URL)`), null);
    if (url) rec.alertmanager.push({ url: url.replace(/\/+$/, ''), sendResolved: r.bool(cf.get('send_resolved')?.value ?? undefined, 'send_resolved', true) });
  });
  each('kafka_configs', ['topic', 'send_resolved'], (cf) => {
    const topic = cf.get('topic') ? r.string(cf.get('topic')?.value, 'topic') : DEFAULT_ALERTS_TOPIC;
    if (topic && !/^[a-zA-Z0-9._-]{1,249}$/.test(topic)) r.report(cf.get('topic')?.value, `'${topic}' is not a valid Kafka topic name`);
    else if (topic) rec.kafka.push({ topic, sendResolved: r.bool(cf.get('send_resolved')?.value ?? undefined, 'send_resolved', true) });
  });
  return rec;
}

export function readAlertingConfig(file: string, text: string, env: Readonly<Record<string, string | undefined>> = {}): ReadResult {
  const r = new Reader(file, env);
  const doc = parseDocument(text, { lineCounter: r.lc, prettyErrors: false, uniqueKeys: true });
  for (const e of doc.errors) {
    const p = r.lc.linePos(e.pos[0]);
    r.problems.push({ file, line: p.line, col: p.col, message: `YAML: ${e.message.split('\n')[0]}`, severity: 'error' });
  }
  if (doc.errors.length) return { config: null, problems: r.problems };
  const root = doc.contents as YamlNode | null;
  if (!isMap(root)) {
    r.report(root, 'the file must be a mapping with route, receivers and optionally inhibit_rules, time_intervals and global');
    return { config: null, problems: r.problems };
  }
  const f = r.fields(root, ['global', 'route', 'receivers', 'inhibit_rules', 'time_intervals', 'mute_time_intervals', 'templates'], 'the file');
  if (f.get('templates')) r.report(f.get('templates')?.key, `'templates' is not supported: probewatch renders its own payloads with the alert's evidence`);
  const g = f.get('global');
  const globals = g ? r.fields(r.map(g.value, 'global') ?? new YAMLMap(), GLOBAL_KEYS, 'global') : new Map<string, { key: YamlNode; value: YamlNode | null }>();
  const resolveTimeoutMs = r.duration(globals.get('resolve_timeout')?.value ?? undefined, 'global.resolve_timeout', DEFAULT_RESOLVE_TIMEOUT_MS);

  const timeIntervals = new Map<string, TimePeriod[]>();
  for (const key of ['time_intervals', 'mute_time_intervals']) {
    const e = f.get(key);
    if (e) readIntervals(r, e.value, timeIntervals, key);
  }

  const receivers = new Map<string, Receiver>();
  const rs = f.get('receivers');
  if (!rs) r.report(root, `missing 'receivers'`);
  for (const item of (rs ? r.seq(rs.value, `'receivers'`)?.items ?? [] : []) as YamlNode[]) {
    const m = r.map(item, 'each receiver');
    const rec = m ? readReceiver(r, m, globals) : null;
    if (!rec) continue;
    if (receivers.has(rec.name)) r.report((m as YAMLMap).get('name', true) as YamlNode, `receiver '${rec.name}' is defined twice`);
    receivers.set(rec.name, rec);
  }

  const refs = { receivers: [] as Array<[string, YamlNode]>, intervals: [] as Array<[string, YamlNode]> };
  const routeEntry = f.get('route');
  if (!routeEntry) r.report(root, `missing 'route'`);
  const route = routeEntry ? readRoute(r, routeEntry.value, null, 'route', refs) : null;
  for (const [name, node] of refs.receivers) if (!receivers.has(name)) r.report(node, `receiver '${name}' is not defined under receivers`);
  for (const [name, node] of refs.intervals) if (!timeIntervals.has(name)) r.report(node, `time interval '${name}' is not defined under time_intervals`);

  const inhibitRules: InhibitRule[] = [];
  const ir = f.get('inhibit_rules');
  for (const item of (ir ? r.seq(ir.value, `'inhibit_rules'`)?.items ?? [] : []) as YamlNode[]) {
    const m = r.map(item, 'each inhibit rule');
    if (!m) continue;
    const rf = r.fields(m, ['source_matchers', 'target_matchers', 'source_match', 'source_match_re', 'target_match', 'target_match_re', 'equal'], 'an inhibit rule');
    const legacy = (k: 'source' | 'target'): Matcher[] => {
      const sub = new Map<string, { key: YamlNode; value: YamlNode | null }>();
      for (const [from, to] of [[`${k}_match`, 'match'], [`${k}_match_re`, 'match_re']]) {
        const e = rf.get(from);
        if (e) sub.set(to, e);
      }
      return legacyMatchers(r, sub);
    };
    const source = [...matchersOf(r, rf, 'source_matchers'), ...legacy('source')];
    const target = [...matchersOf(r, rf, 'target_matchers'), ...legacy('target')];
    if (!source.length) r.report(m, 'an inhibit rule needs source_matchers');
    if (!target.length) r.report(m, 'an inhibit rule needs target_matchers');
    const equal = r.strings(rf.get('equal')?.value ?? undefined, 'equal');
    inhibitRules.push({ source, target, equal, line: r.line(m) });
  }

  const errors = r.problems.filter((p) => p.severity === 'error');
  if (errors.length || !route) return { config: null, problems: r.problems };
  return { config: { file, route, inhibitRules, timeIntervals, receivers, resolveTimeoutMs }, problems: r.problems };
}
