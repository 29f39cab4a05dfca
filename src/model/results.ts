import type { LaneName } from './lanes.js';
import type { Machine } from './machine.js';

export type Better = 'higher' | 'lower';

/**
 * `absolute`: depends on the machine (GFLOP/s, latency); only judged against a baseline from
 * matching hardware and compiler. `same-run`: a ratio of two things measured side by side in the
 * same run (LoRA tax, ratio vs OpenBLAS); judged everywhere.
 */
export type MetricKind = 'absolute' | 'same-run';

export interface Metric {
  name: string;
  unit: string;
  better: Better;
  kind: MetricKind;
  /** one value per repetition, in run order; never empty for a metric that was measured */
  samples: number[];
  /** median of samples */
  value: number;
  /**
   * A/B runs: the median of each round's samples, in round order. The base side's metric of
   * the same case has one per round too: round i of both sides ran back to back.
   */
  rounds?: number[];
}

export interface CaseResult {
  /** stable id, e.g. "decode/M1/H4096/r16"; baselines and rules key on it */
  id: string;
  params: Record<string, string | number>;
  metrics: Metric[];
  /** set when this case failed inside an otherwise healthy lane */
  error?: string;
}

export type LaneStatus = 'ok' | 'error' | 'timeout' | 'skipped';

export interface LaneError {
  /** the step that failed: "build", "spawn", "run", "parse", ... */
  step: string;
  message: string;
}

export interface LaneResult {
  lane: LaneName;
  status: LaneStatus;
  error?: LaneError;
  /** the ISA path that ran (scalar | avx2 | avx512), or "" when the lane did not run */
  path: string;
  cases: CaseResult[];
  /** case ids this profile meant to run; a baseline case outside this list is not "missing" */
  planned: string[];
  durationS: number;
  /** report files the lane wrote (CSV, summaries), relative to the reports dir */
  artifacts: string[];
  /** lane-specific facts worth showing (threads, measured read bandwidth, peer library) */
  info: Record<string, string | number>;
  /** A/B runs: the base commit's binaries, measured in the same rounds as this (the head) */
  base?: SideResult;
  /** A/B runs: which side ran first in each round, "base" or "head" (alternating, ABBA) */
  abOrder?: ('base' | 'head')[];
}

/** One side of an A/B lane: what the base commit's build measured in the same rounds. */
export interface SideResult {
  status: LaneStatus;
  error?: LaneError;
  path: string;
  cases: CaseResult[];
  durationS: number;
  info: Record<string, string | number>;
  /**
   * Set when the base's build of the lane (its binaries and the data they read) was
   * byte-identical to the head's: the sha-256 of those inputs. The lane cannot have changed, so
   * the base was not run and `cases` is empty.
   */
  identical?: string;
}

/** How an A/B run was set up: the PR's base built and measured beside its head. */
export interface AbInfo {
  /** the ref the user named (a branch, a SHA, HEAD~1) */
  baseRef: string;
  /** the commit it resolved to */
  baseCommit: string;
  /** git tree hash of the base's native/: the key of its build cache */
  baseNativeTree: string;
  /** the base's build came from the cache */
  baseCached: boolean;
  /** repetitions per side per round */
  repetitions: number;
}

export interface RunResults {
  schemaVersion: 1;
  machine: Machine;
  profile: string;
  lanes: LaneResult[];
  /** set for an A/B run (the head against its base in the same job) */
  ab?: AbInfo;
  /** set when A/B was asked for and could not be done: why, and that baselines judged instead */
  abFallback?: string;
}
