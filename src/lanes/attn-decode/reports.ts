// The attn-decode lane's report files: reports/attn_decode.csv (one row per case, medians, with
// DESIGN.md's columns) and reports/attn_decode_summary.json (the same plus headline figures).
// The model-level perplexity delta is one number per run; every row carries it.
import {
  headlineMax,
  headlineMin,
  metricValue as val,
  round,
  significant,
  writeAttnReports,
} from '../attention/reports.js';
import type { AttnReportSpec } from '../attention/reports.js';
import type { LaneResult } from '../../model/results.js';

export const ATTN_DECODE_CSV_COLUMNS = [
  'case',
  'q_heads',
  'kv_heads',
  'head_dim',
  'ctx',
  'path',
  'threads',
  'tokens_per_s',
  'baseline_tokens_per_s',
  'speedup_vs_fp16kv',
  'perplexity_delta',
  'l2_diff',
  'scratch_ratio',
  'tile_tokens',
  'acc_width',
  'has_avx2',
  'has_vnni',
  'csr_outliers',
  'l2_bytes_per_token',
  'int8_gbps',
  'read_gbps',
  'bw_efficiency_pct',
  'fp16_bw_efficiency_pct',
  'repetitions',
  'error',
] as const;

export const ATTN_DECODE_REPORT: AttnReportSpec<(typeof ATTN_DECODE_CSV_COLUMNS)[number], 'ctx'> = {
  lane: 'attn-decode',
  stem: 'attn_decode',
  columns: ATTN_DECODE_CSV_COLUMNS,
  size: 'ctx',
  pplDigits: 4,
  row: (c, perplexityDelta) => ({
    tokens_per_s: round(val(c, 'tokens_per_s'), 1),
    baseline_tokens_per_s: round(val(c, 'baseline_tokens_per_s'), 1),
    speedup_vs_fp16kv: round(val(c, 'speedup_vs_fp16kv')),
    perplexity_delta: perplexityDelta,
    l2_diff: significant(val(c, 'l2_diff')),
    scratch_ratio: round(val(c, 'scratch_ratio')),
    tile_tokens: c.params.tile_tokens ?? '',
    acc_width: c.params.acc_width ?? '',
    has_avx2: c.params.has_avx2 ?? '',
    has_vnni: c.params.has_vnni ?? '',
    csr_outliers: c.params.csr_outliers ?? '',
    l2_bytes_per_token: round(c.params.l2_bytes_per_token, 1),
    int8_gbps: round(val(c, 'int8_gbps'), 2),
    read_gbps: round(c.params.read_gbps, 2),
    bw_efficiency_pct: round(val(c, 'bw_efficiency_pct'), 1),
    fp16_bw_efficiency_pct: round(val(c, 'fp16_bw_efficiency_pct'), 1),
  }),
  headline: (healthy) => ({
    speedup_vs_fp16kv_min: headlineMin(healthy, 'speedup_vs_fp16kv'),
    speedup_vs_fp16kv_max: headlineMax(healthy, 'speedup_vs_fp16kv'),
    bw_efficiency_pct_max: headlineMax(healthy, 'bw_efficiency_pct', 1),
  }),
};

/** Writes both files; returns their names relative to reportsDir. */
export const writeAttnDecodeReports = (result: LaneResult, reportsDir: string): string[] =>
  writeAttnReports(ATTN_DECODE_REPORT, result, reportsDir);
