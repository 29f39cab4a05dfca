// Both attention lanes report the same way: one CSV row per shape case (shape, sequence axis,
// path and threads first; repetitions and error last) with the run's perplexity delta on every
// row, and a JSON summary of those rows under headline figures. Each lane names its own columns
// and headline; this module holds the layout they share so the two files cannot drift apart.
import { writeCsv, writeJsonReport } from '../../results/report-files.js';
import type { LaneName } from '../../model/lanes.js';
import type { CaseResult, LaneResult } from '../../model/results.js';

/** The model-level case both attention benches report beside their shape grid. */
export const ATTN_PERPLEXITY_CASE = 'perplexity';

type Cell = string | number;
type HeadColumn = 'case' | 'q_heads' | 'kv_heads' | 'head_dim' | 'path' | 'threads';
type TailColumn = 'repetitions' | 'error';

export interface AttnReportSpec<Column extends string, Size extends Column> {
  lane: LaneName;
  /** file stem: <stem>.csv and <stem>_summary.json */
  stem: string;
  columns: readonly Column[];
  /** the column (and case param) of the sequence axis: decode's ctx, prefill's seq */
  size: Size;
  /** decimals of the perplexity delta, in the rows and the headline */
  pplDigits: number;
  /** the lane's own columns of one shape case, in CSV order */
  row(
    c: CaseResult,
    perplexityDelta: number | '',
  ): Record<Exclude<Column, HeadColumn | TailColumn | Size>, Cell>;
  /** the lane's headline figures over the shape cases that did not fail */
  headline(healthy: CaseResult[]): Record<string, number | '' | null>;
}

/** A case's median for `name`, undefined when the case did not report it. */
export function metricValue(c: CaseResult | undefined, name: string): number | undefined {
  return c?.metrics.find((m) => m.name === name)?.value;
}

/** A number with `digits` decimals, or '' (an empty cell) when there is none. */
export function round(v: number | string | undefined, digits = 3): number | '' {
  const n = typeof v === 'string' ? Number(v) : v;
  return n === undefined || !Number.isFinite(n) ? '' : Number(n.toFixed(digits));
}

/** A number to 3 significant digits (small errors such as l2_diff), 0 included; '' when none. */
export function significant(v: number | undefined): number | '' {
  return v === undefined || !Number.isFinite(v) ? '' : Number(v.toPrecision(3));
}

function finiteValues(cases: CaseResult[], name: string): number[] {
  return cases.map((c) => metricValue(c, name) ?? Number.NaN).filter(Number.isFinite);
}

/** The smallest median of `name` over `cases`, null when none reported a finite one. */
export function headlineMin(cases: CaseResult[], name: string, digits = 3): number | '' | null {
  const v = finiteValues(cases, name);
  return v.length ? round(Math.min(...v), digits) : null;
}

/** The largest median of `name` over `cases`, null when none reported a finite one. */
export function headlineMax(cases: CaseResult[], name: string, digits = 3): number | '' | null {
  const v = finiteValues(cases, name);
  return v.length ? round(Math.max(...v), digits) : null;
}

function perplexityCase(result: LaneResult): CaseResult | undefined {
  return result.cases.find((c) => c.id === ATTN_PERPLEXITY_CASE);
}

function shapeCases(result: LaneResult): CaseResult[] {
  return result.cases.filter((c) => c.id !== ATTN_PERPLEXITY_CASE);
}

export function attnCsvRows<Column extends string, Size extends Column>(
  spec: AttnReportSpec<Column, Size>,
  result: LaneResult,
): Record<Column, Cell>[] {
  const delta = round(metricValue(perplexityCase(result), 'perplexity_delta_pct'), spec.pplDigits);
  return shapeCases(result).map((c) => {
    const head = {
      case: c.id,
      q_heads: c.params.q_heads ?? '',
      kv_heads: c.params.kv_heads ?? '',
      head_dim: c.params.head_dim ?? '',
      [spec.size]: c.params[spec.size] ?? '',
      path: result.path,
      threads: result.info.threads ?? '',
    };
    const tail = { repetitions: c.metrics[0]?.samples.length ?? 0, error: c.error ?? '' };
    // The summary lists these rows as JSON, so key order is column order: head, lane, tail.
    // The lane's part is typed as exactly the remaining columns; the union is not provable here.
    return { ...head, ...spec.row(c, delta), ...tail } as Record<Column, Cell>;
  });
}

export function attnSummary<Column extends string, Size extends Column>(
  spec: AttnReportSpec<Column, Size>,
  result: LaneResult,
) {
  const ppl = perplexityCase(result);
  return {
    lane: spec.lane,
    path: result.path,
    info: result.info,
    headline: {
      ...spec.headline(shapeCases(result).filter((c) => !c.error)),
      perplexity_delta_pct: round(metricValue(ppl, 'perplexity_delta_pct'), spec.pplDigits),
      perplexity: ppl?.params ?? {},
    },
    cases: attnCsvRows(spec, result),
  };
}

/** Writes <stem>.csv and <stem>_summary.json; returns their names relative to reportsDir. */
export function writeAttnReports<Column extends string, Size extends Column>(
  spec: AttnReportSpec<Column, Size>,
  result: LaneResult,
  reportsDir: string,
): string[] {
  return [
    writeCsv(reportsDir, `${spec.stem}.csv`, attnCsvRows(spec, result), spec.columns),
    writeJsonReport(reportsDir, `${spec.stem}_summary.json`, attnSummary(spec, result)),
  ];
}
