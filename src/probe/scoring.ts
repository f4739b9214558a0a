/**
 * Concept scoring from residual activations: pure arithmetic, no I/O.
 *
 * Mirrors tools/probe-builder/probe_builder/token_probes.py. Per concept, the scope is the tokens
 * of messages whose role is in the concept's roles, minus attention-sink tokens (norm above the
 * pack's outlier_norm). Each scope token gets s_t = w . h_t; the concept's logit is the bias plus
 * an aggregate of those scores: their mean, their max, or the largest mean of `window`
 * consecutive scope tokens (a scope shorter than the window is one window). So the logit splits
 * exactly into per-token contributions s_t / n over the deciding span of n tokens: that is the
 * token evidence. The SAE features explain the decision: a feature adds activation x alignment
 * to a token's score, and the features are ranked by what they add over the deciding span.
 */
import type { Aggregation, ConceptSpec } from './pack-manifest';
import { CONCEPT_IDS, ConceptId } from '../domain/concepts';
import type { ProbePack } from './probe-pack.loader';
import { ROLE_CODES } from './chat-tokenizer';
import type { ConceptResult, FeatureEvidence, TokenEvidence, TokenLocator } from '../domain/scored-event';

const TOP_TOKENS = 3;
const TOP_TOKEN_EVIDENCE = 5;
const MAX_FEATURES_REPORTED = 5;

interface ConceptAcc {
  spec: ConceptSpec;
  w: Float32Array;
  /** Rows (into the pack's encoder) and alignments of the concept's features. */
  rows: number[];
  align: number[];
  index: number[];
  id: number[];
  s: number[];
  /** Feature activations, token-major, rows.length per token. */
  fa: number[];
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** The deciding span [lo, lo + n) of the scores under the aggregation, and its mean (the first
 *  span wins a tie). */
export function decidingSpan(s: readonly number[], aggregation: Aggregation, window: number): { lo: number; n: number; mean: number } {
  const len = s.length;
  if (aggregation === 'mean') {
    let sum = 0;
    for (const v of s) sum += v;
    return { lo: 0, n: len, mean: sum / len };
  }
  const w = aggregation === 'max' ? 1 : Math.min(window, len);
  let sum = 0;
  for (let i = 0; i < w; i++) sum += s[i];
  let best = sum;
  let lo = 0;
  for (let i = w; i < len; i++) {
    sum += s[i] - s[i - w];
    if (sum > best) {
      best = sum;
      lo = i - w + 1;
    }
  }
  return { lo, n: w, mean: best / w };
}

/** Accumulates one conversation's residuals, then yields calibrated concept results. */
export class ConversationScorer {
  private readonly nFeat: number;
  private readonly d: number;
  private readonly feat: Float64Array;
  private readonly xc: Float64Array;
  private readonly acc = new Map<ConceptId, ConceptAcc>();
  /** Role code -> the accumulators of the concepts that read that role. */
  private readonly byRole: ConceptAcc[][] = Array.from({ length: 5 }, () => []);

  constructor(private readonly pack: ProbePack) {
    this.nFeat = pack.manifest.features.length;
    this.d = pack.manifest.model.d_model;
    this.feat = new Float64Array(this.nFeat);
    this.xc = new Float64Array(this.d);
    for (const c of CONCEPT_IDS) {
      const spec = pack.manifest.concepts[c];
      const a: ConceptAcc = {
        spec,
        w: pack.probes[c],
        rows: spec.features.map((f) => pack.rowOf.get(f.feature) as number),
        align: spec.features.map((f) => f.alignment),
        index: [],
        id: [],
        s: [],
        fa: [],
      };
      this.acc.set(c, a);
      for (const r of spec.roles) this.byRole[ROLE_CODES[r]].push(a);
    }
  }

  /**
   * hidden: [T, d] residuals of a run of consecutive tokens (row-major, rows beyond `roles.length`
   * ignored); roles/ids: those tokens; offset: index of the first one in the conversation, or
   * each token's index in the conversation (a view whose tokens are not one run of it).
   */
  addWindow(hidden: Float32Array, ids: readonly number[], roles: readonly number[], offset: number | readonly number[]): void {
    const { d, pack } = this;
    const outlier = pack.manifest.runtime.outlier_norm;
    for (let t = 0; t < roles.length; t++) {
      const inScope = this.byRole[roles[t]] ?? [];
      if (inScope.length === 0) continue;
      const base = t * d;
      let sq = 0;
      for (let j = 0; j < d; j++) sq += hidden[base + j] * hidden[base + j];
      if (Math.sqrt(sq) > outlier) continue;
      this.encodeToken(hidden, base);
      for (const a of inScope) {
        let s = 0;
        for (let j = 0; j < d; j++) s += a.w[j] * hidden[base + j];
        a.index.push(typeof offset === 'number' ? offset + t : offset[t]);
        a.id.push(ids[t]);
        a.s.push(s);
        for (const r of a.rows) a.fa.push(this.feat[r]);
      }
    }
  }

  private encodeToken(hidden: Float32Array, base: number): void {
    const { d, nFeat, pack, xc } = this;
    const scale = pack.manifest.sae.input_scale;
    const bDec = pack.bDec;
    for (let j = 0; j < d; j++) xc[j] = hidden[base + j] / scale - bDec[j];
    const enc = pack.encoder;
    for (let f = 0; f < nFeat; f++) {
      let pre = pack.encoderBias[f];
      const row = f * d;
      for (let j = 0; j < d; j++) pre += xc[j] * enc[row + j];
      this.feat[f] = pre > pack.thresholds[f] ? pre : 0;
    }
  }

  /**
   * `locate` maps a token index (conversation-wide, as given to addWindow through `offset`) to
   * its message and character span, so evidence can be masked where it overlaps personal data.
   */
  finish(decode: (id: number) => string, locate?: TokenLocator): Record<ConceptId, ConceptResult> {
    const out = {} as Record<ConceptId, ConceptResult>;
    for (const c of CONCEPT_IDS) out[c] = this.finishConcept(c, decode, locate);
    return out;
  }

  private finishConcept(c: ConceptId, decode: (id: number) => string, locate?: TokenLocator): ConceptResult {
    const a = this.acc.get(c) as ConceptAcc;
    const { spec } = a;
    const n = a.s.length;
    if (n === 0) {
      // Nothing of the concept's roles to judge (e.g. deception without an assistant reply):
      // report no risk rather than the probe's extrapolation from an input it never saw.
      return { score: 0, threshold: spec.threshold, flagged: false, detector: 'dense', scores: { sae: 0, dense: 0 }, in_scope: false, tokens_in_scope: 0, tokens: [], features: [] };
    }
    const p = spec.probe;
    const span = decidingSpan(a.s, p.aggregation, p.window);
    const lengthTerm = (p.calibration.length ?? 0) * Math.log1p(n);
    const cal = (logit: number): number => sigmoid(p.calibration.a * logit + p.calibration.c + lengthTerm);
    const score = cal(p.bias + span.mean);
    const evidence = (i: number, activation: number): TokenEvidence => ({ index: a.index[i], token: decode(a.id[i]), activation: round(activation), ...locate?.(a.index[i]) });
    const spanIdx = Array.from({ length: span.n }, (_, k) => span.lo + k);
    const tokens = spanIdx
      .filter((i) => a.s[i] > 0)
      .sort((i, j) => a.s[j] - a.s[i])
      .slice(0, TOP_TOKEN_EVIDENCE)
      .map((i) => evidence(i, a.s[i] / span.n));

    const k = a.rows.length;
    let explained = 0;
    const features: FeatureEvidence[] = [];
    for (let q = 0; q < k; q++) {
      let sum = 0;
      let max = 0;
      for (const i of spanIdx) {
        const v = a.fa[i * k + q];
        sum += v;
        if (v > max) max = v;
      }
      const contribution = (sum * a.align[q]) / span.n;
      explained += contribution;
      if (contribution <= 0) continue;
      features.push({
        feature: spec.features[q].feature,
        label: this.pack.manifest.features[a.rows[q]].label,
        contribution: round(contribution),
        activation: round(max),
        mean_activation: round(sum / span.n),
        top_tokens: spanIdx
          .filter((i) => a.fa[i * k + q] > 0)
          .sort((i, j) => a.fa[j * k + q] - a.fa[i * k + q])
          .slice(0, TOP_TOKENS)
          .map((i) => evidence(i, a.fa[i * k + q])),
      });
    }
    features.sort((x, y) => (y.contribution ?? 0) - (x.contribution ?? 0));
    return {
      score: round(score),
      threshold: spec.threshold,
      flagged: score >= spec.threshold,
      detector: 'dense',
      scores: { sae: round(cal(p.bias + explained)), dense: round(score) },
      in_scope: true,
      tokens_in_scope: n,
      span: { start: a.index[span.lo], end: a.index[span.lo + span.n - 1] + 1 },
      tokens,
      features: features.slice(0, MAX_FEATURES_REPORTED),
    };
  }
}

function round(v: number): number {
  return Math.round(v * 1e4) / 1e4;
}

/** What fitContext kept of a conversation: runs of consecutive original token indices. */
export interface ContextFit {
  /** [start, end) runs of original token indices, in order; their total length <= the limit. */
  kept: Array<[number, number]>;
  /** The dropped [start, end) token span, absent when the whole conversation fits. */
  dropped?: { start: number; end: number };
}

/**
 * The policy for a conversation longer than the model's context (mirrors the builder's
 * chat.fit_context): keep the leading system prompt (its tokens and the template markup around
 * it) and the newest tokens, drop from the middle. The newest message is never dropped; only a
 * newest message longer than the context by itself loses its oldest tokens. The system prompt
 * keeps at most half the context.
 */
export function fitContext(roles: readonly number[], msg: readonly number[], limit: number): ContextFit {
  const n = roles.length;
  if (n <= limit) return { kept: n ? [[0, n]] : [] };
  let head = 0;
  while (head < n && (roles[head] === ROLE_CODES.system || roles[head] === ROLE_CODES.template) && msg[head] <= 0) head++;
  head = Math.min(head, Math.floor(limit / 2));
  const tail = limit - head;
  const kept: Array<[number, number]> = [];
  if (head > 0) kept.push([0, head]);
  kept.push([n - tail, n]);
  return { kept, dropped: { start: head, end: n - tail } };
}

/** The newest turn of a conversation, as a shorter conversation of its own (see newestTurn). */
export interface TurnView<M> {
  messages: M[];
  /** For each of the view's messages, its index in the whole conversation. */
  index: number[];
}

/**
 * The newest turn read with the system prompt alone: the leading system messages, then
 * everything from the last user message on (the newest message alone when the conversation has
 * no user message after its system prompt). Undefined when that is the whole conversation, so
 * there is nothing the view leaves out.
 */
export function newestTurn<M extends { role: string }>(messages: readonly M[]): TurnView<M> | undefined {
  let lead = 0;
  while (lead < messages.length && messages[lead].role === 'system') lead++;
  let start = messages.length - 1;
  while (start >= lead && messages[start].role !== 'user') start--;
  if (start < lead) start = messages.length - 1;
  if (start <= lead) return undefined;
  const index = [...Array(lead).keys(), ...Array.from({ length: messages.length - start }, (_, k) => start + k)];
  return { messages: index.map((i) => messages[i]), index };
}

/**
 * Token indices of a view's tokens in the whole conversation, given both encodings and the
 * view's message index map. Message contents are tokenized one by one (ChatTokenizer.encode), so
 * a message's tokens are the same in both; template markup maps to -1 (no concept reads it).
 */
export function viewTokenIndex(view: { msg: readonly number[] }, whole: { msg: readonly number[] }, messageIndex: readonly number[]): number[] {
  const firstWhole = new Map<number, number>();
  whole.msg.forEach((m, t) => {
    if (m >= 0 && !firstWhole.has(m)) firstWhole.set(m, t);
  });
  const firstView = new Map<number, number>();
  return view.msg.map((m, t) => {
    if (m < 0) return -1;
    if (!firstView.has(m)) firstView.set(m, t);
    return (firstWhole.get(messageIndex[m]) as number) + (t - (firstView.get(m) as number));
  });
}

