/**
 * Event metadata under the content policy. Metadata is free-form JSON chosen by the caller, so
 * it carries the same personal data as prompts do (a customer e-mail as a value, or as a key).
 *   full      kept as given
 *   redacted  every string, key and id-like integer redacted like message text
 *   hash      string values replaced by their keyed digest (Pseudonyms); keys redacted (a key is schema, but an
 *             e-mail used as a key would otherwise survive); numbers and booleans kept
 * All strings are scanned in one batch. The walk is recursive with an explicit depth cap:
 * metadata is validated to at most ~8 levels at ingest, and anything deeper than MAX_DEPTH is
 * replaced by DEPTH_LIMIT rather than stored unscanned.
 */
import type { SpanScanner } from './redaction-scanner';
import type { ContentPolicy } from './policy';
import type { Digest } from './pseudonyms';
import { replaceSpans } from './sensitive-span';
import { findSensitiveSpansMany } from './sensitive-spans';

export const MAX_DEPTH = 16;
export const DEPTH_LIMIT = '[DEPTH_LIMIT]';

/** Integers of 7+ digits are identifiers (phone, card, account numbers) more often than amounts. */
function isIdLike(n: number): boolean {
  return Number.isSafeInteger(n) && Math.abs(n) >= 1_000_000;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every key and every string (and, under redacted, id-like integer as text) in the tree. */
function collect(value: unknown, depth: number, policy: ContentPolicy, keys: Set<string>, values: Set<string>): void {
  if (depth > MAX_DEPTH) return;
  if (typeof value === 'string') values.add(value);
  else if (typeof value === 'number' && policy === 'redacted' && isIdLike(value)) values.add(String(value));
  else if (Array.isArray(value)) for (const v of value) collect(v, depth + 1, policy, keys, values);
  else if (isRecord(value)) {
    for (const [k, v] of Object.entries(value)) {
      keys.add(k);
      collect(v, depth + 1, policy, keys, values);
    }
  }
}

/** A key not yet used in `out`: redaction can map two keys to the same placeholder. */
function freeKey(out: Record<string, unknown>, key: string): string {
  if (!Object.prototype.hasOwnProperty.call(out, key)) return key;
  let n = 2;
  while (Object.prototype.hasOwnProperty.call(out, `${key}#${n}`)) n++;
  return `${key}#${n}`;
}

interface Rewrite {
  key: (k: string) => string;
  text: (s: string) => string;
  number: (n: number) => number | string;
}

function rebuild(value: unknown, depth: number, rw: Rewrite): unknown {
  if (depth > MAX_DEPTH) return DEPTH_LIMIT;
  if (typeof value === 'string') return rw.text(value);
  if (typeof value === 'number') return rw.number(value);
  if (Array.isArray(value)) return value.map((v) => rebuild(v, depth + 1, rw));
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[freeKey(out, rw.key(k))] = rebuild(v, depth + 1, rw);
    return out;
  }
  return value;
}

/** Each string with its redacted form, scanned in one batch. */
async function redactAll(strings: readonly string[], scanner?: SpanScanner): Promise<Map<string, string>> {
  const spans = await findSensitiveSpansMany(strings, scanner);
  return new Map(strings.map((s, i) => [s, replaceSpans(s, spans[i])]));
}

export async function applyMetadataPolicy(
  metadata: Record<string, unknown> | undefined,
  policy: ContentPolicy,
  digest: Digest,
  scanner?: SpanScanner,
): Promise<Record<string, unknown> | undefined> {
  if (metadata === undefined || policy === 'full') return metadata;
  const keys = new Set<string>();
  const values = new Set<string>();
  collect(metadata, 0, policy, keys, values);
  const scanned = policy === 'redacted' ? [...new Set([...keys, ...values])] : [...keys];
  const redacted = await redactAll(scanned, scanner);
  const rw: Rewrite = policy === 'redacted'
    ? {
      key: (k) => redacted.get(k) ?? k,
      text: (s) => redacted.get(s) ?? s,
      number: (n) => (isIdLike(n) && redacted.get(String(n)) !== String(n) ? (redacted.get(String(n)) as string) : n),
    }
    : { key: (k) => redacted.get(k) ?? k, text: digest, number: (n) => n };
  return rebuild(metadata, 0, rw) as Record<string, unknown>;
}
