// The attn-prefill lane's report files: reports/attn_prefill.csv (one row per case, medians)
// and reports/attn_prefill_summary.json (the same plus headline figures).
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

export const ATTN_PREFILL_CSV_COLUMNS = [
  'case',
  'q_heads',
  'kv_heads',
  'head_dim',
  'seq',
  'path',
  'threads',
  'tile',
  'tiled_ms',
  'reference_ms',
  'speedup_vs_reference',
  'tiled_gflops',
  'peak_gflops',
  'peak_pct',
  'tokens_per_s',
  'scratch_bytes',
  'reference_scratch_bytes',
  'scratch_ratio',
  'l2_diff',
  'perplexity_delta',
  'repetitions',
  'error',
] as const;

export const ATTN_PREFILL_REPORT: AttnReportSpec<(typeof ATTN_PREFILL_CSV_COLUMNS)[number], 'seq'> = {
  lane: 'attn-prefill',
  stem: 'attn_prefill',
  columns: ATTN_PREFILL_CSV_COLUMNS,
  size: 'seq',
  pplDigits: 5,
  row: (c, perplexityDelta) => ({
    tile: c.params.tile ?? '',
    tiled_ms: round(c.params.tiled_ms),
    reference_ms: round(c.params.reference_ms),
    speedup_vs_reference: round(val(c, 'speedup_vs_reference')),
    tiled_gflops: round(val(c, 'tiled_gflops'), 1),
    peak_gflops: round(c.params.peak_gflops, 1),
    peak_pct: round(val(c, 'peak_pct'), 1),
    tokens_per_s: round(val(c, 'tokens_per_s'), 0),
    scratch_bytes: c.params.scratch_bytes ?? '',
    reference_scratch_bytes: c.params.reference_scratch_bytes ?? '',
    scratch_ratio: round(val(c, 'scratch_ratio'), 4),
    l2_diff: significant(val(c, 'l2_diff')),
    perplexity_delta: perplexityDelta,
  }),
  headline: (healthy) => ({
    speedup_vs_reference_min: headlineMin(healthy, 'speedup_vs_reference'),
    peak_pct_max: headlineMax(healthy, 'peak_pct', 1),
  }),
};

/** Writes both files; returns their names relative to reportsDir. */
export const writeAttnPrefillReports = (result: LaneResult, reportsDir: string): string[] =>
  writeAttnReports(ATTN_PREFILL_REPORT, result, reportsDir);
