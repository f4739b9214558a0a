import { auroc, clopperPearsonUpper } from '../../../src/cli/eval.command';

describe('probewatch eval metrics', () => {
  it('computes AUROC as the share of positive-negative pairs ranked right, ties counting half', () => {
    expect(auroc([0.9, 0.8], [0.1, 0.2])).toBe(1);
    expect(auroc([0.1], [0.9])).toBe(0);
    // pairs: (0.6 vs 0.5) right, (0.6 vs 0.7) wrong, (0.5 vs 0.5) tie, (0.5 vs 0.7) wrong -> 1.5 / 4
    expect(auroc([0.6, 0.5], [0.5, 0.7])).toBeCloseTo(0.375, 10);
    expect(auroc([], [0.1])).toBeNull();
  });

  it('gives the one-sided 95% Clopper-Pearson upper bound', () => {
    // 0 of n: closed form 1 - 0.05^(1/n)
    expect(clopperPearsonUpper(0, 100)).toBeCloseTo(1 - Math.pow(0.05, 1 / 100), 6);
    expect(clopperPearsonUpper(0, 300)).toBeCloseTo(0.00994, 4);
    // scipy.stats.beta.ppf(0.95, 4, 297) = 0.025641...
    expect(clopperPearsonUpper(3, 300)).toBeCloseTo(0.025641, 5);
    expect(clopperPearsonUpper(5, 5)).toBe(1);
  });
});
