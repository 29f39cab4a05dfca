// What a reader should be told about one metric's default-branch history: a step that still
// stands, a slow drift made of several small steps, or a slope (changepoints.ts finds the
// raw change points and the Mann–Kendall drift; this file decides what they mean). Pure, so
// the PR comment, the push run's job summary, the terminal and the dashboard say the same.
//
// "Still stands" means two things. The step is the newest change of level, and it is recent
// (within `standingWindow` points): a level the branch has held for months is the normal,
// not news. And it was not undone: a step that returns to the level before the previous
// change (a regression and its fix) leaves nothing to report.
//
// Several small steps the same way in a row are one story, a slow drift (1 % per merge never
// crosses a per-commit tolerance): they are reported together with their whole commit range
// and total size, instead of as unrelated small steps.
import type { Better } from '../model/results.js';
import type { SeriesPoint } from '../model/history.js';
import {
  analyseSeries,
  type ChangePoint,
  type ChangePointOptions,
  type DriftOptions,
} from './changepoints.js';

/** A step smaller than this (relative) counts as small: a chain of them is a slow drift. */
export const DEFAULT_SMALL_STEP = 0.03;
/**
 * A change smaller than this (relative) is not reported: E-divisive finds a real but tiny shift
 * in a quiet series (a 0.2 % step in 0.2 % noise), which no reader needs to hear about.
 */
export const DEFAULT_MIN_CHANGE = 0.01;
/** A standing step is reported while it is among the newest this many points. */
export const DEFAULT_STANDING_WINDOW = 30;

export interface FindingOptions extends ChangePointOptions {
  drift?: DriftOptions;
  smallStep?: number;
  /** DEFAULT_MIN_CHANGE */
  minChange?: number;
  standingWindow?: number;
}

export interface Finding {
  /**
   * step: one change of level that stands; steps: several small steps the same way (a slow
   * drift); slope: a steady trend over the last points (Mann–Kendall)
   */
  kind: 'step' | 'steps' | 'slope';
  /** the last commit before the change */
  from: string;
  /** the first commit at the new level (step, steps) or the window's last commit (slope) */
  to: string;
  /** relative change, as a fraction: after/before − 1 */
  change: number;
  /** the change goes the wrong way for the metric */
  worse: boolean;
  /** steps: how many; slope: how many points */
  count: number;
  /** the change point's permutation p (the largest of the chain's) or Mann–Kendall's */
  pValue: number;
}

function worse(change: number, better: Better): boolean {
  return better === 'higher' ? change < 0 : change > 0;
}

/** The newest change point unless it undid the one before it. */
function standingChain(cps: readonly ChangePoint[], small: number): ChangePoint[] {
  const last = cps[cps.length - 1];
  if (!last) return [];
  const prev = cps[cps.length - 2];
  if (prev && Math.sign(prev.relativeChange) !== Math.sign(last.relativeChange)) {
    // back to (about) the level before `prev`: the change was undone
    const undone =
      Math.abs(last.meanAfter - prev.meanBefore) < Math.abs(last.meanAfter - last.meanBefore) / 2;
    if (undone) return [];
  }
  const chain = [last];
  if (Math.abs(last.relativeChange) >= small) return chain;
  for (let i = cps.length - 2; i >= 0; i--) {
    const c = cps[i] as ChangePoint;
    if (Math.sign(c.relativeChange) !== Math.sign(last.relativeChange) || Math.abs(c.relativeChange) >= small)
      break;
    chain.unshift(c);
  }
  return chain;
}

/** The findings of one series, oldest first: at most one standing step or chain, and a slope. */
export function findingsOf(
  series: readonly SeriesPoint[],
  better: Better,
  options: FindingOptions = {},
): Finding[] {
  const { changePoints, drift } = analyseSeries(series, options);
  const small = options.smallStep ?? DEFAULT_SMALL_STEP;
  const window = options.standingWindow ?? DEFAULT_STANDING_WINDOW;
  const out: Finding[] = [];
  const chain = standingChain(changePoints, small);
  const first = chain[0];
  const last = chain[chain.length - 1];
  const change =
    !first || !last
      ? 0
      : chain.length === 1
        ? last.relativeChange
        : first.meanBefore === 0
          ? 0
          : (last.meanAfter - first.meanBefore) / Math.abs(first.meanBefore);
  const minChange = options.minChange ?? DEFAULT_MIN_CHANGE;
  if (first && last && series.length - last.index <= window && Math.abs(change) >= minChange) {
    out.push({
      kind: chain.length === 1 ? 'step' : 'steps',
      from: first.previousCommit,
      to: last.commit,
      change,
      worse: worse(change, better),
      count: chain.length,
      pValue: Math.max(...chain.map((c) => c.pValue)),
    });
  }
  if (drift) {
    out.push({
      kind: 'slope',
      from: drift.from,
      to: drift.to,
      change: drift.totalChange,
      worse: worse(drift.totalChange, better),
      count: drift.points,
      pValue: drift.pValue,
    });
  }
  return out;
}
