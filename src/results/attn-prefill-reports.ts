// The attn-prefill lane's report files: reports/attn_prefill.csv (one row per case, medians)
// and reports/attn_prefill_summary.json (the same plus headline figures).
import { writeCsv, writeJsonReport } from './report-files.js';
import type { CaseResult, LaneResult } from '../model/results.js';

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

type Row = Record<(typeof ATTN_PREFILL_CSV_COLUMNS)[number], string | number>;

function val(c: CaseResult | undefined, name: string): number | undefined {
  return c?.metrics.find((m) => m.name === name)?.value;
}

function round(v: number | string | undefined, digits = 3): number | '' {
  const n = typeof v === 'string' ? Number(v) : v;
  return n === undefined || !Number.isFinite(n) ? '' : Number(n.toFixed(digits));
}

export function attnPrefillCsvRows(result: LaneResult): Row[] {
  const ppl = result.cases.find((c) => c.id === 'perplexity');
  const pplDelta = round(val(ppl, 'perplexity_delta_pct'), 5);
  return result.cases
    .filter((c) => c.id !== 'perplexity')
    .map((c) => ({
      case: c.id,
      q_heads: c.params.q_heads ?? '',
      kv_heads: c.params.kv_heads ?? '',
      head_dim: c.params.head_dim ?? '',
      seq: c.params.seq ?? '',
      path: result.path,
      threads: result.info.threads ?? '',
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
      l2_diff: c.metrics.length ? Number((val(c, 'l2_diff') ?? Number.NaN).toPrecision(3)) || 0 : '',
      perplexity_delta: pplDelta,
      repetitions: c.metrics[0]?.samples.length ?? 0,
      error: c.error ?? '',
    }));
}

export function attnPrefillSummary(result: LaneResult) {
  const rows = result.cases.filter((c) => c.id !== 'perplexity' && !c.error);
  const speed = rows.map((c) => val(c, 'speedup_vs_reference') ?? Number.NaN).filter(Number.isFinite);
  const peak = rows.map((c) => val(c, 'peak_pct') ?? Number.NaN).filter(Number.isFinite);
  const ppl = result.cases.find((c) => c.id === 'perplexity');
  return {
    lane: 'attn-prefill',
    path: result.path,
    info: result.info,
    headline: {
      speedup_vs_reference_min: speed.length ? round(Math.min(...speed)) : null,
      peak_pct_max: peak.length ? round(Math.max(...peak), 1) : null,
      perplexity_delta_pct: round(val(ppl, 'perplexity_delta_pct'), 5),
      perplexity: ppl?.params ?? {},
    },
    cases: attnPrefillCsvRows(result),
  };
}

/** Writes both files; returns their names relative to reportsDir. */
export function writeAttnPrefillReports(result: LaneResult, reportsDir: string): string[] {
  return [
    writeCsv(reportsDir, 'attn_prefill.csv', attnPrefillCsvRows(result), ATTN_PREFILL_CSV_COLUMNS),
    writeJsonReport(reportsDir, 'attn_prefill_summary.json', attnPrefillSummary(result)),
  ];
}
