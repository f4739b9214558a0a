import { loadConfig } from '../../../src/config/app-config';
import { parseTurnView } from '../../../src/domain/concepts';
import { newestTurn, viewTokenIndex } from '../../../src/probe/scoring';

const m = (role: string, content = role): { role: string; content: string } => ({ role, content });

describe('the newest turn read with the system prompt alone', () => {
  it('is the leading system messages plus everything from the last user message on', () => {
    const conv = [m('system'), m('user', 'u1'), m('assistant', 'a1'), m('user', 'u2'), m('assistant', 'a2'), m('tool', 't'), m('assistant', 'a3')];
    const v = newestTurn(conv);
    expect(v?.index).toEqual([0, 3, 4, 5, 6]);
    expect(v?.messages.map((x) => x.content)).toEqual(['system', 'u2', 'a2', 't', 'a3']);
  });

  it('keeps several leading system messages and works without any', () => {
    expect(newestTurn([m('system', 's1'), m('system', 's2'), m('user', 'u1'), m('assistant'), m('user', 'u2')])?.index).toEqual([0, 1, 4]);
    expect(newestTurn([m('user', 'u1'), m('assistant'), m('user', 'u2'), m('assistant')])?.index).toEqual([2, 3]);
  });

  it('is the newest message alone when no user message follows the system prompt', () => {
    expect(newestTurn([m('system'), m('assistant', 'a1'), m('tool'), m('assistant', 'a2')])?.index).toEqual([0, 3]);
  });

  it('is undefined when it would be the whole conversation', () => {
    expect(newestTurn([m('system'), m('user'), m('assistant'), m('tool')])).toBeUndefined();
    expect(newestTurn([m('user'), m('assistant')])).toBeUndefined();
    expect(newestTurn([m('system')])).toBeUndefined();
    expect(newestTurn([])).toBeUndefined();
  });
});

describe('token indices of a view in the whole conversation', () => {
  it('maps each message token to the same token of the whole, and markup to -1', () => {
    // whole: markup, sys x2, markup, u1 x3, markup, a1 x1, markup, u2 x2, markup
    const whole = { msg: [-1, 0, 0, -1, 1, 1, 1, -1, 2, -1, 3, 3, -1] };
    // view of messages [0, 3]: markup, sys x2, markup, u2 x2, markup
    const view = { msg: [-1, 0, 0, -1, 1, 1, -1] };
    expect(viewTokenIndex(view, whole, [0, 3])).toEqual([-1, 1, 2, -1, 10, 11, -1]);
  });
});

describe('PROBEWATCH_TURN_VIEW', () => {
  it('takes all, off, or a list of concepts, and names what is wrong', () => {
    expect(parseTurnView('all')).toEqual(['deception', 'sycophancy', 'harmful_intent', 'prompt_injection']);
    expect(parseTurnView('off')).toEqual([]);
    expect(parseTurnView(' harmful_intent , prompt_injection,harmful_intent')).toEqual(['harmful_intent', 'prompt_injection']);
    expect(() => parseTurnView('harmful,deception')).toThrow(/'harmful' is not a concept/);
    expect(loadConfig({}).turnView).toEqual(['deception', 'sycophancy', 'harmful_intent', 'prompt_injection']);
    expect(loadConfig({ PROBEWATCH_TURN_VIEW: 'off' }).turnView).toEqual([]);
    expect(() => loadConfig({ PROBEWATCH_TURN_VIEW: 'bogus' })).toThrow(/PROBEWATCH_TURN_VIEW: 'bogus' is not a concept/);
  });
});
