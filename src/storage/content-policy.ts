/**
 * How much of a prompt is kept at rest (pure). Prompts are sensitive data:
 *   full      the messages as received
 *   redacted  the messages with personal data and secrets replaced by typed placeholders
 *   hash      only a sha256 per message (content can be matched, never read back)
 * The scores and feature evidence are stored under every policy; token strings in the evidence
 * are redacted or dropped the same way.
 */
import { createHash } from 'node:crypto';

import type { ChatMessage } from '../ingest/event-contract';

export const CONTENT_POLICIES = ['full', 'redacted', 'hash'] as const;
export type ContentPolicy = (typeof CONTENT_POLICIES)[number];

const PATTERNS: Array<[RegExp, string]> = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, '[PRIVATE_KEY]'],
  [/\b(?:sk|pk|rk|ghp|gho|xox[abpr])[-_][A-Za-z0-9_-]{16,}\b/g, '[SECRET]'],
  [/\bAKIA[0-9A-Z]{16}\b/g, '[SECRET]'],
  [/\b[Bb]earer\s+[A-Za-z0-9._~+/-]{16,}=*/g, 'Bearer [SECRET]'],
  [/\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b/g, '[EMAIL]'],
  [/\b(?:\d[ -]?){13,19}\b/g, '[CARD_OR_ACCOUNT]'],
  [/\b\d{3}-\d{2}-\d{4}\b/g, '[SSN]'],
  [/(?:\+\d{1,3}[ .-]?)?\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}\b/g, '[PHONE]'],
  [/\b(?:\d{1,3}\.){3}\d{1,3}\b/g, '[IP]'],
];

export function redact(text: string): string {
  let out = text;
  for (const [re, repl] of PATTERNS) out = out.replace(re, repl);
  return out;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function applyPolicy(messages: readonly ChatMessage[], policy: ContentPolicy): Array<{ role: string; content?: string; sha256?: string }> {
  switch (policy) {
    case 'full':
      return messages.map((m) => ({ role: m.role, content: m.content }));
    case 'redacted':
      return messages.map((m) => ({ role: m.role, content: redact(m.content) }));
    case 'hash':
      return messages.map((m) => ({ role: m.role, sha256: sha256(m.content) }));
  }
}

/** A token string from the evidence, under the same policy. */
export function policyToken(token: string, policy: ContentPolicy): string {
  return policy === 'full' ? token : policy === 'redacted' ? redact(token) : '';
}
