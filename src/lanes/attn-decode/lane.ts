// The attn-decode lane: one query token per head against a KV cache, the int8-KV kernel against
// the FP16-KV kernel on the same cache, timed round-robin with a read-bandwidth probe of the same
// bytes (native/bench/attn_decode_bench.cpp), plus the real model's perplexity with each format.
// This adapter picks the grid per profile and turns the counters into metrics.
import { median } from 'simple-statistics';
import type { Profile } from '../../model/lanes.js';
import type { LaneResult } from '../../model/results.js';
import type { GbenchCase } from '../../results/gbench.js';
import { writeAttnDecodeReports } from './reports.js';
import {
  attnLane,
  attnResultFromJson,
  type AttnBenchOutput,
  type AttnGrid,
  type MetricSpec,
} from '../attention/lane.js';

interface Grid extends AttnGrid {
  ctx: number[];
  streamBytes: number;
}

// smoke: the pipeline's own test, seconds. quick: before pushing, the gated contexts of both
// shapes. full: calibration, every context from 512 to 8192.
export const ATTN_DECODE_GRIDS: Record<Profile, Grid> = {
  smoke: {
    shapes: ['32/4/64'],
    ctx: [256, 2048],
    repetitions: 5,
    minTimeS: 0.01,
    streamBytes: 16 << 20,
    pplSequences: 1,
  },
  quick: {
    shapes: ['32/4/64', '32/8/128'],
    ctx: [512, 2048, 8192],
    repetitions: 5,
    minTimeS: 0.1,
    // The full profile's rotation: the baselines are calibrated with it, and a smaller one
    // (512 MiB against a 480 MiB last-level cache here) changes the same-run ratios.
    streamBytes: 1 << 30,
    // Δ perplexity of int8 vs FP16 KV is a small difference of two means: on 4 × 512 tokens
    // it moved by as much as the gate's margin between sample sets.
    pplSequences: 16,
  },
  full: {
    shapes: ['32/4/64', '32/8/128'],
    ctx: [512, 1024, 2048, 4096, 8192],
    repetitions: 10,
    minTimeS: 0.2,
    streamBytes: 1 << 30,
    pplSequences: 32,
  },
};

export const ATTN_DECODE_METRICS: Record<string, MetricSpec> = {
  speedup_vs_fp16kv: { unit: '×', better: 'higher', kind: 'same-run' },
  tokens_per_s: { unit: 'tok/s', better: 'higher', kind: 'absolute' },
  baseline_tokens_per_s: { unit: 'tok/s', better: 'higher', kind: 'absolute' },
  bw_efficiency_pct: { unit: '%', better: 'higher', kind: 'same-run' },
  fp16_bw_efficiency_pct: { unit: '%', better: 'higher', kind: 'same-run' },
  int8_gbps: { unit: 'GB/s', better: 'higher', kind: 'absolute' },
  l2_diff: { unit: '', better: 'lower', kind: 'same-run' },
  scratch_ratio: { unit: '×', better: 'lower', kind: 'same-run' },
};

export const ATTN_PERPLEXITY_METRICS: Record<string, MetricSpec> = {
  perplexity_delta_pct: { unit: '%', better: 'lower', kind: 'same-run' },
  perplexity_delta_fp16_pct: { unit: '%', better: 'lower', kind: 'same-run' },
};

// Per-case facts that are not judged but belong in the CSV (DESIGN.md's columns).
const FACTS = [
  'tile_tokens',
  'acc_width',
  'has_avx2',
  'has_vnni',
  'csr_outliers',
  'l2_bytes_per_token',
  'scratch_bytes',
  'read_gbps',
  'fp16_us',
  'int8_us',
  'byte_ratio',
  'l2_diff_fp16',
];

/** The memory-bandwidth probe is a fact of the run, not a case: its read GB/s goes to lane info. */
function probeInfo(cases: GbenchCase[]): LaneResult['info'] {
  const info: LaneResult['info'] = {};
  for (const c of cases.filter((x) => x.name === 'attn_decode/membw')) {
    const v = c.runs.map((r) => r.counters.read_gbps).filter((x): x is number => Number.isFinite(x));
    if (v.length) info.read_gbps = Number(median(v).toFixed(2));
  }
  return info;
}

const OUTPUT: AttnBenchOutput = {
  lane: 'attn-decode',
  prefix: 'attn_decode',
  /** cases are q<Q>kv<KV>d<D>/ctx<N> */
  sizeTag: 'ctx',
  sizeParam: 'ctx',
  infoKeys: [
    'threads',
    'isa_flags',
    'vnni',
    'stream_bytes',
    'layers',
    'residual_groups',
    'compiler',
    'model',
  ],
  shape: { facts: FACTS, format: (v) => v, metrics: ATTN_DECODE_METRICS },
  perplexity: {
    facts: ['ppl_fp32', 'ppl_fp16', 'ppl_int8', 'ppl_tokens'],
    format: (v) => Number(v.toFixed(5)),
    metrics: ATTN_PERPLEXITY_METRICS,
  },
  extraInfo: probeInfo,
};

/** Bench JSON → lane result; pure, so it is tested on recorded output. */
export const attnDecodeResultFromJson = (text: string, planned: string[]) =>
  attnResultFromJson(text, planned, OUTPUT);

export const attnDecodeLane = attnLane({
  bin: 'infeng_attn_decode_bench',
  output: OUTPUT,
  grids: ATTN_DECODE_GRIDS,
  sizes: (g) => g.ctx,
  laneArgs: (g) => [`--attn_ctx=${g.ctx.join(',')}`, `--stream_bytes=${g.streamBytes}`],
  writeReports: writeAttnDecodeReports,
});
