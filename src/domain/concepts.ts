/** The safety concepts a probe pack scores. */

export const CONCEPT_IDS = ['deception', 'sycophancy', 'harmful_intent', 'prompt_injection'] as const;
export type ConceptId = (typeof CONCEPT_IDS)[number];

/** PROBEWATCH_TURN_VIEW's default: every concept (measured on the held-out scenarios; see the
 *  builder README, "The turn view"). */
export const DEFAULT_TURN_VIEW = 'all';

/**
 * PROBEWATCH_TURN_VIEW (and `--turn-view`): `off`, `all`, or a comma-separated list of concepts.
 * Throws with the reason on anything else.
 */
export function parseTurnView(raw: string): ConceptId[] {
  const v = raw.trim();
  if (v === 'off' || v === '') return [];
  if (v === 'all') return [...CONCEPT_IDS];
  const out: ConceptId[] = [];
  for (const part of v.split(',').map((x) => x.trim())) {
    if (!(CONCEPT_IDS as readonly string[]).includes(part)) throw new Error(`'${part}' is not a concept (${CONCEPT_IDS.join(', ')}), 'all' or 'off'`);
    if (!out.includes(part as ConceptId)) out.push(part as ConceptId);
  }
  return out;
}
