// The paired test decides A/B verdicts, so it is checked against reference values:
// scipy.stats.wilcoxon 1.17 for the p-values, and an independent Python computation of the
// Hodges–Lehmann interval (the signed-rank distribution by recurrence, checked against brute
// force and scipy's table). Regenerate with:
//   python3 __tests__/fixtures/paired/gen_wilcoxon.py > __tests__/fixtures/paired/wilcoxon.json
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  comparePaired,
  hodgesLehmann,
  minimumDetectableEffectPct,
  minPairsFor,
  minWilcoxonP,
  normalQuantile,
  wilcoxonSignedRank,
} from '../src/compare/paired.js';

interface Fixture {
  scipy: string;
  wilcoxon: {
    name: string;
    d: number[];
    n: number;
    method: 'exact' | 'approx';
    statistic: number;
    p: number;
  }[];
  hodgesLehmann: {
    name: string;
    d: number[];
    confidence: number;
    estimate: number;
    low: number | null;
    high: number | null;
  }[];
  normalQuantile: { p: number; z: number }[];
  mde: { n: number; sd: number; alpha: number; power: number; mdePct: number | null }[];
  comparePaired: {
    name: string;
    base: (number | string)[];
    head: (number | string)[];
    alpha: number;
    n: number;
    ratios: number[];
    ratio: number;
    ratioLow: number | null;
    ratioHigh: number | null;
    deltaPct: number;
    pValue: number;
    method: 'exact' | 'approx';
    mdePct: number | null;
  }[];
}

const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/paired/wilcoxon.json', import.meta.url), 'utf8'),
) as Fixture;

// JSON has no Infinity or NaN: the generator writes null for an infinite result and the strings
// 'NaN' and 'Infinity' for non-finite inputs.
const orInf = (x: number | null, sign: 1 | -1): number => (x === null ? sign * Infinity : x);

function expectRelative(actual: number, expected: number, tolerance: number): void {
  if (!Number.isFinite(expected) || expected === 0) {
    expect(actual).toBe(expected);
    return;
  }
  expect(Math.abs(actual / expected - 1)).toBeLessThan(tolerance);
}

describe('Wilcoxon signed-rank, against scipy', () => {
  it('the fixture covers both methods', () => {
    const methods = new Set(fixture.wilcoxon.map((c) => c.method));
    expect(methods).toEqual(new Set(['exact', 'approx']));
    expect(fixture.wilcoxon.length).toBeGreaterThanOrEqual(20);
  });

  for (const c of fixture.wilcoxon) {
    it(`${c.name}: ${c.method}, p = ${c.p}`, () => {
      const r = wilcoxonSignedRank(c.d);
      expect(r.method).toBe(c.method);
      expect(r.n).toBe(c.n);
      expect(r.statistic).toBe(c.statistic);
      // exact: the same counts, only the final division rounds; approx: the erfc fit (1.2e-7)
      expectRelative(r.p, c.p, c.method === 'exact' ? 1e-9 : 1e-6);
    });
  }

  it('all signs equal gives the smallest p, 2 / 2^n', () => {
    for (const n of [1, 2, 5, 6, 10, 20, 50]) {
      const r = wilcoxonSignedRank(Array.from({ length: n }, (_, i) => (i + 1) / 100));
      expect(r.method).toBe('exact');
      expect(r.p).toBe(minWilcoxonP(n));
    }
  });

  it('is symmetric under negation and ignores the order of d', () => {
    const d = [0.013, -0.004, 0.021, 0.008, 0.017, -0.011, 0.026, 0.002];
    const p = wilcoxonSignedRank(d).p;
    expect(wilcoxonSignedRank(d.map((x) => -x)).p).toBe(p);
    expect(wilcoxonSignedRank([...d].reverse()).p).toBe(p);
  });

  it('zeros are dropped, and only zeros give p = 1 without evidence', () => {
    expect(wilcoxonSignedRank([0, 0.01, 0.02, 0, 0.03]).n).toBe(3);
    expect(wilcoxonSignedRank([0, 0, 0])).toEqual({ statistic: 0, p: 1, n: 0, method: 'exact' });
    expect(wilcoxonSignedRank([])).toEqual({ statistic: 0, p: 1, n: 0, method: 'exact' });
  });

  it('refuses non-finite differences', () => {
    expect(() => wilcoxonSignedRank([0.1, NaN, 0.2])).toThrow(RangeError);
    expect(() => wilcoxonSignedRank([0.1, Infinity])).toThrow(RangeError);
  });
});

describe('Hodges–Lehmann estimate and interval, against numpy and an independent critical value', () => {
  for (const c of fixture.hodgesLehmann) {
    it(c.name, () => {
      const r = hodgesLehmann(c.d, c.confidence);
      expectRelative(r.estimate, c.estimate, 1e-12);
      expectRelative(r.low, orInf(c.low, -1), 1e-12);
      expectRelative(r.high, orInf(c.high, 1), 1e-12);
    });
  }

  it('defaults to 95 %: six pairs give the extreme Walsh averages, five give no interval', () => {
    expect(hodgesLehmann([1, 2, 3, 4, 5, 6])).toEqual({ estimate: 3.5, low: 1, high: 6 });
    expect(hodgesLehmann([1, 2, 3, 4, 5])).toEqual({ estimate: 3, low: -Infinity, high: Infinity });
  });

  it('the interval contains the estimate and widens with the confidence', () => {
    const d = [0.013, -0.004, 0.021, 0.008, 0.017, -0.011, 0.026, 0.002, 0.015, 0.009];
    const c90 = hodgesLehmann(d, 0.9);
    const c99 = hodgesLehmann(d, 0.99);
    expect(c90.low).toBeLessThanOrEqual(c90.estimate);
    expect(c90.estimate).toBeLessThanOrEqual(c90.high);
    expect(c99.low).toBeLessThanOrEqual(c90.low);
    expect(c99.high).toBeGreaterThanOrEqual(c90.high);
  });

  it('handles empty input and refuses a bad confidence', () => {
    expect(hodgesLehmann([])).toEqual({ estimate: NaN, low: -Infinity, high: Infinity });
    expect(() => hodgesLehmann([1, 2], 1)).toThrow(RangeError);
    expect(() => hodgesLehmann([1, NaN])).toThrow(RangeError);
  });
});

describe('minimum p and minimum pairs', () => {
  it('minWilcoxonP is 2 / 2^n, capped at 1', () => {
    expect(minWilcoxonP(5)).toBe(0.0625);
    expect(minWilcoxonP(6)).toBe(0.03125);
    expect(minWilcoxonP(1)).toBe(1);
    expect(minWilcoxonP(0)).toBe(1);
  });

  it('minPairsFor gives the fewest pairs that can reach p < alpha', () => {
    expect(minPairsFor(0.05)).toBe(6);
    expect(minPairsFor(0.01)).toBe(8);
    expect(minPairsFor(0.0625)).toBe(6); // 2/32 = 0.0625 is not below 0.0625
    expect(minPairsFor(0.1)).toBe(5);
    for (const alpha of [0.2, 0.05, 0.01, 0.001]) {
      const n = minPairsFor(alpha);
      expect(minWilcoxonP(n)).toBeLessThan(alpha);
      expect(minWilcoxonP(n - 1)).toBeGreaterThanOrEqual(alpha);
    }
    expect(() => minPairsFor(0)).toThrow(RangeError);
  });
});

describe('normal quantile (AS 241), against scipy.special.ndtri', () => {
  it('matches to 1e-14 relative', () => {
    for (const { p, z } of fixture.normalQuantile) {
      if (z === 0) expect(normalQuantile(p)).toBe(0);
      else expectRelative(normalQuantile(p), z, 1e-14);
    }
    expect(normalQuantile(0)).toBe(-Infinity);
    expect(normalQuantile(1)).toBe(Infinity);
    expect(normalQuantile(1.5)).toBeNaN();
  });
});

describe('minimum detectable effect', () => {
  for (const c of fixture.mde) {
    it(`n=${c.n}, sd=${c.sd}, alpha=${c.alpha}, power=${c.power}`, () => {
      expectRelative(minimumDetectableEffectPct(c.n, c.sd, c.alpha, c.power), orInf(c.mdePct, 1), 1e-12);
    });
  }

  it('is Infinity for 5 pairs at 0.05, finite from 6 and decreasing with n', () => {
    expect(minimumDetectableEffectPct(5, 0.02, 0.05)).toBe(Infinity);
    let previous = Infinity;
    for (let n = 6; n <= 40; n++) {
      const mde = minimumDetectableEffectPct(n, 0.02, 0.05);
      expect(Number.isFinite(mde)).toBe(true);
      expect(mde).toBeLessThan(previous);
      previous = mde;
    }
  });

  it('grows with the noise and shrinks with alpha relaxed', () => {
    expect(minimumDetectableEffectPct(10, 0.04, 0.05)).toBeGreaterThan(
      minimumDetectableEffectPct(10, 0.02, 0.05),
    );
    expect(minimumDetectableEffectPct(10, 0.02, 0.1)).toBeLessThan(
      minimumDetectableEffectPct(10, 0.02, 0.05),
    );
    expect(() => minimumDetectableEffectPct(10, NaN, 0.05)).toThrow(RangeError);
  });
});

describe('comparePaired', () => {
  for (const c of fixture.comparePaired) {
    it(`${c.name}: matches scipy/numpy`, () => {
      const r = comparePaired(c.base.map(Number), c.head.map(Number), c.alpha);
      expect(r.n).toBe(c.n);
      expect(r.method).toBe(c.method);
      expect(r.ratios).toHaveLength(c.ratios.length);
      r.ratios.forEach((x, i) => expectRelative(x, c.ratios[i] as number, 1e-15));
      expectRelative(r.ratio, c.ratio, 1e-12);
      expectRelative(r.ratioLow, c.ratioLow ?? 0, 1e-12); // exp(−∞)
      expectRelative(r.ratioHigh, orInf(c.ratioHigh, 1), 1e-12);
      if (c.deltaPct === 0) expect(r.deltaPct).toBe(0);
      else expectRelative(r.deltaPct, c.deltaPct, 1e-9);
      expectRelative(r.pValue, c.pValue, c.method === 'exact' ? 1e-9 : 1e-6);
      expectRelative(r.mdePct, orInf(c.mdePct, 1), 1e-9);
    });
  }

  it('drops rounds with a non-finite or non-positive value and keeps the others in round order', () => {
    const base = [100, NaN, 100, 0, 100, -5, 100, Infinity, 100];
    const head = [110, 100, 90, 100, Infinity, 100, 105, 100, 0];
    const r = comparePaired(base, head, 0.05);
    expect(r.n).toBe(3);
    expect(r.ratios).toEqual([1.1, 0.9, 1.05]);
  });

  it('deltaPct is positive when head is larger, negative when smaller, and the interval brackets the ratio', () => {
    const base = [100, 101, 99, 100.5, 98.7, 102, 100.2, 99.9];
    const slower = comparePaired(
      base,
      base.map((b, i) => b * (1.05 + 0.001 * i)),
      0.05,
    );
    expect(slower.deltaPct).toBeGreaterThan(0);
    expect(slower.pValue).toBe(2 / 2 ** 8);
    expect(slower.ratioLow).toBeGreaterThan(1);
    expect(slower.ratioLow).toBeLessThanOrEqual(slower.ratio);
    expect(slower.ratio).toBeLessThanOrEqual(slower.ratioHigh);

    const faster = comparePaired(
      base,
      base.map((b, i) => b * (0.95 - 0.001 * i)),
      0.05,
    );
    expect(faster.deltaPct).toBeLessThan(0);
    expect(faster.ratioHigh).toBeLessThan(1);
  });

  it('swapping the sides inverts the ratio and keeps the p-value', () => {
    const base = [100, 101, 99, 100.5, 98.7, 102, 100.2, 99.9, 100.8, 99.4];
    const head = [103, 100.9, 102.1, 103.6, 99.2, 104.9, 103.3, 101.0, 104.1, 101.7];
    const ab = comparePaired(base, head, 0.05);
    const ba = comparePaired(head, base, 0.05);
    expect(ba.pValue).toBe(ab.pValue);
    expect(ba.ratio * ab.ratio).toBeCloseTo(1, 12);
    expect(ba.ratioLow * ab.ratioHigh).toBeCloseTo(1, 12);
  });

  it('five rounds cannot be significant at 0.05: no interval and an infinite MDE', () => {
    const r = comparePaired([100, 100, 100, 100, 100], [110, 111, 112, 113, 114], 0.05);
    expect(r.pValue).toBe(0.0625);
    expect(r.mdePct).toBe(Infinity);
    expect(r.ratioLow).toBe(0);
    expect(r.ratioHigh).toBe(Infinity);
  });

  it('no usable round: no estimate, p = 1', () => {
    const r = comparePaired([NaN, 0], [1, 1], 0.05);
    expect(r).toMatchObject({
      n: 0,
      ratios: [],
      pValue: 1,
      mdePct: Infinity,
      ratioLow: 0,
      ratioHigh: Infinity,
    });
    expect(r.ratio).toBeNaN();
  });

  it('refuses misaligned rounds and a bad alpha', () => {
    expect(() => comparePaired([1, 2], [1], 0.05)).toThrow(RangeError);
    expect(() => comparePaired([1], [1], 0)).toThrow(RangeError);
  });
});
