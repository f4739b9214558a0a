/**
 * How much of a prompt is kept at rest. Prompts are sensitive data:
 *   full      the messages as received
 *   redacted  the messages with personal data and secrets replaced by typed placeholders
 *   hash      only a sha256 per message (content can be matched, never read back)
 * The scores and feature evidence are stored under every policy; token strings in the evidence
 * are masked or dropped the same way (redactScored). The same policy governs metadata and the
 * user id.
 *
 * Detection runs in a worker thread (redaction/redaction-scanner.ts), so everything that
 * redacts is asynchronous; it rejects with RedactionUnavailableError rather than store text it
 * could not scan.
 */
import type { ChatMessage } from '../domain/event';
import { ContentPolicy, sha256 } from './redaction/policy';
import type { Digest } from './redaction/pseudonyms';
import type { SpanScanner } from './redaction/redaction-scanner';
import { replaceSpans, SensitiveSpan } from './redaction/sensitive-span';
import { findSensitiveSpans, findSensitiveSpansMany } from './redaction/sensitive-spans';
import { MessageSpans, tokenUnderPolicy } from './redaction/token-evidence';

export { applyMetadataPolicy } from './redaction/metadata-policy';
export { CONTENT_POLICIES, sha256 } from './redaction/policy';
export { Pseudonyms, PseudonymKeyError } from './redaction/pseudonyms';
export type { Digest } from './redaction/pseudonyms';
export type { ContentPolicy } from './redaction/policy';
export { RedactionUnavailableError } from './redaction/redaction-scanner';
export { redact, redactMany } from './redaction/sensitive-spans';
export { redactScored, REDACTED_TOKEN } from './redaction/token-evidence';
export type { MessageSpans } from './redaction/token-evidence';

/** Sensitive spans of each message's content, to share between applyPolicy and redactScored. */
export function findMessageSpans(messages: readonly ChatMessage[], scanner?: SpanScanner): Promise<SensitiveSpan[][]> {
  return findSensitiveSpansMany(messages.map((m) => m.content), scanner);
}

export async function applyPolicy(
  messages: readonly ChatMessage[],
  policy: ContentPolicy,
  spans?: MessageSpans,
  scanner?: SpanScanner,
): Promise<Array<{ role: string; content?: string; sha256?: string }>> {
  switch (policy) {
    case 'full':
      return messages.map((m) => ({ role: m.role, content: m.content }));
    case 'redacted': {
      const found = spans ?? (await findMessageSpans(messages, scanner));
      return messages.map((m, i) => ({ role: m.role, content: replaceSpans(m.content, found[i]) }));
    }
    case 'hash':
      return messages.map((m) => ({ role: m.role, sha256: sha256(m.content) }));
  }
}

/**
 * A token string from the evidence, on its own, under the policy. Synchronous and without
 * secretlint (a token is too short to hold a vendor key); prefer redactScored, which also
 * masks tokens by their position in the message.
 */
export function policyToken(token: string, policy: ContentPolicy): string {
  return tokenUnderPolicy(token, policy);
}

/** Pseudonyms keep 64 bits of the digest: unique enough to group and count users by. */
export const PSEUDONYM_HEX = 16;

/**
 * The end-user id under the policy. Rules group, count and sequence by it, so it must stay a
 * stable key: `hash` stores `hmac:<hex>`; `redacted` keeps an opaque id as is and replaces one
 * that holds personal data (an e-mail, a phone number...) by `user:<16 hex>`. Both are the
 * deployment's keyed digest (Pseudonyms): an unkeyed one of an e-mail or a phone number could be
 * reversed by trying candidates.
 */
export async function applyUserPolicy(user: string | undefined, policy: ContentPolicy, digest: Digest, scanner?: SpanScanner): Promise<string | undefined> {
  if (user === undefined || user === '' || policy === 'full') return user;
  if (policy === 'hash') return `hmac:${digest(user)}`;
  const spans = await findSensitiveSpans(user, scanner);
  return spans.length ? `user:${digest(user).slice(0, PSEUDONYM_HEX)}` : user;
}

/**
 * What the policy makes of one event's identifying parts: the sensitive spans of its messages
 * (under `redacted`) and its stored user id. Computed once per event, in the pipeline beside the
 * probe, and shared by the evidence masking, the rules and storage, so the worker scans each
 * message once.
 */
export interface PolicyView {
  spans?: SensitiveSpan[][];
  user: string | undefined;
}

export async function policyView(messages: readonly ChatMessage[], user: string | undefined, policy: ContentPolicy, digest: Digest, scanner?: SpanScanner): Promise<PolicyView> {
  const [spans, stored] = await Promise.all([policy === 'redacted' ? findMessageSpans(messages, scanner) : undefined, applyUserPolicy(user, policy, digest, scanner)]);
  return { spans, user: stored };
}

