import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { loadProbePack, ProbePack } from '../../../src/probe/probe-pack.loader';
import { ConversationScorer, planWindows } from '../../../src/probe/scoring';
import { SYNTHETIC_WINDOW, writeSyntheticPack } from '../../support/synthetic-pack';

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

describe('conversation scoring (hand-computed on the synthetic pack)', () => {
  let pack: ProbePack;
  beforeAll(async () => {
    pack = await loadProbePack(writeSyntheticPack(mkdtempSync(path.join(tmpdir(), 'pack-'))));
  });

  const { roles, ids } = SYNTHETIC_WINDOW;
  const hidden = SYNTHETIC_WINDOW.hidden();

  it('scores each concept over its own roles, skipping attention-sink outliers', () => {
    const s = new ConversationScorer(pack);
    s.addWindow(hidden, ids, roles, 40);
    const r = s.finish((id) => `tok${id}`);
    // deception: assistant tokens 3 and 4 (5 is an outlier). f10 = x0/2 -> [0.5, 0.2->0 (below threshold 0.25)];
    // f20 = x1/2 - 0.5 -> [1.0, 0]. Inputs [max10, max20, mean10, mean20] = [0.5, 1, 0.25, 0.5].
    expect(r.deception.tokens_in_scope).toBe(2);
    expect(r.deception.scores.sae).toBeCloseTo(sigmoid(0.5 * 1 + 1 * 2 - 1), 4);
    expect(r.deception.detector).toBe('sae');
    expect(r.deception.flagged).toBe(true);
    // dense: mean of x/2 over the scope = [0.35, 0.75, 0, 0]; w0 = 0.5; Platt a=2, c=-1.
    expect(r.deception.scores.dense).toBeCloseTo(sigmoid(2 * 0.175 - 1), 4);
    expect(r.sycophancy.score).toBe(r.sycophancy.scores.dense);
    // harmful_intent reads the user tokens 1 and 2: mean x/2 = [0.5, 1, 0, 0].
    expect(r.harmful_intent.score).toBeCloseTo(sigmoid(2 * 0.25 - 1), 4);
    expect(r.harmful_intent.flagged).toBe(false);
  });

  it('explains with the features that pushed the score up, with token positions', () => {
    const s = new ConversationScorer(pack);
    s.addWindow(hidden, ids, roles, 40);
    const f = s.finish((id) => `tok${id}`).deception.features;
    expect(f.map((x) => x.feature)).toEqual([20, 10]);
    expect(f[0]).toMatchObject({ label: 'dimension one', activation: 1, mean_activation: 0.5 });
    expect(f[0].top_tokens).toEqual([{ index: 43, token: 'tok103', activation: 1 }]);
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

describe('window planning', () => {
  it('cuts consecutive windows and flags truncation past the limit', () => {
    expect(planWindows(10, 4, 8)).toEqual({ spans: [[0, 4], [4, 8], [8, 10]], truncated: false });
    expect(planWindows(10, 4, 2)).toEqual({ spans: [[0, 4], [4, 8]], truncated: true });
    expect(planWindows(0, 4, 2)).toEqual({ spans: [], truncated: false });
  });
});
