// One number per lane for "did this change make the lane faster overall": the geometric mean of
// the current/base ratios of its throughput metrics (like Google Benchmark's OVERALL_GEOMEAN).
//
// The geometric mean because ratios multiply: a 2× gain and a 2× loss cancel to 1×, where an
// arithmetic mean would call it +25 %. Its interval is the Student t interval on the log ratios
// (mean ± t·sd/√n, exponentiated), chosen over a bootstrap because a lane has only a handful of
// throughput metrics: a bootstrap over 3–10 values understates the spread, while the t interval
// is honest about so few (and wide for them). The metrics of one lane are not independent draws,
// so the interval describes how consistently the metrics moved, not a sampling guarantee.
//
// Only throughput metrics are pooled (better: higher and a unit per second), so that every
// ratio points the same way; latencies and same-run ratios have their own verdicts.
import type { Verdict } from '../model/verdicts.js';

export interface LaneGeomean {
  lane: string;
  /** throughput metrics pooled */
  metrics: number;
  /** geometric mean of current/base */
  ratio: number;
  /** the t interval of the ratio at `confidence`; absent for a single metric */
  low?: number;
  high?: number;
  confidence: number;
}

/** A throughput metric: more is better and it is counted per second (GFLOP/s, tok/s, GB/s). */
export function isThroughput(v: Pick<Verdict, 'better' | 'unit'>): boolean {
  return v.better === 'higher' && v.unit.includes('/s');
}

/**
 * The current/base ratio of a verdict: A/B's paired estimate when there is one (it cancels the
 * runner's drift between rounds), else the ratio of the medians against the baseline.
 */
function ratioOf(v: Verdict): number | undefined {
  const r =
    v.source === 'ab' && v.ab
      ? v.ab.ratio
      : v.current && v.baseline
        ? v.current.median / v.baseline.median
        : undefined;
  return r !== undefined && Number.isFinite(r) && r > 0 ? r : undefined;
}

/**
 * Per lane (in order of first appearance), the geometric mean of the throughput ratios with its
 * t interval. A metric judged both in A/B and against a baseline counts once, by its A/B ratio.
 * Lanes without a throughput ratio are left out.
 */
export function laneGeomeans(verdicts: readonly Verdict[], confidence = 0.95): LaneGeomean[] {
  if (!(confidence > 0 && confidence < 1))
    throw new RangeError(`confidence must be in (0, 1), got ${confidence}`);
  const byLane = new Map<string, Map<string, number>>();
  for (const v of verdicts) {
    if (v.source === 'gate' || !isThroughput(v)) continue;
    // a ratio to another machine class's number, or to nothing, says nothing about the code
    if (v.state === 'incomparable' || v.state === 'new' || v.state === 'missing' || v.state === 'error')
      continue;
    const r = ratioOf(v);
    if (r === undefined) continue;
    const lane = byLane.get(v.lane) ?? new Map<string, number>();
    byLane.set(v.lane, lane);
    const key = `${v.caseId}\u0000${v.metric}`;
    if (!lane.has(key) || v.source === 'ab') lane.set(key, r);
  }
  return [...byLane].map(([lane, ratios]) => geomeanOf(lane, [...ratios.values()], confidence));
}

function geomeanOf(lane: string, ratios: readonly number[], confidence: number): LaneGeomean {
  const logs = ratios.map((r) => Math.log(r));
  const n = logs.length;
  const mean = logs.reduce((a, b) => a + b, 0) / n;
  const out: LaneGeomean = { lane, metrics: n, ratio: Math.exp(mean), confidence };
  if (n < 2) return out;
  const sd = Math.sqrt(logs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  const half = studentTQuantile(1 - (1 - confidence) / 2, n - 1) * (sd / Math.sqrt(n));
  return { ...out, low: Math.exp(mean - half), high: Math.exp(mean + half) };
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, nine terms): about 15 digits. */
function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0] as number;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += (c[i] as number) / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The regularised incomplete beta I_x(a, b), by its continued fraction (modified Lentz). */
function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  // the fraction converges fast below the mean; use the symmetry above it
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  const front =
    Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x)) / a;
  const tiny = 1e-300;
  let f = 1;
  let c = 1;
  let d = 0;
  for (let i = 0; i <= 300; i++) {
    const m = i >> 1;
    let num: number;
    if (i === 0) num = 1;
    else if (i % 2 === 0) num = (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m));
    else num = -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    d = 1 / d;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    const step = c * d;
    f *= step;
    if (Math.abs(1 - step) < 1e-15) break;
  }
  return front * (f - 1);
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** The p-quantile of Student's t with `df` > 0 degrees of freedom, by bisection on the CDF. */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`studentTQuantile: p must be in (0, 1), got ${p}`);
  if (!(df > 0)) throw new RangeError(`studentTQuantile: df must be positive, got ${df}`);
  if (p === 0.5) return 0;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
