import { CONCEPT_IDS } from '../../../src/domain/concepts';
import type { EvalContext } from '../../../src/rules/condition';
import { evaluate } from '../../../src/rules/condition-eval';
import { formatProblem } from '../../../src/rules/rule-file';
import { compileRuleSet } from '../../../src/rules/rule-set';
import { EventRule, WindowedRule } from '../../../src/rules/rule-types';

const scope = { concepts: [...CONCEPT_IDS], features: new Set([7, 12]) };
const HEAD = 'apiVersion: probewatch/v1\nengine: ">=1.1"\n';

function compile(...files: Array<[string, string]>) {
  return compileRuleSet(files.map(([file, text]) => ({ file, text: HEAD + text })), scope);
}

function ctx(over: Partial<EvalContext['event']> = {}, harmful = 0.9): EvalContext {
  const c = (s: number) => ({ score: s, flagged: s >= 0.5, threshold: 0.5 });
  return {
    concepts: { harmful_intent: c(harmful), prompt_injection: c(0), deception: c(0), sycophancy: c(0) },
    features: new Map(),
    event: { id: 'e', tenant: 'acme', source: 'chat', model: 'm', user: 'u1', text: '', metadata: {}, ...over },
  };
}

const BASE = `lists:
  - list: eval_sources
    items: [redteam]
macros:
  - macro: production
    condition: not (event.source in eval_sources)
rules:
  - rule: Harmful
    desc: d
    severity: high
    tags: [stable]
    condition: concept.harmful_intent.flagged and production
    exceptions:
      - name: trusted_users
        fields: [event.tenant, event.user]
        values: [[acme, analyst-1]]
`;

describe('rule sets: lists, macros, exceptions, overrides', () => {
  it('compiles lists and macros into the condition and applies exceptions', () => {
    const set = compile(['a.yaml', BASE]);
    expect(set.problems).toEqual([]);
    const rule = set.rules[0] as EventRule;
    expect(evaluate(rule.condition, ctx())).toBe(true);
    expect(evaluate(rule.condition, ctx({ source: 'redteam' }))).toBe(false);
    expect(evaluate(rule.condition, ctx({ user: 'analyst-1' }))).toBe(false);
    expect(evaluate(rule.condition, ctx({ user: 'analyst-1', tenant: 'globex' }))).toBe(true);
    expect(evaluate(rule.condition, ctx({}, 0.1))).toBe(false);
  });

  it('lets a later file append to a list, a condition and exceptions, and replace other keys', () => {
    const set = compile(['a.yaml', BASE], ['b.yaml', `lists:
  - list: eval_sources
    items: [canary]
    override: {items: append}
rules:
  - rule: Harmful
    condition: concept.harmful_intent.score >= 0.95
    severity: critical
    exceptions:
      - name: bulk
        fields: [event.source]
        values: [bulk-import]
    override: {condition: append, severity: replace, exceptions: append}
`]);
    expect(set.problems).toEqual([]);
    const rule = set.rules[0] as EventRule;
    expect(rule.severity).toBe('critical');
    expect(rule.conditionText).toBe('(concept.harmful_intent.flagged and production) and (concept.harmful_intent.score >= 0.95)');
    expect(evaluate(rule.condition, ctx({}, 0.97))).toBe(true);
    expect(evaluate(rule.condition, ctx({}, 0.9))).toBe(false);
    expect(evaluate(rule.condition, ctx({ source: 'canary' }, 0.97))).toBe(false);
    expect(evaluate(rule.condition, ctx({ source: 'bulk-import' }, 0.97))).toBe(false);
    expect(evaluate(rule.condition, ctx({ user: 'analyst-1' }, 0.97))).toBe(false);
  });

  it('switches a rule off with the enabled shorthand', () => {
    const set = compile(['a.yaml', BASE], ['b.yaml', 'rules:\n  - rule: Harmful\n    enabled: false\n']);
    expect(set.problems).toEqual([]);
    expect(set.rules[0].enabled).toBe(false);
  });

  it('reports every problem across files as file:line:col', () => {
    const set = compile(['a.yaml', BASE], ['b.yaml', `lists:
  - list: eval_sources
    items: [x]
macros:
  - macro: loop_a
    condition: loop_b
  - macro: loop_b
    condition: loop_a
rules:
  - rule: Harmful
    desc: again
    severity: low
    tags: [stable]
    condition: concept.harmful_intent.flagged
  - rule: Unknown Things
    desc: d
    severity: low
    tags: [stable]
    condition: event.source in nowhere or not_a_macro
  - rule: Burst
    desc: d
    severity: low
    tags: [stable]
    kind: windowed
    where: feature[7] > 1
    aggregate: count()
    window: 10 minutes
    every: 0s
    for: 5x
    group_by: [event.id]
    condition: value > 1 and event.model == "m"
  - rule: Missing
    override: {condition: append}
    condition: "true"
  - rule: Steps
    desc: d
    severity: low
    tags: [stable]
    kind: sequence
    steps: [concept.deception.flagged]
`]);
    expect(set.rules).toEqual([]);
    expect(set.problems.map(formatProblem)).toEqual([
      "b.yaml:4:11: duplicate list 'eval_sources' (first at a.yaml:4; to change it use override: {items: append|replace})",
      "b.yaml:10:16: macro 'loop_a' refers to itself",
      "b.yaml:12:11: duplicate rule name 'Harmful' (first at a.yaml:10; to change it use override)",
      "b.yaml:21:32: unknown list 'nowhere'",
      'b.yaml:27:12: feature[...] is only available to event rules (windowed and sequence rules read the stored score series)',
      "b.yaml:29:13: window: bad duration '10 minutes' (use e.g. 30s, 10m, 1h30m, 2d)",
      'b.yaml:30:12: every: must be at least 1s',
      "b.yaml:31:10: for: bad duration '5x' (use e.g. 30s, 10m, 1h30m, 2d)",
      "b.yaml:32:16: group_by: 'id' changes with every event: a changing value in a label makes one alert per event and breaks fingerprints",
      "b.yaml:33:16: a windowed condition can use value, count and the group_by fields (tenant); 'event.model' belongs in 'where'",
      "b.yaml:34:11: override of unknown rule 'Missing' (rules load in file-name order; the rule must be defined in an earlier file)",
      "b.yaml:42:12: 'steps' must be a list of two or more conditions",
    ]);
  });

  it('compiles windowed rules to SQL in which rule values are only parameters', () => {
    const set = compile(['w.yaml', `rules:
  - rule: Share
    desc: d
    severity: low
    tags: [stable]
    kind: windowed
    where: event.source == "x'); DROP TABLE events; --"
    aggregate: quantile(0.9, concept.harmful_intent.score)
    window: 10m
    group_by: [user, source]
    condition: value > 0.75 and count >= 3
    for: 2m
    keep_firing_for: 1m
`]);
    expect(set.problems).toEqual([]);
    const r = set.rules[0] as WindowedRule;
    expect(r).toMatchObject({ windowMs: 600_000, everyMs: 60_000, forMs: 120_000, keepFiringForMs: 60_000, groupBy: ['tenant', 'user', 'source'] });
    expect(r.query.sql).not.toContain('DROP');
    expect(r.query.sql).not.toMatch(/0\.75|0\.9\b|'harmful_intent'/);
    expect(Object.values(r.query.params)).toEqual(expect.arrayContaining(["x'); DROP TABLE events; --", 0.75, 0.9, 3, 'harmful_intent']));
    expect(r.query.groupColumns).toEqual([{ label: 'tenant', column: 'tenant' }, { label: 'user', column: 'user_id' }, { label: 'source', column: 'source' }]);
  });
});
