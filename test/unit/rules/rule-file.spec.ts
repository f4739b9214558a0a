import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import { formatProblem } from '../../../src/rules/rule-file';
import { compileRuleSet } from '../../../src/rules/rule-set';

const parseRuleFile = (file: string, text: string, s: typeof scope) => compileRuleSet([{ file, text }], s);
import { CONCEPT_IDS } from '../../../src/domain/concepts';

const scope = { concepts: [...CONCEPT_IDS] };
const ROOT = path.resolve(__dirname, '..', '..', '..');

describe('rule files', () => {
  it('the shipped default rules are valid and cover the four concepts', () => {
    const file = path.join(ROOT, 'rules', 'default.yaml');
    const r = parseRuleFile('rules/default.yaml', readFileSync(file, 'utf8'), scope);
    expect(r.problems.map(formatProblem)).toEqual([]);
    expect(r.rules.filter((x) => x.kind === 'event').map((x) => x.labels.concept).sort()).toEqual([...CONCEPT_IDS].sort());
    expect(r.rules.map((x) => x.kind).sort()).toEqual(['event', 'event', 'event', 'event', 'sequence', 'windowed', 'windowed']);
    expect(r.rules.every((x) => x.enabled && (x.kind !== 'event' || x.value !== null))).toBe(true);
  });

  it('reports every problem as file:line:col', () => {
    const text = readFileSync(path.join(ROOT, 'test', 'fixtures', 'rules', 'broken.bad.yaml'), 'utf8');
    const r = parseRuleFile('broken.bad.yaml', text, scope);
    expect(r.rules).toEqual([]);
    const lines = r.problems.map(formatProblem);
    expect(lines).toEqual(expect.arrayContaining([
      "broken.bad.yaml:4:11: rule name 'harmful request' must start with a capital letter",
      'broken.bad.yaml:6:15: severity must be one of info, low, medium, high, critical',
      'broken.bad.yaml:7:12: the first tag must be a maturity level (stable, incubating, sandbox, deprecated)',
      "broken.bad.yaml:8:39: unknown concept field 'scor' (score, flagged, threshold)",
      expect.stringMatching(/^broken\.bad\.yaml:9:47: labels\.tenant: a label must not hold a changing value/),
      expect.stringMatching(/^broken\.bad\.yaml:10:\d+: annotations\.summary: unknown template variable 'event\.text' in an event rule/),
      "broken.bad.yaml:16:11: duplicate rule name 'Duplicate' (first at broken.bad.yaml:11; to change it use override)",
      expect.stringMatching(/^broken\.bad\.yaml:21:5: unknown key 'colour' in a rule \(allowed: rule, desc,/),
    ]));
  });

  it('reports YAML syntax errors with their position', () => {
    const r = parseRuleFile('x.yaml', 'apiVersion: probewatch/v1\nrules:\n  - rule: A\n    desc: [unclosed\n', scope);
    expect(r.problems.length).toBeGreaterThan(0);
    expect(formatProblem(r.problems[0])).toMatch(/^x\.yaml:\d+:\d+: YAML: /);
  });

  it('refuses files that need a newer engine or another apiVersion', () => {
    const r = parseRuleFile('x.yaml', 'apiVersion: probewatch/v2\nengine: ">=9.0"\nrules: []\n', scope);
    expect(r.problems.map(formatProblem)).toEqual([
      "x.yaml:1:13: apiVersion must be 'probewatch/v1'",
      'x.yaml:2:9: file needs engine 9.0, this is 1.1.0',
    ]);
  });
});
