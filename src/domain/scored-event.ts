/** A scored event: calibrated concept scores with their token and feature evidence. */
import type { ConceptId } from './concepts';

export interface TokenEvidence {
  index: number;
  token: string;
  activation: number;
  /** Index into event.messages of the message the token came from; absent for template markup. */
  message?: number;
  /** UTF-16 offsets of the token inside that message's content (a token that holds part of a
   *  character covers the whole character). Absent when the tokenizer could not align them. */
  start?: number;
  end?: number;
}

/** Where a token of the conversation came from (see ChatTokenizer.encode). */
export type TokenLocator = (index: number) => Pick<TokenEvidence, 'message' | 'start' | 'end'> | undefined;

export interface FeatureEvidence {
  feature: number;
  label: string;
  /** What the feature adds to the concept's logit over the deciding span (activation x alignment).
   *  Absent in results from packs before 2.0. */
  contribution?: number;
  /** Largest and mean activation over the deciding span. */
  activation: number;
  mean_activation: number;
  top_tokens: TokenEvidence[];
}

export interface ConceptResult {
  score: number;
  threshold: number;
  flagged: boolean;
  /** 'sae' only in results stored by packs before 2.0. */
  detector: 'sae' | 'dense';
  /** dense: the probe's score; sae: the same probe read through the shipped features only
   *  (how much of the decision the features explain). */
  scores: { sae: number; dense: number };
  /** False when the conversation has no token of the concept's roles (e.g. no assistant reply). */
  in_scope: boolean;
  tokens_in_scope: number;
  /** The tokens that decided the score: [start, end) conversation token indices. */
  span?: { start: number; end: number };
  /** 'turn' when the score came from the newest turn read with the system prompt alone (the
   *  engine's turn view), which was flagged and scored higher than the whole conversation read in context;
   *  absent when the conversation in context decided. `span` and the evidence index the whole
   *  conversation's tokens either way. */
  view?: 'turn';
  /** The span's tokens that pushed the score up most; `activation` is each token's exact
   *  contribution to the logit (the logit is the probe's bias plus all the span's contributions).
   *  Absent in results from packs before 2.0. */
  tokens?: TokenEvidence[];
  features: FeatureEvidence[];
}

export interface ScoredEvent {
  id: string;
  pack: { id: string; version: string };
  /** The conversation was longer than the model's context: `dropped` says which tokens. */
  truncated: boolean;
  /** Token span [start, end) dropped from the middle (the system prompt and newest tokens stay). */
  dropped?: { start: number; end: number };
  tokens: number;
  tokens_scored: number;
  concepts: Record<ConceptId, ConceptResult>;
}
