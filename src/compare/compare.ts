// Results + baselines + rules → verdicts. Pure: no I/O, no clock (a baseline's age is measured
// against the run's own time by the report).
//
// What fails: only a `regressed` or `error` verdict of severity `fail`. A change must be beyond
// tolerance AND significant on the samples to be `regressed`; otherwise it is `noisy` and shown.
// Absolute metrics against a baseline from other hardware are `incomparable`: shown, not judged,
// while same-run metrics and gates are still judged.

import { InputError } from '../errors.js';
import type { Baseline, MetricSummary } from '../model/baselines.js';
import { CHECK_NAMES, type LaneName } from '../model/lanes.js';
import type { Machine } from '../model/machine.js';
import type { CaseResult, LaneResult, Metric, RunResults, SideResult } from '../model/results.js';
import type { GateRule, Rules } from '../model/rules.js';
import {
  emptyCounts,
  isFailing,
  isMissedGate,
  isWarning,
  type CheckConclusion,
  type LaneVerdicts,
  type Side,
  type Verdict,
  type VerdictReport,
  type VerdictState,
} from '../model/verdicts.js';
import { comparable } from './baselines.js';
import { abFamily, abLaneSummary, judgeAb } from './compare-ab.js';
import { classKey, classOfRun, describeClass } from '../model/machine-class.js';
import {
  formatAbsDelta,
  formatCompact,
  formatNumber,
  formatPct,
  formatValue,
  isRatioUnit,
} from './format.js';
import type { LintProblem } from './lint.js';
import { DISTURBED_PCT, gatesFor, globMatch, toleranceFor, type Tolerance } from './rules.js';
import { allFinite, mannWhitneyU, summarizeSamples } from './stats.js';

export type BaselineInput = Baseline | undefined | InputError;
export { emptyCounts, isFailing, isWarning };

export function compare(
  results: RunResults,
  baselines: Record<string, BaselineInput>,
  rules: Rules,
  problems: readonly LintProblem[] = [],
): VerdictReport {
  const notes: string[] = [];
  // A/B: the head is judged against its base measured in the same rounds, not the baselines
  const ab = results.ab !== undefined;
  const lanes = results.lanes.map((lane) =>
    compareLane(
      lane,
      results.machine,
      ab ? undefined : baselines[lane.lane],
      rules,
      notes,
      ab,
      problems.filter((p) => p.lane === undefined || p.lane === lane.lane),
    ),
  );
  // said once in the report; a problem about one lane carries its name so its check shows it
  for (const p of problems)
    notes.push(`${p.lane !== undefined ? `${p.lane}: ` : ''}configuration: ${p.error.message}`);
  const counts = emptyCounts();
  for (const v of lanes.flatMap((l) => l.verdicts)) counts[v.state]++;
  return {
    schemaVersion: 1,
    machine: results.machine,
    profile: results.profile,
    conclusion: lanes.some((l) => l.verdicts.some(isFailing)) ? 'failure' : 'success',
    counts,
    lanes,
    ...(results.ab ? { ab: results.ab } : {}),
    ...(results.abFallback ? { abFallback: results.abFallback } : {}),
    notes,
  };
}

/** obj[key] when obj has it itself: a case named "constructor" is not Object's constructor. */
function own<T>(obj: Record<string, T> | undefined, key: string): T | undefined {
  return obj !== undefined && Object.hasOwn(obj, key) ? obj[key] : undefined;
}

function checkName(lane: string): string {
  return CHECK_NAMES[lane as LaneName] ?? `${lane}-perf`;
}

function compareLane(
  lane: LaneResult,
  machine: Machine,
  baselineInput: BaselineInput,
  rules: Rules,
  notes: string[],
  ab = false,
  problems: readonly LintProblem[] = [],
): LaneVerdicts {
  const base: LaneVerdicts = {
    lane: lane.lane,
    check: checkName(lane.lane),
    conclusion: 'success',
    summary: '',
    path: lane.path,
    status: lane.status,
    verdicts: [],
  };

  if (lane.status === 'skipped') {
    return {
      ...base,
      conclusion: 'neutral',
      summary: `skipped: ${lane.error?.message ?? 'not run in this profile'}`,
    };
  }
  if (lane.status === 'error' || lane.status === 'timeout') {
    const step = lane.error?.step ?? (lane.status === 'timeout' ? 'run' : 'unknown step');
    const what = lane.status === 'timeout' ? 'timed out' : 'failed';
    const message = lane.error?.message ?? what;
    const v = laneLevel(lane.lane, `${step} ${what}: ${message}`);
    return {
      ...base,
      conclusion: 'failure',
      summary: `error: ${step} ${what}: ${firstLine(message)}`,
      error: { step, message },
      verdicts: [v],
    };
  }

  const verdicts: Verdict[] = [];
  let baseline: Baseline | undefined;
  let incomparable: string | undefined;
  let otherClass = false;
  if (baselineInput instanceof InputError) {
    // A broken committed baseline must be fixed, not silently treated as "no baseline":
    // it fails the lane, and the gates still run.
    notes.push(`${lane.lane}: baseline not used: ${baselineInput.message}`);
    verdicts.push(laneLevel(lane.lane, `baseline unusable: ${baselineInput.message}`));
  } else if (baselineInput) {
    baseline = baselineInput;
    const c = comparable(baseline._meta, machine, lane.path);
    if (!c.ok) {
      incomparable = c.reason;
      otherClass = !c.sameClass;
      if (otherClass) {
        const runClass = classOfRun(machine, lane.path);
        incomparable = `no baseline for this machine class (${classKey(runClass)}: ${describeClass(runClass)}); the nearest is another class's (${c.reason.replace(/^baseline vs this run: /, '')}), shown for reference, not judged. To judge this class: ${calibrateHint(lane.lane, lane.path)}`;
      }
    }
  }

  if (lane.cases.length === 0) {
    verdicts.push(laneLevel(lane.lane, 'the lane ran but reported no cases'));
  }
  // the configuration that judges this lane is wrong (lint.ts): its verdicts cannot be trusted
  for (const p of problems) verdicts.push(laneLevel(lane.lane, `configuration: ${p.error.message}`));

  const gates = gatesFor(rules, lane.lane);
  const gateMatched = new Set<string>();
  // the lane's fail-severity A/B metrics are tested as one family (family.ts)
  const family = ab ? abFamily(lane, rules) : undefined;
  for (const c of lane.cases) {
    if (c.error) {
      verdicts.push({ ...laneLevel(lane.lane, `case failed: ${c.error}`), caseId: c.id });
      continue;
    }
    for (const m of c.metrics) {
      const tol = toleranceFor(rules, lane.lane, c.id, m.name, m.unit);
      const invalid = invalidSamples(m);
      if (invalid) {
        verdicts.push({
          ...identity(lane.lane, c.id, m),
          source: ab ? 'ab' : 'baseline',
          state: 'error',
          severity: tol.severity,
          reason: invalid,
        });
        continue;
      }
      const current = summarizeSamples(m.samples);
      if (ab) verdicts.push(judgeAb(lane, c, m, rules, family));
      // with an unusable baseline only the gates judge this metric
      else if (!(baselineInput instanceof InputError)) {
        const v = judge(
          lane.lane,
          c.id,
          m,
          current,
          own(own(baseline?.cases, c.id), m.name),
          tol,
          rules,
          incomparable,
          otherClass,
        );
        // the control's absolute value only says something against a baseline from this hardware
        const guard = tol.control !== undefined && !incomparable;
        verdicts.push(
          guard
            ? guardMachineDrift(v, c, own(baseline?.cases, c.id), tol.control!, tol.controlMoves ?? 'worse')
            : v,
        );
      }
      for (const g of gates) {
        if (!globMatch(g.metric, m.name) || !globMatch(g.cases, c.id)) continue;
        gateMatched.add(g.name);
        if (g.path !== undefined && !globMatch(g.path, lane.path)) continue;
        verdicts.push(judgeGate(lane.lane, c.id, m, current, g));
      }
    }
  }

  // another class's cases are not this run's plan: nothing is missing against them
  if (baseline && !otherClass) verdicts.push(...missingVerdicts(lane, baseline));
  if (ab && lane.base?.status === 'ok') verdicts.push(...missingOnHead(lane, lane.base));
  if (lane.cases.length > 0) {
    for (const g of gates) {
      if (!gateMatched.has(g.name))
        notes.push(`${lane.lane}: gate "${g.name}" matched no metric (${g.metric} in ${g.cases})`);
    }
  }

  const conclusion = laneConclusion(verdicts);
  const abSummary = ab ? abLaneSummary(lane, verdicts) : undefined;
  let summary = laneSummary(verdicts, lane.path, incomparable, otherClass);
  // what a quiet pass was able to see: "no change" from 2 rounds is not "no change" from 10
  if (abSummary && abSummary.baseStatus === 'ok') {
    const mde = abSummary.mdePct !== undefined ? `±${abSummary.mdePct.toFixed(1)} %` : 'none';
    summary += `; ${abSummary.rounds} A/B rounds, smallest detectable change ${mde}`;
  } else if (abSummary?.baseStatus === 'identical') {
    summary += "; the base's build is byte-identical, no A/B rounds";
  }
  return {
    ...base,
    conclusion,
    summary,
    ...(incomparable ? { incomparable } : {}),
    ...(otherClass ? { otherClass: true } : {}),
    ...(abSummary ? { ab: abSummary } : {}),
    ...(baseline ? { baselineMeta: baseline._meta } : {}),
    verdicts,
  };
}

function identity(lane: string, caseId: string, m: Pick<Metric, 'name' | 'unit' | 'better' | 'kind'>) {
  return { lane, caseId, metric: m.name, unit: m.unit, better: m.better, kind: m.kind };
}

/** A verdict about the lane as a whole (crash, timeout, unusable baseline): always fails. */
function laneLevel(lane: string, reason: string): Verdict {
  return {
    lane,
    caseId: '',
    metric: '',
    unit: '',
    better: 'higher',
    kind: 'same-run',
    source: 'baseline',
    state: 'error',
    severity: 'fail',
    reason,
  };
}

function invalidSamples(m: Metric): string | undefined {
  if (m.samples.length === 0) return 'no samples: the metric was not measured';
  if (!allFinite(m.samples)) {
    const bad = m.samples.filter((x) => !Number.isFinite(x)).map(String);
    return `non-finite samples (${[...new Set(bad)].join(', ')}): the measurement is broken`;
  }
  if (!Number.isFinite(m.value)) return `non-finite value (${String(m.value)})`;
  return undefined;
}

function sideOf(s: MetricSummary): Side {
  return { median: s.median, spread: s.spread, n: s.n };
}

function toleranceText(tol: Tolerance, unit: string): string {
  const parts: string[] = [];
  if (tol.pct !== undefined) parts.push(`±${formatCompact(tol.pct)} %`);
  if (tol.abs !== undefined) parts.push(`±${formatCompact(tol.abs)} ${unit === '%' ? 'pp' : unit}`.trim());
  return parts.join(' and ');
}

/**
 * Widens a tolerance to twice the baseline's run-to-run spread (the largest distance of a
 * calibration run's median from the pooled median): a change smaller than what separates two
 * runs of the same code on this machine is not evidence of anything.
 */
export function widenToRunSpread(tol: Tolerance, summary: MetricSummary): Tolerance {
  const runs = summary.runMedians;
  if (!runs || runs.length < 2) return tol;
  const floorAbs = Math.max(...runs.map((r) => Math.abs(r - summary.median)));
  const floorPct = summary.median !== 0 ? (floorAbs / Math.abs(summary.median)) * 100 : undefined;
  const out: Tolerance = { ...tol };
  if (tol.pct !== undefined && floorPct !== undefined) out.pct = Math.max(tol.pct, 2 * floorPct);
  if (tol.abs !== undefined) out.abs = Math.max(tol.abs, 2 * floorAbs);
  return out;
}

function judge(
  lane: string,
  caseId: string,
  m: Metric,
  current: Side,
  summary: MetricSummary | undefined,
  tol: Tolerance,
  rules: Rules,
  incomparable: string | undefined,
  otherClass = false,
): Verdict {
  const id = { ...identity(lane, caseId, m), source: 'baseline' as const, current };
  if (!summary) return { ...id, state: 'new', severity: 'warn', reason: 'no baseline for this metric yet' };

  const baseline = sideOf(summary);
  const widened = widenToRunSpread(tol, summary);
  const wasWidened = widened.pct !== tol.pct || widened.abs !== tol.abs;
  tol = widened;
  const deltaAbs = current.median - baseline.median;
  const deltaPct = baseline.median !== 0 ? (deltaAbs / Math.abs(baseline.median)) * 100 : undefined;
  const tolerance = { pct: tol.pct, abs: tol.abs };
  const shown = { ...id, baseline, deltaAbs, ...(deltaPct !== undefined ? { deltaPct } : {}), tolerance };

  if (summary.unit !== m.unit) {
    return {
      ...shown,
      state: 'incomparable',
      severity: 'warn',
      reason: `unit changed from ${summary.unit} to ${m.unit}: recalibrate`,
    };
  }
  if (otherClass) {
    return {
      ...shown,
      state: 'incomparable',
      severity: 'warn',
      reason:
        'baseline from another machine class (CPU model, ISA path, cores or compiler): shown, not judged',
    };
  }
  if (m.kind === 'absolute' && incomparable) {
    return {
      ...shown,
      state: 'incomparable',
      severity: 'warn',
      reason: 'absolute metric, baseline from other hardware or compiler',
    };
  }

  // A change counts when it exceeds every tolerance the rule gives (relative and absolute).
  const exceeds: boolean[] = [];
  if (tol.pct !== undefined)
    exceeds.push(deltaPct === undefined ? deltaAbs !== 0 : Math.abs(deltaPct) > tol.pct);
  if (tol.abs !== undefined) exceeds.push(Math.abs(deltaAbs) > tol.abs);
  const beyond = exceeds.length > 0 && exceeds.every(Boolean);
  const change =
    tol.abs !== undefined
      ? formatAbsDelta(deltaAbs, m.unit)
      : deltaPct !== undefined
        ? formatPct(deltaPct)
        : formatAbsDelta(deltaAbs, m.unit);
  const within = `${toleranceText(tol, m.unit)}${wasWidened ? " (the baseline's run-to-run spread)" : ''}`;
  if (!beyond)
    return { ...shown, state: 'pass', severity: tol.severity, reason: `${change} within ${within}` };

  const worse = m.better === 'higher' ? deltaAbs < 0 : deltaAbs > 0;
  const direction = worse ? 'worse' : 'better';
  const nBase = summary.samples.length;
  if (nBase < rules.minSamples || current.n < rules.minSamples) {
    return {
      ...shown,
      state: 'noisy',
      severity: tol.severity,
      reason: `${change} (${direction}) beyond ${within}, but ${nBase} vs ${current.n} samples are too few for the U test (needs ${rules.minSamples} per side)`,
    };
  }
  const { p } = mannWhitneyU(summary.samples, m.samples);
  if (p >= rules.alpha) {
    return {
      ...shown,
      pValue: p,
      state: 'noisy',
      severity: tol.severity,
      reason: `${change} (${direction}) beyond ${within}, but not significant (p = ${formatNumber(p)} ≥ ${rules.alpha})`,
    };
  }
  return {
    ...shown,
    pValue: p,
    state: worse ? 'regressed' : 'improved',
    severity: tol.severity,
    reason: `${change} (${direction}) beyond ${within}, p = ${formatNumber(p)}`,
  };
}

/**
 * A shared runner can be slower for a whole run (a noisy neighbour, a throttled host): every
 * repetition shifts together, so the U test calls it significant, and contention does not
 * even hit both sides of a same-run ratio alike. The control metric, the peer measured in the
 * same rounds, tells a disturbed machine from a slower kernel: when the peer got worse by at
 * least half as much as this metric (or, for a metric judged in percentage points, by more
 * than DISTURBED_PCT), the regression is the machine's and becomes `noisy`, shown with the
 * reason and never failed. With `moves: 'either'` a peer that got better by as much counts
 * too: a host that is faster today speeds the peer up more than a kernel already near its
 * limit, and a ratio over the peer then drops with nothing changed in the code.
 */
export { DISTURBED_PCT };

export function guardMachineDrift(
  v: Verdict,
  c: CaseResult,
  baselineCase: Record<string, MetricSummary> | undefined,
  control: string,
  moves: 'worse' | 'either' = 'worse',
): Verdict {
  if (v.state !== 'regressed') return v;
  const now = c.metrics.find((m) => m.name === control);
  const before = baselineCase?.[control];
  if (!now || !before || before.median === 0 || !Number.isFinite(now.value)) return v;
  const controlPct = ((now.value - before.median) / Math.abs(before.median)) * 100;
  // signed in the "worse" direction: positive = worse
  const worseBy = (pct: number, better: 'higher' | 'lower') => (better === 'higher' ? -pct : pct);
  const theirs = moves === 'either' ? Math.abs(controlPct) : worseBy(controlPct, now.better);
  const judgedInPoints = v.tolerance?.abs !== undefined || v.deltaPct === undefined;
  const threshold = judgedInPoints ? DISTURBED_PCT : worseBy(v.deltaPct ?? 0, v.better) / 2;
  if (theirs < threshold) return v;
  return {
    ...v,
    state: 'noisy',
    reason: `${v.reason}; but ${control}, measured in the same rounds, moved ${formatPct(controlPct)}: the machine changed, not the code`,
  };
}

/** Gates are judged on the median of this run's samples: the gate fails when the median is beyond the bound. */
function judgeGate(lane: string, caseId: string, m: Metric, current: Side, g: GateRule): Verdict {
  const v = current.median;
  const low = g.min !== undefined && v < g.min;
  const high = g.max !== undefined && v > g.max;
  const value = formatValue(v, m.unit);
  let reason: string;
  if (low) reason = `median ${value} is below the minimum: ${boundText({ min: g.min }, m.unit)}`;
  else if (high) reason = `median ${value} is above the maximum: ${boundText({ max: g.max }, m.unit)}`;
  else reason = `median ${value} meets ${boundText(g, m.unit)}`;
  return {
    ...identity(lane, caseId, m),
    source: 'gate',
    state: low || high ? 'regressed' : 'pass',
    severity: g.severity,
    current,
    gate: {
      name: g.name,
      ...(g.min !== undefined ? { min: g.min } : {}),
      ...(g.max !== undefined ? { max: g.max } : {}),
      ...(g.description !== undefined ? { description: g.description } : {}),
    },
    reason,
  };
}

/** "≥ 1.3×", "≤ 1 pp", "-0.3 % … 0.3 %": bounds as written in rules.yml */
export function boundText(g: { min?: number; max?: number }, unit: string): string {
  const f = (v: number) =>
    isRatioUnit(unit) ? `${formatCompact(v)}×` : `${formatCompact(v)} ${unit}`.trim();
  if (g.min !== undefined && g.max !== undefined) return `${f(g.min)} … ${f(g.max)}`;
  if (g.min !== undefined) return `≥ ${f(g.min)}`;
  if (g.max !== undefined) return `≤ ${f(g.max)}`;
  return '';
}

/** Baseline metrics this run should have measured but did not. */
function missingVerdicts(lane: LaneResult, baseline: Baseline): Verdict[] {
  const byId = new Map<string, CaseResult>(lane.cases.map((c) => [c.id, c]));
  // a baseline case outside this profile's plan was not meant to run: not missing
  const planned = lane.planned ? new Set(lane.planned) : undefined;
  const out: Verdict[] = [];
  for (const [caseId, metrics] of Object.entries(baseline.cases)) {
    const c = byId.get(caseId);
    if (!c && planned && !planned.has(caseId)) continue;
    if (c?.error) continue; // already an error verdict
    const have = new Set(c?.metrics.map((m) => m.name) ?? []);
    for (const [name, s] of Object.entries(metrics)) {
      if (have.has(name)) continue;
      out.push({
        ...identity(lane.lane, caseId, { name, unit: s.unit, better: s.better, kind: s.kind }),
        source: 'baseline',
        state: 'missing',
        severity: 'warn',
        baseline: sideOf(s),
        reason: c ? 'in the baseline, not measured in this run' : 'case in the baseline did not run',
      });
    }
  }
  return out;
}

/** A/B: what the base measured and the head did not. */
function missingOnHead(lane: LaneResult, base: SideResult): Verdict[] {
  const out: Verdict[] = [];
  for (const bc of base.cases) {
    if (bc.error) continue;
    const hc = lane.cases.find((c) => c.id === bc.id);
    if (hc?.error) continue;
    for (const m of bc.metrics) {
      if (hc?.metrics.some((x) => x.name === m.name)) continue;
      out.push({
        ...identity(lane.lane, bc.id, m),
        source: 'ab',
        state: 'missing',
        severity: 'warn',
        baseline: summarizeSamples(m.samples),
        reason: hc ? 'measured by the base, not by the head' : 'case run by the base, not by the head',
      });
    }
  }
  return out;
}

function laneConclusion(verdicts: Verdict[]): CheckConclusion {
  if (verdicts.some(isFailing)) return 'failure';
  const absolute = verdicts.filter(
    (v) => v.source === 'baseline' && v.kind === 'absolute' && v.state !== 'new',
  );
  if (absolute.length > 0 && absolute.every((v) => v.state === 'incomparable')) return 'neutral';
  return 'success';
}

const SUMMARY_ORDER: VerdictState[] = [
  'error',
  'regressed',
  'improved',
  'noisy',
  'pass',
  'incomparable',
  'new',
  'missing',
];

function laneSummary(
  verdicts: Verdict[],
  path: string,
  incomparable: string | undefined,
  otherClass: boolean,
): string {
  const counts = emptyCounts();
  // a missed warn-severity gate or tolerance is a warning, not a regression: the gate passes;
  // a missed fail-severity gate fails, but is no change against a baseline either
  let warnings = 0;
  let gatesMissed = 0;
  for (const v of verdicts) {
    if (isWarning(v)) warnings++;
    else if (isMissedGate(v)) gatesMissed++;
    else counts[v.state]++;
  }
  const failing = verdicts.filter(isFailing).length;
  const parts = SUMMARY_ORDER.filter((s) => counts[s] > 0).map((s) => `${counts[s]} ${s}`);
  if (gatesMissed > 0) parts.unshift(`${gatesMissed} gate${gatesMissed === 1 ? '' : 's'} missed`);
  if (warnings > 0) parts.push(`${warnings} warning${warnings === 1 ? '' : 's'}`);
  let text = parts.length > 0 ? parts.join(', ') : 'nothing to judge';
  if (failing > 0) text = `${failing} failing: ${text}`;
  if (path) text += ` (${path})`;
  if (otherClass) text += '; no baseline for this machine class: only the gates judge';
  else if (incomparable) text += '; absolute metrics not judged: baseline from other hardware or compiler';
  return text;
}

/** How to create the baseline this run lacks: the command, or the action's calibrate mode. */
export function calibrateHint(lane: string, path: string): string {
  const forced = path === 'scalar' || path === 'avx2' ? ` --force-path ${path}` : '';
  return `run \`npx infeng-perf baseline update --lanes ${lane}${forced}\` on this machine class (or the action with \`mode: calibrate\` on this runner) and commit what it writes`;
}

function firstLine(s: string): string {
  const line = s.split('\n')[0] ?? '';
  return line.length > 120 ? `${line.slice(0, 119)}…` : line;
}
