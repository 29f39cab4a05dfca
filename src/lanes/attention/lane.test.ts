// The pieces both attention lanes share, on a made-up bench so that neither lane's tables hide
// what the shared code does: case names to ids and params, failed and missing cases, facts and
// metrics, the bench's flags, and the report rows and summary built around a lane's own columns.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { attnLane, attnResultFromJson, type AttnBenchOutput } from '../../lanes/attention/lane.js';
import {
  attnCsvRows,
  type AttnReportSpec,
  attnSummary,
  headlineMax,
  headlineMin,
  round,
  significant,
  writeAttnReports,
} from '../../lanes/attention/reports.js';
import type { CaseResult, LaneResult } from '../../model/results.js';
import { laneContext } from '../../../__tests__/fixtures/lane-context.js';

const calls: { cmd: string; args: string[] }[] = [];
let benchJson = '';
vi.mock('../spawn.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../lanes/spawn.js')>()),
  runProcess: async (cmd: string, args: string[]) => {
    calls.push({ cmd, args });
    const out = args.find((a) => a.startsWith('--benchmark_out='))!.slice('--benchmark_out='.length);
    writeFileSync(out, benchJson);
    return { code: 0, signal: null, timedOut: false, stdout: '', stderr: '', durationS: 2 };
  },
}));

const same = { better: 'higher', kind: 'same-run' } as const;
const OUTPUT: AttnBenchOutput = {
  lane: 'attn-prefill',
  prefix: 'toy',
  sizeTag: 'len',
  sizeParam: 'length',
  infoKeys: ['threads', 'absent'],
  shape: { facts: ['tile', 'bad'], format: (v) => v * 10, metrics: { speedup: { unit: '×', ...same } } },
  perplexity: { facts: ['ppl'], format: (v) => -v, metrics: { delta: { unit: '%', ...same } } },
  extraInfo: (cases) => ({ probes: cases.filter((c) => c.name.endsWith('/probe')).length }),
};

function rep(name: string, i: number, counters: Record<string, unknown>) {
  return {
    name,
    run_name: name,
    run_type: 'iteration',
    repetition_index: i,
    real_time: 1,
    time_unit: 'ms',
    ...counters,
  };
}

const BENCH = JSON.stringify({
  context: { threads: '4', path: 'avx2', unused: 'x' },
  benchmarks: [
    rep('toy/probe', 0, { gbps: 9 }),
    rep('toy/q8kv2d16/len64', 0, { speedup: 2, tile: 3, bad: null }),
    rep('toy/q8kv2d16/len64', 1, { speedup: 4, tile: 5 }),
    rep('toy/q8kv2d16/len64', 2, { speedup: 3, tile: 5 }),
    rep('toy/q8kv2d16/len128', 0, { speedup: 1 }),
    rep('toy/q8kv2d16/len128', 1, { speedup: null }),
    {
      name: 'toy/q8kv4d16/len64',
      run_name: 'toy/q8kv4d16/len64',
      error_occurred: true,
      error_message: 'oom',
    },
    rep('toy/perplexity', 0, { delta: 0.25, ppl: 7 }),
    rep('other/q8kv2d16/len64', 0, { speedup: 9 }),
  ],
});

describe('attention bench output → lane result', () => {
  const planned = ['q8kv2d16/len64', 'q8kv2d16/len128', 'q8kv4d16/len64', 'q1kv1d8/len1', 'perplexity'];
  const r = attnResultFromJson(BENCH, planned, OUTPUT);
  const byId = (id: string) => r.cases.find((c) => c.id === id);

  it('keeps the cases in bench order, skips probes and other benches, and adds the missing last', () => {
    expect(r.cases.map((c) => c.id)).toEqual([
      'q8kv2d16/len64',
      'q8kv2d16/len128',
      'q8kv4d16/len64',
      'perplexity',
      'q1kv1d8/len1',
    ]);
    expect(byId('q1kv1d8/len1')).toEqual({
      id: 'q1kv1d8/len1',
      params: {},
      metrics: [],
      error: 'the bench did not report this case',
    });
    expect(r).toMatchObject({ lane: 'attn-prefill', status: 'ok', path: 'avx2', planned });
  });

  it('names the shape in params, stores first-repetition facts through the lane format', () => {
    expect(byId('q8kv2d16/len64')?.params).toEqual({
      q_heads: 8,
      kv_heads: 2,
      head_dim: 16,
      length: 64,
      tile: 30,
    });
    expect(byId('perplexity')?.params).toEqual({ ppl: -7 });
  });

  it('keeps every sample; a non-finite one makes the median NaN', () => {
    expect(byId('q8kv2d16/len64')?.metrics).toEqual([
      { name: 'speedup', unit: '×', ...same, samples: [2, 4, 3], value: 3 },
    ]);
    const gap = byId('q8kv2d16/len128')?.metrics[0];
    expect(gap?.samples).toEqual([1, Number.NaN]);
    expect(gap?.value).toBeNaN();
    expect(byId('perplexity')?.metrics.map((m) => m.name)).toEqual(['delta']);
  });

  it('a failed case keeps the params its name gives and the bench error', () => {
    expect(byId('q8kv4d16/len64')).toEqual({
      id: 'q8kv4d16/len64',
      params: { q_heads: 8, kv_heads: 4, head_dim: 16, length: 64 },
      metrics: [],
      error: 'oom',
    });
  });

  it('keeps the listed context keys, then the lane extra info', () => {
    expect(r.info).toEqual({ threads: '4', probes: 1 });
  });
});

describe('attnLane', () => {
  const toy = attnLane({
    bin: 'infeng_toy_bench',
    output: OUTPUT,
    grids: {
      smoke: { shapes: ['8/2/16'], lens: [64, 128], repetitions: 2, minTimeS: 0.5, pplSequences: 1 },
      quick: { shapes: ['8/2/16', '8/4/16'], lens: [64], repetitions: 3, minTimeS: 0.1, pplSequences: 2 },
      full: { shapes: [], lens: [], repetitions: 9, minTimeS: 1, pplSequences: 3 },
    },
    sizes: (g) => g.lens,
    laneArgs: (g) => [`--lens=${g.lens.join(',')}`],
    writeReports: () => ['toy.csv'],
  });

  it('plans every shape at every size, then perplexity', () => {
    expect(toy.name).toBe('attn-prefill');
    expect(toy.targets).toEqual(['infeng_toy_bench']);
    expect(toy.plannedCases('smoke')).toEqual(['q8kv2d16/len64', 'q8kv2d16/len128', 'perplexity']);
    expect(toy.plannedCases('quick')).toEqual(['q8kv2d16/len64', 'q8kv4d16/len64', 'perplexity']);
    expect(toy.plannedCases('full')).toEqual(['perplexity']);
  });

  it('runs the bench with the shared flags around the lane ones and parses what it wrote', async () => {
    benchJson = BENCH;
    calls.length = 0;
    const reportsDir = mkdtempSync(path.join(os.tmpdir(), 'attn-shared-'));
    const result = await toy.run({
      buildDir: '/build',
      reportsDir,
      profile: 'smoke',
      forcePath: 'scalar',
      threads: 2,
      timeoutMs: 1000,
      log: () => {},
    });
    expect(calls).toHaveLength(1);
    expect(calls[0]?.cmd).toBe(path.join('/build', 'bench', 'infeng_toy_bench'));
    expect(calls[0]?.args).toEqual([
      '--force_path=scalar',
      '--threads=2',
      '--attn_shapes=8/2/16',
      '--lens=64,128',
      '--ppl_sequences=1',
      '--benchmark_repetitions=2',
      '--benchmark_min_time=0.5',
      '--benchmark_enable_random_interleaving=true',
      `--benchmark_out=${path.join(reportsDir, 'raw', 'toy_bench.json')}`,
      '--benchmark_out_format=json',
      '--benchmark_format=console',
    ]);
    expect(result).toMatchObject({ status: 'ok', durationS: 2, artifacts: ['toy.csv'] });
    expect(result.cases.find((c) => c.id === 'q8kv2d16/len64')?.metrics[0]?.value).toBe(3);
    expect(result.cases.find((c) => c.id === 'perplexity' && !c.error)).toBeDefined();
  });

  it('leaves the deterministic perplexity out of A/B rounds after the first', () => {
    const first = toy.benchSpec!(laneContext({ profile: 'smoke', abRound: false }));
    expect(first.planned).toContain('perplexity');
    expect(first.args.some((a) => a.startsWith('--benchmark_filter'))).toBe(false);
    const later = toy.benchSpec!(laneContext({ profile: 'smoke', abRound: true }));
    expect(later.planned).toEqual(['q8kv2d16/len64', 'q8kv2d16/len128']);
    const filter = later.args
      .find((a) => a.startsWith('--benchmark_filter='))!
      .slice('--benchmark_filter='.length);
    // Google Benchmark's negative filter: a leading '-' and the regex of what to leave out
    expect(filter.startsWith('-')).toBe(true);
    const out = new RegExp(filter.slice(1));
    expect(out.test('toy/perplexity/iterations:1')).toBe(true);
    expect(out.test('toy/q8kv2d16/len64/real_time')).toBe(false);
  });
});

describe('attention report rows and summary', () => {
  const COLUMNS = [
    'case',
    'q_heads',
    'kv_heads',
    'head_dim',
    'len',
    'path',
    'threads',
    'x',
    'ppl',
    'repetitions',
    'error',
  ] as const;
  const spec: AttnReportSpec<(typeof COLUMNS)[number], 'len'> = {
    lane: 'attn-decode',
    stem: 'toy',
    columns: COLUMNS,
    size: 'len',
    pplDigits: 2,
    row: (c, perplexityDelta) => ({ x: round(c.metrics[0]?.value, 1), ppl: perplexityDelta }),
    headline: (healthy) => ({ x_min: headlineMin(healthy, 'x'), x_max: headlineMax(healthy, 'x', 0) }),
  };
  const metric = (value: number) => ({
    name: 'x',
    unit: '',
    better: 'higher' as const,
    kind: 'same-run' as const,
    samples: [value, value],
    value,
  });
  const shape = (id: string, value: number, error?: string): CaseResult => ({
    id,
    params: { q_heads: 8, kv_heads: 2, head_dim: 16, len: 64 },
    // a failed case with a metric still stays out of the headline
    metrics: [metric(value)],
    ...(error ? { error } : {}),
  });
  const result: LaneResult = {
    lane: 'attn-decode',
    status: 'ok',
    path: 'avx512',
    planned: [],
    durationS: 1,
    artifacts: [],
    info: { threads: 2 },
    cases: [
      shape('a', 1.26),
      { id: 'perplexity', params: { ppl: 7 }, metrics: [{ ...metric(0.123), name: 'perplexity_delta_pct' }] },
      shape('b', 3.74),
      shape('c', 100, 'crashed'),
    ],
  };

  it('writes one row per shape case, in column order, with the perplexity delta on each', () => {
    const rows = attnCsvRows(spec, result);
    expect(rows.map((r) => Object.keys(r))).toEqual([[...COLUMNS], [...COLUMNS], [...COLUMNS]]);
    expect(rows[0]).toEqual({
      case: 'a',
      q_heads: 8,
      kv_heads: 2,
      head_dim: 16,
      len: 64,
      path: 'avx512',
      threads: 2,
      x: 1.3,
      ppl: 0.12,
      repetitions: 2,
      error: '',
    });
    expect(rows[2]).toMatchObject({ case: 'c', x: 100, error: 'crashed' });
  });

  it('headlines only the cases that did not fail, then the perplexity figures', () => {
    const s = attnSummary(spec, result);
    expect(s.headline).toEqual({ x_min: 1.26, x_max: 4, perplexity_delta_pct: 0.12, perplexity: { ppl: 7 } });
    expect(Object.keys(s)).toEqual(['lane', 'path', 'info', 'headline', 'cases']);
    expect(s.cases).toEqual(attnCsvRows(spec, result));
  });

  it('has no headline where nothing finite was measured, and no delta without a perplexity case', () => {
    const bare = { ...result, cases: [{ ...shape('c', 1, 'crashed'), metrics: [] }] };
    expect(attnSummary(spec, bare).headline).toEqual({
      x_min: null,
      x_max: null,
      perplexity_delta_pct: '',
      perplexity: {},
    });
    expect(attnCsvRows(spec, bare)[0]).toMatchObject({ ppl: '', x: '', repetitions: 0 });
  });

  it('rounds to an empty cell when there is no number', () => {
    expect([round(undefined), round(Number.NaN), round('2.34567', 2), round(Infinity)]).toEqual([
      '',
      '',
      2.35,
      '',
    ]);
  });

  it('writes <stem>.csv and <stem>_summary.json', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'attn-reports-'));
    expect(writeAttnReports(spec, result, dir)).toEqual(['toy.csv', 'toy_summary.json']);
    const csv = readFileSync(path.join(dir, 'toy.csv'), 'utf8').split('\n');
    expect(csv[0]).toBe(COLUMNS.join(','));
    expect(csv).toHaveLength(5);
    expect(JSON.parse(readFileSync(path.join(dir, 'toy_summary.json'), 'utf8')).lane).toBe('attn-decode');
  });
});

describe('significant', () => {
  it('keeps a measured zero, empties what is not a number, and rounds to 3 digits', () => {
    expect(significant(0)).toBe(0);
    expect(significant(Number.NaN)).toBe('');
    expect(significant(undefined)).toBe('');
    expect(significant(6.53172e-5)).toBe(6.53e-5);
  });
});
