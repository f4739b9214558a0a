/**
 * Token evidence under the content policy (pure apart from the span scan). A token string is a
 * fragment of a message: on its own it rarely looks sensitive ("AKIA", "@exam"), so under
 * `redacted` it is judged by where it came from. A token whose characters overlap a sensitive
 * span of its message is replaced by that span's placeholder, even when it only touches the
 * span's first or last character.
 */
import type { ChatMessage } from '../../domain/event';
import type { ScoredEvent } from '../../domain/scored-event';
import type { ConceptResult, TokenEvidence } from '../../domain/scored-event';
import { findLocalSpans } from './local-detectors';
import type { ContentPolicy } from './policy';
import type { SpanScanner } from './redaction-scanner';
import { findSensitiveSpansMany } from './sensitive-spans';
import { firstOverlap, placeholder, replaceSpans, SensitiveSpan } from './sensitive-span';

/** Placeholder for a token whose position is unknown but whose message is sensitive. */
export const REDACTED_TOKEN = '[REDACTED]';

/** Spans per message, as found by findSensitiveSpansMany over the message contents. */
export type MessageSpans = ReadonlyArray<readonly SensitiveSpan[]>;

/** A token string on its own (no position known): the local detectors are all that can apply. */
export function tokenUnderPolicy(token: string, policy: ContentPolicy): string {
  if (policy === 'full') return token;
  if (policy === 'hash') return '';
  return replaceSpans(token, findLocalSpans(token));
}

function redactedToken(t: TokenEvidence, messages: readonly ChatMessage[], spans: MessageSpans): string {
  // Chat-template markup: not user content.
  if (t.message === undefined) return tokenUnderPolicy(t.token, 'redacted');
  const msgSpans = spans[t.message];
  // Content token without a usable position: fail closed.
  if (msgSpans === undefined || messages[t.message] === undefined || t.start === undefined || t.end === undefined) return REDACTED_TOKEN;
  const hit = firstOverlap(msgSpans, t.start, t.end);
  return hit ? placeholder(hit.kind) : tokenUnderPolicy(t.token, 'redacted');
}

function mapTokens(scored: ScoredEvent, fn: (t: TokenEvidence) => string): ScoredEvent {
  const concepts = {} as ScoredEvent['concepts'];
  for (const [c, r] of Object.entries(scored.concepts) as Array<[keyof ScoredEvent['concepts'], ConceptResult]>) {
    concepts[c] = {
      ...r,
      scores: { ...r.scores },
      ...(r.tokens ? { tokens: r.tokens.map((t) => ({ ...t, token: fn(t) })) } : {}),
      features: r.features.map((f) => ({ ...f, top_tokens: f.top_tokens.map((t) => ({ ...t, token: fn(t) })) })),
    };
  }
  return { ...scored, pack: { ...scored.pack }, concepts };
}

/** Spans of the messages some evidence token points into; other messages are not scanned. */
function scanReferencedMessages(messages: readonly ChatMessage[], scored: ScoredEvent, scanner?: SpanScanner): Promise<SensitiveSpan[][]> {
  const used = new Set<number>();
  for (const r of Object.values(scored.concepts)) {
    for (const t of [...(r.tokens ?? []), ...r.features.flatMap((f) => f.top_tokens)]) if (t.message !== undefined) used.add(t.message);
  }
  return findSensitiveSpansMany(messages.map((m, i) => (used.has(i) ? m.content : '')), scanner);
}

/**
 * A copy of the scored event whose token evidence obeys the policy: `full` keeps the tokens,
 * `hash` empties them, `redacted` masks tokens that overlap a sensitive span of their message.
 * `spans` may be passed when the caller has already scanned the messages.
 */
export async function redactScored(
  messages: readonly ChatMessage[],
  scored: ScoredEvent,
  policy: ContentPolicy,
  spans?: MessageSpans,
  scanner?: SpanScanner,
): Promise<ScoredEvent> {
  if (policy === 'full') return mapTokens(scored, (t) => t.token);
  if (policy === 'hash') return mapTokens(scored, () => '');
  const found = spans ?? (await scanReferencedMessages(messages, scored, scanner));
  return mapTokens(scored, (t) => redactedToken(t, messages, found));
}
