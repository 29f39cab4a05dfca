// Change points and drift on synthetic series whose steps and slopes are known. Every series
// and every permutation test is seeded, so each test gives the same answer on every run.
import { describe, expect, it } from 'vitest';
import {
  analyseSeries,
  bestSplit,
  detectChangePoints,
  detectDrift,
  eDivisive,
  energyDivergence,
  mannKendall,
  mulberry32,
  seriesOf,
  theilSen,
} from '../src/history/changepoints.js';
import type { HistoryPoint, SeriesPoint } from '../src/model/history.js';

/** Standard normal draws (Box–Muller) from a seeded generator. */
function normals(seed: number): () => number {
  const random = mulberry32(seed);
  return () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** levels[i] for `lengths[i]` points each, with relative gaussian noise `sd`. */
function steps(levels: number[], lengths: number[], sd = 0.005, seed = 7): number[] {
  const z = normals(seed);
  return levels.flatMap((level, i) =>
    Array.from({ length: lengths[i] as number }, () => level * (1 + sd * z())),
  );
}

function series(values: number[]): SeriesPoint[] {
  return values.map((value, i) => ({ commit: `c${String(i).padStart(2, '0')}`, value }));
}

describe('mulberry32', () => {
  it('is deterministic, in [0, 1) and about uniform', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 10000 }, () => a());
    expect(Array.from({ length: 10000 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(xs.reduce((s, x) => s + x, 0) / xs.length).toBeCloseTo(0.5, 1);
    expect(mulberry32(43)()).not.toBe(mulberry32(42)());
  });
});

describe('energy divergence', () => {
  it('matches the definition on a hand-computed case', () => {
    // X = [0, 0], Y = [1, 1]: between mean 1, within 0 → Ê = 2, Q = (2·2/4)·2 = 2
    expect(energyDivergence([0, 0, 1, 1], 2)).toBeCloseTo(2, 12);
    // X = [0, 2], Y = [1, 3, 5]: Σ|x−y| = 1+3+5+1+1+3 = 14 → 2·14/6; within X 2/1, within Y (2+4+2)/3
    const e = (2 * 14) / 6 - 2 / 1 - 8 / 3;
    expect(energyDivergence([0, 2, 1, 3, 5], 2)).toBeCloseTo(((2 * 3) / 5) * e, 12);
  });

  it('the incremental best split agrees with the definition at every split', () => {
    const xs = steps([10, 12, 11], [5, 6, 4], 0.05, 3);
    const best = bestSplit(xs, 2);
    let brute = { tau: 0, q: -Infinity };
    for (let tau = 2; tau <= xs.length - 2; tau++) {
      const v = energyDivergence(xs, tau);
      if (v > brute.q) brute = { tau, q: v };
    }
    expect(best?.tau).toBe(brute.tau);
    expect(best?.q).toBeCloseTo(brute.q, 9);
    expect(bestSplit([1, 2, 3, 4, 5], 3)).toBeUndefined();
  });
});

describe('eDivisive and detectChangePoints', () => {
  it('finds a single step, its commits, means and change', () => {
    const s = series(steps([100, 110], [15, 15]));
    const cps = detectChangePoints(s);
    expect(cps).toHaveLength(1);
    const cp = cps[0];
    expect(cp).toMatchObject({ index: 15, commit: 'c15', previousCommit: 'c14' });
    expect(cp?.meanBefore).toBeCloseTo(100, 0);
    expect(cp?.meanAfter).toBeCloseTo(110, 0);
    expect(cp?.relativeChange).toBeCloseTo(0.1, 2);
    expect(cp?.pValue).toBe(1 / 200); // no permutation came close
  });

  it('finds two steps, one down and one back up part of the way', () => {
    const cps = detectChangePoints(series(steps([100, 90, 95], [12, 12, 12], 0.005, 11)));
    expect(cps.map((c) => c.index)).toEqual([12, 24]);
    expect(cps[0]?.relativeChange).toBeCloseTo(-0.1, 2);
    expect(cps[1]?.relativeChange).toBeCloseTo(5 / 90, 2);
    expect(cps[1]?.meanBefore).toBeCloseTo(90, 0); // the segment between the two, not the whole past
  });

  it('finds no step in noise', () => {
    expect(detectChangePoints(series(steps([100], [40], 0.01, 5)))).toEqual([]);
  });

  it('rarely finds a step in noise: about the rate the threshold allows', () => {
    let falseAlarms = 0;
    for (let seed = 1; seed <= 40; seed++) {
      if (eDivisive(steps([100], [30], 0.01, 1000 + seed), { permutations: 99, seed }).length > 0)
        falseAlarms++;
    }
    expect(falseAlarms).toBeLessThanOrEqual(5); // 2 expected at 0.05
  });

  it('is the same on every run with the same seed; the seed only moves the p-value', () => {
    const values = steps([100, 105], [10, 10], 0.01, 21);
    const a = eDivisive(values, { seed: 1 });
    expect(eDivisive(values, { seed: 1 })).toEqual(a);
    const b = eDivisive(values, { seed: 2 });
    expect(b.map((s) => s.index)).toEqual(a.map((s) => s.index));
    expect(a.map((s) => s.index)).toEqual([10]);
  });

  it('needs minSegment points on both sides', () => {
    const values = [...steps([100], [2], 0, 1), ...steps([120], [20], 0.002, 2)];
    expect(eDivisive(values, { minSegment: 3 }).map((s) => s.index)).not.toContain(2);
    expect(eDivisive(values, { minSegment: 2 }).map((s) => s.index)).toContain(2);
    expect(eDivisive([1, 2, 3, 4, 5])).toEqual([]);
    expect(eDivisive([])).toEqual([]);
  });

  it('a constant series has no change', () => {
    expect(eDivisive(new Array<number>(20).fill(5))).toEqual([]);
  });

  it('fewer permutations give a coarser p-value', () => {
    const [split] = eDivisive(steps([100, 110], [10, 10]), { permutations: 39 });
    expect(split?.pValue).toBe(1 / 40);
    // and 19 permutations cannot reach p < 0.05 at all: the smallest p is 1/20
    expect(eDivisive(steps([100, 110], [10, 10]), { permutations: 19 })).toEqual([]);
  });

  it('refuses bad input', () => {
    expect(() => eDivisive([1, NaN, 3])).toThrow(/non-finite/);
    expect(() => eDivisive([1, 2, 3], { minSegment: 1 })).toThrow(/minSegment/);
    expect(() => eDivisive([1, 2, 3], { permutations: 0 })).toThrow(/permutations/);
  });
});

describe('drift', () => {
  /** 1 % of the first value per point, with a little noise. */
  function ramp(n: number, perPoint = 0.01, sd = 0.002, seed = 9): number[] {
    const z = normals(seed);
    return Array.from({ length: n }, (_, i) => 100 * (1 + perPoint * i) * (1 + sd * z()));
  }

  it('a slow drift of 1 %/point is a drift with its total change, and no change point', () => {
    const s = series(ramp(25));
    // E-divisive alone does split a ramp…
    expect(eDivisive(s.map((p) => p.value)).length).toBeGreaterThan(0);
    // …but no split is a step
    const got = analyseSeries(s);
    expect(got.changePoints).toEqual([]);
    expect(got.drift).toBeDefined();
    const d = got.drift;
    expect(d?.from).toBe('c05');
    expect(d?.to).toBe('c24');
    expect(d?.points).toBe(20);
    expect(d?.slopePerPoint).toBeCloseTo(1 / 105, 3); // 1 point of 100 against the window's start at 105
    expect(d?.totalChange).toBeCloseTo(19 / 105, 2);
    expect(d?.pValue).toBeLessThan(0.001);
  });

  it('a slow decline is a negative drift', () => {
    const d = detectDrift(series(ramp(20, -0.005)));
    expect(d?.totalChange).toBeLessThan(-0.08);
  });

  it('a recent step is reported as the step, not as a drift', () => {
    const got = analyseSeries(series(steps([100, 92], [14, 10], 0.004, 13)));
    expect(got.changePoints.map((c) => c.index)).toEqual([14]);
    expect(got.drift).toBeUndefined();
    // the trend test alone would have called it a drift
    expect(detectDrift(series(steps([100, 92], [14, 10], 0.004, 13)))).toBeDefined();
  });

  it('noise is no drift, nor is a significant but negligible slope, nor too few points', () => {
    expect(detectDrift(series(steps([100], [30], 0.01, 17)))).toBeUndefined();
    expect(detectDrift(series(ramp(20, 0.0002, 0)))).toBeUndefined(); // 0.4 % over the window
    expect(detectDrift(series(ramp(20, 0.0002, 0)), { minChange: 0.001 })).toBeDefined();
    expect(detectDrift(series(ramp(7)))).toBeUndefined();
  });
});

describe('mannKendall and theilSen', () => {
  it('mannKendall on a strictly increasing series', () => {
    const got = mannKendall([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(got.s).toBe(45);
    expect(got.tau).toBe(1);
    // var = 10·9·25/18 = 125; z = 44/√125 = 3.9354; two-sided p = 8.30e-5
    expect(got.p).toBeCloseTo(8.3e-5, 6);
  });

  it('mannKendall with ties and without a trend', () => {
    expect(mannKendall([3, 3, 3, 3]).p).toBe(1);
    expect(mannKendall([1, 2])).toEqual({ s: 0, tau: 0, p: 1 });
    const alternating = mannKendall([1, 2, 1, 2, 1, 2, 1, 2]);
    expect(alternating.p).toBeGreaterThan(0.5);
  });

  it('theilSen recovers a line and ignores one outlier', () => {
    expect(theilSen([2, 5, 8, 11, 14])).toEqual({ slope: 3, intercept: 2 });
    const withOutlier = theilSen([2, 5, 80, 11, 14, 17, 20]);
    expect(withOutlier.slope).toBe(3);
    expect(withOutlier.intercept).toBe(2);
  });
});

describe('seriesOf', () => {
  it('takes one case and metric from the points, leaving out the points without it', () => {
    const m = (median: number) => ({ unit: 'GFLOP/s', better: 'higher' as const, median, spread: 0, n: 3 });
    const points: HistoryPoint[] = [
      { commit: 'a', time: 't', cases: { c: { g: m(1) } } },
      { commit: 'b', time: 't', cases: { c: { other: m(2) } } },
      { commit: 'c', time: 't', cases: { c: { g: m(3) } } },
    ];
    expect(seriesOf(points, 'c', 'g')).toEqual([
      { commit: 'a', value: 1 },
      { commit: 'c', value: 3 },
    ]);
  });
});
