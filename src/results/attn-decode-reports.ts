// The attn-decode lane's report files: reports/attn_decode.csv (one row per case, medians, with
// DESIGN.md's columns) and reports/attn_decode_summary.json (the same plus headline figures).
// The model-level perplexity delta is one number per run; every row carries it.
import { writeCsv, writeJsonReport } from './report-files.js';
import type { CaseResult, LaneResult } from '../model/results.js';

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

type Row = Record<(typeof ATTN_DECODE_CSV_COLUMNS)[number], string | number>;

function val(c: CaseResult | undefined, name: string): number | undefined {
  return c?.metrics.find((m) => m.name === name)?.value;
}

function round(v: number | string | undefined, digits = 3): number | '' {
  const n = typeof v === 'string' ? Number(v) : v;
  return n === undefined || !Number.isFinite(n) ? '' : Number(n.toFixed(digits));
}

export function attnDecodeCsvRows(result: LaneResult): Row[] {
  const ppl = result.cases.find((c) => c.id === 'perplexity');
  const pplDelta = round(val(ppl, 'perplexity_delta_pct'), 4);
  return result.cases
    .filter((c) => c.id !== 'perplexity')
    .map((c) => ({
      case: c.id,
      q_heads: c.params.q_heads ?? '',
      kv_heads: c.params.kv_heads ?? '',
      head_dim: c.params.head_dim ?? '',
      ctx: c.params.ctx ?? '',
      path: result.path,
      threads: result.info.threads ?? '',
      tokens_per_s: round(val(c, 'tokens_per_s'), 1),
      baseline_tokens_per_s: round(val(c, 'baseline_tokens_per_s'), 1),
      speedup_vs_fp16kv: round(val(c, 'speedup_vs_fp16kv')),
      perplexity_delta: pplDelta,
      l2_diff: c.metrics.length ? Number((val(c, 'l2_diff') ?? Number.NaN).toPrecision(3)) || '' : '',
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
      repetitions: c.metrics[0]?.samples.length ?? 0,
      error: c.error ?? '',
    }));
}

export function attnDecodeSummary(result: LaneResult) {
  const decode = result.cases.filter((c) => c.id !== 'perplexity' && !c.error);
  const speedups = decode.map((c) => val(c, 'speedup_vs_fp16kv') ?? Number.NaN).filter(Number.isFinite);
  const effs = decode.map((c) => val(c, 'bw_efficiency_pct') ?? Number.NaN).filter(Number.isFinite);
  const ppl = result.cases.find((c) => c.id === 'perplexity');
  return {
    lane: 'attn-decode',
    path: result.path,
    info: result.info,
    headline: {
      speedup_vs_fp16kv_min: speedups.length ? round(Math.min(...speedups)) : null,
      speedup_vs_fp16kv_max: speedups.length ? round(Math.max(...speedups)) : null,
      bw_efficiency_pct_max: effs.length ? round(Math.max(...effs), 1) : null,
      perplexity_delta_pct: round(val(ppl, 'perplexity_delta_pct'), 4),
      perplexity: ppl?.params ?? {},
    },
    cases: attnDecodeCsvRows(result),
  };
}

/** Writes both files; returns their names relative to reportsDir. */
export function writeAttnDecodeReports(result: LaneResult, reportsDir: string): string[] {
  return [
    writeCsv(reportsDir, 'attn_decode.csv', attnDecodeCsvRows(result), ATTN_DECODE_CSV_COLUMNS),
    writeJsonReport(reportsDir, 'attn_decode_summary.json', attnDecodeSummary(result)),
  ];
}
