import type { AbInfo, Better, MetricKind } from './results.js';
import type { Severity } from './rules.js';
import type { Machine } from './machine.js';
import type { BaselineMeta } from './baselines.js';

export const VERDICT_STATES = [
  'pass',
  'improved',
  'regressed',
  'noisy',
  'incomparable',
  'new',
  'missing',
  'error',
] as const;
export type VerdictState = (typeof VERDICT_STATES)[number];

export interface Side {
  median: number;
  /** relative IQR, as a fraction */
  spread: number;
  n: number;
}

export interface Verdict {
  lane: string;
  caseId: string;
  metric: string;
  unit: string;
  better: Better;
  kind: MetricKind;
  /**
   * "baseline": change against the committed baseline; "ab": change against the PR's base,
   * measured in the same rounds; "gate": an absolute gate of rules.yml
   */
  source: 'baseline' | 'gate' | 'ab';
  state: VerdictState;
  severity: Severity;
  baseline?: Side;
  current?: Side;
  /** (current - baseline) / baseline × 100 */
  deltaPct?: number;
  /** current - baseline, in the metric's unit (the change that counts for percentage metrics) */
  deltaAbs?: number;
  /** the tolerance the change was judged against (from the matching rule or the defaults) */
  tolerance?: { pct?: number; abs?: number };
  /** two-sided Mann-Whitney U p-value, when the test ran */
  pValue?: number;
  /** A/B: the paired head/base ratio over the rounds, its interval, and what this run could see */
  ab?: AbChange;
  /** for gates: the gate name and its bound */
  gate?: { name: string; min?: number; max?: number; description?: string };
  /** one human sentence: why this state */
  reason: string;
}

export interface AbChange {
  /** typical head/base ratio (Hodges–Lehmann over the rounds' log ratios) */
  ratio: number;
  /** its confidence interval at 1 − alpha; absent when the rounds are too few for one */
  low?: number;
  high?: number;
  /** paired rounds */
  rounds: number;
  /** the smallest change, in %, these rounds could have detected at their noise; absent when none could be */
  mdePct?: number;
}

export type CheckConclusion = 'success' | 'failure' | 'neutral';

export interface LaneVerdicts {
  lane: string;
  check: string;
  conclusion: CheckConclusion;
  /** one line for the check run title and the headline */
  summary: string;
  path: string;
  status: string;
  /** why the baseline's absolute metrics were not judged, when they were not */
  incomparable?: string;
  /** the baseline is another machine class's: nothing tied to the hardware was judged */
  otherClass?: boolean;
  baselineMeta?: BaselineMeta;
  error?: { step: string; message: string };
  /** A/B: paired rounds and the median minimum detectable effect of the fail-severity metrics */
  ab?: { rounds: number; mdePct?: number; baseStatus: string; baseError?: string };
  verdicts: Verdict[];
}

export interface VerdictReport {
  schemaVersion: 1;
  machine: Machine;
  profile: string;
  conclusion: 'success' | 'failure';
  counts: Record<VerdictState, number>;
  lanes: LaneVerdicts[];
  /** A/B runs: the base measured beside the head */
  ab?: AbInfo;
  /** A/B was asked for and could not be done: why (baselines judged instead) */
  abFallback?: string;
  /** problems found while comparing that did not stop it (a malformed baseline, say) */
  notes: string[];
}

export function emptyCounts(): Record<VerdictState, number> {
  return Object.fromEntries(VERDICT_STATES.map((s) => [s, 0])) as Record<VerdictState, number>;
}

/** A missed warn-severity tolerance or gate: shown as a warning, never fails. */
export function isWarning(v: Verdict): boolean {
  return v.severity === 'warn' && v.state === 'regressed';
}

/**
 * A fail-severity absolute gate (rules.yml `gates`) this run's value misses: it fails the check
 * like a regression, but it is not a change against a baseline or the base, so summaries count
 * it apart ("gates missed").
 */
export function isMissedGate(v: Verdict): boolean {
  return v.source === 'gate' && v.severity === 'fail' && v.state === 'regressed';
}

/** The one definition of what fails the gate. */
export function isFailing(v: Verdict): boolean {
  return v.severity === 'fail' && (v.state === 'regressed' || v.state === 'error');
}
