// The tokenizer lane's report files: reports/tokenizer.csv (the native tokenizer, one row per
// tokenizer file, medians), reports/tokenizer_hf.csv (the reference measured in the same runs)
// and reports/tokenizer_summary.json (both plus the same-run comparison).
import { writeCsv, writeJsonReport } from '../../results/report-files.js';
import type { CaseResult, LaneResult } from '../../model/results.js';

function val(c: CaseResult, name: string): number | undefined {
  return c.metrics.find((m) => m.name === name)?.value;
}

function round(v: number | undefined, digits = 3): number | '' {
  return v === undefined || !Number.isFinite(v) ? '' : Number(v.toFixed(digits));
}

/** Thread counts the lane swept, from the metric names present. */
function sweptThreads(result: LaneResult): number[] {
  const n = new Set<number>();
  for (const c of result.cases)
    for (const m of c.metrics) {
      const t = /^batch_mb_s_t(\d+)$/.exec(m.name);
      if (t) n.add(Number(t[1]));
    }
  return [...n].sort((a, b) => a - b);
}

export function tokenizerCsvColumns(threads: number[]): string[] {
  return [
    'case',
    'family',
    'path',
    'texts',
    'bytes',
    'tokens',
    'mb_s',
    'tokens_s',
    'speedup_vs_hf',
    ...threads.map((n) => `batch_mb_s_t${n}`),
    'batch_scaling_2t',
    'batch_speedup_vs_hf',
    'prefix_k',
    'prefix_cache_entries',
    'prefix_hit_rate_pct',
    'prefix_speedup',
    'parity_mismatches',
    'repetitions',
    'error',
    'speedup_vs_tiktoken',
    'tiktoken_mb_s',
  ];
}

export const TOKENIZER_HF_CSV_COLUMNS = [
  'case',
  'reference',
  'texts',
  'bytes',
  'tokens',
  'mb_s',
  'tokens_s',
  'batch_mb_s',
  'repetitions',
] as const;

export function tokenizerCsvRows(result: LaneResult): Record<string, string | number>[] {
  const threads = sweptThreads(result);
  return result.cases.map((c) => ({
    case: c.id,
    family: String(c.params.family ?? ''),
    path: result.path,
    texts: c.params.texts ?? '',
    bytes: c.params.bytes ?? '',
    tokens: c.params.tokens ?? '',
    mb_s: round(val(c, 'native_mb_s'), 2),
    tokens_s: round(val(c, 'native_tokens_s'), 0),
    speedup_vs_hf: round(val(c, 'speedup_vs_hf'), 2),
    ...Object.fromEntries(threads.map((n) => [`batch_mb_s_t${n}`, round(val(c, `batch_mb_s_t${n}`), 2)])),
    batch_scaling_2t: round(val(c, 'batch_scaling_2t'), 3),
    batch_speedup_vs_hf: round(val(c, 'batch_speedup_vs_hf'), 2),
    prefix_k: c.params.prefix_k ?? '',
    prefix_cache_entries: c.params.prefix_cache_entries ?? '',
    prefix_hit_rate_pct: round(val(c, 'prefix_hit_rate_pct'), 1),
    prefix_speedup: round(val(c, 'prefix_speedup'), 3),
    parity_mismatches: round(val(c, 'parity_mismatches'), 0),
    repetitions: c.metrics.find((m) => m.name === 'native_mb_s')?.samples.length ?? 0,
    error: c.error ?? '',
    speedup_vs_tiktoken: round(val(c, 'speedup_vs_tiktoken'), 2),
    tiktoken_mb_s: round(val(c, 'tiktoken_mb_s'), 2),
  }));
}

export function tokenizerHfCsvRows(result: LaneResult): Record<string, string | number>[] {
  return result.cases.map((c) => ({
    case: c.id,
    reference: String(result.info.reference ?? ''),
    texts: c.params.texts ?? '',
    bytes: c.params.bytes ?? '',
    tokens: c.params.tokens ?? '',
    mb_s: round(val(c, 'hf_mb_s'), 2),
    tokens_s: round(val(c, 'hf_tokens_s'), 0),
    batch_mb_s: round(val(c, 'hf_batch_mb_s'), 2),
    repetitions: c.metrics.find((m) => m.name === 'hf_mb_s')?.samples.length ?? 0,
  }));
}

/** Writes the files; returns their names relative to reportsDir. */
export function writeTokenizerReports(result: LaneResult, reportsDir: string): string[] {
  const native = tokenizerCsvRows(result);
  const reference = tokenizerHfCsvRows(result);
  return [
    writeCsv(reportsDir, 'tokenizer.csv', native, tokenizerCsvColumns(sweptThreads(result))),
    writeCsv(reportsDir, 'tokenizer_hf.csv', reference, TOKENIZER_HF_CSV_COLUMNS),
    writeJsonReport(reportsDir, 'tokenizer_summary.json', {
      lane: 'tokenizer',
      path: result.path,
      info: result.info,
      native,
      reference,
    }),
  ];
}
