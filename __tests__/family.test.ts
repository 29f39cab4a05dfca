import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { signFlipMaxT } from '../src/compare/family.js';

interface FamilyCase {
  name: string;
  series: number[][];
  raw: number[];
  adjusted: number[];
}
const fixtures = JSON.parse(
  readFileSync(path.join(__dirname, 'fixtures', 'family', 'family.json'), 'utf8'),
) as { cases: FamilyCase[] };

describe('signFlipMaxT (Westfall–Young step-down maxT over sign flips)', () => {
  for (const c of fixtures.cases) {
    it(`matches scipy's exact permutation test and a brute-force step-down: ${c.name}`, () => {
      const r = signFlipMaxT(c.series);
      expect(r.patterns).toBe(2 ** c.series[0]!.length);
      c.raw.forEach((p, j) => expect(r.raw[j]).toBeCloseTo(p, 12));
      c.adjusted.forEach((p, j) => expect(r.adjusted[j]).toBeCloseTo(p, 12));
    });
  }

  it('costs nothing for a copy: two identical series keep their own p', () => {
    const x = [-0.04, -0.03, -0.05, -0.02, -0.035, -0.045, -0.03, -0.04];
    const one = signFlipMaxT([x]);
    const two = signFlipMaxT([x, x]);
    expect(two.adjusted).toEqual([one.raw[0], one.raw[0]]);
    // all eight agree in sign: the smallest p eight rounds can give
    expect(one.raw[0]).toBeCloseTo(2 / 256, 12);
  });

  it('charges for unrelated metrics: adjusted ≥ raw, non-decreasing in the step-down order', () => {
    const shifted = [-0.05, -0.02, -0.04, 0.01, -0.03, -0.06, -0.02, -0.04, -0.01, -0.05];
    const noise = [
      [0.02, -0.01, 0.03, -0.02, 0.01, 0.0, -0.03, 0.02, 0.01, -0.02],
      [-0.01, 0.04, -0.02, 0.01, -0.03, 0.02, 0.01, -0.01, 0.02, 0.0],
      [0.03, -0.02, 0.01, 0.02, -0.01, -0.02, 0.03, -0.03, 0.0, 0.01],
    ];
    const r = signFlipMaxT([shifted, ...noise]);
    r.adjusted.forEach((p, j) => expect(p).toBeGreaterThanOrEqual(r.raw[j]! - 1e-15));
    expect(r.adjusted[0]).toBeGreaterThan(r.raw[0]!);
    expect(r.adjusted[0]).toBeLessThan(0.05);
    // no better than Bonferroni would need, no worse than Bonferroni's bound
    expect(r.adjusted[0]).toBeLessThanOrEqual(Math.min(1, 4 * r.raw[0]!) + 1e-12);
  });

  it('an all-zero series has p = 1, non-finite rounds count as zero, a constant shift reaches the floor', () => {
    const r = signFlipMaxT([
      [0, 0, 0, 0, 0, 0],
      [0.03, 0.03, 0.03, 0.03, 0.03, 0.03],
      [Number.NaN, 0.01, -0.01, 0.02, -0.02, 0.0],
    ]);
    expect(r.raw[0]).toBe(1);
    expect(r.raw[1]).toBeCloseTo(2 / 64, 12);
    expect(r.raw[2]).toBeGreaterThan(0.5);
  });

  it('samples a fixed set of patterns above 16 rounds, reproducibly', () => {
    const x = Array.from({ length: 20 }, (_, i) => -0.02 + 0.01 * Math.sin(i));
    const a = signFlipMaxT([x]);
    const b = signFlipMaxT([x]);
    expect(a.patterns).toBe(65536);
    expect(a.raw).toEqual(b.raw);
    expect(a.raw[0]).toBeGreaterThan(0);
    expect(a.raw[0]).toBeLessThan(0.01);
  });

  it('refuses series of different lengths', () => {
    expect(() => signFlipMaxT([[1, 2], [1]])).toThrow(/different lengths/);
  });
});
