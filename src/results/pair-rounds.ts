// A/B rounds → one lane result. Each round ran the lane once on the base's binaries and once on
// the head's, back to back; this pools each side's samples and keeps, per metric, one value per
// round on both sides, aligned: a round where either side lacks the metric (a crashed run, a
// case only one side has) is left out of the pairs for that metric on both sides. Pure.
//
// A round's value of an absolute rate or time is its best repetition (the highest rate, the
// shortest time): on a shared VM a neighbour only ever slows a run down, so the best of a
// round's repetitions is the one it disturbed least. A same-run ratio can be disturbed either
// way (either of its two timings), so its round value is the median. Both sides alike, so the
// paired test's symmetry under "no change" holds.
import type { CaseResult, LaneResult, Metric, SideResult } from '../model/results.js';
import { median } from 'simple-statistics';

export interface AbRound {
  /** which side ran first */
  first: 'base' | 'head';
  head: LaneResult;
  base?: LaneResult;
}

function finiteMedian(xs: readonly number[]): number {
  const f = xs.filter((x) => Number.isFinite(x));
  return f.length === xs.length && f.length > 0 ? median(f) : Number.NaN;
}

/** One round's value of a metric (see the header); NaN when any repetition is not finite. */
export function roundValue(m: Pick<Metric, 'samples' | 'kind' | 'better'>): number {
  const xs = m.samples;
  if (xs.length === 0 || !xs.every((x) => Number.isFinite(x))) return Number.NaN;
  if (m.kind !== 'absolute') return median(xs as number[]);
  return m.better === 'higher' ? Math.max(...xs) : Math.min(...xs);
}

function caseIds(results: readonly LaneResult[]): string[] {
  const seen = new Set<string>();
  for (const r of results) for (const c of r.cases) seen.add(c.id);
  return [...seen];
}

function metricNames(cases: readonly (CaseResult | undefined)[]): Metric[] {
  const byName = new Map<string, Metric>();
  for (const c of cases) for (const m of c?.metrics ?? []) if (!byName.has(m.name)) byName.set(m.name, m);
  return [...byName.values()];
}

/** One side's case over the rounds: samples pooled, each metric's per-round medians kept. */
function pooledCase(
  id: string,
  own: (CaseResult | undefined)[],
  other: (CaseResult | undefined)[] | undefined,
): CaseResult | undefined {
  const present = own.filter((c): c is CaseResult => c !== undefined);
  if (present.length === 0) return undefined;
  const healthy = present.filter((c) => !c.error);
  const crashed = present.find((c) => c.error);
  // a case that failed in any round failed: an intermittent crash is still a crash
  if (crashed) {
    const error =
      healthy.length === 0
        ? crashed.error!
        : `failed in ${present.length - healthy.length} of ${present.length} rounds: ${crashed.error}`;
    return { ...crashed, error, metrics: [] };
  }
  const metrics: Metric[] = metricNames(healthy).map((proto) => {
    const samples: number[] = [];
    const rounds: number[] = [];
    own.forEach((c, r) => {
      const m = c && !c.error ? c.metrics.find((x) => x.name === proto.name) : undefined;
      if (!m) return;
      samples.push(...m.samples);
      if (!other) return;
      const oc = other[r];
      const om = oc && !oc.error ? oc.metrics.find((x) => x.name === proto.name) : undefined;
      const mine = roundValue(m);
      if (om && Number.isFinite(mine) && Number.isFinite(roundValue(om))) rounds.push(mine);
    });
    return {
      name: proto.name,
      unit: proto.unit,
      better: proto.better,
      kind: proto.kind,
      samples,
      value: finiteMedian(samples),
      ...(other ? { rounds } : {}),
    };
  });
  return { id, params: healthy[0]!.params, metrics };
}

/**
 * The head's lane result over all rounds, with the base's as `base`. A lane whose head failed
 * in any round is that failure (the head's code is what the check is about); a base that
 * failed is kept as the base side's error, and the head is still reported.
 */
export function mergeAbRounds(rounds: readonly AbRound[]): LaneResult {
  const failed = rounds.find((r) => r.head.status !== 'ok');
  const heads = rounds.map((r) => r.head);
  const last = heads[heads.length - 1];
  if (!last) throw new Error('mergeAbRounds: no rounds');
  const baseFailed = rounds.find((r) => r.base && r.base.status !== 'ok')?.base;
  const basesOk = rounds.every((r) => r.base?.status === 'ok');
  const order = rounds.map((r) => r.first);
  if (failed) return { ...failed.head, abOrder: order, ...(baseFailed ? { base: side(baseFailed) } : {}) };

  const ids = caseIds(heads);
  const baseIds = basesOk ? caseIds(rounds.map((r) => r.base!)) : [];
  const headCases = (id: string) => heads.map((h) => h.cases.find((c) => c.id === id));
  const baseCases = (id: string) => rounds.map((r) => r.base?.cases.find((c) => c.id === id));
  const cases = ids
    .map((id) => pooledCase(id, headCases(id), basesOk ? baseCases(id) : undefined))
    .filter((c): c is CaseResult => c !== undefined);
  const durationS = heads.reduce((s, h) => s + h.durationS, 0);
  const merged: LaneResult = {
    ...last,
    cases,
    durationS,
    abOrder: order,
  };
  if (basesOk) {
    const bases = rounds.map((r) => r.base!);
    merged.base = {
      status: 'ok',
      path: bases[bases.length - 1]!.path,
      cases: baseIds
        .map((id) => pooledCase(id, baseCases(id), headCases(id)))
        .filter((c): c is CaseResult => c !== undefined),
      durationS: bases.reduce((s, b) => s + b.durationS, 0),
      info: bases[bases.length - 1]!.info,
    };
  } else if (baseFailed) {
    merged.base = side(baseFailed);
  }
  return merged;
}

function side(r: LaneResult): SideResult {
  return {
    status: r.status,
    ...(r.error ? { error: r.error } : {}),
    path: r.path,
    cases: r.cases,
    durationS: r.durationS,
    info: r.info,
  };
}
