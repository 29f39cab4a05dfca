// Robust summaries and the significance test behind every baseline verdict.
//
// Benchmarks on shared runners have outliers (a noisy neighbour, a frequency drop), so the
// summaries are order statistics (median, interquartile range) and the test is rank-based
// (Mann–Whitney U): neither assumes normality and a single outlier cannot decide a verdict.
//
// simple-statistics offers the Wilcoxon rank sum but no p-value, so the test is implemented
// here: the exact null distribution for small samples without ties, otherwise the normal
// approximation with tie and continuity corrections (the textbook treatment, and what
// scipy.stats.mannwhitneyu does, which the tests use as a reference).
//
// The caller decides when to run the test at all: below `minSamples` per side (rules.yml) it
// is not run, because with, say, 3 against 3 samples no outcome reaches p < 0.05 — a change
// beyond tolerance with too few samples cannot be significant and is reported as `noisy`.
// (google/benchmark's compare.py warns in the same situation.)

import type { Side } from '../model/verdicts.js';

function sorted(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

/** Quantile with linear interpolation between order statistics (type 7, numpy's default). NaN when empty. */
export function quantile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = sorted(xs);
  const h = (s.length - 1) * Math.min(1, Math.max(0, p));
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  const a = s[lo] as number;
  const b = s[hi] as number;
  return a + (h - lo) * (b - a);
}

export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

/**
 * Relative interquartile range: (p75 − p25) / |median|, as a fraction. 0 for fewer than two
 * samples or a zero median (where a relative spread means nothing), so it is always finite.
 */
export function relativeSpread(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = median(xs);
  if (m === 0 || !Number.isFinite(m)) return 0;
  return (quantile(xs, 0.75) - quantile(xs, 0.25)) / Math.abs(m);
}

export function summarizeSamples(xs: readonly number[]): Side {
  return { median: median(xs), spread: relativeSpread(xs), n: xs.length };
}

export function allFinite(xs: readonly number[]): boolean {
  return xs.every((x) => Number.isFinite(x));
}

export interface UTestResult {
  /** U statistic of the first sample: pairs where x > y, ties counting one half */
  u: number;
  /** two-sided p-value */
  p: number;
  method: 'exact' | 'normal';
}

/** Largest n1 + n2 for the exact distribution: its counts stay exact integers in a double. */
const EXACT_MAX_TOTAL = 40;

/**
 * Two-sided Mann–Whitney U test of "x and y come from the same distribution".
 * Exact when there are no ties and n1 + n2 ≤ 40; otherwise the normal approximation with tie
 * correction and continuity correction. Throws on an empty sample (the caller checks first).
 */
export function mannWhitneyU(x: readonly number[], y: readonly number[]): UTestResult {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) throw new RangeError('mannWhitneyU: both samples must be non-empty');

  const { rankSumX, tieTerm } = rankPooled(x, y);
  const u = rankSumX - (n1 * (n1 + 1)) / 2;

  if (tieTerm === 0 && n1 + n2 <= EXACT_MAX_TOTAL) {
    return { u, p: exactTwoSidedP(u, n1, n2), method: 'exact' };
  }

  const n = n1 + n2;
  const mu = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0) return { u, p: 1, method: 'normal' }; // every value tied: no evidence at all
  const z = Math.max(0, Math.abs(u - mu) - 0.5) / Math.sqrt(variance);
  return { u, p: Math.min(1, erfc(z / Math.SQRT2)), method: 'normal' };
}

/** Rank sum of x in the pooled sample (mid-ranks for ties) and Σ(t³ − t) over tie groups. */
function rankPooled(x: readonly number[], y: readonly number[]): { rankSumX: number; tieTerm: number } {
  const pooled = [...x.map((v) => ({ v, fromX: true })), ...y.map((v) => ({ v, fromX: false }))].sort(
    (a, b) => a.v - b.v,
  );
  let rankSumX = 0;
  let tieTerm = 0;
  for (let i = 0; i < pooled.length;) {
    let j = i;
    while (j + 1 < pooled.length && (pooled[j + 1] as { v: number }).v === (pooled[i] as { v: number }).v)
      j++;
    const t = j - i + 1;
    const midRank = (i + j) / 2 + 1; // ranks are 1-based
    for (let k = i; k <= j; k++) if ((pooled[k] as { fromX: boolean }).fromX) rankSumX += midRank;
    tieTerm += t * t * t - t;
    i = j + 1;
  }
  return { rankSumX, tieTerm };
}

/**
 * Exact two-sided p-value: 2 · min(P(U ≤ u), P(U ≥ u)), capped at 1. The null distribution of U
 * for sizes (m, n) has the coefficients of the Gaussian binomial [m+n choose m]_q; it is built as
 * Π_{i=1..m} (1 − q^(n+i)) / (1 − q^i), each step leaving an integer polynomial.
 */
function exactTwoSidedP(u: number, m: number, n: number): number {
  let c: number[] = [1];
  for (let i = 1; i <= m; i++) {
    const d = new Array<number>(i * n + 1).fill(0);
    // multiply by (1 − q^(n+i)), dropping terms above the final degree i·n (they cancel below)
    for (let k = 0; k < c.length; k++) {
      d[k] = (d[k] as number) + (c[k] as number);
      if (k + n + i < d.length) d[k + n + i] = (d[k + n + i] as number) - (c[k] as number);
    }
    // divide by (1 − q^i): b[k] = d[k] + b[k − i]
    for (let k = i; k < d.length; k++) d[k] = (d[k] as number) + (d[k - i] as number);
    c = d;
  }
  const total = c.reduce((a, b) => a + b, 0);
  let below = 0;
  let above = 0;
  for (let k = 0; k < c.length; k++) {
    if (k <= u) below += c[k] as number;
    if (k >= u) above += c[k] as number;
  }
  return Math.min(1, (2 * Math.min(below, above)) / total);
}

/**
 * Complementary error function with relative error below 1.2e-7 everywhere (the Chebyshev
 * fit from Numerical Recipes): relative accuracy matters for the small p-values we compare.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -z * z -
    1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t *
                  (-0.18628806 +
                    t *
                      (0.27886807 +
                        t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const r = t * Math.exp(poly);
  return x >= 0 ? r : 2 - r;
}

/**
 * The smallest two-sided p-value the exact U test can give with m against n samples: both
 * samples entirely apart, 2 / C(m + n, m). 3 against 3 gives 0.1, so no change is significant.
 */
export function minUTestP(m: number, n: number): number {
  let c = 1;
  for (let i = 1; i <= Math.min(m, n); i++) c = (c * (Math.max(m, n) + i)) / i;
  return Math.min(1, 2 / c);
}
