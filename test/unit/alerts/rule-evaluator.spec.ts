import { fingerprint } from '../../../src/domain/alert';
import { ProbeEvent } from '../../../src/domain/event';
import { ScoredEvent } from '../../../src/domain/scored-event';
import { CONCEPT_IDS } from '../../../src/domain/concepts';
import { evaluateEventRules } from '../../../src/rules/rule-evaluator';
import { compileRuleSet } from '../../../src/rules/rule-set';

const rulesYaml = `apiVersion: probewatch/v1
engine: ">=1.0"
rules:
  - rule: Harmful
    desc: d
    severity: critical
    tags: [stable]
    condition: concept.harmful_intent.flagged
    value: concept.harmful_intent.score
    labels: {concept: harmful_intent}
    annotations: {summary: "tenant {{ event.tenant }} score {{ value }}", evidence: "{{ evidence }}"}
  - rule: Off
    desc: d
    severity: low
    tags: [sandbox]
    enabled: false
    condition: concept.deception.score >= 0
`;
const rules = compileRuleSet([{ file: 'r.yaml', text: rulesYaml }], { concepts: [...CONCEPT_IDS] }).rules;

function scored(score: number): ScoredEvent {
  const c = (s: number) => ({ score: s, threshold: 0.6, flagged: s >= 0.6, detector: 'sae' as const, scores: { sae: s, dense: s }, tokens_in_scope: 3, in_scope: true,
    features: [{ feature: 7, label: 'weapons', activation: 4.2, mean_activation: 1, top_tokens: [{ index: 5, token: ' bomb', activation: 4.2 }] }] });
  return { id: 'e1', pack: { id: 'p', version: '1' }, truncated: false, tokens: 9, tokens_scored: 9,
    concepts: { harmful_intent: c(score), deception: c(0.1), sycophancy: c(0.1), prompt_injection: c(0.1) } };
}
const event: ProbeEvent = { id: 'e1', timestamp: '2026-11-24T10:00:00Z', tenant: 'acme', source: 's', model: 'm', messages: [{ role: 'user', content: 'x' }] };

describe('per-event rules', () => {
  it('raises an alert with rendered annotations and evidence', () => {
    const out = evaluateEventRules(rules, event, scored(0.93), new Date('2026-11-24T10:00:01Z'));
    expect(out.errors).toEqual([]);
    expect(out.alerts).toHaveLength(1);
    const a = out.alerts[0];
    expect(a.labels).toEqual({ alertname: 'Harmful', severity: 'critical', tenant: 'acme', concept: 'harmful_intent' });
    expect(a.annotations.summary).toBe('tenant acme score 0.93');
    expect(a.annotations.evidence).toBe('feature 7 (weapons) = 4.2 on " bomb"');
    expect(a.fingerprint).toBe(fingerprint(a.labels));
  });

  it('skips disabled rules and non-matching events', () => {
    expect(evaluateEventRules(rules, event, scored(0.2)).alerts).toEqual([]);
  });

  it('gives the same alert id for a redelivered event and a stable fingerprint across events', () => {
    const a1 = evaluateEventRules(rules, event, scored(0.9)).alerts[0];
    const a2 = evaluateEventRules(rules, event, scored(0.95)).alerts[0];
    const other = evaluateEventRules(rules, { ...event, id: 'e2' }, scored(0.9)).alerts[0];
    expect(a2.alert_id).toBe(a1.alert_id);
    expect(other.fingerprint).toBe(a1.fingerprint);
    expect(other.alert_id).not.toBe(a1.alert_id);
  });

  it('fingerprints ignore label order', () => {
    expect(fingerprint({ a: '1', b: '2' })).toBe(fingerprint({ b: '2', a: '1' }));
    expect(fingerprint({ a: '1', b: '2' })).not.toBe(fingerprint({ a: '1', b: '3' }));
  });
});
