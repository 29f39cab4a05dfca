// A/B rounds: the ABBA order, the pooling of each side's rounds into one lane result, and the
// runner that alternates the sides, adds rounds while inconclusive, and keeps the head when the
// base fails. The lane is a fake whose result depends on the build dir it is given.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { firstInRound } from '../src/lanes/ab-order.js';
import { identicalBuilds, runLaneAb, runLanesAb, type AbPlan, type AbSides } from '../src/lanes/ab-runner.js';
import type { Lane, LaneContext } from '../src/lanes/lane.js';
import type { LaneName } from '../src/model/lanes.js';
import type { CaseResult, LaneResult, Metric } from '../src/model/results.js';
import { mergeAbRounds, roundValue, type AbRound } from '../src/results/pair-rounds.js';

// ---- helpers -------------------------------------------------------------------------------

function med(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function metric(name: string, samples: number[], unit = 'GFLOP/s'): Metric {
  return { name, unit, better: 'higher', kind: 'absolute', samples, value: med(samples) };
}

function sameRun(name: string, samples: number[]): Metric {
  return { ...metric(name, samples, '×'), kind: 'same-run' };
}

function kase(id: string, metrics: Metric[], error?: string): CaseResult {
  return { id, params: { id }, metrics, ...(error ? { error } : {}) };
}

function laneResult(cases: CaseResult[], over: Partial<LaneResult> = {}): LaneResult {
  return {
    lane: 'gemm',
    status: 'ok',
    path: 'avx2',
    cases,
    planned: cases.map((c) => c.id),
    durationS: 1,
    artifacts: [],
    info: {},
    ...over,
  };
}

function failed(step: string, message: string, over: Partial<LaneResult> = {}): LaneResult {
  return laneResult([], { status: 'error', error: { step, message }, path: '', ...over });
}

function findMetric(r: { cases: CaseResult[] }, caseId: string, name: string): Metric {
  const m = r.cases.find((c) => c.id === caseId)?.metrics.find((x) => x.name === name);
  if (!m) throw new Error(`no metric ${caseId} ${name}`);
  return m;
}

// ---- firstInRound ----------------------------------------------------------------------------

describe('firstInRound', () => {
  it('alternates base, head, base, head… so the sides run B H H B B H H B', () => {
    const firsts = [0, 1, 2, 3, 4, 5].map(firstInRound);
    expect(firsts).toEqual(['base', 'head', 'base', 'head', 'base', 'head']);
    const sequence = [0, 1, 2, 3].flatMap((r) => (firstInRound(r) === 'base' ? ['B', 'H'] : ['H', 'B']));
    expect(sequence.join(' ')).toBe('B H H B B H H B');
  });
});

// ---- mergeAbRounds ---------------------------------------------------------------------------

describe('roundValue', () => {
  it('is the best repetition of an absolute metric and the median of a same-run one', () => {
    expect(roundValue({ samples: [80, 95, 60], kind: 'absolute', better: 'higher' })).toBe(95);
    expect(roundValue({ samples: [3.1, 2.9, 4.5], kind: 'absolute', better: 'lower' })).toBe(2.9);
    expect(roundValue({ samples: [1.1, 0.6, 1.05], kind: 'same-run', better: 'higher' })).toBe(1.05);
    expect(roundValue({ samples: [80, Number.NaN], kind: 'absolute', better: 'higher' })).toBeNaN();
    expect(roundValue({ samples: [], kind: 'same-run', better: 'higher' })).toBeNaN();
  });
});

describe('mergeAbRounds', () => {
  // three rounds; head samples a bit slower than the base's, each round its own level
  const headSamples = [
    [90, 92, 91],
    [80, 84, 82],
    [70, 71, 75],
  ];
  const baseSamples = [
    [100, 102, 101],
    [88, 86, 87],
    [77, 79, 78],
  ];
  const roundsOf = (
    head: (r: number) => LaneResult,
    base: (r: number) => LaneResult | undefined,
  ): AbRound[] =>
    [0, 1, 2].map((r) => {
      const b = base(r);
      return { first: firstInRound(r), head: head(r), ...(b ? { base: b } : {}) };
    });
  const headRound = (r: number) =>
    laneResult([kase('c1', [metric('gflops', headSamples[r]!), sameRun('lat', [r + 1, r + 2, r + 3])])], {
      durationS: 10 + r,
      info: { round: r },
    });
  const baseRound = (r: number) =>
    laneResult([kase('c1', [metric('gflops', baseSamples[r]!), sameRun('lat', [r + 2, r + 3, r + 4])])], {
      durationS: 20 + r,
      path: 'avx512',
      info: { side: 'base', round: r },
    });

  it('pools the samples, takes their median, keeps aligned per-round values on both sides', () => {
    const merged = mergeAbRounds(roundsOf(headRound, baseRound));
    expect(merged.status).toBe('ok');
    expect(merged.abOrder).toEqual(['base', 'head', 'base']);
    expect(merged.durationS).toBe(10 + 11 + 12);

    const h = findMetric(merged, 'c1', 'gflops');
    expect(h.samples).toEqual(headSamples.flat());
    expect(h.value).toBe(med(headSamples.flat()));
    // an absolute rate's round value is its best repetition: a neighbour only slows a run down
    expect(h.rounds).toEqual([92, 84, 75]);

    expect(merged.base?.status).toBe('ok');
    expect(merged.base?.path).toBe('avx512');
    expect(merged.base?.durationS).toBe(20 + 21 + 22);
    const b = findMetric(merged.base!, 'c1', 'gflops');
    expect(b.samples).toEqual(baseSamples.flat());
    expect(b.value).toBe(med(baseSamples.flat()));
    expect(b.rounds).toEqual([102, 88, 79]);
    expect(b.rounds).toHaveLength(h.rounds!.length);

    // every metric of the case, not only the first; a same-run ratio's round value is the median
    expect(findMetric(merged, 'c1', 'lat').rounds).toEqual([2, 3, 4]);
    expect(findMetric(merged.base!, 'c1', 'lat').rounds).toEqual([3, 4, 5]);
  });

  it('a metric the base lacks in one round drops that round from both sides for that metric only', () => {
    const base = (r: number) =>
      r === 1 ? laneResult([kase('c1', [metric('lat', [r + 2, r + 3, r + 4])])]) : baseRound(r);
    const merged = mergeAbRounds(roundsOf(headRound, base));

    const h = findMetric(merged, 'c1', 'gflops');
    const b = findMetric(merged.base!, 'c1', 'gflops');
    expect(h.rounds).toEqual([92, 75]);
    expect(b.rounds).toEqual([102, 79]);
    // the head's samples of that round still count for its value
    expect(h.samples).toEqual(headSamples.flat());
    expect(b.samples).toEqual([...baseSamples[0]!, ...baseSamples[2]!]);
    // the other metric keeps all three rounds
    expect(findMetric(merged, 'c1', 'lat').rounds).toHaveLength(3);
    expect(findMetric(merged.base!, 'c1', 'lat').rounds).toHaveLength(3);
  });

  it("a case that failed in one of the head's rounds is a failed case, and the base drops that round", () => {
    const head = (r: number) => (r === 2 ? laneResult([kase('c1', [], 'segfault in case')]) : headRound(r));
    const merged = mergeAbRounds(roundsOf(head, baseRound));
    const c1 = merged.cases.find((c) => c.id === 'c1')!;
    expect(c1.error).toBe('failed in 1 of 3 rounds: segfault in case');
    expect(c1.metrics).toEqual([]);
    expect(findMetric(merged.base!, 'c1', 'gflops').rounds).toEqual([102, 88]);
  });

  it('a head failure in any round is the merged result', () => {
    const head = (r: number) => (r === 1 ? failed('run', 'head crashed') : headRound(r));
    const merged = mergeAbRounds(roundsOf(head, baseRound));
    expect(merged.status).toBe('error');
    expect(merged.error).toEqual({ step: 'run', message: 'head crashed' });
    expect(merged.cases).toEqual([]);
    expect(merged.abOrder).toEqual(['base', 'head', 'base']);
  });

  it('a base failure keeps the head result, the base side being the error', () => {
    const base = (r: number) => (r === 2 ? failed('parse', 'base output unreadable') : baseRound(r));
    const merged = mergeAbRounds(roundsOf(headRound, base));
    expect(merged.status).toBe('ok');
    expect(merged.base?.status).toBe('error');
    expect(merged.base?.error).toEqual({ step: 'parse', message: 'base output unreadable' });
    const h = findMetric(merged, 'c1', 'gflops');
    expect(h.samples).toEqual(headSamples.flat());
    // without a usable base there is nothing to pair with
    expect(h.rounds).toBeUndefined();
  });

  it('refuses an empty list of rounds', () => {
    expect(() => mergeAbRounds([])).toThrow(/no rounds/);
  });
});

// ---- runLaneAb -------------------------------------------------------------------------------

const HEAD_DIR = '/fake/head/build';
const BASE_DIR = '/fake/base/build';
const REPORTS = '/fake/reports';

interface Call {
  side: 'base' | 'head';
  repetitions: number | undefined;
  reportsDir: string;
  abRound: boolean | undefined;
}

interface FakeLane extends Lane {
  calls: Call[];
  reports: { result: LaneResult; reportsDir: string }[];
}

/**
 * A lane whose result depends on the build dir: the head measures 90, the base 100, each round
 * a little different. `override` can replace the result of the n-th call of a side (1-based).
 */
function fakeLane(
  opts: {
    name?: LaneName;
    override?: (side: 'base' | 'head', n: number) => LaneResult | undefined;
    onRun?: () => void;
  } = {},
): FakeLane {
  const calls: Call[] = [];
  const reports: { result: LaneResult; reportsDir: string }[] = [];
  const count = { base: 0, head: 0 };
  return {
    name: opts.name ?? 'gemm',
    targets: [],
    plannedCases: () => ['c1'],
    samplesPerMetric: () => 3,
    calls,
    reports,
    async run(ctx: LaneContext): Promise<LaneResult> {
      const side = ctx.buildDir === BASE_DIR ? 'base' : ctx.buildDir === HEAD_DIR ? 'head' : undefined;
      if (!side) throw new Error(`unexpected build dir ${ctx.buildDir}`);
      calls.push({ side, repetitions: ctx.repetitions, reportsDir: ctx.reportsDir, abRound: ctx.abRound });
      opts.onRun?.();
      const n = ++count[side];
      const over = opts.override?.(side, n);
      if (over) return over;
      const level = (side === 'head' ? 90 : 100) + n;
      return laneResult([kase('c1', [metric('gflops', [level - 1, level, level + 1])])], {
        lane: opts.name ?? 'gemm',
      });
    },
    writeReports(result: LaneResult, reportsDir: string): string[] {
      reports.push({ result, reportsDir });
      return ['gemm.csv'];
    },
  };
}

function ctx(buildDir: string, log: string[] = []): LaneContext {
  return {
    buildDir,
    reportsDir: REPORTS,
    profile: 'quick',
    forcePath: 'auto',
    threads: 2,
    timeoutMs: 60_000,
    repetitions: 99,
    log: (l) => log.push(l),
  };
}

function sides(over: Partial<AbSides> = {}, log: string[] = []): AbSides {
  return { head: ctx(HEAD_DIR, log), base: ctx(BASE_DIR, log), baseUnbuilt: {}, headUnbuilt: {}, ...over };
}

const plan = (over: Partial<AbPlan> = {}): AbPlan => ({
  rounds: 4,
  maxRounds: 8,
  repetitions: 3,
  laneBudgetMs: 1e9,
  ...over,
});

/** Side sequence of the calls, "B H H B …". */
const sequence = (l: FakeLane) => l.calls.map((c) => (c.side === 'base' ? 'B' : 'H')).join(' ');

describe('runLaneAb', () => {
  it('alternates the sides ABBA, passes the plan repetitions and stops at the planned rounds', async () => {
    const lane = fakeLane();
    let asked = 0;
    const r = await runLaneAb(lane, sides(), plan(), () => {
      asked++;
      return false;
    });
    expect(sequence(lane)).toBe('B H H B B H H B');
    expect(lane.calls.every((c) => c.repetitions === 3)).toBe(true);
    // the first round of both sides measures everything; later rounds may skip gate-only work
    expect(lane.calls.map((c) => c.abRound)).toEqual([false, false, true, true, true, true, true, true]);
    expect(lane.calls.filter((c) => c.side === 'base').map((c) => c.reportsDir)).toEqual(
      Array(4).fill(path.join(REPORTS, 'ab', 'base')),
    );
    expect(lane.calls.filter((c) => c.side === 'head').map((c) => c.reportsDir)).toEqual(
      Array(4).fill(path.join(REPORTS, 'ab', 'head')),
    );
    expect(asked).toBe(1);
    expect(r.status).toBe('ok');
    expect(r.abOrder).toEqual(['base', 'head', 'base', 'head']);
    expect(r.info.ab_rounds).toBe(4);
    // per-round best repetitions of the fake: head 92..95, base 102..105
    expect(findMetric(r, 'c1', 'gflops').rounds).toEqual([92, 93, 94, 95]);
    expect(findMetric(r.base!, 'c1', 'gflops').rounds).toEqual([102, 103, 104, 105]);
  });

  it('does not ask for more before the planned rounds are done', async () => {
    const lane = fakeLane();
    const seen: number[] = [];
    await runLaneAb(lane, sides(), plan({ rounds: 3, maxRounds: 3 }), (m) => {
      seen.push(findMetric(m, 'c1', 'gflops').rounds!.length);
      return true;
    });
    // maxRounds reached: needsMore is not even asked
    expect(seen).toEqual([]);
    expect(lane.calls).toHaveLength(6);
  });

  it('keeps adding rounds up to maxRounds while needsMore says so', async () => {
    const lane = fakeLane();
    const seen: number[] = [];
    const r = await runLaneAb(lane, sides(), plan({ rounds: 4, maxRounds: 7 }), (m) => {
      seen.push(findMetric(m, 'c1', 'gflops').rounds!.length);
      return true;
    });
    expect(lane.calls).toHaveLength(14);
    expect(sequence(lane)).toBe('B H H B B H H B B H H B B H');
    // asked with the merged rounds so far, after rounds 4, 5 and 6 (never past maxRounds)
    expect(seen).toEqual([4, 5, 6]);
    expect(r.info.ab_rounds).toBe(7);
    expect(findMetric(r, 'c1', 'gflops').rounds).toHaveLength(7);
    expect(findMetric(r.base!, 'c1', 'gflops').rounds).toHaveLength(7);
  });

  it('stops adding rounds once the time budget is spent', async () => {
    let clock = 1_000;
    const lane = fakeLane({ onRun: () => (clock += 100) });
    const log: string[] = [];
    const r = await runLaneAb(
      lane,
      sides({}, log),
      plan({ rounds: 2, maxRounds: 6, laneBudgetMs: 500 }),
      () => true,
      () => clock,
    );
    // 200 ms a round: 400 after the planned two (within 500), 600 after the third (over)
    expect(lane.calls).toHaveLength(6);
    expect(r.info.ab_rounds).toBe(3);
    expect(r.durationS).toBeCloseTo(0.6, 10);
    expect(log.some((l) => /time budget reached after 3 rounds/.test(l))).toBe(true);
  });

  it('the planned rounds run even when the budget is already spent', async () => {
    let clock = 0;
    const lane = fakeLane({ onRun: () => (clock += 1_000) });
    const r = await runLaneAb(
      lane,
      sides(),
      plan({ rounds: 3, laneBudgetMs: 10 }),
      () => true,
      () => clock,
    );
    expect(r.info.ab_rounds).toBe(3);
  });

  it('a base run that fails stops the rounds and keeps the head, base side in error', async () => {
    const base = failed('run', 'unknown flag --benchmark_repetitions\nmore');
    const lane = fakeLane({ override: (side, n) => (side === 'base' && n === 2 ? base : undefined) });
    const log: string[] = [];
    const r = await runLaneAb(lane, sides({}, log), plan(), () => true);
    // round 2 is head-then-base: the base failed last
    expect(sequence(lane)).toBe('B H H B');
    expect(r.status).toBe('ok');
    expect(r.base?.status).toBe('error');
    expect(r.base?.error?.message).toMatch(/unknown flag/);
    expect(findMetric(r, 'c1', 'gflops').samples).toEqual([90, 91, 92, 91, 92, 93]);
    expect(log.some((l) => /base side failed \(unknown flag --benchmark_repetitions\)/.test(l))).toBe(true);
    expect(lane.reports).toHaveLength(1);
  });

  it('a base run that throws is an error of the base side, not of the lane', async () => {
    const lane = fakeLane();
    const run = lane.run.bind(lane);
    lane.run = async (c) => {
      if (c.buildDir === BASE_DIR) throw new Error('spawn ENOENT');
      return run(c);
    };
    const r = await runLaneAb(lane, sides(), plan(), () => false);
    expect(r.status).toBe('ok');
    expect(r.base).toMatchObject({ status: 'error', error: { step: 'run', message: 'spawn ENOENT' } });
  });

  it('a head run that fails is the lane result and writes no reports', async () => {
    const lane = fakeLane({
      override: (side, n) => (side === 'head' && n === 3 ? failed('run', 'head segfault') : undefined),
    });
    const r = await runLaneAb(lane, sides(), plan(), () => true);
    expect(lane.calls).toHaveLength(6);
    expect(r.status).toBe('error');
    expect(r.error?.message).toBe('head segfault');
    expect(lane.reports).toHaveLength(0);
    expect(r.info.ab_rounds).toBe(3);
  });

  it('without a base build only the head runs, and the base side says why', async () => {
    const lane = fakeLane();
    const r = await runLaneAb(lane, sides({ base: undefined }), plan(), () => false);
    expect(lane.calls.map((c) => c.side)).toEqual(['head', 'head', 'head', 'head']);
    expect(r.status).toBe('ok');
    expect(r.abOrder).toEqual(['head', 'head', 'head', 'head']);
    expect(r.base?.status).toBe('error');
    expect(r.base?.error?.step).toBe('build');
    expect(r.base?.error?.message).toBe('no base build');
    expect(findMetric(r, 'c1', 'gflops').samples).toHaveLength(12);
  });

  it('a lane the base could not build runs on the head only, with the build error', async () => {
    const lane = fakeLane();
    const r = await runLaneAb(
      lane,
      sides({ baseUnbuilt: { gemm: 'target infeng_gemm_bench missing' } }),
      plan({ rounds: 2 }),
      () => false,
    );
    expect(lane.calls.every((c) => c.side === 'head')).toBe(true);
    expect(r.base?.error).toEqual({
      step: 'build',
      message: 'the base did not build: target infeng_gemm_bench missing',
    });
  });

  it('writes the reports once, with the merged result, into the head reports dir', async () => {
    const lane = fakeLane();
    const r = await runLaneAb(lane, sides(), plan({ rounds: 3 }), () => false);
    expect(lane.reports).toHaveLength(1);
    const written = lane.reports[0]!;
    expect(written.reportsDir).toBe(REPORTS);
    expect(written.result).toBe(r);
    expect(written.result.base?.status).toBe('ok');
    expect(findMetric(written.result, 'c1', 'gflops').samples).toHaveLength(9);
    expect(r.artifacts).toEqual(['gemm.csv']);
  });
});

describe('runLaneAb on identical builds', () => {
  // each side's "build": a bench file and a data folder, written per test
  function builds(head: string, base: string, data = { head: 'model', base: 'model' }) {
    const root = mkdtempSync(path.join(tmpdir(), 'ab-identical-'));
    for (const [side, bench] of [
      ['head', head],
      ['base', base],
    ] as const) {
      mkdirSync(path.join(root, side, 'testdata'), { recursive: true });
      writeFileSync(path.join(root, side, 'bench'), bench);
      writeFileSync(path.join(root, side, 'testdata', 'm.bin'), data[side]);
    }
    return (buildDir: string) => {
      const side = buildDir === BASE_DIR ? 'base' : 'head';
      return [path.join(root, side, 'bench'), path.join(root, side, 'testdata')];
    };
  }

  it('runs the head once with the profile repetitions and marks the base identical', async () => {
    const lane = { ...fakeLane(), inputs: builds('ELF same', 'ELF same') };
    const log: string[] = [];
    const r = await runLaneAb(lane, sides({}, log), plan(), () => true);
    expect(sequence(lane)).toBe('H');
    // the head context as a plain run gets it: its own repetitions and reports dir, all work done
    expect(lane.calls[0]).toMatchObject({ repetitions: 99, reportsDir: REPORTS, abRound: undefined });
    expect(r.base).toMatchObject({ status: 'ok', cases: [] });
    expect(r.base?.identical).toMatch(/^[0-9a-f]{64}$/);
    expect(r.info.ab_rounds).toBe(0);
    expect(log.join('\n')).toMatch(/byte-identical/);
  });

  it('measures both sides when one byte of the bench differs, or of the data it reads', async () => {
    for (const inputs of [
      builds('ELF same', 'ELF samE'),
      builds('ELF same', 'ELF same', { head: 'model', base: 'modeL' }),
    ]) {
      const lane = { ...fakeLane(), inputs };
      const r = await runLaneAb(lane, sides(), plan({ rounds: 2, maxRounds: 2 }), () => false);
      expect(sequence(lane)).toBe('B H H B');
      expect(r.base?.identical).toBeUndefined();
    }
  });

  it('measures both sides when an input cannot be read, or when the plan asks for an A/A run', async () => {
    const missing = { ...fakeLane(), inputs: (b: string) => [path.join(b, 'no-such-bench')] };
    await runLaneAb(missing, sides(), plan({ rounds: 2, maxRounds: 2 }), () => false);
    expect(sequence(missing)).toBe('B H H B');
    const forced = { ...fakeLane(), inputs: builds('ELF same', 'ELF same') };
    const r = await runLaneAb(
      forced,
      sides(),
      plan({ rounds: 2, maxRounds: 2, measureIdentical: true }),
      () => false,
    );
    expect(sequence(forced)).toBe('B H H B');
    expect(r.info.ab_rounds).toBe(2);
  });

  it('a lane that lists no inputs is always measured on both sides', async () => {
    const lane = fakeLane();
    expect(identicalBuilds(lane, HEAD_DIR, BASE_DIR)).toBeUndefined();
  });
});

describe('runLanesAb', () => {
  it('one result per lane: unknown, unbuilt on the head, and run', async () => {
    const gemm = fakeLane({ name: 'gemm' });
    const lookup = (n: LaneName): Lane | undefined => (n === 'gemm' || n === 'sched' ? gemm : undefined);
    const rs = await runLanesAb(
      ['tokenizer', 'sched', 'gemm'],
      sides({ headUnbuilt: { sched: 'sched did not compile' } }),
      plan({ rounds: 2, maxRounds: 2 }),
      () => false,
      lookup,
    );
    expect(rs.map((r) => [r.lane, r.status])).toEqual([
      ['tokenizer', 'skipped'],
      ['sched', 'error'],
      ['gemm', 'ok'],
    ]);
    expect(rs[1]?.error).toEqual({ step: 'build', message: 'sched did not compile' });
    expect(gemm.calls).toHaveLength(4);
  });
});
