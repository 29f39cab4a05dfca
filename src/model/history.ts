// The performance history: one record per lane run on the default branch, kept per machine
// class so that a series only ever holds numbers that can be compared with each other (the
// same reasoning as the baselines' class folders). A record keeps the summaries a trend or a
// change-point search needs, not the samples: the history grows by one line per push and per
// lane, and it has to stay small enough to fetch on every run.
import type { Better } from './results.js';

/** One metric of one case in one run. */
export interface HistoryMetric {
  unit: string;
  better: Better;
  median: number;
  /** relative IQR of the run's samples, as a fraction */
  spread: number;
  /** samples behind the median */
  n: number;
}

export interface HistoryRecord {
  schemaVersion: 1;
  /** the measured commit */
  commit: string;
  /** ISO 8601, when the run measured it */
  time: string;
  /** machine-class.ts's classKey of the machine and the lane's ISA path */
  classKey: string;
  lane: string;
  profile: string;
  /** the ISA path that ran */
  path: string;
  /** case id → metric name → summary */
  cases: Record<string, Record<string, HistoryMetric>>;
}

/** What a chart or a change-point search needs of a record. */
export type HistoryPoint = Pick<HistoryRecord, 'commit' | 'time' | 'cases'>;

/** One metric of one case over the history, oldest first. */
export interface SeriesPoint {
  commit: string;
  value: number;
}
