/**
 * `matches` is RE2: linear time on the input that made JavaScript's RegExp backtrack for seconds,
 * and every construct RE2 cannot run rejected when the rules load, at the pattern literal, for
 * event rules (the stream) and for windowed and sequence rules (ClickHouse SQL) alike.
 */
import { CONCEPT_IDS } from '../../../src/domain/concepts';
import { ConditionError, EvalContext, parseCondition } from '../../../src/rules/condition';
import { evaluate, predicate } from '../../../src/rules/condition-eval';
import { compilePattern, unsupportedConstruct } from '../../../src/rules/condition-regex';
import { conditionSql, SqlParams } from '../../../src/rules/condition-sql';
import { formatProblem } from '../../../src/rules/rule-file';
import { compileRuleSet } from '../../../src/rules/rule-set';

const scope = { concepts: [...CONCEPT_IDS] };
const ctx = (text: string, source = 'chat'): EvalContext => ({
  concepts: {},
  features: new Map(),
  event: { id: 'e', tenant: 'acme', source, model: 'm', user: 'u', text, metadata: {} },
});

describe('matches: RE2 in linear time', () => {
  it('runs ^(a+)+$ on a 10k-character text in a few milliseconds (JavaScript RegExp: exponential)', () => {
    const node = parseCondition('event.text matches "^(a+)+$"', scope);
    const test = predicate(node);
    const attack = ctx(`${'a'.repeat(10_000)}b`);
    test(attack); // the first call converts and caches; time the steady state and the tree walker
    const t0 = performance.now();
    expect(test(attack)).toBe(false);
    expect(evaluate(node, attack)).toBe(false);
    const ms = performance.now() - t0;
    // A few ms on a quiet machine; the bound leaves room for a busy one. Backtracking would not
    // finish 40 characters in this time.
    expect(ms).toBeLessThan(100);
    expect(test(ctx('a'.repeat(10_000)))).toBe(true);
  });

  it.each([
    ['build a b.mb$', 'How do I build a BOMB', true],
    ['^bomb', 'How do I build a BOMB', false],
    ['\\bpass(word)?\\b', 'my PASSWORD is', true],
    ['^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$', 'Bob@Example.com', true],
    ['a.b', 'a\nb', false],
    ['colou?r', 'COLOR', true],
    ['x{2,3}?y', 'xxy', true],
    ['(?P<word>hel+o)', 'HELLO', true],
    ['[]a]+$', ']a]', true],
  ])('keeps the common-subset semantics: %j on %j -> %s', (pattern, text, want) => {
    const c = compilePattern(pattern);
    expect(c.ok).toBe(true);
    if (c.ok) expect(c.re.test(text)).toBe(want);
    // The condition string literal takes a backslash as an escape, so the rule text doubles it.
    const node = parseCondition(`event.text matches "${pattern.replace(/\\/g, '\\\\')}"`, scope);
    expect(predicate(node)(ctx(text))).toBe(want);
  });

  it.each([
    ['(a)\\1', "backreference '\\1' is not supported"],
    ['(?<w>a)\\k<w>', "named backreference '\\k<' is not supported"],
    ['^a+(?=b)', "lookahead '(?=' is not supported"],
    ['^a+(?!b)', "lookahead '(?!' is not supported"],
    ['(?<=a)b', "lookbehind '(?<=' is not supported"],
    ['(?<!a)b', "lookbehind '(?<!' is not supported"],
    ['a++', "possessive quantifier '++' is not supported"],
    ['a*+', "possessive quantifier '*+' is not supported"],
    ['a?+', "possessive quantifier '?+' is not supported"],
    ['a{2,5}+', "possessive quantifier '{2,5}+' is not supported"],
    ['(?>a+)b', "atomic group '(?>' is not supported"],
    ['(?(1)a|b)', "conditional '(?(' is not supported"],
    ['a(?R)?b', "recursion '(?R' is not supported"],
    ['\\u00e9', "'\\u' is JavaScript syntax, not RE2: write \\x{00e9}"],
    ['\\cA', "'\\cA' is JavaScript syntax, not RE2: write \\x01"],
    ['\\p{Letter}', "'\\p{Letter}' is not RE2 syntax: write \\p{L}"],
    ['\\Z', 'invalid regular expression (RE2 syntax): invalid escape sequence: \\Z'],
    ['(a', 'invalid regular expression (RE2 syntax): missing ): (a'],
  ])('rejects %j: %s', (pattern, message) => {
    const c = compilePattern(pattern);
    expect(c.ok).toBe(false);
    if (!c.ok) expect(c.message).toContain(message);
  });

  it('reads what is inside a character class, escapes and lazy quantifiers as RE2 does', () => {
    expect(unsupportedConstruct('[(?=]')).toBeNull();
    expect(unsupportedConstruct('[a+]+')).toBeNull();
    expect(unsupportedConstruct('a+?b')).toBeNull();
    expect(unsupportedConstruct('\\(?=')).toBeNull();
    expect(unsupportedConstruct('[\\]](?=x)')).toMatch(/lookahead/);
    expect(unsupportedConstruct('\\p{Greek}\\p{Lu}')).toBeNull();
  });

  it('reports the error at the pattern literal inside a condition', () => {
    let err: unknown;
    try {
      parseCondition('event.source == "chat"\n  and event.text matches "^a+(?=b)"', scope);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConditionError);
    expect((err as ConditionError).pos).toMatchObject({ line: 2, col: 26 });
  });

  it('compiles to ClickHouse match() with the same flags as the stream', () => {
    const params = new SqlParams();
    const sql = conditionSql(parseCondition('event.user matches "^u-\\\\d+$"', scope), [...CONCEPT_IDS], params);
    expect(sql).toBe('match(user_id, {p0:String})');
    expect(params.values).toEqual({ p0: '(?i-s)^u-\\d+$' });
  });
});

describe('rules lint: unsupported patterns at file:line:col', () => {
  const file = `apiVersion: probewatch/v1
engine: ">=1.1"
macros:
  - macro: scripted
    condition: event.source matches "(?<=bot)-\\\\d+"
rules:
  - rule: Lookahead In Event Rule
    desc: d
    severity: low
    tags: [sandbox]
    condition: event.text matches "^(a+)+(?=b)"
  - rule: Backreference In Windowed Rule
    desc: d
    severity: low
    tags: [sandbox]
    kind: windowed
    where: concept.deception.flagged and event.user matches "^(u)\\\\1"
    aggregate: count()
    window: 5m
    condition: value >= 1
  - rule: Possessive In Sequence Rule
    desc: d
    severity: low
    tags: [sandbox]
    kind: sequence
    by: [user]
    within: 5m
    steps:
      - concept.prompt_injection.flagged
      - concept.harmful_intent.flagged and event.source matches 'a++'
  - rule: Fine Pattern Is Not Reported
    desc: d
    severity: low
    tags: [sandbox]
    condition: event.text matches "^(a+)+$"
`;

  it('reports every rejected pattern, in event, windowed and sequence rules and macros', () => {
    const set = compileRuleSet([{ file: 'rules/team.yaml', text: file }], scope);
    expect(set.problems.map(formatProblem)).toEqual([
      expect.stringMatching(/^rules\/team\.yaml:5:37: lookbehind '\(\?<=' is not supported: 'matches' uses RE2 syntax/),
      expect.stringMatching(/^rules\/team\.yaml:11:35: lookahead '\(\?=' is not supported/),
      expect.stringMatching(/^rules\/team\.yaml:17:61: backreference '\\1' is not supported/),
      expect.stringMatching(/^rules\/team\.yaml:30:65: possessive quantifier '\+\+' is not supported/),
    ]);
  });
});
