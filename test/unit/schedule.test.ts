// The learning-rate schedule: the reference's linear lambda rule with one "epoch" per iteration.
import { describe, expect, it } from 'vitest';
import { lambdaRule, learningRate, scheduleSplit } from '../../shared/train/schedule.ts';

describe('learning-rate schedule', () => {
  it('is the reference lambda rule with its defaults (100 + 100) for a 200-iteration run', () => {
    // Values of the reference's lr_l = 1 − max(0, epoch + 1 − 100) / 101 at a few epochs.
    const want: [number, number][] = [[0, 1], [98, 1], [99, 1], [100, 1 - 1 / 101], [150, 1 - 51 / 101], [199, 1 - 100 / 101]];
    expect(scheduleSplit(200)).toEqual({ nConst: 100, nDecay: 100 });
    for (const [e, f] of want) {
      expect(lambdaRule(e, 100, 100)).toBeCloseTo(f, 12);
      expect(learningRate(e, 200, 2e-4)).toBeCloseTo(2e-4 * f, 15);
    }
  });

  it('stays constant through the first half, then falls by the same amount each iteration', () => {
    const T = 11;
    const lrs = Array.from({ length: T }, (_, i) => learningRate(i, T, 1));
    const { nConst, nDecay } = scheduleSplit(T);
    expect([nConst, nDecay]).toEqual([6, 5]);
    expect(lrs.slice(0, nConst)).toEqual(Array(nConst).fill(1));
    for (let i = nConst; i < T; i++) expect(lrs[i - 1] - lrs[i]).toBeCloseTo(1 / (nDecay + 1), 12);
    // As in the reference, zero would be reached one step past the end.
    expect(lrs[T - 1]).toBeCloseTo(1 / (nDecay + 1), 12);
    expect(learningRate(T, T, 1)).toBeCloseTo(0, 12);
    expect(learningRate(T + 5, T, 1)).toBe(0);
  });

  it('a one-iteration run trains at the base rate', () => {
    expect(learningRate(0, 1, 2e-4)).toBe(2e-4);
  });

  it('rejects nonsense with a message naming it', () => {
    expect(() => learningRate(0, 0, 1)).toThrow(/totalIters must be a positive integer, got 0/);
    expect(() => learningRate(-1, 10, 1)).toThrow(/iteration must be a non-negative integer, got -1/);
    expect(() => learningRate(1.5, 10, 1)).toThrow(/iteration/);
  });
});
