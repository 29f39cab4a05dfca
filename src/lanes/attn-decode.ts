// The attn-decode lane: one query token per head against a KV cache, the int8-KV kernel against
// the FP16-KV kernel on the same cache, timed round-robin with a read-bandwidth probe of the same
// bytes (native/bench/attn_decode_bench.cpp), plus the real model's perplexity with each format.
// This adapter picks the grid per profile and turns the counters into metrics.
import type { Lane, LaneContext } from './lane.js';
import type { Profile } from '../model/lanes.js';
import type { CaseResult, LaneResult } from '../model/results.js';
import { parseGbenchJson } from '../results/gbench.js';
import { writeAttnDecodeReports } from '../results/attn-decode-reports.js';
import {
  addMissing,
  contextInfo,
  metricsFromCounters,
  runBenchLane,
  type MetricSpec,
} from './attn-common.js';

interface Grid {
  shapes: string[];
  ctx: number[];
  repetitions: number;
  minTimeS: number;
  streamBytes: number;
  pplSequences: number;
}

// smoke: the pipeline's own test, seconds. quick: before pushing, the gated contexts of both
// shapes. full: calibration, every context from 512 to 8192.
export const ATTN_DECODE_GRIDS: Record<Profile, Grid> = {
  smoke: {
    shapes: ['32/4/64'],
    ctx: [256, 2048],
    repetitions: 3,
    minTimeS: 0.01,
    streamBytes: 16 << 20,
    pplSequences: 1,
  },
  quick: {
    shapes: ['32/4/64', '32/8/128'],
    ctx: [512, 2048, 8192],
    repetitions: 5,
    minTimeS: 0.1,
    streamBytes: 512 << 20,
    pplSequences: 4,
  },
  full: {
    shapes: ['32/4/64', '32/8/128'],
    ctx: [512, 1024, 2048, 4096, 8192],
    repetitions: 10,
    minTimeS: 0.2,
    streamBytes: 1 << 30,
    pplSequences: 8,
  },
};

export const PERPLEXITY_CASE = 'perplexity';

/** "32/4/64" + 2048 → "q32kv4d64/ctx2048", the bench's name without the lane prefix. */
export function attnDecodeCaseId(shape: string, ctx: number): string {
  const [q, kv, d] = shape.split('/');
  return `q${q}kv${kv}d${d}/ctx${ctx}`;
}

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

function benchArgs(grid: Grid, ctx: LaneContext): string[] {
  return [
    `--force_path=${ctx.forcePath}`,
    `--threads=${ctx.threads}`,
    `--attn_shapes=${grid.shapes.join(',')}`,
    `--attn_ctx=${grid.ctx.join(',')}`,
    `--stream_bytes=${grid.streamBytes}`,
    `--ppl_sequences=${grid.pplSequences}`,
    `--benchmark_repetitions=${grid.repetitions}`,
    `--benchmark_min_time=${grid.minTimeS}`,
    '--benchmark_enable_random_interleaving=true',
  ];
}

/** Bench JSON → lane result; pure, so it is tested on recorded output. */
export function attnDecodeResultFromJson(
  text: string,
  planned: string[],
): Omit<LaneResult, 'durationS' | 'artifacts'> {
  const report = parseGbenchJson(text);
  const info = contextInfo(report.context, [
    'threads',
    'isa_flags',
    'vnni',
    'stream_bytes',
    'compiler',
    'model',
  ]);
  const cases: CaseResult[] = [];
  for (const c of report.cases) {
    if (c.name === 'attn_decode/membw') {
      const v = c.runs.map((r) => r.counters.read_gbps).filter((x): x is number => Number.isFinite(x));
      if (v.length)
        info.read_gbps = Number([...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!.toFixed(2));
      continue;
    }
    if (c.name === `attn_decode/${PERPLEXITY_CASE}`) {
      if (c.error || c.runs.length === 0) {
        cases.push({
          id: PERPLEXITY_CASE,
          params: {},
          metrics: [],
          error: c.error ?? 'no repetitions reported',
        });
        continue;
      }
      const params: CaseResult['params'] = {};
      for (const k of ['ppl_fp32', 'ppl_fp16', 'ppl_int8', 'ppl_tokens']) {
        const v = c.runs[0]?.counters[k];
        if (v !== undefined && Number.isFinite(v)) params[k] = Number(v.toFixed(5));
      }
      cases.push({ id: PERPLEXITY_CASE, params, metrics: metricsFromCounters(c, ATTN_PERPLEXITY_METRICS) });
      continue;
    }
    const m = /^attn_decode\/q(\d+)kv(\d+)d(\d+)\/ctx(\d+)$/.exec(c.name);
    if (!m) continue;
    const [, q, kv, d, ctxLen] = m;
    const id = `q${q}kv${kv}d${d}/ctx${ctxLen}`;
    const params: CaseResult['params'] = {
      q_heads: Number(q),
      kv_heads: Number(kv),
      head_dim: Number(d),
      ctx: Number(ctxLen),
    };
    if (c.error || c.runs.length === 0) {
      cases.push({ id, params, metrics: [], error: c.error ?? 'no repetitions reported' });
      continue;
    }
    for (const k of FACTS) {
      const v = c.runs[0]?.counters[k];
      if (v !== undefined && Number.isFinite(v)) params[k] = v;
    }
    cases.push({ id, params, metrics: metricsFromCounters(c, ATTN_DECODE_METRICS) });
  }
  addMissing(cases, planned);
  const path = typeof report.context.path === 'string' ? report.context.path : '';
  return { lane: 'attn-decode', status: 'ok', path, cases, planned, info };
}

export const attnDecodeLane: Lane = {
  name: 'attn-decode',
  targets: ['infeng_attn_decode_bench'],
  plannedCases(profile) {
    const g = ATTN_DECODE_GRIDS[profile];
    return [...g.shapes.flatMap((s) => g.ctx.map((c) => attnDecodeCaseId(s, c))), PERPLEXITY_CASE];
  },
  async run(ctx) {
    const grid = ATTN_DECODE_GRIDS[ctx.profile];
    const planned = this.plannedCases(ctx.profile);
    return runBenchLane(
      ctx,
      'attn-decode',
      'infeng_attn_decode_bench',
      benchArgs(grid, ctx),
      planned,
      (text) => attnDecodeResultFromJson(text, planned),
      writeAttnDecodeReports,
    );
  },
};
