import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { loadProbePack, ProbePack } from '../../../src/probe/probe-pack.loader';
import { ConversationScorer, fitContext } from '../../../src/probe/scoring';
import { SYNTHETIC_WINDOW, writeSyntheticPack } from '../../support/synthetic-pack';

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

describe('conversation scoring (hand-computed on the synthetic pack)', () => {
  let pack: ProbePack;
  beforeAll(async () => {
    pack = await loadProbePack(writeSyntheticPack(mkdtempSync(path.join(tmpdir(), 'pack-'))));
  });

  const { roles, ids } = SYNTHETIC_WINDOW;
  const hidden = SYNTHETIC_WINDOW.hidden();

  it('scores each concept over its own roles and aggregation, skipping attention-sink outliers', () => {
    const s = new ConversationScorer(pack);
    s.addWindow(hidden, ids, roles, 40);
    const r = s.finish((id) => `tok${id}`);
    // s_t = 0.5 x0 + 0.5 x1: user tokens 1, 2 -> [1, 2]; assistant tokens 3, 4 -> [2, 0.2]; 5 is an outlier.
    // deception, mean: 1.1 - 0.5 = 0.6; Platt a=2, c=-1.
    expect(r.deception.tokens_in_scope).toBe(2);
    expect(r.deception.score).toBeCloseTo(sigmoid(2 * 0.6 - 1), 4);
    expect(r.deception.flagged).toBe(false);
    expect(r.deception.span).toEqual({ start: 43, end: 45 });
    // sycophancy, max: token 3 alone decides, 2 - 0.5.
    expect(r.sycophancy.score).toBeCloseTo(sigmoid(2 * 1.5 - 1), 4);
    expect(r.sycophancy.flagged).toBe(true);
    expect(r.sycophancy.span).toEqual({ start: 43, end: 44 });
    // harmful_intent, rolling 4 over a 2-token scope: one window, mean 1.5; its calibration has a
    // length term, -0.25 x ln(1 + 2 tokens in scope).
    expect(r.harmful_intent.score).toBeCloseTo(sigmoid(2 * 1 - 1 - 0.25 * Math.log(3)), 4);
    expect(r.harmful_intent.span).toEqual({ start: 41, end: 43 });
    // prompt_injection, rolling 1 over the user tokens: the second one.
    expect(r.prompt_injection.score).toBeCloseTo(sigmoid(2 * 1.5 - 1), 4);
    expect(r.prompt_injection.span).toEqual({ start: 42, end: 43 });
    for (const c of Object.values(r)) expect(c.scores.dense).toBe(c.score);
  });

  it('splits the logit exactly into token contributions and ranks features by activation x alignment', () => {
    const s = new ConversationScorer(pack);
    s.addWindow(hidden, ids, roles, 40);
    const d = s.finish((id) => `tok${id}`).deception;
    // contributions s_t / n over the span; with the bias they give the logit back.
    expect(d.tokens).toEqual([{ index: 43, token: 'tok103', activation: 1 }, { index: 44, token: 'tok104', activation: 0.1 }]);
    const logit = -0.5 + (d.tokens ?? []).reduce((a, t) => a + t.activation, 0);
    expect(sigmoid(2 * logit - 1)).toBeCloseTo(d.score, 4);
    // f10 = x0/2 -> [0.5, 0 (0.2 is below the 0.25 threshold)]; f20 = x1/2 - 0.5 -> [1, 0].
    // Contributions: f10 0.5 x 1 / 2 = 0.25, f20 1 x 1 / 2 = 0.5.
    expect(d.features.map((x) => [x.feature, x.contribution])).toEqual([[20, 0.5], [10, 0.25]]);
    expect(d.features[0]).toMatchObject({ label: 'dimension one', activation: 1, mean_activation: 0.5 });
    expect(d.features[0].top_tokens).toEqual([{ index: 43, token: 'tok103', activation: 1 }]);
    // the features explain 0.75 of the 1.1 the tokens add
    expect(d.scores.sae).toBeCloseTo(sigmoid(2 * (-0.5 + 0.75) - 1), 4);
  });

  it('accumulates across windows exactly like one long window', () => {
    const one = new ConversationScorer(pack);
    one.addWindow(hidden, ids, roles, 0);
    const two = new ConversationScorer(pack);
    two.addWindow(hidden.subarray(0, 12), ids.slice(0, 3), roles.slice(0, 3), 0);
    two.addWindow(hidden.subarray(12), ids.slice(3), roles.slice(3), 3);
    expect(two.finish(String)).toEqual(one.finish(String));
  });

  it('reports no risk, explicitly out of scope, when nothing of the concept\'s roles is present', () => {
    const s = new ConversationScorer(pack);
    s.addWindow(hidden.subarray(0, 12), ids.slice(0, 3), roles.slice(0, 3), 0);
    const r = s.finish(String);
    expect(r.deception).toMatchObject({ score: 0, flagged: false, in_scope: false, tokens_in_scope: 0, features: [] });
    expect(r.harmful_intent.in_scope).toBe(true);
  });
});

describe('fitting a conversation into the context', () => {
  // template, system x3, template, user x10, template, assistant x6 (as ChatTokenizer.encode lays them out)
  const roles = [0, 1, 1, 1, 0, ...Array(10).fill(2), 0, ...Array(6).fill(3)];
  const msg = [-1, 0, 0, 0, -1, ...Array(10).fill(1), -1, ...Array(6).fill(2)];

  it('keeps everything that fits', () => {
    expect(fitContext(roles, msg, 64)).toEqual({ kept: [[0, 22]] });
    expect(fitContext([], [], 8)).toEqual({ kept: [] });
  });

  it('keeps the system prompt and the newest tokens, drops the middle, as the builder does', () => {
    // same case as tools/probe-builder/tests/test_model_export.py::test_fit_context_...
    expect(fitContext(roles, msg, 12)).toEqual({ kept: [[0, 5], [15, 22]], dropped: { start: 5, end: 15 } });
  });

  it('never lets the system prompt take more than half the context', () => {
    const longSys = [0, ...Array(20).fill(1), 0, 2, 2];
    const m = [-1, ...Array(20).fill(0), -1, 1, 1];
    expect(fitContext(longSys, m, 10)).toEqual({ kept: [[0, 5], [19, 24]], dropped: { start: 5, end: 19 } });
  });

  it('without a system prompt keeps only the newest tokens', () => {
    const r = [2, 2, 2, 3, 3, 3];
    expect(fitContext(r, [0, 0, 0, 1, 1, 1], 4)).toEqual({ kept: [[2, 6]], dropped: { start: 0, end: 2 } });
  });
});
