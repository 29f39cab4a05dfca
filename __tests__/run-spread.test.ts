// Calibration pools several independent runs; the spread of their medians is the noise floor
// one run cannot show, and compare widens tolerances to it.
import { describe, expect, it } from 'vitest';
import { summarizeLane } from '../src/compare/baselines.js';
import { widenToRunSpread } from '../src/compare/compare.js';
import type { MetricSummary } from '../src/model/baselines.js';
import { lane, machine, metric } from './fixtures/compare/build.js';

const samplesLane = (samples: number[]) =>
  lane('gemm', [{ id: 'c', params: {}, metrics: [metric('m', samples, { unit: '×', kind: 'same-run' })] }]);

describe('pooled calibration runs', () => {
  it('pools the samples and keeps one median per run', () => {
    const b = summarizeLane(samplesLane([1.0, 1.1, 1.2]), machine(), 'full', [
      samplesLane([1.3, 1.4, 1.5]),
      samplesLane([0.9, 1.0, 1.1]),
    ]);
    const s = b.cases.c!.m!;
    expect(s.n).toBe(9);
    expect(s.samples).toHaveLength(9);
    expect(s.runMedians).toEqual([1.1, 1.4, 1.0]);
  });

  it('one run keeps no run medians', () => {
    expect(summarizeLane(samplesLane([1, 2, 3]), machine(), 'full').cases.c!.m!.runMedians).toBeUndefined();
  });
});

describe('tolerance widened to the run-to-run spread', () => {
  const summary = (median: number, runMedians?: number[]): MetricSummary => ({
    unit: '×',
    better: 'higher',
    kind: 'same-run',
    median,
    spread: 0.01,
    n: 9,
    samples: [],
    ...(runMedians ? { runMedians } : {}),
  });

  it('twice the largest distance of a run median from the pooled median', () => {
    // runs at 0.95 and 1.05 around 1.0: 5 % apart, so a change must exceed 10 %
    expect(widenToRunSpread({ pct: 5, severity: 'fail' }, summary(1.0, [0.95, 1.0, 1.05])).pct).toBeCloseTo(
      10,
    );
  });

  it('never narrows the rule', () => {
    expect(widenToRunSpread({ pct: 5, severity: 'fail' }, summary(1.0, [0.99, 1.0, 1.01])).pct).toBe(5);
  });

  it('widens absolute tolerances in the unit', () => {
    expect(widenToRunSpread({ abs: 1, severity: 'fail' }, summary(3.0, [2.0, 3.0, 4.0])).abs).toBeCloseTo(2);
  });

  it('leaves a single-run baseline alone', () => {
    expect(widenToRunSpread({ pct: 5, severity: 'fail' }, summary(1.0))).toEqual({
      pct: 5,
      severity: 'fail',
    });
  });
});
