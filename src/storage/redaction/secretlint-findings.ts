/**
 * secretlint results as spans (pure). Texts are scanned in one lint call per batch, because each
 * call costs ~0.2 ms of rule setup whatever the text length, and metadata is many short strings.
 */
import type { SensitiveKind, SensitiveSpan } from './sensitive-span';

export interface SecretFinding {
  start: number;
  end: number;
  ruleId: string;
}

/** What we read of a secretlint message. */
export interface LintMessage {
  ruleId: string;
  range: readonly [number, number];
  data?: object;
}

// Separates batched texts so that no rule pattern reads across two of them ("\n\n" ends every
// single-line pattern; a multi-line match that straddles it is clipped to each text).
const SEPARATOR = '\n\n';
// No secretlint rule matches fewer characters than this.
const MIN_SCANNED = 8;
// Shorter reported values are rule metadata, not secrets.
const MIN_SECRET_VALUE = 8;

export function findingKind(ruleId: string): SensitiveKind {
  return ruleId.endsWith('privatekey') ? 'PRIVATE_KEY' : 'SECRET';
}

/**
 * The reported range plus every occurrence of the reported secret values: some rules report
 * the wrong range (secretlint-rule-aws's AWSSecretAccessKey gives the start of the assignment
 * with the length of the value), and a secret repeated elsewhere is just as secret there.
 */
export function findingsOf(text: string, messages: readonly LintMessage[]): SecretFinding[] {
  const out: SecretFinding[] = [];
  for (const m of messages) {
    out.push({ start: m.range[0], end: m.range[1], ruleId: m.ruleId });
    for (const value of Object.values(m.data ?? {})) {
      if (typeof value !== 'string' || value.length < MIN_SECRET_VALUE) continue;
      for (let at = text.indexOf(value); at >= 0; at = text.indexOf(value, at + value.length)) {
        out.push({ start: at, end: at + value.length, ruleId: m.ruleId });
      }
    }
  }
  return out;
}

/** One string holding every text worth scanning, and where each text starts in it (-1: skipped). */
export function joinTexts(texts: readonly string[]): { joined: string; offsets: number[] } {
  const parts: string[] = [];
  const offsets: number[] = [];
  let at = 0;
  for (const t of texts) {
    if (t.length < MIN_SCANNED) {
      offsets.push(-1);
      continue;
    }
    if (parts.length) {
      parts.push(SEPARATOR);
      at += SEPARATOR.length;
    }
    offsets.push(at);
    parts.push(t);
    at += t.length;
  }
  return { joined: parts.join(''), offsets };
}

/** Findings on the joined string, clipped to and re-based on each text. */
export function splitFindings(texts: readonly string[], offsets: readonly number[], findings: readonly SecretFinding[]): SensitiveSpan[][] {
  return texts.map((t, i) => {
    const base = offsets[i];
    if (base < 0) return [];
    const out: SensitiveSpan[] = [];
    for (const f of findings) {
      const start = Math.max(f.start, base) - base;
      const end = Math.min(f.end, base + t.length) - base;
      if (end > start) out.push({ start, end, kind: findingKind(f.ruleId) });
    }
    return out;
  });
}
