/**
 * Kafka message value -> event, or a classified error for the dead-letter topic (pure).
 * One event per message, in the same contract as POST /v1/events.
 */
import { EventLimits, validateEvent } from '../ingest/event-contract';
import { FieldError, ProbeEvent } from '../domain/event';
import { parseJsonBytes } from '../ingest/json-bytes';

export type DecodeErrorCode = 'empty' | 'oversize' | 'not_utf8' | 'invalid_json' | 'schema';

export type Decoded = { ok: true; event: ProbeEvent } | { ok: false; code: DecodeErrorCode; reason: string; errors: FieldError[] };


export function decodeEventMessage(value: Buffer | null, maxBytes: number, limits: EventLimits): Decoded {
  if (!value || value.length === 0) return { ok: false, code: 'empty', reason: 'message has no value', errors: [] };
  if (value.length > maxBytes) return { ok: false, code: 'oversize', reason: `message is ${value.length} bytes, more than the limit of ${maxBytes}`, errors: [] };
  const parsed = parseJsonBytes(value);
  if (!parsed.ok && parsed.problem === 'not_utf8') return { ok: false, code: 'not_utf8', reason: 'message is not valid UTF-8 text (binary data?)', errors: [] };
  if (!parsed.ok) return { ok: false, code: 'invalid_json', reason: `invalid JSON: ${parsed.detail}`, errors: [] };
  const json = parsed.json;
  if (Array.isArray(json)) return { ok: false, code: 'schema', reason: 'expected one event object per message, got an array', errors: [{ field: '', message: 'expected an object' }] };
  let v: ReturnType<typeof validateEvent>;
  try {
    v = validateEvent(json, limits);
  } catch (e) {
    // Validation is total by design; should it ever throw, the message is dead-lettered, not fatal.
    return { ok: false, code: 'schema', reason: `the event could not be validated (${(e as Error).name})`, errors: [{ field: '', message: 'could not be validated' }] };
  }
  if (!v.ok) return { ok: false, code: 'schema', reason: v.errors.map((e) => `${e.field || '(event)'}: ${e.message}`).join('; '), errors: v.errors };
  return v;
}

export interface DlqSource {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
}

/** Headers of a dead-lettered message: what failed, why, and where the original was. */
export function dlqHeaders(src: DlqSource, code: string, reason: string, errors: FieldError[], instance: string, now: Date = new Date()): Record<string, string> {
  return {
    'probewatch-error': code,
    'probewatch-reason': reason.slice(0, 4000),
    'probewatch-fields': JSON.stringify(errors).slice(0, 4000),
    'probewatch-original-topic': src.topic,
    'probewatch-original-partition': String(src.partition),
    'probewatch-original-offset': src.offset,
    'probewatch-original-timestamp': src.timestamp,
    'probewatch-failed-at': now.toISOString(),
    'probewatch-instance': instance,
  };
}
