/**
 * The inline guard's policy (`guard.yaml`): per concept, the score from which a conversation is
 * flagged and the score from which it is blocked. Reading is total, as for the alerting and rule
 * files: every problem is reported at file:line:col (the rule files' FileContext keeps the YAML
 * positions), and a file with any error is not used, so the service keeps its last good policy.
 * Deciding is pure arithmetic on a scored event.
 */
import { createHash } from 'node:crypto';

import { isMap, isScalar, parseDocument, Node as YamlNode } from 'yaml';

import { CONCEPT_IDS, ConceptId } from '../domain/concepts';
import type { ScoredEvent } from '../domain/scored-event';
import { FileContext, RuleProblem } from '../rules/rule-file';

export type GuardVerdict = 'allow' | 'flag' | 'block';
const RANK: Record<GuardVerdict, number> = { allow: 0, flag: 1, block: 2 };

/** A threshold as written: a score in [0, 1], the pack's calibrated threshold, or never. */
export type Threshold = number | 'pack' | 'never';

export interface ConceptPolicy {
  flag: Threshold;
  block: Threshold;
}

export interface GuardPolicy {
  concepts: Record<ConceptId, ConceptPolicy>;
  /** sha256 (16 hex) of the policy itself, not of its file: a comment edit keeps the hash. */
  hash: string;
}

export type GuardProblem = RuleProblem;

/** A concept the file does not name: flagged at the pack's threshold, never blocked. */
export const DEFAULT_CONCEPT_POLICY: ConceptPolicy = { flag: 'pack', block: 'never' };

function hashOf(concepts: Record<ConceptId, ConceptPolicy>): string {
  const canonical = CONCEPT_IDS.map((c) => [c, concepts[c].flag, concepts[c].block]);
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 16);
}

function policyOf(concepts: Partial<Record<ConceptId, ConceptPolicy>>): GuardPolicy {
  const all = Object.fromEntries(CONCEPT_IDS.map((c) => [c, concepts[c] ?? DEFAULT_CONCEPT_POLICY])) as Record<ConceptId, ConceptPolicy>;
  return { concepts: all, hash: hashOf(all) };
}

/** What runs when no policy file exists. */
export const BUILT_IN_POLICY: GuardPolicy = policyOf({});

function readThreshold(ctx: FileContext, n: YamlNode | null, what: string): Threshold | null {
  if (isScalar(n) && typeof n.value === 'number' && Number.isFinite(n.value) && n.value >= 0 && n.value <= 1) return n.value;
  if (isScalar(n) && (n.value === 'pack' || n.value === 'never')) return n.value;
  ctx.node(n, `${what} must be a score between 0 and 1, 'pack' (the pack's threshold) or 'never'`);
  return null;
}

function readConcept(ctx: FileContext, name: string, n: YamlNode | null): ConceptPolicy | null {
  if (!isMap(n)) {
    ctx.node(n, `concepts.${name} must be a mapping with flag and/or block`);
    return null;
  }
  const out: ConceptPolicy = { ...DEFAULT_CONCEPT_POLICY };
  let ok = true;
  for (const pair of n.items) {
    const key = pair.key as YamlNode;
    const k = isScalar(key) ? String(key.value) : '';
    if (k !== 'flag' && k !== 'block') {
      ctx.node(key, `unknown key '${k}' in concepts.${name}; expected flag or block`);
      ok = false;
      continue;
    }
    const t = readThreshold(ctx, (pair.value as YamlNode | null) ?? null, `concepts.${name}.${k}`);
    if (t === null) ok = false;
    else out[k] = t;
  }
  if (ok && typeof out.flag === 'number' && typeof out.block === 'number' && out.block < out.flag) {
    ctx.node(n.get('block', true) as YamlNode, `concepts.${name}.block (${out.block}) is below flag (${out.flag}): a blocked conversation must also be flagged`);
    ok = false;
  }
  return ok ? out : null;
}

/** Every problem of a policy file; the policy only when there is none. */
export function readGuardPolicy(file: string, text: string): { policy: GuardPolicy | null; problems: GuardProblem[] } {
  const problems: GuardProblem[] = [];
  const ctx = new FileContext(file, problems, text);
  const doc = parseDocument(text, { lineCounter: ctx.lc, prettyErrors: false, uniqueKeys: true });
  for (const e of doc.errors) ctx.at(e.pos[0], `YAML: ${e.message.split('\n')[0]}`);
  if (doc.errors.length) return { policy: null, problems };
  const root = doc.contents as YamlNode | null;
  if (!isMap(root)) {
    ctx.node(root, `the file must be a mapping with 'concepts'`);
    return { policy: null, problems };
  }
  const concepts: Partial<Record<ConceptId, ConceptPolicy>> = {};
  let seen = false;
  for (const pair of root.items) {
    const key = pair.key as YamlNode;
    const k = isScalar(key) ? String(key.value) : '';
    if (k !== 'concepts') {
      ctx.node(key, `unknown key '${k}'; expected concepts`);
      continue;
    }
    seen = true;
    const map = (pair.value as YamlNode | null) ?? null;
    if (!isMap(map)) {
      ctx.node(map ?? key, `'concepts' must be a mapping of concept names to {flag, block}`);
      continue;
    }
    for (const c of map.items) {
      const name = isScalar(c.key) ? String(c.key.value) : '';
      if (!(CONCEPT_IDS as readonly string[]).includes(name)) {
        ctx.node(c.key as YamlNode, `unknown concept '${name}'; expected one of ${CONCEPT_IDS.join(', ')}`);
        continue;
      }
      const p = readConcept(ctx, name, (c.value as YamlNode | null) ?? null);
      if (p) concepts[name as ConceptId] = p;
    }
  }
  if (!seen) ctx.node(root, `missing 'concepts'`);
  return problems.length ? { policy: null, problems } : { policy: policyOf(concepts), problems };
}

export interface ConceptDecision {
  score: number;
  /** The policy's thresholds for this conversation ('pack' resolved; null: never). */
  thresholds: { flag: number | null; block: number | null };
  /** The score reached the flag threshold (the policy's, not necessarily the pack's). */
  flagged: boolean;
  action: GuardVerdict;
}

export interface GuardDecision {
  verdict: GuardVerdict;
  concepts: Record<ConceptId, ConceptDecision>;
  /** The concept that decided the verdict: the highest-scoring one at the verdict's level. */
  deciding: ConceptId;
}

function resolve(t: Threshold, pack: number): number | null {
  return t === 'never' ? null : t === 'pack' ? pack : t;
}

/** block if any concept reaches its block threshold, else flag if any reaches its flag threshold, else allow. */
export function decide(policy: GuardPolicy, scored: ScoredEvent): GuardDecision {
  const concepts = {} as Record<ConceptId, ConceptDecision>;
  let verdict: GuardVerdict = 'allow';
  for (const c of CONCEPT_IDS) {
    const r = scored.concepts[c];
    const p = policy.concepts[c];
    const flag = resolve(p.flag, r.threshold);
    const block = resolve(p.block, r.threshold);
    const action: GuardVerdict = block !== null && r.score >= block ? 'block' : flag !== null && r.score >= flag ? 'flag' : 'allow';
    concepts[c] = { score: r.score, thresholds: { flag, block }, flagged: action !== 'allow', action };
    if (RANK[action] > RANK[verdict]) verdict = action;
  }
  const deciding = CONCEPT_IDS.filter((c) => concepts[c].action === verdict).reduce((a, b) => (concepts[b].score > concepts[a].score ? b : a));
  return { verdict, concepts, deciding };
}
