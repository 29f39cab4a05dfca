export type Severity = 'fail' | 'warn';

/** Tolerance for baseline-relative change of the metrics it matches. */
export interface ToleranceRule {
  /** glob over metric names ("*" = all) */
  metric: string;
  /** glob over case ids ("*" = all) */
  cases: string;
  /** relative change beyond which a change counts, in percent */
  tolerancePct?: number;
  /** absolute change beyond which a change counts, in the metric's unit (for metrics that are percentages) */
  toleranceAbs?: number;
  /**
   * A metric of the same case measured in the same run that the change cannot affect (the
   * peer's throughput). When it moved the same bad way, the machine was slower, not the code:
   * a regression of this metric is then `noisy`, not failed.
   */
  control?: string;
  /**
   * Which moves of the control excuse a regression. `worse` (the default): the control got
   * worse as well, the machine was slower. `either`: for a same-run ratio whose denominator is
   * the control (or a difference of timings that a changed machine state makes unreliable), a
   * control that got better moves the ratio down just as surely.
   */
  controlMoves?: 'worse' | 'either';
  severity: Severity;
}

/** Absolute gate on a (same-run) metric: judged without a baseline. */
export interface GateRule {
  name: string;
  metric: string;
  cases: string;
  min?: number;
  max?: number;
  /** glob over the ISA path that ran ("avx2", "avx512", ...); absent = every path */
  path?: string;
  severity: Severity;
  /** shown in the report, e.g. "the seed: fused within 2r/H + 1 pp of base" */
  description?: string;
}

export interface LaneRules {
  tolerances: ToleranceRule[];
  gates: GateRule[];
}

/** A/B tolerance for the paired head/base change of the metrics it matches. */
export interface AbToleranceRule {
  metric: string;
  cases: string;
  tolerancePct?: number;
  toleranceAbs?: number;
  /** absent: the severity of the metric's baseline tolerance (a peer's throughput only warns) */
  severity?: Severity;
}

/**
 * A/B mode: the head and its base measured in alternating rounds in the same job. A change
 * is `regressed` when the paired head/base ratio is beyond tolerance and the signed-rank test
 * on the rounds' log ratios gives p < alpha; inconclusive metrics get more rounds.
 */
export interface AbRules {
  alpha: number;
  /** relative tolerance for metrics no A/B rule matches, in percent */
  tolerancePct: number;
  /** absolute tolerance for % and pp metrics no A/B rule matches */
  toleranceAbs: number;
  /** rounds every lane runs; at least the fewest pairs that can reach alpha */
  rounds: number;
  /** rounds a lane may grow to while a fail-severity metric is inconclusive */
  maxRounds: number;
  /** repetitions per side per round */
  repetitions: number;
  /** a lane stops adding rounds once its A/B time passes this many seconds */
  laneBudgetS: number;
  /**
   * Run the Google Benchmark lanes' rounds on serving benches (one process per side, one case
   * at a time) instead of one process per side and round. Faster, but a process keeps its speed
   * for life, and on the VMs measured that made one side several percent faster for every round
   * (docs/MEASUREMENTS.md): off unless an A/A run on your machines says otherwise.
   */
  serve: boolean;
  lanes: Partial<Record<string, AbToleranceRule[]>>;
}

export interface Rules {
  /** significance level of the Mann-Whitney U test */
  alpha: number;
  /** fewest samples per side for the U test to be run; fewer makes a change `noisy` */
  minSamples: number;
  /** defaults applied to a metric no lane rule matches */
  defaultTolerancePct: number;
  /** default absolute tolerance for metrics measured in % or pp, where a relative change misleads */
  defaultToleranceAbs?: number;
  defaultSeverity: Severity;
  lanes: Partial<Record<string, LaneRules>>;
  ab: AbRules;
}
