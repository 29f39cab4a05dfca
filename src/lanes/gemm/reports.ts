// The GEMM lane's report files: reports/gemm_lora.csv (one row per case, medians) and
// reports/gemm_summary.json (the same plus headline figures), for people and for other tools.
import { writeCsv, writeJsonReport } from '../../results/report-files.js';
import type { CaseResult, LaneResult } from '../../model/results.js';

export const GEMM_CSV_COLUMNS = [
  'case',
  'phase',
  'M',
  'K',
  'N',
  'rank',
  'path',
  'threads',
  'base_ms',
  'fused_ms',
  'unfused_ms',
  'openblas_ms',
  'base_gflops',
  'fused_gflops',
  'unfused_gflops',
  'openblas_gflops',
  'lora_tax_pct',
  'lora_tax_bound_pct',
  'lora_tax_excess_pp',
  'fused_vs_unfused',
  'ratio_vs_openblas',
  'weight_gbps',
  'bw_efficiency_pct',
  'repetitions',
  'error',
  // BLIS, the second peer (after the original columns, whose positions stay)
  'blis_ms',
  'blis_gflops',
  'ratio_vs_blis',
] as const;

function val(c: CaseResult, name: string): number | undefined {
  return c.metrics.find((m) => m.name === name)?.value;
}

function round(v: number | undefined, digits = 3): number | '' {
  return v === undefined || !Number.isFinite(v) ? '' : Number(v.toFixed(digits));
}

export function gemmCsvRows(
  result: LaneResult,
): Record<(typeof GEMM_CSV_COLUMNS)[number], string | number>[] {
  return result.cases.map((c) => {
    const r = Number(c.params.rank);
    const h = Number(c.params.K);
    return {
      case: c.id,
      phase: String(c.params.phase ?? ''),
      M: c.params.M ?? '',
      K: c.params.K ?? '',
      N: c.params.N ?? '',
      rank: c.params.rank ?? '',
      path: result.path,
      threads: result.info.threads ?? '',
      base_ms: round(latencyMs(c, 'base_gflops', false), 4),
      fused_ms: round(latencyMs(c, 'fused_gflops', true), 4),
      unfused_ms: round(latencyMs(c, 'unfused_gflops', true), 4),
      openblas_ms: round(latencyMs(c, 'openblas_gflops', false), 4),
      base_gflops: round(val(c, 'base_gflops'), 2),
      fused_gflops: round(val(c, 'fused_gflops'), 2),
      unfused_gflops: round(val(c, 'unfused_gflops'), 2),
      openblas_gflops: round(val(c, 'openblas_gflops'), 2),
      lora_tax_pct: round(val(c, 'lora_tax_pct'), 2),
      lora_tax_bound_pct: Number.isFinite(r / h) ? round((100 * 2 * r) / h, 3) : '',
      lora_tax_excess_pp: round(val(c, 'lora_tax_excess_pp'), 2),
      fused_vs_unfused: round(val(c, 'fused_vs_unfused')),
      ratio_vs_openblas: round(val(c, 'ratio_vs_openblas')),
      weight_gbps: round(val(c, 'weight_gbps'), 2),
      bw_efficiency_pct: round(val(c, 'bw_efficiency_pct'), 1),
      repetitions: c.metrics[0]?.samples.length ?? 0,
      error: c.error ?? '',
      blis_ms: round(latencyMs(c, 'blis_gflops', false), 4),
      blis_gflops: round(val(c, 'blis_gflops'), 2),
      ratio_vs_blis: round(val(c, 'ratio_vs_blis')),
    };
  });
}

/**
 * Latency of one call from its throughput (the bench reports both from the same timings; the
 * median of the rate is the rate of the median time, so this is exact for odd sample counts).
 */
function latencyMs(c: CaseResult, name: string, withLora: boolean): number | undefined {
  const g = val(c, name);
  const M = Number(c.params.M);
  const K = Number(c.params.K);
  const N = Number(c.params.N);
  const r = Number(c.params.rank);
  if (g === undefined || !(g > 0) || ![M, K, N, r].every(Number.isFinite)) return undefined;
  const flops = 2 * M * K * N + (withLora ? 2 * M * K * r + 2 * M * r * N : 0);
  return flops / (g * 1e6);
}

function geomean(xs: number[]): number | undefined {
  const v = xs.filter((x) => Number.isFinite(x) && x > 0);
  return v.length ? Math.exp(v.reduce((s, x) => s + Math.log(x), 0) / v.length) : undefined;
}

export function gemmSummary(result: LaneResult) {
  const phase = (p: string) => result.cases.filter((c) => c.params.phase === p);
  const metric = (cs: CaseResult[], name: string) => cs.map((c) => val(c, name) ?? Number.NaN);
  const finite = (xs: number[]) => xs.filter(Number.isFinite);
  const prefill = phase('prefill');
  const decode = phase('decode');
  return {
    lane: 'gemm',
    path: result.path,
    info: result.info,
    headline: {
      prefill_ratio_vs_openblas_geomean: round(geomean(metric(prefill, 'ratio_vs_openblas'))),
      decode_ratio_vs_openblas_geomean: round(geomean(metric(decode, 'ratio_vs_openblas'))),
      prefill_ratio_vs_blis_geomean: round(geomean(metric(prefill, 'ratio_vs_blis'))),
      decode_ratio_vs_blis_geomean: round(geomean(metric(decode, 'ratio_vs_blis'))),
      decode_bw_efficiency_pct_min: round(Math.min(...finite(metric(decode, 'bw_efficiency_pct'))), 1),
      prefill_lora_tax_excess_pp_max: round(Math.max(...finite(metric(prefill, 'lora_tax_excess_pp'))), 2),
      decode_lora_tax_excess_pp_max: round(Math.max(...finite(metric(decode, 'lora_tax_excess_pp'))), 2),
    },
    cases: gemmCsvRows(result),
  };
}

/** Writes both files; returns their names relative to reportsDir. */
export function writeGemmReports(result: LaneResult, reportsDir: string): string[] {
  return [
    writeCsv(reportsDir, 'gemm_lora.csv', gemmCsvRows(result), GEMM_CSV_COLUMNS),
    writeJsonReport(reportsDir, 'gemm_summary.json', gemmSummary(result)),
  ];
}
