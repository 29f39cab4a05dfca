// The contract between the runner and one lane adapter. An adapter knows its binary, the
// arguments for a profile, and how to turn the binary's output into results; the runner owns
// processes, timeouts and the rule that a failing lane never stops the others.
import type { LaneName, Profile, IsaPath } from '../model/lanes.js';
import type { LaneResult } from '../model/results.js';
import type { BenchSpec } from './bench-lane.js';

export interface LaneContext {
  /** directory holding the built lane binaries (the CMake binary dir) */
  buildDir: string;
  /** where the lane writes its raw output and report files */
  reportsDir: string;
  profile: Profile;
  forcePath: IsaPath;
  threads: number;
  timeoutMs: number;
  /** repetitions per case instead of the profile's (A/B rounds are short runs of every case) */
  repetitions?: number;
  /**
   * An A/B round after the first: the bench may skip what only the gates or a deterministic
   * check use, not the A/B verdicts (attn-prefill's timed naive reference), told through
   * AB_ROUND_ENV, which an older base bench ignores where a flag would fail it.
   */
  abRound?: boolean;

  /** progress lines for the terminal / job log */
  log: (line: string) => void;
}

export interface Lane {
  name: LaneName;
  /** CMake targets the lane needs built */
  targets: string[];
  /** case ids the lane plans to run in this profile: a baseline case outside it is not "missing" */
  plannedCases(profile: Profile): string[];
  /** samples each timed metric gets in this profile (the bench's repetitions) */
  samplesPerMetric(profile: Profile): number;
  run(ctx: LaneContext): Promise<LaneResult>;
  /**
   * For a lane that is one Google Benchmark binary: its run, described. With `benchmarkOf`, A/B
   * rounds run it as a serving process, one case at a time (src/lanes/ab-served.ts).
   */
  benchSpec?(ctx: LaneContext): BenchSpec;
  /**
   * The files (and folders) under a build whose bytes decide what a run of this lane measures:
   * its binaries and the data they read. Two builds with the same bytes here run the same code
   * on the same data, so an A/B run of them is an A/A run and is skipped (src/lanes/ab-runner.ts).
   * A lane without it is always run on both sides.
   */
  inputs?(buildDir: string): string[];
  /** writes the lane's report files (CSV, summary) for a result; returns their names */
  writeReports(result: LaneResult, reportsDir: string): string[];
}
