// The GEMM lane: base, fused-LoRA and unfused-LoRA FP32 GEMM against OpenBLAS on the same
// shapes, timed round-robin inside one process (native/bench/gemm_bench.cpp). This adapter
// picks the shapes per profile, runs the binary, and turns its counters into metrics.
import { median } from 'simple-statistics';
import path from 'node:path';
import type { Lane, LaneContext } from '../lane.js';
import type { Profile } from '../../model/lanes.js';
import type { CaseResult, LaneResult, Metric } from '../../model/results.js';
import { parseGbenchJson, type GbenchCase } from '../../results/gbench.js';
import { runBenchLane } from '../bench-lane.js';
import { writeGemmReports } from './reports.js';
import { metricFromSamples, type MetricSpec } from '../../results/metric.js';

interface Grid {
  m: number[];
  h: number[];
  r: number[];
  repetitions: number;
  minTimeS: number;
  streamBytes: number;
}

// quick is what a developer runs before pushing; full is the calibration and nightly grid;
// smoke exists for the pipeline's own integration test and finishes in seconds.
export const GEMM_GRIDS: Record<Profile, Grid> = {
  smoke: { m: [1, 64], h: [256], r: [8], repetitions: 5, minTimeS: 0.01, streamBytes: 16 << 20 },
  // quick streams as much as full, which calibrates the baselines: a smaller rotation (512 MiB
  // against a 480 MiB last-level cache here) changes decode's figures.
  quick: { m: [1, 16, 128, 512], h: [2048], r: [16], repetitions: 10, minTimeS: 0.1, streamBytes: 1 << 30 },
  full: {
    m: [1, 4, 16, 128, 512],
    h: [2048, 4096],
    r: [8, 16, 64],
    repetitions: 10,
    minTimeS: 0.2,
    streamBytes: 1 << 30,
  },
};

/**
 * At or below this many rows a GEMM is a decode step. It must match the kernels' kDecodeMaxM
 * (native/include/infeng/gemm.h): the bench names its cases by it and reports it as
 * `decode_max_m`, and a report that disagrees is refused rather than filed under wrong ids.
 */
export const GEMM_DECODE_MAX_M = 16;

export function gemmCaseId(m: number, h: number, r: number): string {
  return `${m <= GEMM_DECODE_MAX_M ? 'decode' : 'prefill'}/M${m}/H${h}/r${r}`;
}

interface GemmMetricSpec extends MetricSpec {
  decodeOnly?: boolean;
  /** reported only when the bench has it (BLIS: absent from an older base's bench) */
  optional?: boolean;
}

/** The counters the bench reports that become metrics, in the order the report shows them. */
export const GEMM_METRICS: Record<string, GemmMetricSpec> = {
  fused_gflops: { unit: 'GFLOP/s', better: 'higher', kind: 'absolute' },
  base_gflops: { unit: 'GFLOP/s', better: 'higher', kind: 'absolute' },
  unfused_gflops: { unit: 'GFLOP/s', better: 'higher', kind: 'absolute' },
  openblas_gflops: { unit: 'GFLOP/s', better: 'higher', kind: 'absolute' },
  blis_gflops: { unit: 'GFLOP/s', better: 'higher', kind: 'absolute', optional: true },
  weight_gbps: { unit: 'GB/s', better: 'higher', kind: 'absolute', decodeOnly: true },
  lora_tax_pct: { unit: '%', better: 'lower', kind: 'same-run' },
  lora_tax_excess_pp: { unit: 'pp', better: 'lower', kind: 'same-run' },
  ratio_vs_openblas: { unit: '×', better: 'higher', kind: 'same-run' },
  ratio_vs_blis: { unit: '×', better: 'higher', kind: 'same-run', optional: true },
  fused_vs_unfused: { unit: '×', better: 'higher', kind: 'same-run' },
  bw_efficiency_pct: { unit: '%', better: 'higher', kind: 'same-run', decodeOnly: true },
  // The same-size streaming read of each decode round: the control for decode, which is bound
  // by the machine's bandwidth where OpenBLAS's decode is not.
  read_gbps: { unit: 'GB/s', better: 'higher', kind: 'absolute', decodeOnly: true },
};

function benchArgs(grid: Grid, ctx: LaneContext): string[] {
  return [
    `--force_path=${ctx.forcePath}`,
    `--threads=${ctx.threads}`,
    `--gemm_m=${grid.m.join(',')}`,
    `--gemm_h=${grid.h.join(',')}`,
    `--gemm_r=${grid.r.join(',')}`,
    `--stream_bytes=${grid.streamBytes}`,
    `--benchmark_repetitions=${ctx.repetitions ?? grid.repetitions}`,
    `--benchmark_min_time=${grid.minTimeS}`,
    '--benchmark_enable_random_interleaving=true',
  ];
}

function metricsOf(c: GbenchCase, decode: boolean, r: number, h: number): Metric[] {
  const out: Metric[] = [];
  for (const [name, spec] of Object.entries(GEMM_METRICS)) {
    if (spec.decodeOnly && !decode) continue;
    if (spec.optional && !c.runs.some((run) => run.counters[name] !== undefined)) continue;
    let samples: number[];
    if (name === 'lora_tax_excess_pp') {
      // how far the tax is above its floor, the share of extra work 2r/H; the seed's target is ≤ 1 pp
      const bound = (100 * 2 * r) / h;
      samples = c.runs.map((run) => (run.counters.lora_tax_pct ?? Number.NaN) - bound);
    } else {
      samples = c.runs.map((run) => run.counters[name] ?? Number.NaN);
    }
    out.push(metricFromSamples(name, spec, samples));
  }
  return out;
}

/** Bench JSON → lane result; pure, so it is tested on recorded output. */
export function gemmResultFromJson(
  text: string,
  planned: string[],
): Omit<LaneResult, 'durationS' | 'artifacts'> {
  const report = parseGbenchJson(text);
  const cutoff = report.context.decode_max_m;
  if (cutoff !== undefined && Number(cutoff) !== GEMM_DECODE_MAX_M) {
    throw new Error(
      `context.decode_max_m: the bench treats M <= ${String(cutoff)} as decode, the lane M <= ` +
        `${GEMM_DECODE_MAX_M} (GEMM_DECODE_MAX_M in src/lanes/gemm.ts and kDecodeMaxM in ` +
        'native/include/infeng/gemm.h must agree)',
    );
  }
  const cases: CaseResult[] = [];
  const info: LaneResult['info'] = {};
  for (const key of [
    'threads',
    'isa_flags',
    'openblas_config',
    'openblas_threads',
    'blis_version',
    'blis_arch',
    'blis_note',
    'blis_error',
    'stream_bytes',
    'compiler',
  ]) {
    const v = report.context[key];
    if (typeof v === 'string' || typeof v === 'number') info[key] = v;
  }
  for (const c of report.cases) {
    if (c.name === 'gemm/membw') {
      const gbps = c.runs.map((r) => r.counters.read_gbps).filter((v): v is number => Number.isFinite(v));
      if (gbps.length) info.read_gbps = Number(median(gbps).toFixed(2));
      continue;
    }
    const m = /^gemm\/(decode|prefill)\/M(\d+)\/H(\d+)\/r(\d+)$/.exec(c.name);
    if (!m) continue;
    const [, phase, M, H, R] = m;
    const id = `${phase}/M${M}/H${H}/r${R}`;
    const params = { phase: phase!, M: Number(M), K: Number(H), N: Number(H), rank: Number(R) };
    if (c.error || c.runs.length === 0) {
      cases.push({ id, params, metrics: [], error: c.error ?? 'no repetitions reported' });
      continue;
    }
    cases.push({ id, params, metrics: metricsOf(c, phase === 'decode', Number(R), Number(H)) });
  }
  const seen = new Set(cases.map((c) => c.id));
  for (const id of planned) {
    if (!seen.has(id))
      cases.push({ id, params: {}, metrics: [], error: 'the bench did not report this case' });
  }
  const path = typeof report.context.path === 'string' ? report.context.path : '';
  return { lane: 'gemm', status: 'ok', path, cases, planned, info };
}

export const gemmLane: Lane = {
  name: 'gemm',
  targets: ['infeng_gemm_bench'],
  inputs: (buildDir) => [path.join(buildDir, 'bench', 'infeng_gemm_bench')],
  plannedCases(profile) {
    const g = GEMM_GRIDS[profile];
    return g.m.flatMap((m) => g.h.flatMap((h) => g.r.map((r) => gemmCaseId(m, h, r))));
  },
  samplesPerMetric: (profile) => GEMM_GRIDS[profile].repetitions,
  writeReports: writeGemmReports,
  benchSpec(ctx) {
    const planned = this.plannedCases(ctx.profile);
    return {
      lane: 'gemm',
      bin: 'infeng_gemm_bench',
      args: benchArgs(GEMM_GRIDS[ctx.profile], ctx),
      planned,
      parse: (text) => gemmResultFromJson(text, planned),
      write: writeGemmReports,
      benchmarkOf: (id) => `gemm/${id}`,
    };
  },
  async run(ctx) {
    return runBenchLane(ctx, this.benchSpec!(ctx));
  },
};
