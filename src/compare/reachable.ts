// A check that cannot fail is worse than none: it reads as a guard and guards nothing. A
// fail-severity tolerance is only judged by the U test, and the U test is only run with at
// least `minSamples` samples per side, so a profile whose lane takes fewer repetitions than
// that makes every such tolerance of the lane dead: beyond tolerance is always `noisy`. This
// finds those before anything runs, so the mismatch is fixed (more repetitions, or the rule
// made a warning) instead of discovered after a regression slipped through.
import type { Rules } from '../model/rules.js';
import { minUTestP } from './stats.js';

export interface LaneSampling {
  lane: string;
  profile: string;
  /** samples per timed metric the lane takes in this profile (its repetitions) */
  samples: number;
}

/**
 * One sentence per lane whose fail-severity tolerances can never produce `regressed` in the
 * profile: too few samples for the U test to run, or too few for it to reach p < alpha
 * against a baseline as large as the run. Empty when every gate can fire.
 */
export function unreachableTolerances(rules: Rules, lanes: readonly LaneSampling[]): string[] {
  const out: string[] = [];
  for (const { lane, profile, samples } of lanes) {
    const failing = (rules.lanes[lane]?.tolerances ?? [])
      .map((t, i) => ({ t, i }))
      .filter(({ t }) => t.severity === 'fail');
    const where = [
      ...failing.map(({ t, i }) => `lanes.${lane}.tolerances[${i}] (${t.metric})`),
      ...(rules.defaultSeverity === 'fail' ? ['defaultSeverity (metrics no rule matches)'] : []),
    ];
    if (where.length === 0) continue;
    let why: string | undefined;
    if (samples < rules.minSamples) {
      why = `takes ${samples} samples per metric in the ${profile} profile, fewer than minSamples (${rules.minSamples}), so the U test never runs`;
    } else if (minUTestP(samples, samples) >= rules.alpha) {
      why = `takes ${samples} samples per metric in the ${profile} profile: the smallest two-sided U-test p with ${samples} against ${samples} is ${minUTestP(samples, samples).toPrecision(2)}, not below alpha (${rules.alpha})`;
    }
    if (why) {
      out.push(
        `the ${lane} lane ${why}: its fail-severity tolerances can never fail (${where.join(', ')}); raise the profile's repetitions, or make those rules severity: warn`,
      );
    }
  }
  return out;
}
