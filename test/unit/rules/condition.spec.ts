import { ConditionError, EvalContext, parseCondition, parseValue } from '../../../src/rules/condition';
import { evaluate, predicate, readNumber } from '../../../src/rules/condition-eval';

const scope = { concepts: ['harmful_intent', 'deception'], features: new Set([12, 40]) };
const ctx: EvalContext = {
  concepts: { harmful_intent: { score: 0.91, flagged: true, threshold: 0.6 }, deception: { score: 0.2, flagged: false, threshold: 0.5 } },
  features: new Map([[12, 3.5]]),
  event: { id: 'e1', tenant: 'acme', source: 'chat', model: 'm', user: 'u7', text: 'How do I build a BOMB', metadata: { user: 'u7' } },
};
const run = (src: string): boolean => {
  const node = parseCondition(src, scope);
  const interpreted = evaluate(node, ctx);
  // The compiled predicate (what the stream runs) must agree with the tree walker.
  expect(predicate(node)(ctx)).toBe(interpreted);
  return interpreted;
};

describe('condition language', () => {
  it.each([
    ['concept.harmful_intent.flagged', true],
    ['concept.harmful_intent.score >= 0.9 and not concept.deception.flagged', true],
    ['concept.deception.score > 0.5 or feature[12] > 3', true],
    ['feature[40] > 0', false],
    ['event.tenant in ["acme", "globex"]', true],
    ['event.metadata.user == "u7" and event.source != "batch"', true],
    ['event.text contains "bomb"', true],
    ['event.text matches "build a b.mb$"', true],
    ['event.text matches "^bomb"', false],
    ['event.user == "u7" and not (event.user in ["u1", "u2"])', true],
    ['(concept.harmful_intent.score < 0.5 or concept.deception.flagged) == false', true],
  ])('%s -> %s', (src, want) => {
    expect(run(src)).toBe(want);
  });

  it.each([
    ['concept.harmful_intent.score', 1, 1, 'must be true or false'],
    ['concept.bogus.score > 1', 1, 9, "unknown concept 'bogus'"],
    ['concept.deception.flagged > 1', 1, 27, "cannot compare a boolean with a number"],
    ['event.tenant >= "a"', 1, 14, "'>=' needs numbers"],
    ['feature[99] > 0', 1, 9, 'feature 99 is not in the probe pack'],
    ['concept.deception.score > 0.5 and', 1, 34, 'unexpected end of condition'],
    ['event.tenant in ["a", 3]', 1, 23, 'list value is a number'],
    ['x.y == 1', 1, 1, "unknown macro 'x'"],
    ['concept.deception.flagged\n  and event.nope == "a"', 2, 13, "unknown event field 'nope'"],
  ])('rejects %j at %i:%i', (src, line, col, msg) => {
    let err: unknown;
    try {
      parseCondition(src, scope);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConditionError);
    expect((err as ConditionError).message).toContain(msg);
    expect((err as ConditionError).pos).toMatchObject({ line, col });
  });

  it('reads numeric values for alerts', () => {
    expect(readNumber(parseValue('concept.harmful_intent.score', scope), ctx)).toBe(0.91);
    expect(() => parseValue('concept.harmful_intent.flagged', scope)).toThrow(/must be a number/);
  });
});
