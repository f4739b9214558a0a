/**
 * `probewatch eval`: the pack's detectors measured on a labelled JSONL file, through the real
 * runtime (tokenizer, model, probes). Each line is an event plus `labels` ({concept: 0|1}, any
 * subset of the concepts; `timestamp` may be left out); `reference_scores` ({concept: score}), when present, are the builder's
 * own scores for the same conversation, and the report gives the largest difference.
 *
 * Per concept: AUROC, recall and false-positive rate at the pack's threshold, with the 95%
 * Clopper-Pearson upper bound of the false-positive rate.
 */
import { createReadStream } from 'node:fs';
import * as readline from 'node:readline';

import { validateEvent } from '../ingest/event-contract';
import { CONCEPT_IDS, ConceptId } from '../domain/concepts';
import type { ProbeEngine } from '../probe/probe-engine';

export interface ConceptEval {
  positives: number;
  negatives: number;
  auroc: number | null;
  threshold: number;
  recall: number | null;
  false_positive_rate: number | null;
  false_positive_upper_95: number | null;
  max_abs_diff_vs_reference: number | null;
}

export interface EvalReport {
  pack: { id: string; version: string };
  /** The concepts that also read the newest turn alone (the engine's turn view; empty: off). */
  turn_view: ConceptId[];
  events: number;
  failed: number;
  concepts: Record<ConceptId, ConceptEval>;
}

/** Mann-Whitney AUROC with ties counted half. */
export function auroc(pos: number[], neg: number[]): number | null {
  if (!pos.length || !neg.length) return null;
  const all = [...pos.map((s) => ({ s, p: 1 })), ...neg.map((s) => ({ s, p: 0 }))].sort((a, b) => a.s - b.s);
  let rankSumPos = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j].s === all[i].s) j++;
    const avgRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (all[k].p) rankSumPos += avgRank;
    i = j;
  }
  return (rankSumPos - (pos.length * (pos.length + 1)) / 2) / (pos.length * neg.length);
}

function binomCdf(k: number, n: number, p: number): number {
  // P(X <= k), summed in log space for stability
  let total = 0;
  let logC = 0;
  for (let i = 0; i <= k; i++) {
    if (i > 0) logC += Math.log(n - i + 1) - Math.log(i);
    total += Math.exp(logC + i * Math.log(p) + (n - i) * Math.log1p(-p));
  }
  return Math.min(1, total);
}

/** One-sided 95% Clopper-Pearson upper bound for k events in n trials. */
export function clopperPearsonUpper(k: number, n: number, alpha = 0.05): number {
  if (n === 0) return 1;
  if (k >= n) return 1;
  let lo = k / n;
  let hi = 1;
  for (let it = 0; it < 100; it++) {
    const mid = (lo + hi) / 2;
    if (binomCdf(k, n, mid) > alpha) lo = mid;
    else hi = mid;
  }
  return hi;
}

const round = (v: number | null): number | null => (v === null ? null : Math.round(v * 1e4) / 1e4);

export async function evaluateFile(engine: ProbeEngine, input: string, onError: (msg: string) => void = () => undefined): Promise<EvalReport> {
  const rl = readline.createInterface({ input: input === '-' ? process.stdin : createReadStream(input, 'utf8'), crlfDelay: Infinity });
  const rows: Array<{ labels: Partial<Record<ConceptId, number>>; ref?: Partial<Record<ConceptId, number>>; scored: Promise<Record<ConceptId, { score: number; threshold: number }> | null> }> = [];
  let lineNo = 0;
  let failed = 0;
  for await (const raw of rl) {
    lineNo++;
    if (!raw.trim()) continue;
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(raw) as Record<string, unknown>;
    } catch (e) {
      failed++;
      onError(`line ${lineNo}: invalid JSON: ${(e as Error).message}`);
      continue;
    }
    const { labels, reference_scores: ref, ...event } = parsed;
    // A labelled file is not traffic: a line without a timestamp is scored as of now.
    if (event.timestamp === undefined) event.timestamp = new Date().toISOString();
    const v = validateEvent(event);
    if (!v.ok || typeof labels !== 'object' || labels === null) {
      failed++;
      onError(`line ${lineNo}: ${v.ok ? 'labels: must be an object of concept -> 0|1' : v.errors.map((e) => `${e.field || '(event)'}: ${e.message}`).join('; ')}`);
      continue;
    }
    const n = lineNo;
    rows.push({
      labels: labels as Partial<Record<ConceptId, number>>,
      ref: ref as Partial<Record<ConceptId, number>> | undefined,
      scored: engine.score(v.event).then((s) => s.concepts, (e: Error) => {
        failed++;
        onError(`line ${n}: scoring failed: ${e.message}`);
        return null;
      }),
    });
  }
  const results = await Promise.all(rows.map((r) => r.scored));
  const concepts = {} as Record<ConceptId, ConceptEval>;
  for (const c of CONCEPT_IDS) {
    const pos: number[] = [];
    const neg: number[] = [];
    let threshold = engine.pack.manifest.concepts[c].threshold;
    let maxDiff: number | null = null;
    rows.forEach((r, i) => {
      const res = results[i];
      const label = r.labels[c];
      if (!res || (label !== 0 && label !== 1)) return;
      threshold = res[c].threshold;
      (label === 1 ? pos : neg).push(res[c].score);
      const ref = r.ref?.[c];
      if (typeof ref === 'number') maxDiff = Math.max(maxDiff ?? 0, Math.abs(ref - res[c].score));
    });
    const fp = neg.filter((s) => s >= threshold).length;
    concepts[c] = {
      positives: pos.length,
      negatives: neg.length,
      auroc: round(auroc(pos, neg)),
      threshold,
      recall: pos.length ? round(pos.filter((s) => s >= threshold).length / pos.length) : null,
      false_positive_rate: neg.length ? round(fp / neg.length) : null,
      false_positive_upper_95: neg.length ? round(clopperPearsonUpper(fp, neg.length)) : null,
      max_abs_diff_vs_reference: round(maxDiff),
    };
  }
  return { pack: { id: engine.pack.manifest.id, version: engine.pack.manifest.version }, turn_view: [...engine.turnViewConcepts], events: rows.length, failed, concepts };
}

export function formatEval(r: EvalReport): string {
  const lines = [`pack ${r.pack.id}@${r.pack.version}: ${r.events} labelled events${r.failed ? `, ${r.failed} failed` : ''}; turn view: ${r.turn_view.length ? r.turn_view.join(', ') : 'off'}`,
    'concept            pos   neg   AUROC   threshold  recall  FPR (95% upper)'];
  for (const [c, e] of Object.entries(r.concepts)) {
    if (!e.positives && !e.negatives) continue;
    lines.push(`${c.padEnd(17)} ${String(e.positives).padStart(4)} ${String(e.negatives).padStart(5)}  ${String(e.auroc ?? '-').padEnd(6)}  ${String(e.threshold).padEnd(9)}  ${String(e.recall ?? '-').padEnd(6)}  ${e.false_positive_rate ?? '-'} (${e.false_positive_upper_95 ?? '-'})`);
  }
  return lines.join('\n');
}
