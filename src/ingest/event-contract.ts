/**
 * The event contract shared by `probewatch score`, the HTTP API and the Kafka consumer.
 * Validation is total: every problem is reported with its field path, never just the first.
 */

export const MESSAGE_ROLES = ['system', 'user', 'assistant', 'tool'] as const;
export type MessageRole = (typeof MESSAGE_ROLES)[number];

export interface ChatMessage {
  role: MessageRole;
  content: string;
}

export interface ProbeEvent {
  id: string;
  timestamp: string;
  tenant: string;
  source: string;
  model: string;
  messages: ChatMessage[];
  /** The end user (an opaque id chosen by the caller): rules group, count and sequence by it. */
  user?: string;
  metadata?: Record<string, unknown>;
}

export interface FieldError {
  field: string;
  message: string;
}

export type EventValidation = { ok: true; event: ProbeEvent } | { ok: false; errors: FieldError[] };

export interface EventLimits {
  maxMessages: number;
  maxContentChars: number;
  maxIdChars: number;
}

export const DEFAULT_EVENT_LIMITS: EventLimits = { maxMessages: 256, maxContentChars: 200_000, maxIdChars: 256 };

const STRING_FIELDS = ['id', 'timestamp', 'tenant', 'source', 'model'] as const;

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
  }
  for (const key of Object.keys(m)) {
    if (key !== 'role' && key !== 'content' && key !== 'name') errors.push({ field: `${at}.${key}`, message: 'unknown field' });
  }
}

export function validateEvent(input: unknown, limits: EventLimits = DEFAULT_EVENT_LIMITS): EventValidation {
  if (!isRecord(input)) return { ok: false, errors: [{ field: '', message: 'event must be a JSON object' }] };
  const errors: FieldError[] = [];
  for (const f of STRING_FIELDS) {
    const v = input[f];
    if (typeof v !== 'string' || v.trim() === '') errors.push({ field: f, message: 'required non-empty string' });
    else if (f === 'id' && v.length > limits.maxIdChars) errors.push({ field: f, message: `longer than ${limits.maxIdChars} characters` });
  }
  if (typeof input.timestamp === 'string' && input.timestamp.trim() !== '' && Number.isNaN(Date.parse(input.timestamp))) {
    errors.push({ field: 'timestamp', message: 'must be an ISO-8601 date-time' });
  }
  const msgs = input.messages;
  if (!Array.isArray(msgs) || msgs.length === 0) {
    errors.push({ field: 'messages', message: 'required non-empty array' });
  } else {
    if (msgs.length > limits.maxMessages) errors.push({ field: 'messages', message: `more than ${limits.maxMessages} messages` });
    msgs.forEach((m, i) => checkMessage(m, i, limits, errors));
  }
  if (input.metadata !== undefined && !isRecord(input.metadata)) errors.push({ field: 'metadata', message: 'must be an object' });
  if (input.user !== undefined && (typeof input.user !== 'string' || input.user.length > limits.maxIdChars)) {
    errors.push({ field: 'user', message: `must be a string of at most ${limits.maxIdChars} characters` });
  }
  if (errors.length > 0) return { ok: false, errors };
  const messages = (msgs as ChatMessage[]).map((m) => ({ role: m.role, content: m.content }));
  const event: ProbeEvent = {
    id: input.id as string,
    timestamp: input.timestamp as string,
    tenant: input.tenant as string,
    source: input.source as string,
    model: input.model as string,
    messages,
  };
  if (typeof input.user === 'string' && input.user !== '') event.user = input.user;
  if (input.metadata !== undefined) event.metadata = input.metadata as Record<string, unknown>;
  return { ok: true, event };
}
