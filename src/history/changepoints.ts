// Where did a metric's level change, and is it drifting? The history's questions, answered on
// the default branch's series of run medians (one point per pushed commit).
//
// A threshold against the previous point cannot answer them: shared runners make single runs
// jump by a few percent, and a slow decline never crosses any per-commit tolerance. Change
// points are found with E-divisive with means (Matteson & James, "A Nonparametric Approach for
// Multiple Change Point Analysis of Multivariate Data", JASA 2014), the method used for
// continuous performance testing: split a segment where the energy distance between the two
// sides is largest, keep the split when a permutation test says such a distance is unlikely
// without a change, and go on with the pieces. It assumes nothing about the noise's
// distribution and finds several changes in one pass. With alpha = 1 the distance is |x − y|.
// The right end of every candidate split is the segment's end (the simplification the usual
// implementations make of the paper's search over both ends).
//
// The permutation test draws from a seeded generator owned by this file (mulberry32), so the
// same history always gives the same answer: a report must not change on a re-run.
//
// A steady slope is not a step, but E-divisive splits a ramp as readily as a step: its two
// halves differ. So every change point is checked against its neighbourhood (the points up to
// the neighbouring change points): when one straight line explains that stretch at least as
// well as two levels (by the Bayesian information criterion, which charges the step model for
// its extra parameters), the "change" is part of a slope and is dropped. The slope itself is
// the drift detector's: the Mann–Kendall trend test over the last points, with the Theil–Sen
// slope for its size — both rank-based, like the rest of compare/, so one disturbed run decides
// nothing.
import type { HistoryPoint, SeriesPoint } from '../model/history.js';
import { erfc, median } from '../compare/stats.js';

export const DEFAULT_PERMUTATIONS = 199;
export const DEFAULT_P_THRESHOLD = 0.05;
export const DEFAULT_MIN_SEGMENT = 3;
export const DEFAULT_SEED = 0x1f2e3d4c;
export const DEFAULT_DRIFT_WINDOW = 20;
export const DEFAULT_DRIFT_ALPHA = 0.05;
export const DEFAULT_DRIFT_MIN_CHANGE = 0.01;
/** Mann–Kendall's normal approximation is poor below this many points. */
const DRIFT_MIN_POINTS = 8;

/** A fast, seeded 32-bit generator (mulberry32) returning numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates in place with the given generator. */
function shuffle(xs: number[], random: () => number): void {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = xs[i] as number;
    xs[i] = xs[j] as number;
    xs[j] = t;
  }
}

/**
 * The scaled energy divergence Q̂ of X = xs[0, tau) and Y = xs[tau, n) with alpha = 1:
 * m·k/(m+k) · (2/(m·k)·Σ|x−y| − Σ_{i<j}|x_i−x_j|/C(m,2) − Σ_{i<j}|y_i−y_j|/C(k,2)).
 * Both sides need two points at least.
 */
export function energyDivergence(xs: readonly number[], tau: number): number {
  const n = xs.length;
  if (tau < 2 || n - tau < 2) throw new RangeError(`energyDivergence: sides of ${tau} and ${n - tau} points`);
  let within = 0;
  let between = 0;
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      const d = Math.abs((xs[i] as number) - (xs[j] as number));
      if (i < tau && j >= tau) between += d;
      else within += d;
    }
  let left = 0;
  for (let i = 0; i < tau; i++)
    for (let j = i + 1; j < tau; j++) left += Math.abs((xs[i] as number) - (xs[j] as number));
  return q(tau, n - tau, between, left, within - left);
}

function q(m: number, k: number, between: number, left: number, right: number): number {
  const e = (2 * between) / (m * k) - left / ((m * (m - 1)) / 2) - right / ((k * (k - 1)) / 2);
  return ((m * k) / (m + k)) * e;
}

/**
 * The split of `xs` with the largest Q̂, both sides at least `minSegment` long, in O(n²): the
 * within-left sum grows and the within-right sum shrinks by one point's distances per step.
 */
export function bestSplit(xs: readonly number[], minSegment: number): { tau: number; q: number } | undefined {
  const n = xs.length;
  if (n < 2 * minSegment) return undefined;
  let total = 0;
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) total += Math.abs((xs[i] as number) - (xs[j] as number));
  let left = 0; // Σ over pairs inside xs[0, tau)
  let right = total; // Σ over pairs inside xs[tau, n)
  let best: { tau: number; q: number } | undefined;
  for (let tau = 1; tau <= n - minSegment; tau++) {
    // move point tau − 1 from the right side to the left
    const p = xs[tau - 1] as number;
    for (let i = 0; i < tau - 1; i++) left += Math.abs((xs[i] as number) - p);
    for (let j = tau; j < n; j++) right -= Math.abs(p - (xs[j] as number));
    if (tau < minSegment) continue;
    const value = q(tau, n - tau, total - left - right, left, right);
    if (!best || value > best.q) best = { tau, q: value };
  }
  return best;
}

export interface ChangePointOptions {
  /** permutations per significance test; DEFAULT_PERMUTATIONS */
  permutations?: number;
  /** a change point is kept when its permutation p-value is below this; DEFAULT_P_THRESHOLD */
  pThreshold?: number;
  /** fewest points on either side of a change point; at least 2; DEFAULT_MIN_SEGMENT */
  minSegment?: number;
  /** seed of the permutation test's generator; DEFAULT_SEED */
  seed?: number;
}

export interface Split {
  /** the first point after the change */
  index: number;
  pValue: number;
}

/**
 * E-divisive with means: the indices where the level of `values` changes, ascending, each with
 * its permutation p-value (the smallest possible is 1 / (permutations + 1)).
 */
export function eDivisive(values: readonly number[], options: ChangePointOptions = {}): Split[] {
  const permutations = options.permutations ?? DEFAULT_PERMUTATIONS;
  const threshold = options.pThreshold ?? DEFAULT_P_THRESHOLD;
  const minSegment = options.minSegment ?? DEFAULT_MIN_SEGMENT;
  if (!Number.isInteger(permutations) || permutations < 1)
    throw new RangeError(`permutations: ${permutations}`);
  if (!Number.isInteger(minSegment) || minSegment < 2)
    throw new RangeError(`minSegment must be ≥ 2: ${minSegment}`);
  if (!values.every((v) => Number.isFinite(v))) throw new RangeError('eDivisive: non-finite value');
  const random = mulberry32(options.seed ?? DEFAULT_SEED);

  const splits: Split[] = [];
  // segments as [start, end), each with its best split (cached: only split segments change)
  let segments: { start: number; end: number; best?: { tau: number; q: number } }[] = [
    { start: 0, end: values.length, best: bestSplit(values, minSegment) },
  ];
  for (;;) {
    let pick: (typeof segments)[number] | undefined;
    for (const s of segments) if (s.best && (!pick || s.best.q > (pick.best as { q: number }).q)) pick = s;
    if (!pick?.best) break;
    const observed = pick.best.q;
    if (!(observed > 0)) break; // no two sides differ at all
    // under "no further change", the points of each segment are exchangeable
    let atLeast = 0;
    for (let r = 0; r < permutations; r++) {
      let max = -Infinity;
      for (const s of segments) {
        const xs = values.slice(s.start, s.end);
        shuffle(xs, random);
        const b = bestSplit(xs, minSegment);
        if (b && b.q > max) max = b.q;
      }
      // a relative margin so that rounding cannot make an equal statistic count as smaller
      if (max >= observed * (1 - 1e-12)) atLeast++;
    }
    const pValue = (atLeast + 1) / (permutations + 1);
    if (pValue >= threshold) break;
    const at = pick.start + pick.best.tau;
    splits.push({ index: at, pValue });
    const parts = [
      { start: pick.start, end: at },
      { start: at, end: pick.end },
    ].map((p) => ({ ...p, best: bestSplit(values.slice(p.start, p.end), minSegment) }));
    segments = segments.flatMap((s) => (s === pick ? parts : [s]));
  }
  return splits.sort((a, b) => a.index - b.index);
}

export interface ChangePoint {
  /** index in the series of the first point at the new level */
  index: number;
  /** the first commit at the new level */
  commit: string;
  /** the last commit before it: the change is in previousCommit..commit */
  previousCommit: string;
  /** mean of the segment before (back to the previous change point) and after (to the next) */
  meanBefore: number;
  meanAfter: number;
  /** (meanAfter − meanBefore) / |meanBefore|, as a fraction */
  relativeChange: number;
  pValue: number;
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Σ (x − mean)² of each piece between the cuts. */
function stepSse(xs: readonly number[], cuts: readonly number[]): number {
  const bounds = [0, ...cuts, xs.length];
  let sse = 0;
  for (let i = 0; i + 1 < bounds.length; i++) {
    const piece = xs.slice(bounds[i], bounds[i + 1]);
    const m = mean(piece);
    for (const x of piece) sse += (x - m) ** 2;
  }
  return sse;
}

/** Σ of squared residuals of the least-squares line through (i, xs[i]). */
function lineSse(xs: readonly number[]): number {
  const n = xs.length;
  const mx = (n - 1) / 2;
  const my = mean(xs);
  let sxy = 0;
  let sxx = 0;
  xs.forEach((y, i) => {
    sxy += (i - mx) * (y - my);
    sxx += (i - mx) ** 2;
  });
  const slope = sxx > 0 ? sxy / sxx : 0;
  let sse = 0;
  xs.forEach((y, i) => {
    sse += (y - my - slope * (i - mx)) ** 2;
  });
  return sse;
}

/** BIC of a Gaussian fit with `params` parameters and residual sum `sse` over n points. */
function bic(sse: number, n: number, params: number, floor: number): number {
  return n * Math.log(Math.max(sse / n, floor)) + params * Math.log(n);
}

/** A variance below which residuals are rounding: keeps BIC finite on exact (synthetic) data. */
function varianceFloor(xs: readonly number[]): number {
  const scale = Math.max(1e-300, ...xs.map((x) => Math.abs(x)));
  return (scale * 1e-9) ** 2;
}

/** A step fits the stretch better than a line: two means and a location against slope and intercept. */
function stepBeatsLine(xs: readonly number[], cuts: readonly number[]): boolean {
  const floor = varianceFloor(xs);
  return (
    bic(stepSse(xs, cuts), xs.length, 2 * cuts.length + 1, floor) < bic(lineSse(xs), xs.length, 2, floor)
  );
}

/**
 * Drops the splits that a straight line through their neighbourhood explains as well as a step,
 * the weakest first, until every remaining one is a step.
 */
function dropSlopes(values: readonly number[], splits: Split[]): Split[] {
  let kept = [...splits];
  for (;;) {
    let worst: { i: number; margin: number } | undefined;
    kept.forEach((s, i) => {
      const from = i > 0 ? (kept[i - 1] as Split).index : 0;
      const to = i + 1 < kept.length ? (kept[i + 1] as Split).index : values.length;
      const xs = values.slice(from, to);
      const floor = varianceFloor(xs);
      const margin =
        bic(lineSse(xs), xs.length, 2, floor) - bic(stepSse(xs, [s.index - from]), xs.length, 3, floor);
      if (margin <= 0 && (!worst || margin < worst.margin)) worst = { i, margin };
    });
    if (!worst) return kept;
    const drop = worst.i;
    kept = kept.filter((_, i) => i !== drop);
  }
}

function toChangePoints(series: readonly SeriesPoint[], splits: readonly Split[]): ChangePoint[] {
  const values = series.map((p) => p.value);
  return splits.map((s, i) => {
    const from = i > 0 ? (splits[i - 1] as Split).index : 0;
    const to = i + 1 < splits.length ? (splits[i + 1] as Split).index : values.length;
    const meanBefore = mean(values.slice(from, s.index));
    const meanAfter = mean(values.slice(s.index, to));
    return {
      index: s.index,
      commit: (series[s.index] as SeriesPoint).commit,
      previousCommit: (series[s.index - 1] as SeriesPoint).commit,
      meanBefore,
      meanAfter,
      relativeChange: meanBefore === 0 ? 0 : (meanAfter - meanBefore) / Math.abs(meanBefore),
      pValue: s.pValue,
    };
  });
}

/**
 * The steps of a series, oldest first: E-divisive's change points, less those that are part of
 * a slope (see the file header).
 */
export function detectChangePoints(
  series: readonly SeriesPoint[],
  options: ChangePointOptions = {},
): ChangePoint[] {
  const values = series.map((p) => p.value);
  return toChangePoints(series, dropSlopes(values, eDivisive(values, options)));
}

export interface MannKendallResult {
  /** Σ_{i<j} sign(x_j − x_i) */
  s: number;
  /** Kendall's tau against time: s / C(n, 2) */
  tau: number;
  /** two-sided p-value, normal approximation with tie and continuity corrections */
  p: number;
}

/** The Mann–Kendall test of a monotone trend in `xs` (in time order). p = 1 below three points. */
export function mannKendall(xs: readonly number[]): MannKendallResult {
  const n = xs.length;
  if (n < 3) return { s: 0, tau: 0, p: 1 };
  let s = 0;
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) s += Math.sign((xs[j] as number) - (xs[i] as number));
  const ties = new Map<number, number>();
  for (const x of xs) ties.set(x, (ties.get(x) ?? 0) + 1);
  let tieTerm = 0;
  for (const t of ties.values()) tieTerm += t * (t - 1) * (2 * t + 5);
  const variance = (n * (n - 1) * (2 * n + 5) - tieTerm) / 18;
  const tau = s / ((n * (n - 1)) / 2);
  if (variance <= 0) return { s, tau, p: 1 };
  const z = Math.max(0, Math.abs(s) - 1) / Math.sqrt(variance);
  return { s, tau, p: Math.min(1, erfc(z / Math.SQRT2)) };
}

/** Theil–Sen line through (i, xs[i]): the median of the pairwise slopes, and the median intercept. */
export function theilSen(xs: readonly number[]): { slope: number; intercept: number } {
  const slopes: number[] = [];
  for (let i = 0; i < xs.length; i++)
    for (let j = i + 1; j < xs.length; j++) slopes.push(((xs[j] as number) - (xs[i] as number)) / (j - i));
  const slope = slopes.length > 0 ? median(slopes) : 0;
  const intercept = median(xs.map((x, i) => x - slope * i));
  return { slope, intercept };
}

export interface DriftOptions {
  /** how many of the last points to test; DEFAULT_DRIFT_WINDOW */
  window?: number;
  /** significance level of the Mann–Kendall test; DEFAULT_DRIFT_ALPHA */
  alpha?: number;
  /** smallest |total change| over the window worth reporting, as a fraction; DEFAULT_DRIFT_MIN_CHANGE */
  minChange?: number;
}

export interface Drift {
  /** first and last commit of the window */
  from: string;
  to: string;
  points: number;
  /** Theil–Sen slope per point, relative to the line's level at the window's start */
  slopePerPoint: number;
  /** the line's change over the window, relative to its level at the start, as a fraction */
  totalChange: number;
  /** Mann–Kendall two-sided p-value */
  pValue: number;
}

/** A significant monotone trend over the last `window` points, or undefined. */
export function detectDrift(series: readonly SeriesPoint[], options: DriftOptions = {}): Drift | undefined {
  const window = options.window ?? DEFAULT_DRIFT_WINDOW;
  const alpha = options.alpha ?? DEFAULT_DRIFT_ALPHA;
  const minChange = options.minChange ?? DEFAULT_DRIFT_MIN_CHANGE;
  const tail = series.slice(-window);
  if (tail.length < DRIFT_MIN_POINTS) return undefined;
  const xs = tail.map((p) => p.value);
  const test = mannKendall(xs);
  if (!(test.p < alpha)) return undefined;
  const { slope, intercept } = theilSen(xs);
  if (intercept === 0) return undefined;
  const totalChange = (slope * (xs.length - 1)) / Math.abs(intercept);
  if (!(Math.abs(totalChange) >= minChange)) return undefined;
  return {
    from: (tail[0] as SeriesPoint).commit,
    to: (tail[tail.length - 1] as SeriesPoint).commit,
    points: tail.length,
    slopePerPoint: slope / Math.abs(intercept),
    totalChange,
    pValue: test.p,
  };
}

export interface SeriesAnalysis {
  changePoints: ChangePoint[];
  /** a slope over the last points that the change points do not explain */
  drift?: Drift;
}

/**
 * Change points and drift of one series. A significant trend over the window is reported as a
 * drift only when a line fits the window better than the levels between the change points that
 * fall in it: a recent step also makes the Mann–Kendall test significant, and is reported once,
 * as the step.
 */
export function analyseSeries(
  series: readonly SeriesPoint[],
  options: ChangePointOptions & { drift?: DriftOptions } = {},
): SeriesAnalysis {
  const changePoints = detectChangePoints(series, options);
  const drift = detectDrift(series, options.drift);
  if (!drift) return { changePoints };
  const start = series.length - drift.points;
  const cuts = changePoints.filter((c) => c.index > start).map((c) => c.index - start);
  if (
    cuts.length > 0 &&
    stepBeatsLine(
      series.slice(start).map((p) => p.value),
      cuts,
    )
  )
    return { changePoints };
  return { changePoints, drift };
}

/** One metric of one case over the points, oldest first; points without it are left out. */
export function seriesOf(points: readonly HistoryPoint[], caseId: string, metric: string): SeriesPoint[] {
  const out: SeriesPoint[] = [];
  for (const p of points) {
    const value = p.cases[caseId]?.[metric]?.median;
    if (value !== undefined && Number.isFinite(value)) out.push({ commit: p.commit, value });
  }
  return out;
}
