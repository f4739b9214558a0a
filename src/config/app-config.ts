/**
 * The service's configuration, parsed once at boot from the environment. Every bad variable is
 * reported (name, value, what was expected), then the process exits: fail fast, fail once.
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';

import { validateCronExpression } from 'cron';

import { TENANT_ID } from '../domain/access';
import { ConceptId, DEFAULT_TURN_VIEW, parseTurnView } from '../domain/concepts';
import type { EventLimits } from '../ingest/event-contract';
import { KAFKA_CONFIG_DOC, KafkaSettings, parseKafkaSettings } from '../kafka/kafka-settings';
import { CONTENT_POLICIES, ContentPolicy } from '../storage/content-policy';
import { envReader, withoutCredentials } from './env-reader';
import { DEFAULT_PACK_ID, resolveRuntimePaths, RuntimePaths } from './runtime-paths';

export interface AppConfig {
  port: number;
  host: string;
  paths: RuntimePaths;
  pack: string;
  provider: 'cpu' | 'cuda' | 'webgpu';
  probeWorkers: number;
  probeThreads: number;
  /** Prefix cache per inference worker, in MiB (0: off). */
  prefixCacheMb: number;
  /** Concepts that also read the newest turn with the system prompt alone (PROBEWATCH_TURN_VIEW; empty: off). */
  turnView: ConceptId[];
  rulesDir: string;
  /** Reload rule files when they change on disk. */
  rulesWatch: boolean;
  /** How often the scheduler checks which windowed and sequence rules are due. */
  rulesTickMs: number;
  store: { kind: 'embedded' | 'server'; location: string; username?: string; password?: string; database: string };
  contentPolicy: ContentPolicy;
  /** Per-tenant overrides of the content policy (PROBEWATCH_CONTENT_POLICY_BY_TENANT). */
  contentPolicyByTenant: Record<string, ContentPolicy>;
  retentionDays: number;
  limits: { maxBodyBytes: number; maxBatchEvents: number; maxMessages: number; maxContentChars: number };
  /** What an event may hold (HTTP and Kafka), including the accepted time window. */
  eventLimits: EventLimits;
  /** The accept log (write-ahead log behind `202`): raw accepted events until they are scored. */
  acceptLogDir: string;
  queueCapacity: number;
  pipelineConcurrency: number;
  writer: { maxRows: number; flushMs: number; maxBackoffMs: number };
  /** Alert delivery: alerting.yaml (routes, receivers), the dispatcher's tick, the retry policy. */
  alerting: { file: string; watch: boolean; tickMs: number; silenceStaleDays: number; maxAttempts: number; retryBaseMs: number; takeoverMs: number; externalUrl: string; instanceId: string };
  /** The inline guard (POST /v1/guard): its policy file (watched) and its own bound of requests in flight. */
  guard: { file: string; maxInFlight: number };
  /** Access control: on unless PROBEWATCH_AUTH=off. */
  auth: {
    enabled: boolean; adminKeyFile: string; metricsOpen: boolean;
    oidc: { issuer: string; audience: string; rolesClaim: string; tenantsClaim: string; console: { clientId: string; scope: string } | null } | null;
  };
  /**
   * Scheduled compliance reports (PROBEWATCH_REPORT_SCHEDULE, a cron expression in UTC), and the
   * browser that prints PDF reports (null: none found; a pdf report then fails naming what to install).
   */
  reports: { dir: string; schedule: string | null; format: 'json' | 'csv' | 'html' | 'pdf'; chromium: string | null };
  /** The audit trail's Ed25519 signing key (generated there when absent). */
  audit: { signingKeyFile: string; checkpointEvery: number; checkpointMs: number };
  /** The secret of the keyed pseudonyms (user ids, hashed metadata; generated there when absent). */
  pseudonymKeyFile: string;
  kafka: KafkaSettings | null;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

export const CONFIG_DOC: Array<{ name: string; default: string; meaning: string }> = [
  { name: 'PORT', default: '8080', meaning: 'HTTP port' },
  { name: 'HOST', default: '0.0.0.0', meaning: 'HTTP bind address' },
  { name: 'PROBEWATCH_DATA_DIR', default: './data', meaning: 'model artifacts, Python env, embedded ClickHouse' },
  { name: 'PROBEWATCH_PACK', default: DEFAULT_PACK_ID, meaning: 'probe pack id (under probes/) or directory' },
  { name: 'PROBEWATCH_PROVIDER', default: 'cpu', meaning: 'ONNX Runtime execution provider: cpu, cuda, webgpu' },
  { name: 'PROBEWATCH_PROBE_WORKERS', default: '1', meaning: 'inference worker threads' },
  { name: 'PROBEWATCH_PROBE_THREADS', default: '0 (ORT default)', meaning: 'threads per inference worker' },
  { name: 'PROBEWATCH_PREFIX_CACHE_MB', default: '256', meaning: 'prefix cache per inference worker (key/value state and residuals of conversation prefixes, LRU): a turn that extends an earlier one computes only its new tokens; 0 turns it off' },
  { name: 'PROBEWATCH_TURN_VIEW', default: DEFAULT_TURN_VIEW, meaning: 'concepts (comma-separated, all or off) that also read the newest turn (from the last user message on) with the system prompt alone, after 512 tokens of earlier messages; a flagged, higher turn score is the result' },
  { name: 'PROBEWATCH_RULES_DIR', default: './rules', meaning: 'directory of rule files (*.yaml)' },
  { name: 'PROBEWATCH_RULES_WATCH', default: 'true', meaning: 'reload rule files when they change (also POST /v1/rules/reload)' },
  { name: 'PROBEWATCH_RULES_TICK_MS', default: '1000', meaning: 'scheduler tick: how often due windowed/sequence rules are looked for' },
  { name: 'CLICKHOUSE_URL', default: '(unset: embedded chDB)', meaning: 'ClickHouse server URL, e.g. http://127.0.0.1:8123' },
  { name: 'PROBEWATCH_CLICKHOUSE_DIR', default: '$PROBEWATCH_DATA_DIR/clickhouse', meaning: 'embedded store directory (one process at a time)' },
  { name: 'CLICKHOUSE_USER / CLICKHOUSE_PASSWORD', default: 'default / (empty)', meaning: 'server credentials' },
  { name: 'CLICKHOUSE_DATABASE', default: 'probewatch', meaning: 'database name' },
  { name: 'PROBEWATCH_CONTENT_POLICY', default: 'redacted', meaning: 'prompt storage: full, redacted (PII/secrets masked) or hash' },
  { name: 'PROBEWATCH_CONTENT_POLICY_BY_TENANT', default: '(unset)', meaning: 'per-tenant policy, e.g. acme=full,globex=hash (others use PROBEWATCH_CONTENT_POLICY)' },
  { name: 'PROBEWATCH_RETENTION_DAYS', default: '90', meaning: 'days kept of events, scores, evidence, alerts, alert history, notifications and dead letters; dropped by monthly partition, each drop in the audit trail' },
  { name: 'PROBEWATCH_MAX_BODY_BYTES', default: '1048576', meaning: 'largest accepted request body' },
  { name: 'PROBEWATCH_MAX_BATCH', default: '100', meaning: 'events per POST /v1/events' },
  { name: 'PROBEWATCH_MAX_MESSAGES', default: '256', meaning: 'messages per event' },
  { name: 'PROBEWATCH_MAX_CONTENT_CHARS', default: '100000', meaning: 'characters per message' },
  { name: 'PROBEWATCH_MAX_CLOCK_SKEW', default: '1h', meaning: 'how far in the future an event timestamp may lie (e.g. 30s, 15m, 1h); the past is bounded by the retention' },
  { name: 'PROBEWATCH_ACCEPT_LOG_DIR', default: '$PROBEWATCH_DATA_DIR/accept-log', meaning: 'write-ahead log of accepted events (raw, mode 0600) until they are scored and stored' },
  { name: 'PROBEWATCH_QUEUE_CAPACITY', default: '1000', meaning: 'events waiting for the probe before 429' },
  { name: 'PROBEWATCH_PIPELINE_CONCURRENCY', default: '32', meaning: 'events scored concurrently (feeds the batcher)' },
  { name: 'PROBEWATCH_WRITER_MAX_ROWS / PROBEWATCH_WRITER_FLUSH_MS', default: '10000 / 1000', meaning: 'ClickHouse batch size and interval' },
  { name: 'PROBEWATCH_ALERTING_FILE', default: './alerting.yaml', meaning: 'routes, inhibit rules, time intervals and receivers (Alertmanager\'s shape); watched and reloaded' },
  { name: 'PROBEWATCH_ALERTING_WATCH', default: 'true', meaning: 'reload the alerting file when it changes' },
  { name: 'PROBEWATCH_GUARD_FILE', default: './guard.yaml', meaning: 'the inline guard\'s policy (flag and block thresholds per concept); watched and reloaded; when absent: flag at the pack\'s thresholds, never block' },
  { name: 'PROBEWATCH_GUARD_MAX_IN_FLIGHT', default: '64', meaning: 'POST /v1/guard requests handled at once before 429 (their own bound, apart from PROBEWATCH_QUEUE_CAPACITY)' },
  { name: 'PROBEWATCH_NOTIFY_TICK_MS', default: '1000', meaning: 'how often alert groups are looked at (group_wait and group_interval resolve to this)' },
  { name: 'PROBEWATCH_NOTIFY_ATTEMPTS', default: '6', meaning: 'delivery attempts per notification before it is recorded dead' },
  { name: 'PROBEWATCH_NOTIFY_RETRY_MS', default: '1000', meaning: 'first retry delay (doubles per attempt, at most 5 minutes)' },
  { name: 'PROBEWATCH_NOTIFY_TAKEOVER_SECONDS', default: '600', meaning: 'adopt and deliver another instance\'s notifications nobody has touched this long (an instance gone for good); 0 never' },
  { name: 'PROBEWATCH_SILENCE_STALE_DAYS', default: '30', meaning: 'a silence that has muted nothing for this long is flagged stale' },
  { name: 'PROBEWATCH_EXTERNAL_URL', default: 'http://<HOST>:<PORT>', meaning: 'base of the links in notifications' },
  { name: 'PROBEWATCH_AUTH', default: 'on', meaning: 'off turns access control off (a warning at every start); otherwise every route but /healthz, /readyz and /docs needs a key' },
  { name: 'PROBEWATCH_ADMIN_KEY_FILE', default: '$PROBEWATCH_DATA_DIR/admin.key', meaning: 'where the first start writes the admin key it creates (mode 0600)' },
  { name: 'PROBEWATCH_AUDIT_SIGNING_KEY_FILE', default: '$PROBEWATCH_DATA_DIR/audit-signing.key', meaning: 'Ed25519 key (PKCS#8 PEM) that signs the audit trail\'s checkpoints; generated there (mode 0600) when absent' },
  { name: 'PROBEWATCH_PSEUDONYM_KEY_FILE', default: '$PROBEWATCH_DATA_DIR/pseudonym.key', meaning: 'secret of the keyed digests (HMAC-SHA256) that stand for user ids and hashed metadata values; generated there (mode 0600) when absent' },
  { name: 'PROBEWATCH_AUDIT_CHECKPOINT_EVERY', default: '100', meaning: 'sign a checkpoint after this many audit entries (and at least every minute)' },
  { name: 'PROBEWATCH_OIDC_ISSUER / PROBEWATCH_OIDC_AUDIENCE', default: '(unset)', meaning: 'accept bearer JWTs from this OpenID Provider (verified against its JWKS) for this audience' },
  { name: 'PROBEWATCH_OIDC_ROLES_CLAIM / PROBEWATCH_OIDC_TENANTS_CLAIM', default: 'probewatch_role / probewatch_tenants', meaning: 'the claims that carry the role and the tenants (a list, or "*")' },
  { name: 'PROBEWATCH_OIDC_CONSOLE_CLIENT_ID / PROBEWATCH_OIDC_CONSOLE_SCOPE', default: '(unset) / openid', meaning: 'the console signs in through the provider (authorization code with PKCE) as this public client, redirect URI <service origin>/console' },
  { name: 'PROBEWATCH_REPORT_SCHEDULE', default: '(unset)', meaning: 'cron expression (UTC, optional seconds field) for scheduled reports into $PROBEWATCH_DATA_DIR/reports, announced through the alerting receivers' },
  { name: 'PROBEWATCH_REPORTS_DIR', default: '$PROBEWATCH_DATA_DIR/reports', meaning: 'where reports asked for through the API and scheduled ones are written' },
  { name: 'PROBEWATCH_REPORT_FORMAT', default: 'html', meaning: 'format of scheduled reports: json, csv, html or pdf' },
  { name: 'PROBEWATCH_CHROMIUM', default: 'first of /usr/bin/chromium, /usr/bin/chromium-browser', meaning: 'the headless Chromium that prints PDF reports (Debian: apt-get install chromium)' },
  { name: 'PROBEWATCH_METRICS_AUTH', default: 'false', meaning: 'true: /metrics needs a key with metrics:read (admin, safety, reviewer)' },
  { name: 'PROBEWATCH_WRITER_MAX_BACKOFF_MS', default: '30000', meaning: 'longest wait between retries of a failed ClickHouse insert' },
  ...KAFKA_CONFIG_DOC,
];

/** PROBEWATCH_TURN_VIEW into concepts; a bad value is a problem. */
function turnView(raw: string | undefined, problems: string[]): ConceptId[] {
  try {
    return parseTurnView(raw ?? DEFAULT_TURN_VIEW);
  } catch (e) {
    problems.push(`PROBEWATCH_TURN_VIEW: ${(e as Error).message}`);
    return [];
  }
}

/** `acme=full,globex=hash` into {tenant: policy}; every bad pair is a problem. */
function policyMap(raw: string | undefined, problems: string[]): Record<string, ContentPolicy> {
  const out: Record<string, ContentPolicy> = {};
  for (const part of (raw ?? '').split(',').map((x) => x.trim()).filter(Boolean)) {
    const [tenant, policy] = part.split('=').map((x) => x.trim());
    if (!tenant || !TENANT_ID.test(tenant) || !(CONTENT_POLICIES as readonly string[]).includes(policy ?? '')) {
      problems.push(`PROBEWATCH_CONTENT_POLICY_BY_TENANT: '${part}' is not tenant=${CONTENT_POLICIES.join('|')}`);
      continue;
    }
    out[tenant] = policy as ContentPolicy;
  }
  return out;
}

/** The content policy of a tenant. */
export function policyFor(cfg: Pick<AppConfig, 'contentPolicy' | 'contentPolicyByTenant'>, tenant: string | undefined): ContentPolicy {
  return (tenant !== undefined && cfg.contentPolicyByTenant[tenant]) || cfg.contentPolicy;
}

/** Where a PDF report's browser is looked for when PROBEWATCH_CHROMIUM is unset. */
export const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const problems: string[] = [];
  const { int, bool, oneOf, duration } = envReader(env, problems);
  const url = (name: string): string | null => {
    const raw = env[name];
    if (!raw) return null;
    try {
      const u = new URL(raw);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
      return raw;
    } catch {
      problems.push(`${name}=${JSON.stringify(withoutCredentials(raw))}: expected an http(s) URL`);
      return null;
    }
  };
  const paths = resolveRuntimePaths(env);
  const chUrl = url('CLICKHOUSE_URL');
  const database = env.CLICKHOUSE_DATABASE ?? 'probewatch';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) problems.push(`CLICKHOUSE_DATABASE=${JSON.stringify(database)}: expected a plain identifier`);
  if (env.PROBEWATCH_REPORT_SCHEDULE && !validateCronExpression(env.PROBEWATCH_REPORT_SCHEDULE).valid) problems.push(`PROBEWATCH_REPORT_SCHEDULE=${JSON.stringify(env.PROBEWATCH_REPORT_SCHEDULE)}: not a cron expression (e.g. '0 6 * * 1' for Mondays at 06:00 UTC)`);
  if (env.PROBEWATCH_API_TOKEN) problems.push('PROBEWATCH_API_TOKEN is no longer read: access takes API keys (probewatch keys create --role <role>, or the admin key the first start writes to $PROBEWATCH_DATA_DIR/admin.key)');
  if (env.PROBEWATCH_WEBHOOK_URL) problems.push('PROBEWATCH_WEBHOOK_URL is no longer read: put the webhook in alerting.yaml (receivers: webhook_configs) and point PROBEWATCH_ALERTING_FILE at it');
  const externalUrl = url('PROBEWATCH_EXTERNAL_URL');
  const oidcIssuer = url('PROBEWATCH_OIDC_ISSUER');
  if (env.PROBEWATCH_OIDC_CONSOLE_CLIENT_ID && !oidcIssuer) problems.push('PROBEWATCH_OIDC_CONSOLE_CLIENT_ID is set: PROBEWATCH_OIDC_ISSUER (the provider the console signs in through) is required too');
  if (oidcIssuer && !env.PROBEWATCH_OIDC_AUDIENCE) problems.push('PROBEWATCH_OIDC_ISSUER is set: PROBEWATCH_OIDC_AUDIENCE (the audience your provider puts in probewatch\'s tokens) is required too');
  const instanceId = env.PROBEWATCH_INSTANCE_ID || hostname();
  const chromium = env.PROBEWATCH_CHROMIUM || CHROMIUM_CANDIDATES.find((p) => existsSync(p)) || null;
  // Scheduled PDFs without a browser would fail at every tick: say so at boot instead.
  if (env.PROBEWATCH_REPORT_SCHEDULE && env.PROBEWATCH_REPORT_FORMAT === 'pdf' && !(chromium && existsSync(chromium))) {
    problems.push(`PROBEWATCH_REPORT_FORMAT=pdf: no Chromium ${chromium ? `at ${chromium}` : `at ${CHROMIUM_CANDIDATES.join(' or ')}`} to print it; install Debian's chromium (apt-get install chromium) or set PROBEWATCH_CHROMIUM`);
  }
  const limits = {
    maxBodyBytes: int('PROBEWATCH_MAX_BODY_BYTES', 1_048_576, 1024, 512 * 1_048_576),
    maxBatchEvents: int('PROBEWATCH_MAX_BATCH', 100, 1, 10_000),
    maxMessages: int('PROBEWATCH_MAX_MESSAGES', 256, 1, 10_000),
    maxContentChars: int('PROBEWATCH_MAX_CONTENT_CHARS', 100_000, 1, 10_000_000),
  };
  const retentionDays = int('PROBEWATCH_RETENTION_DAYS', 90, 1, 36500);
  const eventLimits: EventLimits = {
    maxMessages: limits.maxMessages,
    maxContentChars: limits.maxContentChars,
    maxIdChars: 256,
    maxNameChars: 128,
    maxMetadataDepth: 8,
    maxMetadataBytes: 16_384,
    timeWindow: { maxAgeMs: retentionDays * 86_400_000, maxSkewMs: duration('PROBEWATCH_MAX_CLOCK_SKEW', 3_600_000, 0, 7 * 86_400_000) },
  };
  const cfg: AppConfig = {
    port: int('PORT', 8080, 0, 65535),
    host: env.HOST ?? '0.0.0.0',
    paths,
    pack: env.PROBEWATCH_PACK ?? DEFAULT_PACK_ID,
    provider: oneOf('PROBEWATCH_PROVIDER', 'cpu', ['cpu', 'cuda', 'webgpu'] as const),
    probeWorkers: int('PROBEWATCH_PROBE_WORKERS', 1, 1, 64),
    probeThreads: int('PROBEWATCH_PROBE_THREADS', 0, 0, 256),
    prefixCacheMb: int('PROBEWATCH_PREFIX_CACHE_MB', 256, 0, 1_048_576),
    turnView: turnView(env.PROBEWATCH_TURN_VIEW, problems),
    rulesDir: path.resolve(env.PROBEWATCH_RULES_DIR ?? path.join(paths.projectRoot, 'rules')),
    rulesWatch: bool('PROBEWATCH_RULES_WATCH', true),
    rulesTickMs: int('PROBEWATCH_RULES_TICK_MS', 1000, 100, 3_600_000),
    store: chUrl
      ? { kind: 'server', location: chUrl, username: env.CLICKHOUSE_USER ?? 'default', password: env.CLICKHOUSE_PASSWORD ?? '', database }
      : { kind: 'embedded', location: path.resolve(env.PROBEWATCH_CLICKHOUSE_DIR ?? path.join(paths.dataDir, 'clickhouse')), database },
    contentPolicy: oneOf('PROBEWATCH_CONTENT_POLICY', 'redacted', CONTENT_POLICIES),
    contentPolicyByTenant: policyMap(env.PROBEWATCH_CONTENT_POLICY_BY_TENANT, problems),
    retentionDays,
    limits,
    eventLimits,
    acceptLogDir: path.resolve(env.PROBEWATCH_ACCEPT_LOG_DIR ?? path.join(paths.dataDir, 'accept-log')),
    queueCapacity: int('PROBEWATCH_QUEUE_CAPACITY', 1000, 1, 1_000_000),
    pipelineConcurrency: int('PROBEWATCH_PIPELINE_CONCURRENCY', 32, 1, 4096),
    writer: { maxRows: int('PROBEWATCH_WRITER_MAX_ROWS', 10_000, 1, 1_000_000), flushMs: int('PROBEWATCH_WRITER_FLUSH_MS', 1000, 10, 600_000), maxBackoffMs: int('PROBEWATCH_WRITER_MAX_BACKOFF_MS', 30_000, 100, 600_000) },
    guard: { file: path.resolve(env.PROBEWATCH_GUARD_FILE || 'guard.yaml'), maxInFlight: int('PROBEWATCH_GUARD_MAX_IN_FLIGHT', 64, 1, 10_000) },
    alerting: {
      file: path.resolve(env.PROBEWATCH_ALERTING_FILE || 'alerting.yaml'),
      watch: bool('PROBEWATCH_ALERTING_WATCH', true),
      tickMs: int('PROBEWATCH_NOTIFY_TICK_MS', 1000, 10, 600_000),
      silenceStaleDays: int('PROBEWATCH_SILENCE_STALE_DAYS', 30, 1, 3650),
      maxAttempts: int('PROBEWATCH_NOTIFY_ATTEMPTS', 6, 1, 100),
      retryBaseMs: int('PROBEWATCH_NOTIFY_RETRY_MS', 1000, 1, 3_600_000),
      takeoverMs: int('PROBEWATCH_NOTIFY_TAKEOVER_SECONDS', 600, 0, 86_400) * 1000,
      externalUrl: '',
      instanceId,
    },
    auth: {
      enabled: oneOf('PROBEWATCH_AUTH', 'on', ['on', 'off'] as const) === 'on',
      adminKeyFile: path.resolve(env.PROBEWATCH_ADMIN_KEY_FILE || path.join(paths.dataDir, 'admin.key')),
      metricsOpen: !bool('PROBEWATCH_METRICS_AUTH', false),
      oidc: oidcIssuer
        ? {
          issuer: oidcIssuer, audience: env.PROBEWATCH_OIDC_AUDIENCE ?? '', rolesClaim: env.PROBEWATCH_OIDC_ROLES_CLAIM || 'probewatch_role', tenantsClaim: env.PROBEWATCH_OIDC_TENANTS_CLAIM || 'probewatch_tenants',
          console: env.PROBEWATCH_OIDC_CONSOLE_CLIENT_ID ? { clientId: env.PROBEWATCH_OIDC_CONSOLE_CLIENT_ID, scope: env.PROBEWATCH_OIDC_CONSOLE_SCOPE || 'openid' } : null,
        }
        : null,
    },
    reports: { dir: path.resolve(env.PROBEWATCH_REPORTS_DIR || path.join(paths.dataDir, 'reports')), schedule: env.PROBEWATCH_REPORT_SCHEDULE || null, format: oneOf('PROBEWATCH_REPORT_FORMAT', 'html', ['json', 'csv', 'html', 'pdf'] as const), chromium },
    audit: {
      signingKeyFile: path.resolve(env.PROBEWATCH_AUDIT_SIGNING_KEY_FILE || path.join(paths.dataDir, 'audit-signing.key')),
      checkpointEvery: int('PROBEWATCH_AUDIT_CHECKPOINT_EVERY', 100, 1, 1_000_000),
      checkpointMs: 60_000,
    },
    pseudonymKeyFile: path.resolve(env.PROBEWATCH_PSEUDONYM_KEY_FILE || path.join(paths.dataDir, 'pseudonym.key')),
    kafka: parseKafkaSettings(env, problems),
  };
  cfg.alerting.externalUrl = (externalUrl ?? `http://${cfg.host === '0.0.0.0' || cfg.host === '::' ? '127.0.0.1' : cfg.host}:${cfg.port}`).replace(/\/+$/, '');
  if (problems.length) throw new ConfigError(problems);
  return cfg;
}
