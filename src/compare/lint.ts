// The configuration lint: mistakes in the baselines directory, rules.yml or a baseline that
// would otherwise pass with exit 0 and judge nothing. A baselines directory that does not
// exist makes every verdict `new` and every rule a default; a fail gate or tolerance whose
// metric is misspelt never fires; a hand-edited median that no longer matches its samples
// moves the bar without anyone measuring anything. Each is a problem naming the file and the
// field; compare turns one about a lane into an error verdict of that lane, and the compare
// stage exits 2 once the report is written.
//
// Pure and fast: the pipeline does the I/O (whether the directory exists, which file each
// baseline came from) and hands over what it found. Warn-severity rules that match nothing
// stay a note of the report: they cannot let a regression through, and a profile that leaves
// out a sweep (the smoke profile's thread counts) would otherwise trip them.

import { InputError } from '../errors.js';
import type { Baseline } from '../model/baselines.js';
import type { LaneResult, RunResults } from '../model/results.js';
import type { Rules } from '../model/rules.js';
import { globMatch } from './rules.js';
import { median } from './stats.js';
import { fieldPath } from './validate.js';

export interface LintInput {
  rules: Rules;
  rulesFile: string;
  baselinesDir: string;
  /** whether `baselinesDir` exists (the pipeline looked) */
  baselinesDirExists: boolean;
  /** lane → its baseline as loaded (a malformed one is the loader's InputError, not linted) */
  baselines: Record<string, Baseline | undefined | InputError>;
  /** lane → the file its baseline was read from */
  baselineFiles: Record<string, string>;
  results: RunResults;
}

export interface LintProblem {
  /** the lane whose verdicts the problem makes unreliable; absent: every lane's */
  lane?: string;
  error: InputError;
}

export interface LintResult {
  problems: LintProblem[];
  /** what is worth saying but fails nothing (a warn-severity rule that matched nothing) */
  notes: string[];
}

/** A median, a run's median: anything further from the samples' median is not their summary. */
const MEDIAN_TOLERANCE = 1e-9;

export function lintConfiguration(input: LintInput): LintResult {
  const problems: LintProblem[] = [];
  const notes: string[] = [];
  if (!input.baselinesDirExists) {
    problems.push({
      error: new InputError(
        'the baselines directory does not exist: no baseline can be found and rules.yml is not read (the built-in defaults would judge); create it or point --baselines-dir / baselines-dir at it',
        { file: input.baselinesDir },
      ),
    });
  }
  for (const lane of input.results.lanes) lintLaneRules(input, lane, problems, notes);
  for (const [lane, baseline] of Object.entries(input.baselines)) {
    if (!baseline || baseline instanceof InputError) continue;
    const file = input.baselineFiles[lane] ?? `${input.baselinesDir}/${lane}.json`;
    for (const error of lintBaseline(baseline, file)) problems.push({ lane, error });
  }
  return { problems, notes };
}

/**
 * Gates and tolerances of rules.yml that name nothing the lane measured in this run. Only for
 * a lane that ran cleanly: a lane or case that failed is already an error verdict, and its
 * missing metrics say nothing about the rules.
 */
function lintLaneRules(input: LintInput, lane: LaneResult, problems: LintProblem[], notes: string[]): void {
  const laneRules = input.rules.lanes[lane.lane];
  if (!laneRules || lane.status !== 'ok' || lane.cases.length === 0) return;
  if (lane.cases.some((c) => c.error !== undefined)) return;
  const measured = new Set(lane.cases.flatMap((c) => c.metrics.map((m) => m.name)));
  const names = [...measured];
  const matches = (glob: string) => names.some((n) => globMatch(glob, n));
  const file = input.rulesFile;
  const problem = (field: string, detail: string) =>
    problems.push({ lane: lane.lane, error: new InputError(detail, { file, field }) });
  const note = (field: string, detail: string) => notes.push(`${lane.lane}: ${file}: ${field}: ${detail}`);
  const shown = `of the ${names.length} metric${names.length === 1 ? '' : 's'} the ${lane.lane} lane measured (${preview(names)})`;

  laneRules.gates.forEach((g, i) => {
    if (matches(g.metric)) return;
    const field = `lanes.${lane.lane}.gates[${i}]`;
    const detail = `gate "${g.name}": metric "${g.metric}" matches none ${shown}, so the gate never judges`;
    if (g.severity === 'fail') problem(field, detail);
    // a warn gate: compare already notes a gate that matched no metric
  });
  laneRules.tolerances.forEach((t, i) => {
    const field = `lanes.${lane.lane}.tolerances[${i}]`;
    const report = t.severity === 'fail' ? problem : note;
    if (!matches(t.metric))
      report(`${field}.metric`, `"${t.metric}" matches none ${shown}, so the rule never applies`);
    if (t.control !== undefined && !measured.has(t.control))
      report(
        `${field}.control`,
        `"${t.control}" is none ${shown}, so the control never excuses a disturbed machine`,
      );
  });
}

/**
 * A baseline's numbers against its own samples: calibration writes the median of the pooled
 * samples and each run's median, so a median that is not theirs, a run median outside their
 * range, or a number JSON turned into Infinity (1e999) was edited by hand.
 */
export function lintBaseline(baseline: Baseline, file: string): InputError[] {
  const out: InputError[] = [];
  for (const [caseId, metrics] of Object.entries(baseline.cases)) {
    for (const [name, s] of Object.entries(metrics)) {
      const field = (...rest: (string | number)[]) => fieldPath(['cases', caseId, name, ...rest.map(String)]);
      const bad = s.samples.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) {
        out.push(new InputError('is not a finite number', { file, field: field('samples', bad) }));
        continue;
      }
      if (s.samples.length === 0) continue;
      const lo = Math.min(...s.samples);
      const hi = Math.max(...s.samples);
      const m = median(s.samples);
      if (!Number.isFinite(s.median) || !near(s.median, m)) {
        out.push(
          new InputError(
            `is ${s.median}, but the median of its ${s.samples.length} samples is ${m} (they range over [${lo}, ${hi}]): edited by hand? recalibrate with \`infeng-perf baseline update\``,
            { file, field: field('median') },
          ),
        );
      }
      (s.runMedians ?? []).forEach((r, i) => {
        if (Number.isFinite(r) && r >= lo && r <= hi) return;
        out.push(
          new InputError(
            `is ${r}, outside the range of the samples it summarises [${lo}, ${hi}]: edited by hand? recalibrate with \`infeng-perf baseline update\``,
            { file, field: field('runMedians', i) },
          ),
        );
      });
    }
  }
  return out;
}

function near(a: number, b: number): boolean {
  return Math.abs(a - b) <= MEDIAN_TOLERANCE * Math.max(Math.abs(a), Math.abs(b), Number.MIN_VALUE);
}

function preview(names: string[]): string {
  const sorted = [...names].sort();
  return sorted.length > 12 ? `${sorted.slice(0, 12).join(', ')}, …` : sorted.join(', ');
}
