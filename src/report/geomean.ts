// The report's one-line summary per lane of how its throughput moved overall: the geometric mean
// of the current/base ratios with its interval (compare/geomean.ts says how and why). Pure.
import type { Verdict } from '../model/verdicts.js';
import { formatPct } from '../compare/format.js';
import { laneGeomeans, type LaneGeomean } from '../compare/geomean.js';
import { escapeMarkdown as esc } from './escape.js';

function pct(ratio: number): string {
  return formatPct((ratio - 1) * 100);
}

/** "gemm +2.1 % (95 % CI −0.4 % to +4.6 %, 12 metrics)" */
export function describeGeomean(g: LaneGeomean): string {
  const metrics = `${g.metrics} ${g.metrics === 1 ? 'metric' : 'metrics'}`;
  const interval =
    g.low !== undefined && g.high !== undefined
      ? `${Math.round(g.confidence * 100)} % CI ${pct(g.low)} to ${pct(g.high)}, `
      : '';
  return `${esc(g.lane)} ${pct(g.ratio)} (${interval}${metrics})`;
}

/**
 * One Markdown line with, per lane, the geometric mean of its throughput metrics' current/base
 * ratios and their t interval; undefined when no lane has a throughput ratio.
 */
export function geomeanLine(verdicts: readonly Verdict[], confidence = 0.95): string | undefined {
  const lanes = laneGeomeans(verdicts, confidence);
  if (lanes.length === 0) return undefined;
  return `**Throughput overall** (geometric mean of current/base): ${lanes.map(describeGeomean).join(' · ')}`;
}
