// One metric from its per-repetition samples, the same way in every lane: its value is the
// median, and NaN when any repetition did not report it (a missing sample is not dropped in
// silence, so a half-measured metric cannot pass as a whole one).
import { median } from 'simple-statistics';
import type { Better, Metric, MetricKind } from '../model/results.js';

/** What a lane declares about a metric it reports. */
export interface MetricSpec {
  unit: string;
  better: Better;
  kind: MetricKind;
}

export function metricFromSamples(name: string, spec: MetricSpec, samples: number[]): Metric {
  const finite = samples.filter(Number.isFinite);
  return {
    name,
    unit: spec.unit,
    better: spec.better,
    kind: spec.kind,
    samples,
    value: finite.length === samples.length && finite.length > 0 ? median(finite) : Number.NaN,
  };
}
