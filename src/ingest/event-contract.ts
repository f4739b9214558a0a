/**
 * The event contract shared by `probewatch score`, the HTTP API and the Kafka consumer.
 * Validation is total: every problem is reported with its field path, never just the first.
 * It covers everything that is stored: an accepted event can always be serialised, stored and
 * read back as it was accepted (bounded depth and size, well-formed text, identifiers that
 * cannot be confused, a timestamp ClickHouse can hold and retention will not drop at once).
 */
import { checkMetadata, hasControlOrFormatChars, SAFE_IDENT, SAFE_ID } from './field-checks';
import { parseRfc3339 } from './rfc3339';
import { ChatMessage, FieldError, MESSAGE_ROLES, ProbeEvent } from '../domain/event';

export type EventValidation = { ok: true; event: ProbeEvent } | { ok: false; errors: FieldError[] };

export interface EventLimits {
  maxMessages: number;
  maxContentChars: number;
  /** `id` and `user`. */
  maxIdChars: number;
  /** `tenant`, `source` and `model`. */
  maxNameChars: number;
  maxMetadataDepth: number;
  maxMetadataBytes: number;
  /**
   * Accepted event times: `[now - maxAgeMs, now + maxSkewMs]`. Older events belong to partitions
   * retention drops; later ones are clock errors. `null` accepts any RFC 3339 time from
   * year 1900 to 2299 (offline scoring of historical files, the range ClickHouse stores).
   */
  timeWindow: { maxAgeMs: number; maxSkewMs: number } | null;
}

export const DEFAULT_EVENT_LIMITS: EventLimits = {
  maxMessages: 256,
  maxContentChars: 200_000,
  maxIdChars: 256,
  maxNameChars: 128,
  maxMetadataDepth: 8,
  maxMetadataBytes: 16_384,
  timeWindow: null,
};

/** DateTime64(3) holds 1900-01-01 .. 2299-12-31. */
const STORABLE_FROM = Date.UTC(1900, 0, 1);
const STORABLE_TO = Date.UTC(2300, 0, 1);

const NAME_FIELDS = ['tenant', 'source', 'model'] as const;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkMessage(m: unknown, i: number, limits: EventLimits, errors: FieldError[]): void {
  const at = `messages[${i}]`;
  if (!isRecord(m)) {
    errors.push({ field: at, message: 'must be an object with role and content' });
    return;
  }
  if (typeof m.role !== 'string' || !(MESSAGE_ROLES as readonly string[]).includes(m.role)) {
    errors.push({ field: `${at}.role`, message: `must be one of ${MESSAGE_ROLES.join(', ')}` });
  }
  if (typeof m.content !== 'string') {
    errors.push({ field: `${at}.content`, message: 'must be a string' });
  } else if (m.content.length > limits.maxContentChars) {
    errors.push({ field: `${at}.content`, message: `longer than ${limits.maxContentChars} characters` });
  } else if (m.content.includes('\u0000') || !m.content.isWellFormed()) {
    errors.push({ field: `${at}.content`, message: 'must be well-formed text without NUL characters' });
  }
  if (m.name !== undefined && (typeof m.name !== 'string' || m.name.length > limits.maxNameChars || hasControlOrFormatChars(m.name))) {
    errors.push({ field: `${at}.name`, message: `must be a string of at most ${limits.maxNameChars} printable characters` });
  }
  for (const key of Object.keys(m)) {
    if (key !== 'role' && key !== 'content' && key !== 'name') errors.push({ field: `${at}.${key.slice(0, 64)}`, message: 'unknown field' });
  }
}

function checkTimestamp(v: unknown, limits: EventLimits, now: number, errors: FieldError[]): string | null {
  if (typeof v !== 'string' || v === '') {
    errors.push({ field: 'timestamp', message: 'required RFC 3339 date-time, e.g. 2026-11-30T07:00:00Z' });
    return null;
  }
  const ms = parseRfc3339(v);
  if (ms === null) {
    errors.push({ field: 'timestamp', message: 'must be an RFC 3339 date-time with a time zone, e.g. 2026-11-30T07:00:00Z' });
    return null;
  }
  const w = limits.timeWindow;
  if (w && (ms < now - w.maxAgeMs || ms > now + w.maxSkewMs)) {
    const from = new Date(now - w.maxAgeMs).toISOString();
    const to = new Date(now + w.maxSkewMs).toISOString();
    errors.push({ field: 'timestamp', message: `must lie between ${from} (retention) and ${to} (allowed clock skew)` });
    return null;
  }
  if (!w && (ms < STORABLE_FROM || ms >= STORABLE_TO)) {
    errors.push({ field: 'timestamp', message: 'must lie between 1900-01-01 and 2299-12-31' });
    return null;
  }
  return new Date(ms).toISOString();
}

export function validateEvent(input: unknown, limits: EventLimits = DEFAULT_EVENT_LIMITS, now: number = Date.now()): EventValidation {
  if (!isRecord(input)) return { ok: false, errors: [{ field: '', message: 'event must be a JSON object' }] };
  const errors: FieldError[] = [];
  if (typeof input.id !== 'string' || input.id === '') errors.push({ field: 'id', message: 'required non-empty string' });
  else if (input.id.length > limits.maxIdChars) errors.push({ field: 'id', message: `longer than ${limits.maxIdChars} characters` });
  else if (!SAFE_ID.test(input.id)) errors.push({ field: 'id', message: 'only printable ASCII characters without spaces' });
  for (const f of NAME_FIELDS) {
    const v = input[f];
    if (typeof v !== 'string' || v === '') errors.push({ field: f, message: 'required non-empty string' });
    else if (v.length > limits.maxNameChars) errors.push({ field: f, message: `longer than ${limits.maxNameChars} characters` });
    else if (!SAFE_IDENT.test(v)) errors.push({ field: f, message: 'only ASCII letters, digits and . _ : / @ + - (starting with a letter or digit)' });
  }
  const timestamp = checkTimestamp(input.timestamp, limits, now, errors);
  const msgs = input.messages;
  if (!Array.isArray(msgs) || msgs.length === 0) {
    errors.push({ field: 'messages', message: 'required non-empty array' });
  } else if (msgs.length > limits.maxMessages) {
    errors.push({ field: 'messages', message: `more than ${limits.maxMessages} messages` });
  } else {
    msgs.forEach((m, i) => checkMessage(m, i, limits, errors));
  }
  if (input.metadata !== undefined) {
    if (!isRecord(input.metadata)) errors.push({ field: 'metadata', message: 'must be an object' });
    else errors.push(...checkMetadata(input.metadata, limits.maxMetadataDepth, limits.maxMetadataBytes));
  }
  if (input.user !== undefined && (typeof input.user !== 'string' || input.user.length > limits.maxIdChars || hasControlOrFormatChars(input.user) || !input.user.isWellFormed())) {
    errors.push({ field: 'user', message: `must be a string of at most ${limits.maxIdChars} printable characters` });
  }
  if (errors.length > 0 || timestamp === null) return { ok: false, errors };
  const messages = (msgs as ChatMessage[]).map((m) => ({ role: m.role, content: m.content }));
  const event: ProbeEvent = {
    id: input.id as string,
    timestamp,
    tenant: input.tenant as string,
    source: input.source as string,
    model: input.model as string,
    messages,
  };
  if (typeof input.user === 'string' && input.user !== '') event.user = input.user;
  if (input.metadata !== undefined) event.metadata = input.metadata as Record<string, unknown>;
  return { ok: true, event };
}
