// Trend charts and history notes for the report: where a lane's headline numbers have been over
// the last commits of the default branch, where this run's numbers land among them, and which
// changes of level in that history still stand. Pure: the history is read elsewhere and handed in.
//
// The chart is a Mermaid `xychart-beta` line chart in a fenced block, which GitHub renders in
// comments, check runs and job summaries without an image host. Every label in it comes from
// files (commit SHAs, case ids, metric names), so each is reduced to [A-Za-z0-9_./-] and put in
// double quotes, and numbers are written in plain decimals: the chart grammar has no escapes and
// no exponent notation, and a stray quote or `%%` would end the string or start a comment.
//
// Several metrics share one axis only when each is scaled to its first shown point = 100 (a
// GFLOP/s figure in the hundreds beside a tokens/s figure in the millions would flatten one of
// them); the title says so. Mermaid does not draw a legend for named lines everywhere, so a list
// under the chart names the lines in order.
import type { HistoryPoint } from '../model/history.js';
import type { LaneVerdicts, VerdictReport } from '../model/verdicts.js';
import { isThroughput } from '../compare/geomean.js';
import type { FindingOptions } from '../history/findings.js';
import { describeFinding, laneFindings, onePerCommit, type LocatedFinding } from './history-notes.js';
import { escapeMarkdown as esc } from './escape.js';

export const DEFAULT_TREND_POINTS = 20;
export const DEFAULT_TREND_SERIES = 3;
/** History points the change-point search looks at: its permutation test costs O(n²) per draw. */
export const DEFAULT_ANALYSIS_POINTS = 100;

export interface SeriesKey {
  caseId: string;
  metric: string;
}

export interface TrendChartOptions {
  /** history points shown, the newest; DEFAULT_TREND_POINTS */
  last?: number;
  /** the lines to draw; absent: the first DEFAULT_TREND_SERIES throughput metrics (by case id, then name) */
  series?: readonly SeriesKey[];
  /** how many lines when none are named; DEFAULT_TREND_SERIES */
  maxSeries?: number;
  /** this run's numbers: the last point, labelled "PR-<sha>" */
  current?: HistoryPoint;
  /** A/B: the base's numbers measured beside them: the point before, labelled "base-<sha>" */
  base?: HistoryPoint;
}

export interface TrendChart {
  /** the fenced Mermaid block */
  markdown: string;
  /** the lines drawn, in order */
  series: SeriesKey[];
  /** the x-axis labels, oldest first */
  labels: string[];
}

/** A label from a file, safe inside a Mermaid string: only [A-Za-z0-9_./-], at most 60 characters. */
export function mermaidLabel(text: string): string {
  const kept = text.replace(/[^A-Za-z0-9_./-]+/g, '_').slice(0, 60);
  return kept === '' ? '_' : kept;
}

/** A short SHA for an axis: the first 7 hex digits, or a sanitised label for anything else. */
export function shortSha(commit: string): string {
  return /^[0-9a-f]{7,}$/i.test(commit)
    ? commit.slice(0, 7).toLowerCase()
    : mermaidLabel(commit).slice(0, 12);
}

/** A number the chart grammar reads: plain decimals with about four significant digits. */
export function mermaidNumber(v: number): string {
  if (!Number.isFinite(v)) throw new RangeError(`mermaidNumber: ${v}`);
  const a = Math.abs(v);
  const digits = a === 0 ? 0 : Math.max(0, Math.min(12, 3 - Math.floor(Math.log10(a))));
  const text = v.toFixed(digits);
  return /e/i.test(text) ? BigInt(Math.round(v)).toString() : text.replace(/^-0(\.0*)?$/, '0');
}

/** "<case id> <metric>", each part sanitised: the space is the only character not from a file. */
function seriesLabel(s: SeriesKey): string {
  return `${mermaidLabel(s.caseId)} ${mermaidLabel(s.metric)}`;
}

function valueOf(p: HistoryPoint, s: SeriesKey): number | undefined {
  const v = p.cases[s.caseId]?.[s.metric]?.median;
  return v !== undefined && Number.isFinite(v) ? v : undefined;
}

function unitOf(points: readonly HistoryPoint[], s: SeriesKey): string {
  for (const p of points) {
    const m = p.cases[s.caseId]?.[s.metric];
    if (m) return m.unit;
  }
  return '';
}

/** The throughput metrics of a point, by case id then metric name. */
function headline(p: HistoryPoint | undefined, max: number): SeriesKey[] {
  if (!p) return [];
  const out: SeriesKey[] = [];
  for (const caseId of Object.keys(p.cases).sort()) {
    for (const metric of Object.keys(p.cases[caseId] ?? {}).sort()) {
      const m = p.cases[caseId]?.[metric];
      if (m && isThroughput(m)) out.push({ caseId, metric });
    }
  }
  return out.slice(0, max);
}

/**
 * A lane's trend chart, or undefined when fewer than two points hold every line. Points missing
 * one of the lines are left out, so that all lines share the x-axis.
 */
export function trendChart(
  lane: string,
  history: readonly HistoryPoint[],
  options: TrendChartOptions = {},
): TrendChart | undefined {
  const last = options.last ?? DEFAULT_TREND_POINTS;
  const shown = last <= 0 ? [] : onePerCommit(history).slice(-last);
  const extra: { point: HistoryPoint; label: string }[] = [];
  if (options.base) extra.push({ point: options.base, label: `base-${shortSha(options.base.commit)}` });
  if (options.current)
    extra.push({ point: options.current, label: `PR-${shortSha(options.current.commit)}` });

  const newest = options.current ?? shown[shown.length - 1];
  const series = [...(options.series ?? headline(newest, options.maxSeries ?? DEFAULT_TREND_SERIES))];
  if (series.length === 0) return undefined;

  const columns = [...shown.map((point) => ({ point, label: shortSha(point.commit) })), ...extra].filter(
    (c) => series.every((s) => valueOf(c.point, s) !== undefined),
  );
  if (columns.length < 2) return undefined;
  // two commits sharing a short SHA would share one x position
  const seen = new Map<string, number>();
  for (const c of columns) {
    const k = (seen.get(c.label) ?? 0) + 1;
    seen.set(c.label, k);
    if (k > 1) c.label = `${c.label}-${k}`;
  }

  const shownPoints = columns.map((c) => c.point);
  const units = [...new Set(series.map((s) => unitOf(shownPoints, s)))];
  const raw = series.map((s) => columns.map((c) => valueOf(c.point, s) as number));
  const normalise = series.length > 1 || raw.some((line) => line.some((v) => Math.abs(v) >= 1e15));
  const lines = normalise
    ? raw.map((line) => {
        const first = line[0] as number;
        return first === 0 ? line.map(() => 0) : line.map((v) => (v / first) * 100);
      })
    : raw;

  const lanePart = mermaidLabel(lane);
  const unit = units.length === 1 ? mermaidLabel(units[0] as string) : '';
  const title = normalise
    ? `${lanePart} - each line scaled to its first point = 100`
    : `${lanePart} - ${seriesLabel(series[0] as SeriesKey)}`;
  const yTitle = normalise
    ? unit
      ? `${unit} relative to first point = 100`
      : 'relative to first point = 100'
    : unit || 'value';
  const body = [
    'xychart-beta',
    `    title "${title}"`,
    `    x-axis [${columns.map((c) => `"${c.label}"`).join(', ')}]`,
    `    y-axis "${yTitle}"`,
    ...lines.map(
      (line, i) =>
        `    line "${seriesLabel(series[i] as SeriesKey)}" [${line.map(mermaidNumber).join(', ')}]`,
    ),
  ];
  const legend = series.map((s, i) => `${i + 1}. ${esc(s.caseId)} · ${esc(s.metric)}`).join('\n');
  return {
    markdown: `\`\`\`mermaid\n${body.join('\n')}\n\`\`\`\n\nLines, in order:\n\n${legend}`,
    series,
    labels: columns.map((c) => c.label),
  };
}

/** This run's numbers (the head's, or the base's in A/B) as a history point. */
export function pointFromVerdicts(
  lane: LaneVerdicts,
  commit: string,
  time: string,
  side: 'current' | 'base',
): HistoryPoint {
  const cases: HistoryPoint['cases'] = {};
  for (const v of lane.verdicts) {
    if (v.source === 'gate') continue;
    if (side === 'base' && v.source !== 'ab') continue;
    const s = side === 'current' ? v.current : v.baseline;
    if (!s || !Number.isFinite(s.median)) continue;
    const metrics = (cases[v.caseId] ??= {});
    metrics[v.metric] ??= { unit: v.unit, better: v.better, median: s.median, spread: s.spread, n: s.n };
  }
  return { commit, time, cases };
}

export interface TrendSectionOptions extends TrendChartOptions {
  /** lines per lane, by lane name; absent lanes get their first throughput metrics */
  seriesByLane?: Record<string, readonly SeriesKey[]>;
  /** the change-point search, drift test and what counts as standing, on each drawn line's history */
  analysis?: FindingOptions;
  /** history points the search looks at, the newest; DEFAULT_ANALYSIS_POINTS */
  analysisPoints?: number;
}

export interface LaneTrend {
  lane: string;
  chart?: TrendChart;
  /** standing changes of level and drifts in the drawn lines' history */
  findings: LocatedFinding[];
}

/**
 * Per lane with history: a chart of its headline metrics with this run as the last point (and
 * the base before it in A/B), and the findings in the drawn lines' history. Lanes with neither
 * are left out.
 */
export function laneTrends(
  report: VerdictReport,
  history: ReadonlyMap<string, readonly HistoryPoint[]>,
  options: TrendSectionOptions = {},
): LaneTrend[] {
  const out: LaneTrend[] = [];
  for (const lane of report.lanes) {
    const points = history.get(lane.lane);
    if (!points || points.length === 0) continue;
    const current = pointFromVerdicts(lane, report.machine.commit, report.machine.time, 'current');
    const base = report.ab
      ? pointFromVerdicts(lane, report.ab.baseCommit, report.machine.time, 'base')
      : undefined;
    const chart = trendChart(lane.lane, points, {
      ...options,
      series: options.seriesByLane?.[lane.lane] ?? options.series,
      current: Object.keys(current.cases).length > 0 ? current : undefined,
      base: base && Object.keys(base.cases).length > 0 ? base : undefined,
    });
    const analysisPoints = options.analysisPoints ?? DEFAULT_ANALYSIS_POINTS;
    const analysed = analysisPoints <= 0 ? [] : points.slice(-analysisPoints);
    const drawn =
      chart?.series ??
      options.seriesByLane?.[lane.lane] ??
      headline(points[points.length - 1], options.maxSeries ?? DEFAULT_TREND_SERIES);
    const findings = laneFindings(lane.lane, analysed, drawn, options.analysis);
    if (!chart && findings.length === 0) continue;
    out.push({ lane: lane.lane, ...(chart ? { chart } : {}), findings });
  }
  return out;
}

/**
 * The report's "Trends" section: laneTrends as Markdown, a chart and the notes under it per
 * lane. Undefined when no lane has anything to show.
 */
export function trendSection(
  report: VerdictReport,
  history: ReadonlyMap<string, readonly HistoryPoint[]>,
  options: TrendSectionOptions = {},
): string | undefined {
  const parts = laneTrends(report, history, options).map((t) =>
    [
      `#### ${esc(t.lane)}`,
      t.chart?.markdown,
      t.findings.length > 0 ? t.findings.map((f) => `- ${describeFinding(f)}`).join('\n') : undefined,
    ]
      .filter((p): p is string => p !== undefined)
      .join('\n\n'),
  );
  if (parts.length === 0) return undefined;
  return [`### Trends`, ...parts].join('\n\n');
}
