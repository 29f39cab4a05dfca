// The significance test decides between `regressed` and `noisy`, so it is checked against
// reference values (scipy.stats.mannwhitneyu 1.17, two-sided; the textbook example of the
// scipy docs) and against hand-countable cases.
import { describe, expect, it } from 'vitest';
import {
  erfc,
  mannWhitneyU,
  median,
  quantile,
  relativeSpread,
  summarizeSamples,
} from '../src/compare/stats.js';

describe('order statistics', () => {
  it('median of odd and even samples', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('quantile interpolates linearly between order statistics', () => {
    expect(quantile([1, 2, 3, 4, 5], 0.25)).toBe(2);
    expect(quantile([1, 2, 3, 4], 0.25)).toBeCloseTo(1.75, 12);
    expect(quantile([7], 0.9)).toBe(7);
  });

  it('relative spread is the IQR over the median, and finite on degenerate input', () => {
    expect(relativeSpread([90, 95, 100, 105, 110])).toBeCloseTo(0.1, 12);
    expect(relativeSpread([5])).toBe(0);
    expect(relativeSpread([0, 0, 0])).toBe(0);
    expect(summarizeSamples([1, 2, 3])).toEqual({ median: 2, spread: 1 / 2, n: 3 });
  });
});

describe('Mann–Whitney U, exact (no ties, small n)', () => {
  it('complete separation of 3 vs 3 gives p = 2/20', () => {
    const r = mannWhitneyU([1, 2, 3], [4, 5, 6]);
    expect(r).toMatchObject({ u: 0, method: 'exact' });
    expect(r.p).toBeCloseTo(0.1, 12);
  });

  it('complete separation of 5 vs 5 gives p = 2/252', () => {
    expect(mannWhitneyU([6, 7, 8, 9, 10], [1, 2, 3, 4, 5])).toMatchObject({ u: 25 });
    expect(mannWhitneyU([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]).p).toBeCloseTo(2 / 252, 12);
  });

  it('matches scipy on the textbook example (males vs females)', () => {
    const r = mannWhitneyU([19, 22, 16, 29, 24], [20, 11, 17, 12]);
    expect(r.u).toBe(17);
    expect(r.p).toBeCloseTo(0.1111111111111111, 12);
  });

  it('matches scipy on overlapping 8 vs 8 samples', () => {
    const r = mannWhitneyU([1, 2, 3, 4, 5, 6, 7, 8], [3.5, 5.5, 7.5, 9, 10, 11, 12, 13]);
    expect(r.u).toBe(9);
    expect(r.p).toBeCloseTo(0.014763014763014764, 12);
  });

  it('matches scipy on a 10 vs 10 throughput drop of 3 %', () => {
    const before = [100.1, 99.8, 100.3, 99.9, 100.0, 100.2, 99.7, 100.4, 100.1, 99.9];
    const after = [97.0, 97.3, 96.8, 97.1, 97.4, 96.9, 97.2, 97.0, 97.5, 96.7];
    // `before` has ties (100.1, 99.9), so this goes through the normal approximation
    const r = mannWhitneyU(before, after);
    expect(r.method).toBe('normal');
    expect(r.u).toBe(100);
    expect(r.p / 0.0001796225049907081).toBeCloseTo(1, 5);
  });

  it('is symmetric in its arguments', () => {
    const a = [3.1, 2.9, 3.3, 3.0, 3.4];
    const b = [3.2, 3.6, 3.5, 3.8, 3.7];
    expect(mannWhitneyU(a, b).p).toBeCloseTo(mannWhitneyU(b, a).p, 12);
  });
});

describe('Mann–Whitney U, normal approximation with ties', () => {
  it('matches scipy (tie and continuity corrections)', () => {
    const r = mannWhitneyU([1, 2, 2, 3, 3, 3], [3, 4, 4, 5, 5, 5]);
    expect(r.method).toBe('normal');
    expect(r.u).toBe(1.5);
    expect(r.p / 0.008367475040112425).toBeCloseTo(1, 5);
  });

  it('gives p = 1 when every value is tied', () => {
    expect(mannWhitneyU([5, 5, 5], [5, 5, 5])).toMatchObject({ u: 4.5, p: 1, method: 'normal' });
  });

  it('uses the normal approximation for large samples even without ties', () => {
    const x = Array.from({ length: 30 }, (_, i) => i);
    const y = Array.from({ length: 30 }, (_, i) => i + 0.5);
    const r = mannWhitneyU(x, y);
    expect(r.method).toBe('normal');
    expect(r.p).toBeCloseTo(0.8302552839111963, 5);
  });

  it('refuses empty samples', () => {
    expect(() => mannWhitneyU([], [1])).toThrow(RangeError);
  });
});

describe('erfc', () => {
  it('has small relative error in the tail and the right symmetry', () => {
    expect(erfc(0)).toBeCloseTo(1, 7);
    expect(erfc(1) / 0.157299207050285).toBeCloseTo(1, 6);
    expect(erfc(4) / 1.541725790028002e-8).toBeCloseTo(1, 6);
    expect(erfc(-1)).toBeCloseTo(2 - 0.157299207050285, 7);
  });
});
