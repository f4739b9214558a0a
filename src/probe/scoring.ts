/**
 * Concept scoring from residual activations: pure arithmetic, no I/O.
 *
 * Mirrors tools/probe-builder/probe_builder/probes.py: per concept, the scope is the tokens of
 * messages whose role is in the concept's roles, minus attention-sink tokens (norm above the
 * pack's outlier_norm). SAE features are thresholded encoder rows; the SAE probe reads the max
 * and mean of its features over the scope; the dense probe reads the mean of x / input_scale.
 */
import { CONCEPT_IDS, ConceptId } from './pack-manifest';
import type { ProbePack } from './probe-pack.loader';
import { ROLE_CODES } from './chat-tokenizer';

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
  activation: number;
  mean_activation: number;
  top_tokens: TokenEvidence[];
}

export interface ConceptResult {
  score: number;
  threshold: number;
  flagged: boolean;
  detector: 'sae' | 'dense';
  scores: { sae: number; dense: number };
  /** False when the conversation has no token of the concept's roles (e.g. no assistant reply). */
  in_scope: boolean;
  tokens_in_scope: number;
  features: FeatureEvidence[];
}

const TOP_TOKENS = 3;
const MAX_FEATURES_REPORTED = 5;

interface ConceptAcc {
  roleMask: boolean[];
  count: number;
  featMax: Float64Array;
  featSum: Float64Array;
  denseSum: Float64Array;
  top: Array<Array<{ index: number; id: number; activation: number }>>;
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** Accumulates one conversation's windows, then yields calibrated concept results. */
export class ConversationScorer {
  private readonly acc = new Map<ConceptId, ConceptAcc>();
  private readonly nFeat: number;
  private readonly d: number;
  private readonly feat: Float64Array;
  /** The current token's residual divided by the SAE input scale, and that minus b_dec. */
  private readonly xs: Float64Array;
  private readonly xc: Float64Array;
  /** Role code -> the accumulators of the concepts that read that role. */
  private readonly byRole: ConceptAcc[][];

  constructor(private readonly pack: ProbePack) {
    this.nFeat = pack.manifest.features.length;
    this.d = pack.manifest.model.d_model;
    this.feat = new Float64Array(this.nFeat);
    this.xs = new Float64Array(this.d);
    this.xc = new Float64Array(this.d);
    for (const c of CONCEPT_IDS) {
      const roleMask = new Array<boolean>(5).fill(false);
      for (const r of pack.manifest.concepts[c].roles) roleMask[ROLE_CODES[r]] = true;
      this.acc.set(c, {
        roleMask,
        count: 0,
        featMax: new Float64Array(this.nFeat),
        featSum: new Float64Array(this.nFeat),
        denseSum: new Float64Array(this.d),
        top: Array.from({ length: this.nFeat }, () => []),
      });
    }
    const accs = [...this.acc.values()];
    this.byRole = Array.from({ length: 5 }, (_, code) => accs.filter((a) => a.roleMask[code]));
  }

  /**
   * hidden: [T, d] residuals of one window (row-major, rows beyond `roles.length` ignored);
   * roles/ids: that window's tokens; offset: index of its first token in the conversation.
   */
  addWindow(hidden: Float32Array, ids: readonly number[], roles: readonly number[], offset: number): void {
    const { d, nFeat, pack } = this;
    const scale = pack.manifest.sae.input_scale;
    const outlier = pack.manifest.runtime.outlier_norm;
    for (let t = 0; t < roles.length; t++) {
      const inScope = this.byRole[roles[t]] ?? [];
      if (inScope.length === 0) continue;
      const base = t * d;
      let sq = 0;
      for (let j = 0; j < d; j++) sq += hidden[base + j] * hidden[base + j];
      if (Math.sqrt(sq) > outlier) continue;
      this.encodeToken(hidden, base, scale);
      const xs = this.xs;
      for (const a of inScope) {
        a.count++;
        for (let j = 0; j < d; j++) a.denseSum[j] += xs[j];
        for (let f = 0; f < nFeat; f++) {
          const v = this.feat[f];
          if (v <= 0) continue;
          a.featSum[f] += v;
          if (v > a.featMax[f]) a.featMax[f] = v;
          insertTop(a.top[f], { index: offset + t, id: ids[t], activation: v });
        }
      }
    }
  }

  private encodeToken(hidden: Float32Array, base: number, scale: number): void {
    const { d, nFeat, pack, xs, xc } = this;
    const bDec = pack.bDec;
    for (let j = 0; j < d; j++) {
      xs[j] = hidden[base + j] / scale;
      xc[j] = xs[j] - bDec[j];
    }
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
    const spec = this.pack.manifest.concepts[c];
    const a = this.acc.get(c) as ConceptAcc;
    if (a.count === 0) {
      // Nothing of the concept's roles to judge (e.g. deception without an assistant reply):
      // report no risk rather than the probe's extrapolation from an input it never saw.
      return { score: 0, threshold: spec.threshold, flagged: false, detector: spec.detector, scores: { sae: 0, dense: 0 }, in_scope: false, tokens_in_scope: 0, features: [] };
    }
    const sp = spec.sae_probe;
    const k = sp.features.length;
    const rows = sp.features.map((f) => this.pack.rowOf.get(f) as number);
    const x: number[] = [];
    for (const r of rows) x.push(a.featMax[r]);
    for (const r of rows) x.push(a.featSum[r] / a.count);
    let logit = sp.bias;
    const contrib: number[] = new Array<number>(k).fill(0);
    for (let i = 0; i < 2 * k; i++) {
      const term = ((x[i] - sp.mean[i]) / sp.std[i]) * sp.weights[i];
      logit += term;
      contrib[i % k] += term;
    }
    const saeScore = sigmoid(sp.calibration.a * logit + sp.calibration.c);

    const dp = spec.dense_probe;
    const dw = this.pack.dense[c];
    let dlogit = dp.bias;
    for (let j = 0; j < this.d; j++) {
      const mean = a.denseSum[j] / a.count;
      dlogit += ((mean - dw.mean[j]) / dw.std[j]) * dw.weights[j];
    }
    const denseScore = sigmoid(dp.calibration.a * dlogit + dp.calibration.c);

    const score = spec.detector === 'sae' ? saeScore : denseScore;
    const features = rows
      .map((r, i) => ({ r, i, f: sp.features[i] }))
      .filter(({ r, i }) => a.featMax[r] > 0 && contrib[i] > 0)
      .sort((p, q) => contrib[q.i] - contrib[p.i])
      .slice(0, MAX_FEATURES_REPORTED)
      .map(({ r, f }) => ({
        feature: f,
        label: this.pack.manifest.features[r].label,
        activation: round(a.featMax[r]),
        mean_activation: round(a.featSum[r] / a.count),
        top_tokens: a.top[r].map((t) => ({ index: t.index, token: decode(t.id), activation: round(t.activation), ...locate?.(t.index) })),
      }));
    return {
      score: round(score),
      threshold: spec.threshold,
      flagged: score >= spec.threshold,
      detector: spec.detector,
      scores: { sae: round(saeScore), dense: round(denseScore) },
      in_scope: true,
      tokens_in_scope: a.count,
      features,
    };
  }
}

function insertTop(list: Array<{ index: number; id: number; activation: number }>, item: { index: number; id: number; activation: number }): void {
  if (list.length === TOP_TOKENS && item.activation <= list[TOP_TOKENS - 1].activation) return;
  list.push(item);
  list.sort((p, q) => q.activation - p.activation);
  if (list.length > TOP_TOKENS) list.pop();
}

function round(v: number): number {
  return Math.round(v * 1e4) / 1e4;
}

/** Consecutive windows of at most maxTokens; tokens past maxWindows windows are dropped. */
export function planWindows(nTokens: number, maxTokens: number, maxWindows: number): { spans: Array<[number, number]>; truncated: boolean } {
  const spans: Array<[number, number]> = [];
  for (let s = 0; s < nTokens; s += maxTokens) spans.push([s, Math.min(s + maxTokens, nTokens)]);
  return { spans: spans.slice(0, maxWindows), truncated: spans.length > maxWindows };
}
