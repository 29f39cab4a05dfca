// What the report says about a history: synthetic series with known steps, each with a little
// seeded noise, so the change-point search has to find them as it would in real numbers.
import { describe, expect, it } from 'vitest';
import { findingsOf } from '../src/history/findings.js';
import { mulberry32 } from '../src/history/changepoints.js';
import { describeFinding, historySummary } from '../src/report/history-notes.js';
import type { HistoryPoint, SeriesPoint } from '../src/model/history.js';

const sha = (i: number) => `${i.toString(16).padStart(4, '0')}abc`;

/** `levels[i]` for each point, times 1 ± 0.3 % noise. */
function series(levels: readonly number[], seed = 7): SeriesPoint[] {
  const r = mulberry32(seed);
  return levels.map((v, i) => ({ commit: sha(i), value: v * (1 + (r() - 0.5) * 0.006) }));
}

function steps(...parts: [level: number, points: number][]): number[] {
  return parts.flatMap(([level, n]) => Array.from({ length: n }, () => level));
}

describe('findingsOf', () => {
  it('a step that stands is one finding with its commit range and size', () => {
    const s = series(steps([100, 15], [90, 10]));
    const f = findingsOf(s, 'higher');
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ kind: 'step', from: sha(14), to: sha(15), count: 1, worse: true });
    expect(f[0]!.change).toBeCloseTo(-0.1, 2);
    // the same drop of a latency is an improvement
    expect(findingsOf(s, 'lower')[0]!.worse).toBe(false);
  });

  it('a step that was undone leaves nothing to report', () => {
    const s = series(steps([100, 12], [90, 8], [100, 10]));
    expect(findingsOf(s, 'higher').filter((f) => f.kind !== 'slope')).toEqual([]);
  });

  it('an old step is the normal level, not news', () => {
    const s = series(steps([100, 10], [90, 40]));
    expect(findingsOf(s, 'higher', { standingWindow: 30 })).toEqual([]);
    expect(findingsOf(s, 'higher', { standingWindow: 50 })).toHaveLength(1);
  });

  it('several small steps the same way are one slow drift over their whole range', () => {
    const s = series(steps([100, 8], [98, 8], [96, 8], [94, 8]), 3);
    const f = findingsOf(s, 'higher');
    const drift = f.find((x) => x.kind === 'steps' || x.kind === 'slope');
    expect(drift, JSON.stringify(f)).toBeDefined();
    expect(drift!.worse).toBe(true);
    expect(drift!.change).toBeLessThan(-0.03);
    if (drift!.kind === 'steps') {
      expect(drift!.count).toBeGreaterThanOrEqual(2);
      expect(drift!.from).toBe(sha(7));
    }
    // a single large step is never called a drift
    expect(findingsOf(series(steps([100, 16], [80, 16])), 'higher').map((x) => x.kind)).toEqual(['step']);
  });

  it('a flat series has no finding', () => {
    expect(findingsOf(series(steps([100, 40])), 'higher')).toEqual([]);
  });
});

describe('describeFinding and historySummary', () => {
  it('say where, how much and which way, escaping names', () => {
    const text = describeFinding({
      lane: 'gemm',
      caseId: 'a|b',
      metric: 'gflops',
      finding: {
        kind: 'steps',
        from: sha(7),
        to: sha(24),
        change: -0.062,
        worse: true,
        count: 3,
        pValue: 0.01,
      },
    });
    expect(text).toBe(
      'gemm · a&#124;b · gflops: ⚠️ worse: slow drift of −6.2 % in 3 small steps between `0007abc` and `0018abc` (each p ≤ 0.010), still standing.',
    );
    const plain = describeFinding(
      {
        lane: 'gemm',
        caseId: 'c',
        metric: 'gflops',
        finding: {
          kind: 'step',
          from: sha(1),
          to: sha(2),
          change: 0.05,
          worse: false,
          count: 1,
          pValue: 0.0001,
        },
      },
      false,
    );
    expect(plain).toBe(
      'gemm / c / gflops: better: level changed +5.0 % between 0001abc and 0002abc (p < 0.001), and has stayed there since.',
    );
  });

  it('the push summary lists every metric with a standing change, worse first', () => {
    const levels = steps([100, 15], [90, 10]);
    const up = steps([50, 15], [60, 10]);
    const r = mulberry32(1);
    const points: HistoryPoint[] = levels.map((v, i) => ({
      commit: sha(i),
      time: '2025-01-01T00:00:00Z',
      cases: {
        c1: {
          gflops: {
            unit: 'GFLOP/s',
            better: 'higher',
            median: v * (1 + (r() - 0.5) * 0.004),
            spread: 0.01,
            n: 5,
          },
          lat_ms: {
            unit: 'ms',
            better: 'lower',
            median: (up[i] as number) * (1 + (r() - 0.5) * 0.004),
            spread: 0.01,
            n: 5,
          },
          flat: { unit: 'x', better: 'higher', median: 3 * (1 + (r() - 0.5) * 0.004), spread: 0.01, n: 5 },
        },
      },
    }));
    const text = historySummary([{ lane: 'gemm', classKey: 'k', points }], 'Recorded 1 lane.');
    const items = text.split('\n').filter((l) => l.startsWith('- '));
    expect(items).toHaveLength(2);
    expect(items[0]).toMatch(
      /^- gemm · c1 · lat_ms: ⚠️ worse: level changed \+(19|20)\.\d % between `000eabc` and `000fabc`/,
    );
    expect(items[1]).toMatch(
      /^- gemm · c1 · gflops: ⚠️ worse: level changed −(9\.\d|10\.\d) % between `000eabc` and `000fabc`/,
    );
    expect(historySummary([{ lane: 'gemm', classKey: 'k', points: points.slice(0, 10) }], 'x')).toContain(
      'No change of level stands in the history (commits per lane: gemm 10).',
    );
  });
});
