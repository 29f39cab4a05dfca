// The per-lane geometric mean of throughput ratios, its t interval, and the report line.
import { describe, expect, it } from 'vitest';
import { laneGeomeans, studentTCdf, studentTQuantile } from '../src/compare/geomean.js';
import { geomeanLine } from '../src/report/geomean.js';
import type { Verdict } from '../src/model/verdicts.js';

function v(
  lane: string,
  caseId: string,
  current: number,
  base: number,
  over: Partial<Verdict> = {},
): Verdict {
  return {
    lane,
    caseId,
    metric: 'gflops',
    unit: 'GFLOP/s',
    better: 'higher',
    kind: 'absolute',
    source: 'baseline',
    state: 'pass',
    severity: 'fail',
    current: { median: current, spread: 0, n: 10 },
    baseline: { median: base, spread: 0, n: 10 },
    reason: '',
    ...over,
  };
}

describe('Student t', () => {
  it('quantiles match the tables', () => {
    // R: qt(0.975, c(1, 2, 5, 10, 30)); qt(0.95, 4)
    expect(studentTQuantile(0.975, 1)).toBeCloseTo(12.7062047, 6);
    expect(studentTQuantile(0.975, 2)).toBeCloseTo(4.30265273, 7);
    expect(studentTQuantile(0.975, 5)).toBeCloseTo(2.57058184, 7);
    expect(studentTQuantile(0.975, 10)).toBeCloseTo(2.22813885, 7);
    expect(studentTQuantile(0.975, 30)).toBeCloseTo(2.04227246, 7);
    expect(studentTQuantile(0.95, 4)).toBeCloseTo(2.13184679, 7);
    expect(studentTQuantile(0.975, 1e7)).toBeCloseTo(1.95996398, 5);
    expect(studentTQuantile(0.025, 5)).toBeCloseTo(-2.57058184, 7);
    expect(studentTQuantile(0.5, 3)).toBe(0);
  });

  it('the CDF is symmetric and inverts the quantile', () => {
    expect(studentTCdf(0, 7)).toBeCloseTo(0.5, 12);
    expect(studentTCdf(2.57058184, 5)).toBeCloseTo(0.975, 8);
    expect(studentTCdf(-1.3, 3) + studentTCdf(1.3, 3)).toBeCloseTo(1, 12);
  });

  it('refuses what has no quantile', () => {
    expect(() => studentTQuantile(1, 3)).toThrow();
    expect(() => studentTQuantile(0.9, 0)).toThrow();
  });
});

describe('laneGeomeans', () => {
  it('is the geometric mean of the throughput ratios with the t interval on their logs', () => {
    const verdicts = [v('gemm', 'a', 110, 100), v('gemm', 'b', 90, 100), v('gemm', 'c', 100, 100)];
    const [g] = laneGeomeans(verdicts);
    const logs = [Math.log(1.1), Math.log(0.9), 0];
    const mean = logs.reduce((a, b) => a + b, 0) / 3;
    const sd = Math.sqrt(logs.reduce((a, b) => a + (b - mean) ** 2, 0) / 2);
    const half = (4.30265273 * sd) / Math.sqrt(3);
    expect(g?.lane).toBe('gemm');
    expect(g?.metrics).toBe(3);
    expect(g?.ratio).toBeCloseTo(Math.cbrt(0.99), 12);
    expect(g?.low).toBeCloseTo(Math.exp(mean - half), 7);
    expect(g?.high).toBeCloseTo(Math.exp(mean + half), 7);
    expect(g?.confidence).toBe(0.95);
  });

  it('a gain and the matching loss cancel', () => {
    const [g] = laneGeomeans([v('gemm', 'a', 200, 100), v('gemm', 'b', 50, 100)]);
    expect(g?.ratio).toBeCloseTo(1, 12);
  });

  it('pools only throughput, prefers the A/B ratio, and skips gates and broken ratios', () => {
    const verdicts = [
      v('gemm', 'a', 120, 100),
      // the same metric judged in A/B: its paired ratio counts, once
      v('gemm', 'a', 120, 100, { source: 'ab', ab: { ratio: 1.05, rounds: 8 } }),
      v('gemm', 'lat', 5, 10, { unit: 'us', better: 'lower' }),
      v('gemm', 'pct', 5, 10, { unit: '%' }),
      v('gemm', 'gate', 5, 10, { source: 'gate' }),
      v('gemm', 'zero', 5, 0),
      v('gemm', 'nocurrent', 5, 10, { current: undefined }),
      v('tokenizer', 't', 2e6, 1e6, { unit: 'tok/s' }),
    ];
    const got = laneGeomeans(verdicts);
    expect(got.map((g) => [g.lane, g.metrics])).toEqual([
      ['gemm', 1],
      ['tokenizer', 1],
    ]);
    expect(got[0]?.ratio).toBeCloseTo(1.05, 12);
    expect(got[0]?.low).toBeUndefined(); // one metric: no interval
    expect(got[1]?.ratio).toBeCloseTo(2, 12);
  });

  it('identical ratios have a zero-width interval', () => {
    const [g] = laneGeomeans([v('gemm', 'a', 110, 100), v('gemm', 'b', 110, 100)]);
    expect(g?.low).toBeCloseTo(1.1, 12);
    expect(g?.high).toBeCloseTo(1.1, 12);
  });

  it('takes another confidence and refuses a meaningless one', () => {
    const [g] = laneGeomeans(
      [v('gemm', 'a', 110, 100), v('gemm', 'b', 90, 100), v('gemm', 'c', 100, 100)],
      0.8,
    );
    const [wide] = laneGeomeans([
      v('gemm', 'a', 110, 100),
      v('gemm', 'b', 90, 100),
      v('gemm', 'c', 100, 100),
    ]);
    expect((g?.high as number) - (g?.low as number)).toBeLessThan(
      (wide?.high as number) - (wide?.low as number),
    );
    expect(() => laneGeomeans([], 1)).toThrow();
  });
});

describe('geomeanLine', () => {
  it('says per lane the overall change, its interval and how many metrics', () => {
    const line = geomeanLine([
      v('gemm', 'a', 110, 100),
      v('gemm', 'b', 104, 100),
      v('gemm', 'c', 106, 100),
      v('tokenizer', 't', 1.1e6, 1e6, { unit: 'tok/s', lane: 'tokenizer' }),
    ]);
    // three metrics that all rose still leave an interval reaching below 0: so few say little
    expect(line).toBe(
      '**Throughput overall** (geometric mean of current/base): gemm +6.6 % (95 % CI −0.66 % to +14.5 %, 3 metrics) · tokenizer +10.0 % (1 metric)',
    );
  });

  it('escapes lane names and is undefined without a throughput ratio', () => {
    expect(geomeanLine([v('<b>x</b>', 'a', 1, 1)])).toContain('&lt;b&gt;x&lt;/b&gt; 0.00 % (1 metric)');
    expect(geomeanLine([v('gemm', 'lat', 1, 2, { unit: 'us', better: 'lower' })])).toBeUndefined();
    expect(geomeanLine([])).toBeUndefined();
  });
});
