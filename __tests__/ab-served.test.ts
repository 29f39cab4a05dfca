// A/B rounds on serving benches: one process per side, one case at a time in ABBA order, extra
// passes while inconclusive, and the fall-back to one process per round when a bench cannot
// serve, crashes or hangs. The bench is a Node stand-in (fixtures/serve/fake-bench.mjs); the
// last block drives the real GEMM bench when the native build is there.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runLaneAb, type AbPlan, type AbSides } from '../src/lanes/ab-runner.js';
import { mergeBenchJson } from '../src/lanes/ab-served.js';
import { exactFilter, exceptFilter } from '../src/lanes/bench-filter.js';
import { extraRounds, sidesInRound } from '../src/lanes/ab-order.js';
import { outputArgs, runBenchLane, type BenchSpec } from '../src/lanes/bench-lane.js';
import { BenchServer } from '../src/lanes/bench-server.js';
import type { Lane, LaneContext } from '../src/lanes/lane.js';
import type { CaseResult, LaneResult } from '../src/model/results.js';

const FAKE = path.join(__dirname, 'fixtures', 'serve', 'fake-bench.mjs');

let tmp: string;
let benchLog: string;
beforeEach(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'infeng-served-'));
  benchLog = path.join(tmp, 'bench.log');
  for (const side of ['base', 'head']) {
    mkdirSync(path.join(tmp, side, 'bench'), { recursive: true });
    symlinkSync(FAKE, path.join(tmp, side, 'bench', 'fake-bench.mjs'));
  }
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

const lines = () => (existsSync(benchLog) ? readFileSync(benchLog, 'utf8').trim().split('\n') : []);

function parse(text: string, planned: string[]): Omit<LaneResult, 'durationS' | 'artifacts'> {
  const doc = JSON.parse(text) as { benchmarks: { name: string; rate: number }[] };
  const cases: CaseResult[] = planned.map((id) => {
    const runs = doc.benchmarks.filter((b) => b.name === `fake/${id}`);
    if (runs.length === 0)
      return { id, params: {}, metrics: [], error: 'the bench did not report this case' };
    const samples = runs.map((b) => b.rate);
    return {
      id,
      params: {},
      metrics: [{ name: 'rate', unit: 'x', better: 'higher', kind: 'absolute', samples, value: samples[0]! }],
    };
  });
  const probe = doc.benchmarks.some((b) => b.name === 'fake/probe') ? 1 : 0;
  return { lane: 'gemm', status: 'ok', path: 'avx2', cases, planned, info: { probe } };
}

function fakeLane(mode: { base?: string; head?: string } = {}): Lane {
  const planned = ['c1', 'c2'];
  const benchSpec = (ctx: LaneContext): BenchSpec => {
    const side = ctx.buildDir.endsWith('base') ? 'base' : 'head';
    return {
      lane: 'gemm',
      bin: 'fake-bench.mjs',
      args: [
        `--label=${side}`,
        `--value=${side === 'base' ? 100 : 90}`,
        `--log=${benchLog}`,
        `--mode=${mode[side] ?? 'serve'}`,
      ],
      planned,
      parse: (text) => parse(text, planned),
      write: () => [],
      benchmarkOf: (id) => `fake/${id}`,
    };
  };
  return {
    name: 'gemm',
    targets: [],
    plannedCases: () => planned,
    samplesPerMetric: () => 1,
    benchSpec,
    run: (ctx) => runBenchLane(ctx, benchSpec(ctx)),
    writeReports: () => [],
  };
}

function sides(log: string[], timeoutMs = 20_000): AbSides {
  const ctx = (side: string): LaneContext => ({
    buildDir: path.join(tmp, side),
    reportsDir: path.join(tmp, 'reports'),
    profile: 'quick',
    forcePath: 'auto',
    threads: 1,
    timeoutMs,
    log: (l) => log.push(l),
  });
  return { head: ctx('head'), base: ctx('base'), baseUnbuilt: {}, headUnbuilt: {} };
}

const plan = (over: Partial<AbPlan> = {}): AbPlan => ({
  rounds: 4,
  maxRounds: 8,
  repetitions: 1,
  serve: true,
  laneBudgetMs: 1e9,
  ...over,
});

const rateRounds = (r: { cases: CaseResult[] }, id: string) =>
  r.cases.find((c) => c.id === id)?.metrics.find((m) => m.name === 'rate')?.rounds;

describe('A/B rounds on serving benches', () => {
  it('starts each side once, runs the probe once per side, then each case in ABBA rounds', async () => {
    const log: string[] = [];
    const r = await runLaneAb(fakeLane(), sides(log), plan(), () => false);
    const abba = (c: string) =>
      [0, 1, 2, 3].flatMap((k) => sidesInRound(k).map((s) => `run ${s} fake/${c} ${k > 0 ? 1 : 0}`));
    expect(lines()).toEqual([
      'start base serve',
      'start head serve',
      'run base fake/probe 0',
      'run head fake/probe 0',
      ...abba('c1'),
      ...abba('c2'),
    ]);
    expect(r.status).toBe('ok');
    expect(r.info.ab_rounds).toBe(4);
    expect(r.info.probe).toBe(1); // every round's document carries the probe
    expect(r.abOrder).toEqual(['base', 'head', 'base', 'head']);
    // the fake's rate is its value plus the runs of that benchmark so far
    expect(rateRounds(r, 'c1')).toEqual([91, 92, 93, 94]);
    expect(rateRounds(r.base!, 'c2')).toEqual([101, 102, 103, 104]);
    expect(log.some((l) => l.includes('fake progress'))).toBe(true);
    expect(log).toContain('lane gemm: A/B rounds 1-4, one case at a time on serving benches');
  });

  it('adds passes of half the extra rounds over every case while inconclusive, up to maxRounds', async () => {
    let asked = 0;
    const r = await runLaneAb(fakeLane(), sides([]), plan(), () => {
      asked++;
      return true;
    });
    expect(r.info.ab_rounds).toBe(8);
    expect(asked).toBe(2); // after 4 and 6 rounds; at 8 there is nothing left to ask for
    const runs = lines().filter((l) => l.startsWith('run head fake/c'));
    // pass 1: c1 ×4, c2 ×4; pass 2: c1 ×2, c2 ×2; pass 3: the same
    expect(runs.map((l) => l.split(' ')[2])).toEqual([
      ...Array(4).fill('fake/c1'),
      ...Array(4).fill('fake/c2'),
      ...['fake/c1', 'fake/c1', 'fake/c2', 'fake/c2'],
      ...['fake/c1', 'fake/c1', 'fake/c2', 'fake/c2'],
    ]);
    expect(rateRounds(r, 'c2')).toEqual([91, 92, 93, 94, 95, 96, 97, 98]);
    expect(lines().filter((l) => l.startsWith('start'))).toHaveLength(2);
  });

  it('a base bench that cannot serve: one process per round for both sides, said in the log', async () => {
    const log: string[] = [];
    const r = await runLaneAb(fakeLane({ base: 'noserve' }), sides(log), plan(), () => false);
    expect(r.status).toBe('ok');
    expect(r.info.ab_rounds).toBe(4);
    expect(log.join('\n')).toMatch(
      /serving benches stopped \(the base's fake-bench\.mjs exited with code 2: .*--infeng_serve\); one process per round/,
    );
    const starts = lines().filter((l) => l.startsWith('start'));
    expect(starts.filter((l) => l.endsWith('once'))).toHaveLength(8);
    expect(starts.some((l) => l === 'start head serve')).toBe(false); // the head's was never started
    expect(rateRounds(r, 'c1')).toEqual([91, 91, 91, 91]);
  });

  it('a bench that crashes mid-way: the rounds start again one process per round', async () => {
    const log: string[] = [];
    const r = await runLaneAb(fakeLane({ head: 'crash-at=3' }), sides(log), plan(), () => false);
    expect(log.join('\n')).toMatch(
      /serving benches stopped \(the head's fake-bench\.mjs exited with code 3: fake-bench: crashed\)/,
    );
    expect(r.status).toBe('ok');
    expect(r.info.ab_rounds).toBe(4);
  });

  it('a bench that hangs is killed after the timeout, and the rounds start again', async () => {
    const log: string[] = [];
    const r = await runLaneAb(fakeLane({ base: 'hang-at=2' }), sides(log, 1500), plan(), () => false);
    expect(log.join('\n')).toMatch(
      /serving benches stopped \(the base's fake-bench\.mjs did not finish a run within 2 s/,
    );
    expect(r.status).toBe('ok');
  });

  it('without serve (the default) a lane that could serve runs one process per round', async () => {
    const r = await runLaneAb(fakeLane(), sides([]), plan({ serve: undefined }), () => false);
    expect(r.info.ab_rounds).toBe(4);
    expect(
      lines()
        .filter((l) => l.startsWith('start'))
        .every((l) => l.endsWith('once')),
    ).toBe(true);
  });
});

describe('serving helpers', () => {
  it('filters select exactly one benchmark, or all but some, with regex characters escaped', () => {
    const exact = new RegExp(exactFilter('gemm/decode/M1/H2048/r16'));
    expect(exact.test('gemm/decode/M1/H2048/r16/real_time')).toBe(true);
    expect(exact.test('gemm/decode/M1/H2048/r16')).toBe(true);
    expect(exact.test('gemm/decode/M1/H2048/r160/real_time')).toBe(false);
    expect(new RegExp(exactFilter('a.b')).test('axb')).toBe(false);
    expect(exceptFilter(['x/a', 'y(1)'])).toBe('-^(x/a|y\\(1\\))(/|$)');
  });

  it("merges run documents: the first context, every run's benchmarks, empty runs skipped", () => {
    const merged = JSON.parse(
      mergeBenchJson([
        JSON.stringify({ context: { a: 1 }, benchmarks: [{ name: 'x' }] }),
        '',
        '{"context": {"a": 2}, "benchmarks": [{"name": "y", "r": nan}]}',
      ]),
    ) as { context: unknown; benchmarks: { name: string }[] };
    expect(merged.context).toEqual({ a: 1 });
    expect(merged.benchmarks.map((b) => b.name)).toEqual(['x', 'y']);
    expect(merged.benchmarks[1]).toEqual({ name: 'y', r: null }); // Google Benchmark's bare nan
  });

  it('extra passes add half the extra rounds, never past the maximum', () => {
    expect(extraRounds({ rounds: 6, maxRounds: 12 }, 6)).toBe(3);
    expect(extraRounds({ rounds: 6, maxRounds: 12 }, 9)).toBe(3);
    expect(extraRounds({ rounds: 6, maxRounds: 11 }, 9)).toBe(2);
    expect(extraRounds({ rounds: 6, maxRounds: 7 }, 6)).toBe(1);
  });
});

// The real GEMM bench in serve mode, on the smoke grid (npm test builds it first).
describe('the GEMM bench serves', () => {
  const bin = path.resolve(__dirname, '..', 'build', 'native', 'release', 'bench', 'infeng_gemm_bench');
  it.skipIf(!existsSync(bin))('runs the case it is asked for, as often as asked, and quits', async () => {
    const out = path.join(tmp, 'gemm.json');
    const seen: string[] = [];
    const server = await BenchServer.start(
      bin,
      [
        '--gemm_m=1',
        '--gemm_h=256',
        '--gemm_r=8',
        '--stream_bytes=1048576',
        '--benchmark_min_time=0.01',
        ...outputArgs(out),
      ],
      { env: process.env, onLine: (l) => seen.push(l), readyTimeoutMs: 30_000, what: 'infeng_gemm_bench' },
    );
    if (typeof server === 'string') throw new Error(server);
    try {
      for (const round of [0, 1]) {
        const r = await server.run(exactFilter('gemm/decode/M1/H256/r8'), round > 0, 60_000);
        expect(r.failure).toBeUndefined();
        const doc = JSON.parse(readFileSync(out, 'utf8')) as {
          benchmarks: { name: string; fused_gflops?: number }[];
        };
        expect(doc.benchmarks.map((b) => b.name)).toEqual(['gemm/decode/M1/H256/r8/real_time']);
        expect(doc.benchmarks[0]!.fused_gflops).toBeGreaterThan(0);
      }
      const rest = await server.run(exceptFilter(['gemm/decode/M1/H256/r8']), true, 60_000);
      expect(rest.failure).toBeUndefined();
      const doc = JSON.parse(readFileSync(out, 'utf8')) as { benchmarks: { name: string }[] };
      expect(doc.benchmarks.map((b) => b.name)).toEqual(['gemm/membw/real_time']);
    } finally {
      await server.close();
    }
  });
});
