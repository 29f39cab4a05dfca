import type { Better, MetricKind } from './results.js';

export interface BaselineMeta {
  lane: string;
  /** CPU model string */
  hardware: string;
  cores: number;
  isa: string[];
  /** e.g. "clang 16.0.6" */
  compiler: string;
  compilerMajor: number;
  path: string;
  profile: string;
  commit: string;
  /** ISO 8601 */
  timestamp: string;
}

export interface MetricSummary {
  unit: string;
  better: Better;
  kind: MetricKind;
  median: number;
  /** relative spread: (p75 - p25) / median, as a fraction */
  spread: number;
  n: number;
  /** kept so the significance test has both sides' samples */
  samples: number[];
  /**
   * The median of each independent calibration run, when there were several. Repetitions of
   * one run share that run's machine state; how far whole runs land apart is the noise floor a
   * single run cannot show, and compare widens the tolerance to it.
   */
  runMedians?: number[];
}

export interface Baseline {
  _meta: BaselineMeta;
  /** case id → metric name → summary */
  cases: Record<string, Record<string, MetricSummary>>;
}
