/** The safety concepts a probe pack scores. */

export const CONCEPT_IDS = ['deception', 'sycophancy', 'harmful_intent', 'prompt_injection'] as const;
export type ConceptId = (typeof CONCEPT_IDS)[number];
