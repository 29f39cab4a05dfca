// A/B judgement: the head's metric against the base's, round by round. Pure, like compare.ts.
//
// Both sides ran in the same job in alternating rounds (ABBA), so round i of the head and
// round i of the base shared the machine's state of those minutes: the paired ratio cancels
// the drift that a comparison with a baseline measured days ago on another VM cannot. A change
// is `regressed` only when it is beyond the A/B tolerance (a few percent) AND significant over
// the rounds: a fail-severity metric by the lane's family-wise sign-flip test (family.ts), a
// warn-severity one by its own signed-rank test; beyond tolerance without significance is
// `noisy`, and the runner gives such a lane more rounds before it comes to that.
//
// A control (rules.yml `control`, e.g. OpenBLAS beside our GEMM) runs the same code on both
// sides: when it moved as much in the same rounds, one side was disturbed, not changed.

import type { CaseResult, LaneResult, Metric, SideResult } from '../model/results.js';
import type { Rules } from '../model/rules.js';
import type { AbChange, LaneVerdicts, Side, Verdict } from '../model/verdicts.js';
import { formatAbsDelta, formatCompact, formatNumber, formatPct } from './format.js';
import { abToleranceFor, DISTURBED_PCT, isPercentUnit, type Tolerance } from './rules.js';
import { signFlipMaxT } from './family.js';
import { comparePaired, hodgesLehmann, minPairsFor, wilcoxonSignedRank } from './paired.js';
import { median, summarizeSamples } from './stats.js';

function identity(lane: string, caseId: string, m: Pick<Metric, 'name' | 'unit' | 'better' | 'kind'>) {
  return {
    lane,
    caseId,
    metric: m.name,
    unit: m.unit,
    better: m.better,
    kind: m.kind,
    source: 'ab' as const,
  };
}

function sideOf(m: Metric): Side {
  return summarizeSamples(m.samples);
}

function findMetric(c: CaseResult | undefined, name: string): Metric | undefined {
  return c?.metrics.find((m) => m.name === name);
}

/** Paired change of one metric: relative (log ratios) or, for % metrics, in points (differences). */
export interface PairedChange {
  n: number;
  deltaPct: number;
  deltaAbs: number;
  pValue: number;
  ratio: number;
  low: number;
  high: number;
  mdePct: number;
}

/**
 * `byPoints`: a metric judged in its own unit (a percentage such as a LoRA tax, which can be zero
 * or negative and has no meaningful ratio) is tested on the rounds' differences, every round
 * counting; otherwise on the log ratios.
 */
export function pairedChange(
  base: readonly number[],
  head: readonly number[],
  alpha: number,
  byPoints = false,
): PairedChange {
  const n = Math.min(base.length, head.length);
  const diffs: number[] = [];
  for (let i = 0; i < n; i++) {
    const b = base[i] as number;
    const h = head[i] as number;
    if (Number.isFinite(b) && Number.isFinite(h)) diffs.push(h - b);
  }
  const hl = diffs.length > 0 ? hodgesLehmann(diffs, 1 - alpha).estimate : Number.NaN;
  if (byPoints) {
    return {
      n: diffs.length,
      deltaPct: Number.NaN,
      deltaAbs: hl,
      pValue: diffs.length > 0 ? wilcoxonSignedRank(diffs).p : 1,
      ratio: Number.NaN,
      low: Number.NaN,
      high: Number.NaN,
      mdePct: Number.NaN,
    };
  }
  const pc = comparePaired(base, head, alpha);
  return {
    n: pc.n,
    deltaPct: pc.deltaPct,
    deltaAbs: hl,
    pValue: pc.pValue,
    ratio: pc.ratio,
    low: pc.ratioLow,
    high: pc.ratioHigh,
    mdePct: pc.mdePct,
  };
}

/**
 * Both sides' rounds of `m` divided by (or, when the two point opposite ways, multiplied by) the
 * control's rounds of the same run; undefined when the control is not there on both sides.
 */
function byControl(
  m: Metric,
  bm: Metric,
  c: CaseResult,
  baseCase: CaseResult | undefined,
  control: string | undefined,
): { head: number[]; base: number[] } | undefined {
  if (!control) return undefined;
  const hc = findMetric(c, control);
  const bc = findMetric(baseCase, control);
  if (!hc?.rounds || !bc?.rounds || !m.rounds || !bm.rounds) return undefined;
  if (hc.rounds.length !== m.rounds.length || bc.rounds.length !== bm.rounds.length) return undefined;
  const same = hc.better === m.better;
  const apply = (xs: readonly number[], cs: readonly number[]) =>
    xs.map((x, i) => (same ? x / (cs[i] as number) : x * (cs[i] as number)));
  return { head: apply(m.rounds, hc.rounds), base: apply(bm.rounds, bc.rounds) };
}

/** Σ log²(head/base) over the rounds: the paired ratios' spread about "no change". */
function squaredLogRatios(head: readonly number[], base: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < head.length; i++) {
    const r = Math.log((head[i] as number) / (base[i] as number));
    s += Number.isFinite(r) ? r * r : Infinity;
  }
  return s;
}

/**
 * The control's version of a metric's rounds when it is the steadier one, else undefined. A
 * control noisier than the metric (a short streaming-read probe beside a decode kernel) adds its
 * noise instead of cancelling the machine's. The criterion, the sum of squared log ratios, does
 * not change when a round's two sides swap, so choosing by it keeps the sign-flip test exact.
 */
function steadier(
  head: readonly number[],
  base: readonly number[],
  normalised: { head: number[]; base: number[] } | undefined,
): { head: number[]; base: number[] } | undefined {
  if (!normalised) return undefined;
  return squaredLogRatios(normalised.head, normalised.base) < squaredLogRatios(head, base)
    ? normalised
    : undefined;
}

/** JSON has no Infinity: bounds and effects that do not exist are left out. */
function abChange(ch: PairedChange): AbChange {
  const finite = (x: number) => Number.isFinite(x) && x > 0;
  return {
    ratio: ch.ratio,
    rounds: ch.n,
    ...(finite(ch.low) && finite(ch.high) ? { low: ch.low, high: ch.high } : {}),
    ...(Number.isFinite(ch.mdePct) ? { mdePct: ch.mdePct } : {}),
  };
}

function tolText(tol: Tolerance, unit: string): string {
  const parts: string[] = [];
  if (tol.pct !== undefined) parts.push(`±${formatCompact(tol.pct)} %`);
  if (tol.abs !== undefined) parts.push(`±${formatCompact(tol.abs)} ${unit === '%' ? 'pp' : unit}`.trim());
  return parts.join(' and ');
}

/** The base side could not be compared at all: every head metric is new, with the reason. */
function baseUnusable(base: SideResult | undefined): string | undefined {
  if (!base) return 'the base did not run this lane';
  if (base.status !== 'ok') {
    const what = base.status === 'timeout' ? 'timed out' : base.status;
    return `the base side ${what}${base.error ? ` at ${base.error.step}: ${base.error.message.split('\n')[0]}` : ''}`;
  }
  return undefined;
}

/** What a metric's paired test runs on: its tolerance, and both sides' rounds as judged. */
interface PairedInputs {
  tol: Tolerance;
  byPoints: boolean;
  /** judged relative to this control (rules.yml `control`) */
  normalisedBy?: string;
  base: readonly number[];
  head: readonly number[];
  baseCase: CaseResult | undefined;
}

/** The base's side of a metric, or why it has none (then the metric is `new` or `incomparable`). */
function pairedInputs(
  lane: LaneResult,
  c: CaseResult,
  m: Metric,
  rules: Rules,
): PairedInputs | { state: 'new' | 'incomparable' | 'pass'; reason: string; bm?: Metric } {
  if (lane.base?.identical) {
    return {
      state: 'pass',
      reason: `the base's build of this lane is byte-identical to the head's (sha-256 ${lane.base.identical.slice(0, 12)}): the same code on the same data, not measured twice`,
    };
  }
  const unusable = baseUnusable(lane.base);
  if (unusable) return { state: 'new', reason: `${unusable}: not compared` };
  const baseCase = lane.base?.cases.find((x) => x.id === c.id);
  const bm = findMetric(baseCase, m.name);
  if (!bm || baseCase?.error) {
    return {
      state: 'new',
      reason: baseCase?.error ? `the base's case failed: ${baseCase.error}` : 'not measured by the base',
    };
  }
  if (!m.rounds || !bm.rounds || m.rounds.length === 0 || bm.rounds.length !== m.rounds.length) {
    return { state: 'incomparable', reason: 'the two sides have no paired rounds', bm };
  }
  const tol = abToleranceFor(rules, lane.lane, c.id, m.name, m.unit);
  const byPoints = tol.abs !== undefined && (tol.pct === undefined || isPercentUnit(m.unit));
  // An absolute rate with a control (the peer timed round-robin with it in the same process) is
  // judged relative to that control, round by round, when that is the steadier of the two: a
  // neighbour that slowed one side's run slowed both kernels of that run, and the ratio cancels
  // it. Same-run ratios already are.
  const normalised =
    !byPoints && m.kind === 'absolute'
      ? steadier(m.rounds, bm.rounds, byControl(m, bm, c, baseCase, tol.control))
      : undefined;
  return {
    tol,
    byPoints,
    ...(normalised ? { normalisedBy: tol.control } : {}),
    base: normalised ? normalised.base : bm.rounds,
    head: normalised ? normalised.head : m.rounds,
    baseCase,
  };
}

/** A lane's fail-severity metrics tested as one family: the adjusted p of each, by case and metric. */
export interface AbFamily {
  size: number;
  adjusted: Map<string, number>;
}

const familyKey = (caseId: string, metric: string) => `${caseId}\u0000${metric}`;

/**
 * The step-down maxT test (family.ts) over every fail-severity metric of the lane that both
 * sides measured in all the lane's rounds: log ratios, or differences for metrics judged in
 * points. Warn-severity metrics, which never fail the gate, keep their own signed-rank test.
 */
export function abFamily(lane: LaneResult, rules: Rules): AbFamily {
  const keys: string[] = [];
  const series: number[][] = [];
  if (lane.base?.status !== 'ok') return { size: 0, adjusted: new Map() };
  const rounds = laneRounds(lane);
  for (const c of lane.cases) {
    if (c.error) continue;
    for (const m of c.metrics) {
      const inputs = pairedInputs(lane, c, m, rules);
      if (!('tol' in inputs) || inputs.tol.severity !== 'fail' || inputs.head.length !== rounds) continue;
      keys.push(familyKey(c.id, m.name));
      series.push(
        inputs.head.map((h, i) => {
          const b = inputs.base[i] as number;
          return inputs.byPoints ? h - b : h > 0 && b > 0 ? Math.log(h / b) : Number.NaN;
        }),
      );
    }
  }
  const r = signFlipMaxT(series);
  return { size: keys.length, adjusted: new Map(keys.map((k, i) => [k, r.adjusted[i] as number])) };
}

/** The rounds the lane ran, as its metrics show them: the most any metric has. */
function laneRounds(lane: LaneResult): number {
  return Math.max(0, ...lane.cases.flatMap((c) => c.metrics.map((m) => m.rounds?.length ?? 0)));
}

/**
 * One metric's A/B verdict. With `family` (abFamily of the same lane), a fail-severity metric's
 * significance is its family-adjusted p; otherwise, and for warn-severity metrics, its own
 * signed-rank p.
 */
export function judgeAb(
  lane: LaneResult,
  c: CaseResult,
  m: Metric,
  rules: Rules,
  family?: AbFamily,
): Verdict {
  const id = identity(lane.lane, c.id, m);
  const current = sideOf(m);
  const inputs = pairedInputs(lane, c, m, rules);
  if (!('tol' in inputs)) {
    return {
      ...id,
      current,
      ...(inputs.bm ? { baseline: sideOf(inputs.bm) } : {}),
      state: inputs.state,
      severity: 'warn',
      reason: inputs.reason,
    };
  }
  const baseline = sideOf(findMetric(inputs.baseCase, m.name)!);
  const { tol, byPoints, baseCase } = inputs;
  const normalised = inputs.normalisedBy !== undefined;
  const alpha = rules.ab.alpha;
  const ch = pairedChange(inputs.base, inputs.head, alpha, byPoints);
  const famP = tol.severity === 'fail' ? family?.adjusted.get(familyKey(c.id, m.name)) : undefined;
  if (famP !== undefined) ch.pValue = famP;
  const pText = (p: number) =>
    famP !== undefined
      ? `p = ${formatNumber(p)} across the lane's ${family!.size} fail-severity metrics`
      : `p = ${formatNumber(p)}`;
  const exceeds: boolean[] = [];
  if (tol.pct !== undefined) exceeds.push(Number.isFinite(ch.deltaPct) && Math.abs(ch.deltaPct) > tol.pct);
  if (tol.abs !== undefined) exceeds.push(Number.isFinite(ch.deltaAbs) && Math.abs(ch.deltaAbs) > tol.abs);
  const beyond = exceeds.length > 0 && exceeds.every(Boolean);
  const change = byPoints ? formatAbsDelta(ch.deltaAbs, m.unit) : formatPct(ch.deltaPct);
  const bounds = Number.isFinite(ch.low) && Number.isFinite(ch.high) && ch.low > 0;
  const interval = Number.isFinite(ch.ratio)
    ? `head/base ${formatNumber(ch.ratio)}${bounds ? ` [${formatNumber(ch.low)}, ${formatNumber(ch.high)}]` : ''}, `
    : '';
  const detail = `${interval}${ch.n} rounds${normalised ? `, relative to ${inputs.normalisedBy} in the same rounds` : ''}`;
  const shown = {
    ...id,
    current,
    baseline,
    ...(Number.isFinite(ch.deltaPct) ? { deltaPct: ch.deltaPct } : {}),
    ...(Number.isFinite(ch.deltaAbs) ? { deltaAbs: ch.deltaAbs } : {}),
    tolerance: { pct: tol.pct, abs: tol.abs },
    pValue: ch.pValue,
    severity: tol.severity,
    ...(Number.isFinite(ch.ratio) ? { ab: abChange(ch) } : {}),
  };
  const within = tolText(tol, m.unit);
  if (!beyond) return { ...shown, state: 'pass', reason: `${change} within ${within} (${detail})` };

  const worse =
    m.better === 'higher'
      ? (byPoints ? ch.deltaAbs : ch.deltaPct) < 0
      : (byPoints ? ch.deltaAbs : ch.deltaPct) > 0;
  const direction = worse ? 'worse' : 'better';
  const fewest = minPairsFor(alpha);
  if (ch.n < fewest && ch.n < laneRounds(lane)) {
    // Timed in the first round only (attn-prefill's naive reference): more rounds cannot make it
    // significant, so it must not ask for them; the gates judge the head's value.
    return {
      ...shown,
      state: 'noisy',
      severity: 'warn',
      reason: `${change} (${direction}) beyond ${within} in the ${ch.n} of ${laneRounds(lane)} rounds that measured it: not judged here, the gates judge the head's value`,
    };
  }
  if (ch.n < fewest) {
    return {
      ...shown,
      state: 'noisy',
      reason: `${change} (${direction}) beyond ${within}, but ${ch.n} rounds cannot be significant (a paired test needs ${fewest} at alpha ${alpha})`,
    };
  }
  if (!(ch.pValue < alpha)) {
    return {
      ...shown,
      state: 'noisy',
      reason: `${change} (${direction}) beyond ${within}, but not significant over the rounds (${pText(ch.pValue)} ≥ ${alpha}; ${detail})`,
    };
  }
  const v: Verdict = {
    ...shown,
    state: worse ? 'regressed' : 'improved',
    reason: `${change} (${direction}) beyond ${within}, ${pText(ch.pValue)} (${detail})`,
  };
  return worse && tol.control && !normalised
    ? guardByControl(v, c, baseCase, tol.control, tol.controlMoves ?? 'worse', alpha, byPoints, ch.n)
    : v;
}

/**
 * The control runs the same code on both sides. When it got worse on the head side in the
 * same rounds by at least half as much (for a metric judged in points, by more than
 * DISTURBED_PCT), the head's rounds were disturbed: `noisy`, not failed. With `moves: either`
 * a control that got better counts too (a ratio over the control drops when only it sped up).
 */
function guardByControl(
  v: Verdict,
  c: CaseResult,
  baseCase: CaseResult | undefined,
  control: string,
  moves: 'worse' | 'either',
  alpha: number,
  byPoints: boolean,
  rounds: number,
): Verdict {
  const head = findMetric(c, control);
  const base = findMetric(baseCase, control);
  // a control timed in fewer rounds (the tokenizer's reference, first round only) says nothing
  // of the rounds it missed
  if (!head?.rounds || !base?.rounds || head.rounds.length !== rounds || base.rounds.length !== rounds)
    return v;
  const ch = pairedChange(base.rounds, head.rounds, alpha);
  if (!Number.isFinite(ch.deltaPct)) return v;
  const worseBy = (pct: number, better: 'higher' | 'lower') => (better === 'higher' ? -pct : pct);
  const threshold = byPoints || v.deltaPct === undefined ? DISTURBED_PCT : worseBy(v.deltaPct, v.better) / 2;
  const theirs = moves === 'either' ? Math.abs(ch.deltaPct) : worseBy(ch.deltaPct, head.better);
  if (theirs < threshold) return v;
  return {
    ...v,
    state: 'noisy',
    reason: `${v.reason}; but ${control}, the same code on both sides, moved ${formatPct(ch.deltaPct)} in the same rounds: the rounds were disturbed, not the code changed`,
  };
}

/** Paired rounds of a lane and the median minimum detectable effect of its fail metrics. */
export function abLaneSummary(
  lane: LaneResult,
  verdicts: readonly Verdict[],
): NonNullable<LaneVerdicts['ab']> {
  const judged = verdicts.filter((v) => v.source === 'ab' && v.ab && v.severity === 'fail');
  // a deterministic metric (the same value every round) has no noise, and no say in this
  const mdes = judged
    .map((v) => v.ab!.mdePct)
    .filter((x): x is number => x !== undefined && Number.isFinite(x) && x > 0);
  const rounds = Math.max(0, ...verdicts.filter((v) => v.ab).map((v) => v.ab!.rounds));
  return {
    rounds,
    ...(mdes.length > 0 ? { mdePct: median(mdes) } : {}),
    baseStatus: lane.base?.identical ? 'identical' : (lane.base?.status ?? 'absent'),
    ...(lane.base?.error ? { baseError: lane.base.error.message.split('\n')[0] ?? '' } : {}),
  };
}

/** Whether a verdict's change points the bad way (a lower rate, a higher time or tax). */
function readsWorse(v: Verdict): boolean {
  const d = v.deltaPct ?? v.deltaAbs;
  if (d === undefined || !Number.isFinite(d)) return true;
  return v.better === 'higher' ? d < 0 : d > 0;
}

/**
 * Whether another round could still settle the lane: a fail-severity metric beyond its A/B
 * tolerance but not (yet) significant once the lane's family is counted. With n rounds no
 * sign-flip test goes below 2/2^n, and a family of 20 asks more of its best metric than one
 * alone, so a real 3 % slowdown often needs the extra rounds. The runner asks after each round
 * past the planned ones.
 */
export function abInconclusive(lane: LaneResult, rules: Rules): boolean {
  if (lane.status !== 'ok' || lane.base?.status !== 'ok') return false;
  const family = abFamily(lane, rules);
  for (const c of lane.cases) {
    if (c.error) continue;
    for (const m of c.metrics) {
      const v = judgeAb(lane, c, m, rules, family);
      // only a possible regression is worth more rounds: an unconfirmed improvement fails nothing
      if (v.state === 'noisy' && v.severity === 'fail' && readsWorse(v)) return true;
    }
  }
  return false;
}
