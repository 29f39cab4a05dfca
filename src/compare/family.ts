// The family-wise test of a lane's fail-severity A/B metrics: Westfall and Young's step-down
// maxT over sign flips of the rounds (Resampling-Based Multiple Testing, 1993, algorithm 4.1).
//
// Why not Holm over per-metric signed-rank tests (the first form of this gate): a lane judges
// ~20 metrics at once, and Holm asks the best of them for p < alpha/20. The exact signed-rank
// test cannot go below 2/2^n, so nothing could be significant before 10 rounds, and a real 3 %
// slowdown needed all 12 rounds to agree in sign. Holm also treats the metrics as unrelated,
// while a kernel's rate, its ratio over the unfused path and its ratio over the peer move
// together. Flipping the sign of a whole round flips every metric of that round at once, so
// the null distribution of the largest statistic keeps their dependence, and a continuous
// statistic (the studentised mean of the log ratios) has no floor above 2/2^n per pattern.
// Under "no change" each round's log ratios are symmetric about 0 (the two sides swap roles in
// ABBA order), which is all the sign-flip test assumes: exact, whatever the noise's shape.

/** One series per metric, each the same rounds' test values (log ratios or differences). */
export interface FamilyResult {
  /** per series: the exact two-sided sign-flip p of its own studentised mean */
  raw: number[];
  /** per series: the step-down maxT p, adjusted for the whole family */
  adjusted: number[];
  /** sign patterns counted (2^n, or EXACT_PATTERNS random ones above EXACT_MAX_ROUNDS) */
  patterns: number;
}

/** Up to this many rounds every sign pattern is enumerated (65,536 at 16). */
const EXACT_MAX_ROUNDS = 16;
const SAMPLED_PATTERNS = 1 << 16;
/** Relative slack when comparing a pattern's statistic with the observed one (same value, other summation order). */
const TIE = 1e-9;

/**
 * |Σ s·d| / √(Σd² − (Σ s·d)²/n): for a fixed series, a monotone function of the one-sample t
 * statistic of the flipped values (Σ(s·d)² does not depend on s). Infinity when every value has
 * the same size and sign pattern as the flip (no spread left), 0 for an all-zero series.
 */
function studentised(sum: number, sumSq: number, n: number): number {
  if (sumSq === 0) return 0;
  const rest = sumSq - (sum * sum) / n;
  return rest <= sumSq * 1e-12 ? Infinity : Math.abs(sum) / Math.sqrt(rest);
}

/** A small deterministic PRNG (xorshift32) for the sampled patterns, so a verdict is reproducible. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/**
 * Westfall–Young step-down maxT. Non-finite values count as 0 (that round says nothing about
 * that metric). Series of different lengths cannot share sign patterns: a RangeError.
 */
export function signFlipMaxT(series: readonly (readonly number[])[]): FamilyResult {
  const k = series.length;
  if (k === 0) return { raw: [], adjusted: [], patterns: 0 };
  const n = series[0]!.length;
  if (!series.every((s) => s.length === n)) throw new RangeError('signFlipMaxT: series of different lengths');
  const d = series.map((s) => s.map((x) => (Number.isFinite(x) ? x : 0)));
  if (n === 0) return { raw: d.map(() => 1), adjusted: d.map(() => 1), patterns: 1 };
  const sumSq = d.map((s) => s.reduce((a, x) => a + x * x, 0));
  const observed = d.map((s, j) =>
    studentised(
      s.reduce((a, x) => a + x, 0),
      sumSq[j]!,
      n,
    ),
  );
  // Step-down order: largest observed statistic first.
  const order = observed.map((_, j) => j).sort((a, b) => observed[b]! - observed[a]!);

  const exact = n <= EXACT_MAX_ROUNDS;
  const patterns = exact ? 2 ** n : SAMPLED_PATTERNS;
  const next = xorshift(0x9e3779b9 ^ (n * 2654435761) ^ k);
  const hitsRaw = new Array<number>(k).fill(0);
  const hitsStep = new Array<number>(k).fill(0);
  const t = new Array<number>(k);
  const signs = new Float64Array(n);
  for (let b = 0; b < patterns; b++) {
    if (exact) {
      for (let i = 0; i < n; i++) signs[i] = (b >>> i) & 1 ? -1 : 1;
    } else if (b === 0) {
      signs.fill(1); // the observed pattern is always one of the sampled ones
    } else {
      for (let i = 0; i < n; i += 32) {
        const word = next();
        for (let j = 0; j < 32 && i + j < n; j++) signs[i + j] = (word >>> j) & 1 ? -1 : 1;
      }
    }
    for (let j = 0; j < k; j++) {
      const s = d[j]!;
      let sum = 0;
      for (let i = 0; i < n; i++) sum += signs[i]! * s[i]!;
      t[j] = studentised(sum, sumSq[j]!, n);
      if (t[j]! >= observed[j]! * (1 - TIE)) hitsRaw[j]!++;
    }
    // Successive maxima from the smallest observed statistic up: the step-down's null for each.
    let running = 0;
    for (let r = k - 1; r >= 0; r--) {
      const j = order[r]!;
      running = Math.max(running, t[j]!);
      if (running >= observed[j]! * (1 - TIE)) hitsStep[j]!++;
    }
  }
  const raw = hitsRaw.map((h) => Math.min(1, h / patterns));
  const adjusted = new Array<number>(k);
  let floor = 0;
  for (const j of order) {
    floor = Math.max(floor, Math.min(1, hitsStep[j]! / patterns));
    adjusted[j] = floor;
  }
  return { raw, adjusted, patterns };
}
