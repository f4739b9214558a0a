/** The guard policy file: parsing, every problem at file:line:col, and the verdict it gives. */
import { CONCEPT_IDS, ConceptId } from '../../../src/domain/concepts';
import type { ConceptResult, ScoredEvent } from '../../../src/domain/scored-event';
import { BUILT_IN_POLICY, decide, readGuardPolicy } from '../../../src/guard/guard-policy';
import { formatProblem } from '../../../src/rules/rule-file';

/** A scored event with these scores; every concept's pack threshold is 0.5. */
function scored(scores: Partial<Record<ConceptId, number>>): ScoredEvent {
  const concept = (score: number): ConceptResult => ({ score, threshold: 0.5, flagged: score >= 0.5, detector: 'dense', scores: { sae: score, dense: score }, in_scope: true, tokens_in_scope: 3, features: [] });
  return {
    id: 'e', pack: { id: 'p', version: '1' }, truncated: false, tokens: 3, tokens_scored: 3,
    concepts: Object.fromEntries(CONCEPT_IDS.map((c) => [c, concept(scores[c] ?? 0.1)])) as Record<ConceptId, ConceptResult>,
  };
}

const POLICY = [
  '# the example of the task',
  'concepts:',
  '  harmful_intent: {flag: 0.5, block: 0.8}',
  '  prompt_injection:',
  '    flag: pack',
  '    block: 0.95',
  '  deception: {block: never}',
  '',
].join('\n');

describe('guard policy: reading', () => {
  it('reads thresholds as numbers, pack or never; unlisted concepts flag at the pack and never block', () => {
    const { policy, problems } = readGuardPolicy('guard.yaml', POLICY);
    expect(problems).toEqual([]);
    expect(policy?.concepts).toEqual({
      harmful_intent: { flag: 0.5, block: 0.8 },
      prompt_injection: { flag: 'pack', block: 0.95 },
      deception: { flag: 'pack', block: 'never' },
      sycophancy: { flag: 'pack', block: 'never' },
    });
    expect(policy?.hash).toMatch(/^[0-9a-f]{16}$/);
  });

  it('hashes the policy, not the file: comments and layout keep the hash, a threshold changes it', () => {
    const a = readGuardPolicy('a', POLICY).policy!;
    const b = readGuardPolicy('b', `# another comment\nconcepts:\n  deception: {flag: pack}\n  prompt_injection: {block: 0.95}\n  harmful_intent: {block: 0.8, flag: 0.5}\n`).policy!;
    const c = readGuardPolicy('c', POLICY.replace('0.8', '0.85')).policy!;
    expect(b.hash).toBe(a.hash);
    expect(c.hash).not.toBe(a.hash);
    expect(readGuardPolicy('d', 'concepts: {}\n').policy?.hash).toBe(BUILT_IN_POLICY.hash);
  });

  it('reports every problem at file:line:col and gives no policy', () => {
    const text = [
      'concepts:',
      '  harmful_intent: {flag: 0.9, block: 0.5}',
      '  bogus: {flag: 1}',
      '  prompt_injection:',
      '    flag: high',
      '    colour: red',
      '  sycophancy: {block: 1.5}',
      'extra: true',
      '',
    ].join('\n');
    const { policy, problems } = readGuardPolicy('/etc/guard.yaml', text);
    expect(policy).toBeNull();
    expect(problems.map(formatProblem)).toEqual([
      '/etc/guard.yaml:2:38: concepts.harmful_intent.block (0.5) is below flag (0.9): a blocked conversation must also be flagged',
      "/etc/guard.yaml:3:3: unknown concept 'bogus'; expected one of deception, sycophancy, harmful_intent, prompt_injection",
      "/etc/guard.yaml:5:11: concepts.prompt_injection.flag must be a score between 0 and 1, 'pack' (the pack's threshold) or 'never'",
      "/etc/guard.yaml:6:5: unknown key 'colour' in concepts.prompt_injection; expected flag or block",
      "/etc/guard.yaml:7:23: concepts.sycophancy.block must be a score between 0 and 1, 'pack' (the pack's threshold) or 'never'",
      "/etc/guard.yaml:8:1: unknown key 'extra'; expected concepts",
    ]);
  });

  it('reports broken YAML, duplicate keys and a wrong shape at their place', () => {
    expect(readGuardPolicy('g.yaml', 'concepts:\n  harmful_intent: {flag: 0.5\n').problems.map(formatProblem)[0]).toMatch(/^g\.yaml:\d+:\d+: YAML: /);
    expect(readGuardPolicy('g.yaml', 'concepts:\n  deception: {flag: 0.5}\n  deception: {flag: 0.6}\n').problems.map(formatProblem)).toEqual([expect.stringMatching(/^g\.yaml:3:3: YAML: .*unique/i)]);
    expect(readGuardPolicy('g.yaml', '- a\n- b\n').problems.map(formatProblem)).toEqual(["g.yaml:1:1: the file must be a mapping with 'concepts'"]);
    expect(readGuardPolicy('g.yaml', 'concepts:\n  deception: 0.5\n').problems.map(formatProblem)).toEqual(['g.yaml:2:14: concepts.deception must be a mapping with flag and/or block']);
    expect(readGuardPolicy('g.yaml', 'other: 1\n').problems.map(formatProblem)).toEqual(["g.yaml:1:1: unknown key 'other'; expected concepts", "g.yaml:1:1: missing 'concepts'"]);
  });
});

describe('guard policy: the verdict', () => {
  const policy = readGuardPolicy('guard.yaml', POLICY).policy!;

  it('allows when no concept reaches its flag threshold', () => {
    const d = decide(policy, scored({ harmful_intent: 0.3 }));
    expect(d.verdict).toBe('allow');
    expect(d.concepts.harmful_intent).toEqual({ score: 0.3, thresholds: { flag: 0.5, block: 0.8 }, flagged: false, action: 'allow' });
    expect(d.deciding).toBe('harmful_intent');
  });

  it('flags from the flag threshold, pack meaning the pack\'s threshold', () => {
    const d = decide(policy, scored({ prompt_injection: 0.6 }));
    expect(d.verdict).toBe('flag');
    expect(d.deciding).toBe('prompt_injection');
    expect(d.concepts.prompt_injection).toEqual({ score: 0.6, thresholds: { flag: 0.5, block: 0.95 }, flagged: true, action: 'flag' });
  });

  it('blocks when any concept reaches its block threshold, whatever the others say', () => {
    const d = decide(policy, scored({ harmful_intent: 0.8, prompt_injection: 0.9, deception: 0.99 }));
    expect(d.verdict).toBe('block');
    expect(d.deciding).toBe('harmful_intent');
    expect(d.concepts.deception).toMatchObject({ thresholds: { flag: 0.5, block: null }, action: 'flag' });
    expect(d.concepts.prompt_injection.action).toBe('flag');
  });

  it('the deciding concept is the highest-scoring one at the verdict\'s level', () => {
    const d = decide(policy, scored({ harmful_intent: 0.6, sycophancy: 0.7 }));
    expect(d.verdict).toBe('flag');
    expect(d.deciding).toBe('sycophancy');
  });

  it('the built-in policy flags at the pack\'s threshold and never blocks', () => {
    expect(decide(BUILT_IN_POLICY, scored({ harmful_intent: 0.999 })).verdict).toBe('flag');
    expect(decide(BUILT_IN_POLICY, scored({ harmful_intent: 0.49 })).verdict).toBe('allow');
  });
});
