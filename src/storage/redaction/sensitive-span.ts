/**
 * Sensitive spans and their placeholders (pure). A span is a half-open range [start, end) of
 * UTF-16 code units, the unit of String.prototype.slice and of every detector we use.
 */

export const SENSITIVE_KINDS = [
  'PRIVATE_KEY', 'JWT', 'SECRET', 'PASSWORD', 'IBAN', 'CARD_OR_ACCOUNT', 'SSN', 'PHONE', 'EMAIL', 'IP',
] as const;
export type SensitiveKind = (typeof SENSITIVE_KINDS)[number];

export interface SensitiveSpan {
  start: number;
  end: number;
  kind: SensitiveKind;
}

/**
 * When spans overlap they become one span; its kind is the most specific one, in SENSITIVE_KINDS
 * order (a basic-auth URL that also looks like an e-mail is a SECRET; the digits of an IBAN that
 * libphonenumber would also read as a phone number are an IBAN).
 */
const PRIORITY = new Map<SensitiveKind, number>(SENSITIVE_KINDS.map((k, i) => [k, i]));

function stronger(a: SensitiveKind, b: SensitiveKind): SensitiveKind {
  return (PRIORITY.get(a) as number) <= (PRIORITY.get(b) as number) ? a : b;
}

/** Sorted, non-overlapping spans. Spans that merely touch stay separate unless they share a kind. */
export function mergeSpans(spans: readonly SensitiveSpan[]): SensitiveSpan[] {
  const sorted = spans.filter((s) => s.end > s.start).sort((a, b) => a.start - b.start || b.end - a.end);
  const out: SensitiveSpan[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && (s.start < last.end || (s.start === last.end && s.kind === last.kind))) {
      last.end = Math.max(last.end, s.end);
      last.kind = stronger(last.kind, s.kind);
    } else {
      out.push({ ...s });
    }
  }
  return out;
}

export function placeholder(kind: SensitiveKind): string {
  return `[${kind}]`;
}

/** The text with each (merged) span replaced by its typed placeholder. */
export function replaceSpans(text: string, spans: readonly SensitiveSpan[]): string {
  if (spans.length === 0) return text;
  const parts: string[] = [];
  let cursor = 0;
  for (const s of spans) {
    parts.push(text.slice(cursor, s.start), placeholder(s.kind));
    cursor = s.end;
  }
  parts.push(text.slice(cursor));
  return parts.join('');
}

/** The first span sharing at least one code unit with [start, end), if any (spans merged). */
export function firstOverlap(spans: readonly SensitiveSpan[], start: number, end: number): SensitiveSpan | undefined {
  if (end <= start) return undefined;
  // Binary search for the first span ending after `start`: merged spans are sorted by end too.
  let lo = 0;
  let hi = spans.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (spans[mid].end <= start) lo = mid + 1;
    else hi = mid;
  }
  return lo < spans.length && spans[lo].start < end ? spans[lo] : undefined;
}
