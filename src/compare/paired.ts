// Statistics for A/B runs: the PR's head and its base measured in the same job, round by round.
//
// Each round yields one head and one base median taken minutes apart on the same machine, so a
// drift of the runner (a noisy neighbour, a frequency change) moves both. Comparing the two
// sides as independent samples (stats.ts's Mann–Whitney U) would count that drift as noise;
// pairing them by round cancels it. The per-round ratio head/base is judged on the log scale,
// where a slowdown and the matching speedup are symmetric and the ratio becomes a difference.
//
// The test is the Wilcoxon signed-rank test of the log ratios: rank-based like the rest of
// compare/, so one disturbed round cannot decide a verdict. The effect is its companion
// estimate, Hodges–Lehmann (median of the Walsh averages), with the confidence interval that
// inverts the same test. Reference values come from scipy.stats.wilcoxon 1.17
// (__tests__/fixtures/paired/gen_wilcoxon.py).
//
// With n pairs the exact test cannot go below p = 2 / 2^n: five rounds can never be significant
// at 0.05 whatever the change. minPairsFor and the minimum detectable effect make that visible
// instead of reporting "no change".

import { erfc, median } from './stats.js';

/** Largest n for the exact null distribution (scipy's method='auto' rule); its counts, at most 2^50, stay exact in a double. */
const EXACT_MAX_N = 50;

export interface SignedRankResult {
  /** min(R+, R−), the sums of the ranks of |d| over the positive and the negative d (scipy's two-sided statistic) */
  statistic: number;
  /** two-sided p-value */
  p: number;
  /** non-zero differences used */
  n: number;
  method: 'exact' | 'approx';
}

/**
 * Two-sided Wilcoxon signed-rank test of "the differences d are symmetric about 0".
 * Zeros are dropped (scipy's zero_method='wilcox'). Exact when n ≤ 50 and no two |d| tie;
 * otherwise the normal approximation with tie and continuity corrections, as
 * scipy.stats.wilcoxon(d, correction=True, method='asymptotic'). (With ties or zeros and at most
 * 13 values, scipy's method='auto' runs a permutation test instead; here ties always take the
 * approximation, as in stats.ts, and zeros are dropped before the exact path is chosen.) With no
 * non-zero difference there is no evidence: p = 1. Throws on a non-finite value.
 */
export function wilcoxonSignedRank(d: readonly number[]): SignedRankResult {
  if (!d.every((x) => Number.isFinite(x))) throw new RangeError('wilcoxonSignedRank: non-finite difference');
  const nonZero = d.filter((x) => x !== 0);
  const n = nonZero.length;
  if (n === 0) return { statistic: 0, p: 1, n: 0, method: 'exact' };

  const { ranks, tieTerm } = midRanks(nonZero.map((x) => Math.abs(x)));
  let rPlus = 0;
  nonZero.forEach((x, i) => {
    if (x > 0) rPlus += ranks[i] as number;
  });
  const total = (n * (n + 1)) / 2;
  const statistic = Math.min(rPlus, total - rPlus);

  if (tieTerm === 0 && n <= EXACT_MAX_N) {
    const counts = signedRankCounts(n);
    let below = 0; // patterns with R+ ≤ rPlus
    let above = 0; // patterns with R+ ≥ rPlus
    for (let k = 0; k < counts.length; k++) {
      if (k <= rPlus) below += counts[k] as number;
      if (k >= rPlus) above += counts[k] as number;
    }
    return { statistic, p: Math.min(1, (2 * Math.min(below, above)) / 2 ** n), n, method: 'exact' };
  }

  const mean = total / 2;
  const sd = Math.sqrt((n * (n + 1) * (2 * n + 1) - tieTerm / 2) / 24);
  // R+ and its mean are multiples of 1/2, so the continuity correction can only overshoot zero
  // when R+ is at the mean, where scipy's sign(z)·0.5/se adds nothing: clamping at 0 matches it.
  const z = Math.max(0, Math.abs(rPlus - mean) - 0.5) / sd;
  return { statistic, p: Math.min(1, erfc(z / Math.SQRT2)), n, method: 'approx' };
}

/** Mid-ranks (1-based) of xs in their original order, and Σ(t³ − t) over the tie groups. */
function midRanks(xs: readonly number[]): { ranks: number[]; tieTerm: number } {
  const order = xs.map((_, i) => i).sort((a, b) => (xs[a] as number) - (xs[b] as number));
  const ranks = new Array<number>(xs.length).fill(0);
  let tieTerm = 0;
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && xs[order[j + 1] as number] === xs[order[i] as number]) j++;
    const t = j - i + 1;
    for (let k = i; k <= j; k++) ranks[order[k] as number] = (i + j) / 2 + 1;
    tieTerm += t * t * t - t;
    i = j + 1;
  }
  return { ranks, tieTerm };
}

/**
 * Null distribution of R+ for n untied ranks, as counts out of 2^n sign patterns: c[k] is the
 * number of subsets of {1, …, n} summing to k, built by adding one rank at a time.
 */
function signedRankCounts(n: number): number[] {
  const c = new Array<number>((n * (n + 1)) / 2 + 1).fill(0);
  c[0] = 1;
  for (let rank = 1; rank <= n; rank++) {
    const top = (rank * (rank + 1)) / 2;
    for (let k = top; k >= rank; k--) c[k] = (c[k] as number) + (c[k - rank] as number);
  }
  return c;
}

/** Smallest two-sided p-value the exact signed-rank test can give with n non-zero pairs: 2 / 2^n (all signs equal), capped at 1. */
export function minWilcoxonP(n: number): number {
  return Math.min(1, 2 ** (1 - n));
}

/** Fewest pairs for which the exact two-sided signed-rank test can reach p < alpha (6 at 0.05, 8 at 0.01). */
export function minPairsFor(alpha: number): number {
  if (!(alpha > 0 && alpha <= 1)) throw new RangeError(`minPairsFor: alpha must be in (0, 1], got ${alpha}`);
  let n = 0;
  while (minWilcoxonP(n) >= alpha) n++;
  return n;
}

/**
 * How many Walsh averages the two-sided interval cuts from each end: the largest k with
 * 2 · P(R+ ≤ k − 1) < alpha, 0 when even k = 1 misses (n too small). The strict inequality is
 * R's wilcox.test rule and this module's "p < alpha": the interval is finite exactly when some
 * outcome is significant at alpha. Exact counts up to n = 50; above, the normal approximation
 * with continuity correction, P(R+ ≤ k − 1) ≈ Φ((k − 1/2 − μ) / σ).
 */
function walshCut(n: number, alpha: number): number {
  if (n <= EXACT_MAX_N) {
    const counts = signedRankCounts(n);
    const patterns = 2 ** n;
    let k = 0;
    let cumulative = 0;
    while (k < counts.length && (2 * (cumulative + (counts[k] as number))) / patterns < alpha) {
      cumulative += counts[k] as number;
      k++;
    }
    return k;
  }
  const mu = (n * (n + 1)) / 4;
  const sigma = Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24);
  return Math.max(0, Math.ceil(mu + 0.5 - normalQuantile(1 - alpha / 2) * sigma) - 1);
}

export interface HodgesLehmannResult {
  estimate: number;
  low: number;
  high: number;
}

/**
 * Hodges–Lehmann estimate of the location of d (the median of the n(n+1)/2 Walsh averages
 * (d_i + d_j)/2, i ≤ j) with its distribution-free confidence interval: the k-th smallest and
 * k-th largest Walsh average, k from the signed-rank null distribution (walshCut). The interval
 * is [−∞, ∞] when n is too small for the confidence, the estimate NaN when d is empty.
 *
 * Unlike the test, zeros are kept: the interval inverts the test over shifts θ, and d − θ has no
 * zeros there; dropping them would pull the estimate away from 0.
 */
export function hodgesLehmann(d: readonly number[], confidence = 0.95): HodgesLehmannResult {
  if (!d.every((x) => Number.isFinite(x))) throw new RangeError('hodgesLehmann: non-finite value');
  if (!(confidence > 0 && confidence < 1)) {
    throw new RangeError(`hodgesLehmann: confidence must be in (0, 1), got ${confidence}`);
  }
  const n = d.length;
  if (n === 0) return { estimate: NaN, low: -Infinity, high: Infinity };

  const walsh: number[] = [];
  for (let i = 0; i < n; i++)
    for (let j = i; j < n; j++) walsh.push(((d[i] as number) + (d[j] as number)) / 2);
  walsh.sort((a, b) => a - b);
  const m = walsh.length;
  const estimate = ((walsh[(m - 1) >> 1] as number) + (walsh[m >> 1] as number)) / 2;

  const k = walshCut(n, 1 - confidence);
  if (k === 0) return { estimate, low: -Infinity, high: Infinity };
  return { estimate, low: walsh[k - 1] as number, high: walsh[m - k] as number };
}

/**
 * Standard normal quantile Φ⁻¹(p), ±Infinity at 0 and 1: Wichura's algorithm AS 241 (PPND16,
 * Applied Statistics 37, 1988), relative error about 1e-16. simple-statistics' probit is a
 * closed-form approximation off by ~1e-3 (1.9572 for 1.95996), too coarse to pick critical values.
 */
export function normalQuantile(p: number): number {
  if (Number.isNaN(p) || p < 0 || p > 1) return NaN;
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    return (q * horner(AS241_A, r)) / horner(AS241_B, r);
  }
  const r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p));
  const z =
    r <= 5
      ? horner(AS241_C, r - 1.6) / horner(AS241_D, r - 1.6)
      : horner(AS241_E, r - 5) / horner(AS241_F, r - 5);
  return q < 0 ? -z : z;
}

/** Σ c[i]·x^i, lowest degree first. */
function horner(c: readonly number[], x: number): number {
  let y = 0;
  for (let i = c.length - 1; i >= 0; i--) y = y * x + (c[i] as number);
  return y;
}

// AS 241's coefficients, lowest degree first (the denominators' constant term is 1), as the
// nearest doubles of the published 20-digit values.
const AS241_A = [
  3.3871328727963665, 133.14166789178438, 1971.5909503065513, 13731.69376550946, 45921.95393154987,
  67265.7709270087, 33430.57558358813, 2509.0809287301227,
];
const AS241_B = [
  1, 42.31333070160091, 687.1870074920579, 5394.196021424751, 21213.794301586597, 39307.89580009271,
  28729.085735721943, 5226.495278852854,
];
const AS241_C = [
  1.4234371107496835, 4.630337846156546, 5.769497221460691, 3.6478483247632045, 1.2704582524523684,
  0.2417807251774506, 0.022723844989269184, 0.0007745450142783414,
];
const AS241_D = [
  1, 2.053191626637759, 1.6763848301838038, 0.6897673349851, 0.14810397642748008, 0.015198666563616457,
  0.0005475938084995345, 1.0507500716444169e-9,
];
const AS241_E = [
  6.657904643501103, 5.463784911164114, 1.7848265399172913, 0.29656057182850487, 0.026532189526576124,
  0.0012426609473880784, 2.7115555687434876e-5, 2.0103343992922881e-7,
];
const AS241_F = [
  1, 0.599832206555888, 0.1369298809227358, 0.014875361290850615, 0.0007868691311456133,
  1.8463183175100548e-5, 1.421511758316446e-7, 2.0442631033899397e-15,
];

/** 1 / Φ⁻¹(3/4): scales the median absolute deviation to the standard deviation of normal data. */
const MAD_TO_SD = 1.482602218505602;

/**
 * Robust standard deviation of the log ratios: 1.4826 × their median absolute deviation, so one
 * disturbed round does not inflate it. When more than half the values are equal (identical
 * medians on both sides, which quantised timings produce) the MAD is 0 although the rest vary;
 * then √(π/2) × the mean absolute deviation from the median, also unbiased for normal data and 0
 * only when every value is the same.
 */
function robustSd(xs: readonly number[]): number {
  const m = median(xs);
  const deviations = xs.map((x) => Math.abs(x - m));
  const mad = median(deviations);
  if (mad > 0) return MAD_TO_SD * mad;
  return Math.sqrt(Math.PI / 2) * (deviations.reduce((a, b) => a + b, 0) / deviations.length);
}

/**
 * Minimum detectable effect, in %, of n pairs whose log ratios have standard deviation sd: the
 * smallest true change the two-sided signed-rank test at alpha finds with the given power.
 * Normal theory gives (z_{1−α/2} + z_power) · sd / √n on the log scale; the signed-rank test needs
 * π/3 times as many pairs as the t test for normal data (asymptotic relative efficiency 3/π), so
 * the shift is multiplied by √(π/3). Reported as the increase exp(x) − 1 (the matching decrease is
 * 1 − exp(−x), slightly smaller). Infinity when no outcome with n pairs reaches p < alpha.
 */
export function minimumDetectableEffectPct(n: number, sd: number, alpha: number, power = 0.8): number {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`minimumDetectableEffectPct: bad n ${n}`);
  if (!(sd >= 0 && Number.isFinite(sd))) throw new RangeError(`minimumDetectableEffectPct: bad sd ${sd}`);
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`minimumDetectableEffectPct: bad alpha ${alpha}`);
  if (!(power > 0 && power < 1)) throw new RangeError(`minimumDetectableEffectPct: bad power ${power}`);
  if (minWilcoxonP(n) >= alpha) return Infinity;
  const shift = (normalQuantile(1 - alpha / 2) + normalQuantile(power)) * sd * Math.sqrt(Math.PI / (3 * n));
  return Math.expm1(shift) * 100;
}

export interface PairedComparison {
  /** pairs used (finite and positive on both sides) */
  n: number;
  /** head/base per used round, in round order */
  ratios: number[];
  /** exp(Hodges–Lehmann estimate of the log ratios): the typical head/base ratio; NaN when n = 0 */
  ratio: number;
  /** exp of the interval's ends at confidence 1 − alpha: 0 and Infinity when n is too small for it */
  ratioLow: number;
  ratioHigh: number;
  /** (ratio − 1) · 100 */
  deltaPct: number;
  /** Wilcoxon signed-rank test of the log ratios, two-sided */
  pValue: number;
  method: 'exact' | 'approx';
  /** smallest |change| in % this run could have detected at its noise with alpha and power 0.8; Infinity when n is too small for any significant outcome at alpha */
  mdePct: number;
}

/**
 * Paired comparison of head against base: head[i] and base[i] come from the same round. A round
 * where either value is non-finite or not positive (a failed or empty measurement) is dropped.
 * The interval has confidence 1 − alpha, so it excludes 1 when the exact test gives p < alpha.
 * Throws when the sides differ in length (rounds would be misaligned) or alpha is not in (0, 1).
 */
export function comparePaired(
  base: readonly number[],
  head: readonly number[],
  alpha: number,
): PairedComparison {
  if (base.length !== head.length) {
    throw new RangeError(`comparePaired: ${base.length} base rounds against ${head.length} head rounds`);
  }
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`comparePaired: alpha must be in (0, 1), got ${alpha}`);

  const ratios: number[] = [];
  base.forEach((b, i) => {
    const h = head[i] as number;
    if (Number.isFinite(b) && Number.isFinite(h) && b > 0 && h > 0) ratios.push(h / b);
  });
  const logs = ratios.map((r) => Math.log(r));
  const n = logs.length;

  const test = wilcoxonSignedRank(logs);
  const hl = hodgesLehmann(logs, 1 - alpha);
  const ratio = Math.exp(hl.estimate);
  return {
    n,
    ratios,
    ratio,
    ratioLow: Math.exp(hl.low),
    ratioHigh: Math.exp(hl.high),
    deltaPct: (ratio - 1) * 100,
    pValue: test.p,
    method: test.method,
    mdePct: minimumDetectableEffectPct(n, n > 0 ? robustSd(logs) : 0, alpha),
  };
}
