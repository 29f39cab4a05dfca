// The scheduler lane: multi-adapter serving under a seeded Zipf trace. The bench
// (native/bench/sched_bench.cpp) probes the real kernels into a cost table each repetition,
// runs every policy on the same trace in virtual time and searches each policy's capacity; a
// short real-thread run checks the simulation. This adapter picks the sweep and the knobs per
// profile and turns the bench's `<policy>.<metric>` counters into one case per policy and point.
import path from 'node:path';
import type { Lane, LaneContext } from '../lane.js';
import type { Profile } from '../../model/lanes.js';
import type { CaseResult, LaneResult, Metric } from '../../model/results.js';
import { parseGbenchJson, type GbenchCase } from '../../results/gbench.js';
import { runBenchLane, type BenchSpec } from '../bench-lane.js';
import { writeSchedReports } from './reports.js';
import { metricFromSamples, type MetricSpec } from '../../results/metric.js';

export const SCHED_POLICIES = ['fcfs_lru', 'affinity_prefetch', 'cost_aware'] as const;
export type SchedPolicy = (typeof SCHED_POLICIES)[number];
/** vLLM's semantics: the peer every same-run ratio is taken against. */
export const SCHED_PEER: SchedPolicy = 'fcfs_lru';

interface Grid {
  /** popularity sweep: Zipf exponents, or "uniform" */
  alpha: (number | 'uniform')[];
  adapters: number[];
  rank: number[];
  meanAdapters: number[];
  /** star: the first values are the centre, one knob varied at a time; grid: every combination */
  sweep: 'star' | 'grid';
  durationS: number;
  loadRps: number;
  hidden: number;
  layers: number;
  /** the probed model's attention heads and MLP size (sched_engine.h ModelShape) */
  qHeads: number;
  kvHeads: number;
  ffn: number;
  /** layers the probe times (0: all); step and prefill times are scaled to `layers` */
  probeLayers: number;
  cacheAdapters: number;
  capacityRequests: number;
  calibRequests: number;
  repetitions: number;
}

// The seed's knobs (24 rps, 6 decode + 4 adapter threads modelled, pinned calibration) in
// every profile; the profiles differ in the sweep and the size of the probed model. quick
// stays well under a minute on two cores: two points (skewed, uniform) and the calibration.
// The model is llama-like (LoRA on q/k/v/o, int8-KV attention, an MLP); adapters outside the
// cache live on storage (their pages dropped before each read) and share one device.
const SEED = {
  loadRps: 24,
  decodeThreads: 6,
  adapterThreads: 4,
  pinCores: true,
  seed: 1,
  adapterStore: 'storage',
  storageLanes: 1,
};
export const SCHED_GRIDS: Record<Profile, Grid> = {
  smoke: {
    alpha: [1.0, 'uniform'],
    adapters: [20],
    rank: [8],
    meanAdapters: [1],
    sweep: 'grid',
    durationS: 10,
    loadRps: SEED.loadRps,
    hidden: 256,
    layers: 2,
    qHeads: 4,
    kvHeads: 2,
    ffn: 704,
    probeLayers: 0,
    cacheAdapters: 8,
    capacityRequests: 200,
    calibRequests: 16,
    repetitions: 5,
  },
  quick: {
    alpha: [1.0, 'uniform'],
    adapters: [100],
    rank: [16],
    meanAdapters: [1],
    sweep: 'grid',
    durationS: 30,
    loadRps: SEED.loadRps,
    hidden: 1024,
    layers: 8,
    qHeads: 16,
    kvHeads: 4,
    ffn: 2816,
    probeLayers: 2,
    cacheAdapters: 16,
    capacityRequests: 600,
    calibRequests: 32,
    repetitions: 5,
  },
  // The sweeps, one knob at a time around alpha 1, 100 adapters, rank 16, one adapter
  // per request.
  full: {
    alpha: [1.0, 'uniform', 0.5, 1.5],
    adapters: [100, 10, 1000],
    rank: [16, 8, 64],
    meanAdapters: [1, 4],
    sweep: 'star',
    durationS: 90,
    loadRps: SEED.loadRps,
    hidden: 1024,
    layers: 8,
    qHeads: 16,
    kvHeads: 4,
    ffn: 2816,
    probeLayers: 2,
    cacheAdapters: 16,
    capacityRequests: 600,
    calibRequests: 48,
    repetitions: 5,
  },
};

/** "zipf1.0", "zipf0.5", "uniform": the bench's label of a popularity. */
export function popularityLabel(a: number | 'uniform'): string {
  if (a === 'uniform') return 'uniform';
  const s = a.toFixed(2).replace(/0$/, '');
  return `zipf${s}`;
}

/** The bench's point name: <popularity>/N<adapters>/r<rank>/m<mean adapters>. */
export function pointName(a: number | 'uniform', n: number, r: number, m: number): string {
  return `${popularityLabel(a)}/N${n}/r${r}/m${m.toFixed(1)}`;
}

export function sweepPoints(g: Grid): string[] {
  if (g.sweep === 'grid') {
    return g.alpha.flatMap((a) =>
      g.adapters.flatMap((n) => g.rank.flatMap((r) => g.meanAdapters.map((m) => pointName(a, n, r, m)))),
    );
  }
  const [a0, n0, r0, m0] = [g.alpha[0]!, g.adapters[0]!, g.rank[0]!, g.meanAdapters[0]!];
  return [
    pointName(a0, n0, r0, m0),
    ...g.alpha.slice(1).map((a) => pointName(a, n0, r0, m0)),
    ...g.adapters.slice(1).map((n) => pointName(a0, n, r0, m0)),
    ...g.rank.slice(1).map((r) => pointName(a0, n0, r, m0)),
    ...g.meanAdapters.slice(1).map((m) => pointName(a0, n0, r0, m)),
  ];
}

/**
 * Per policy and point. Latencies, rates and capacities come from a simulation on this
 * machine's probed costs: absolute. Shares and ratios of one simulation, and the LoRA tax (the
 * same trace on the base model in the same run), are same-run.
 */
export const SCHED_POLICY_METRICS: Record<string, MetricSpec> = {
  tokens_per_s: { unit: 'tok/s', better: 'higher', kind: 'absolute' },
  max_tokens_per_s: { unit: 'tok/s', better: 'higher', kind: 'absolute' },
  capacity_rps: { unit: 'req/s', better: 'higher', kind: 'absolute' },
  p50_ms: { unit: 'ms', better: 'lower', kind: 'absolute' },
  p95_ms: { unit: 'ms', better: 'lower', kind: 'absolute' },
  base_p95_ms: { unit: 'ms', better: 'lower', kind: 'absolute' },
  queue_ms_p95: { unit: 'ms', better: 'lower', kind: 'absolute' },
  hot_reload_ms_p95: { unit: 'ms', better: 'lower', kind: 'absolute' },
  worst_wait_ms: { unit: 'ms', better: 'lower', kind: 'absolute' },
  loads_per_s: { unit: '/s', better: 'lower', kind: 'absolute' },
  lora_tax_pct: { unit: '%', better: 'lower', kind: 'same-run' },
  reload_vs_step: { unit: 'steps', better: 'lower', kind: 'same-run' },
  // At a fixed offered load, the same work in less busy time is better.
  decode_util: { unit: 'share', better: 'lower', kind: 'same-run' },
  adapter_util: { unit: 'share', better: 'lower', kind: 'same-run' },
  overlap_ratio: { unit: 'share', better: 'higher', kind: 'same-run' },
  overlap_at_capacity: { unit: 'share', better: 'higher', kind: 'same-run' },
  decode_util_at_capacity: { unit: 'share', better: 'higher', kind: 'same-run' },
  cache_hit_rate: { unit: 'share', better: 'higher', kind: 'same-run' },
  jain_fairness: { unit: 'index', better: 'higher', kind: 'same-run' },
};

/** Ratios against the peer policy of the same repetition (same probe, same trace). */
export const SCHED_VS_PEER_METRICS: Record<string, MetricSpec & { of: string }> = {
  capacity_vs_fcfs: { of: 'capacity_rps', unit: '×', better: 'higher', kind: 'same-run' },
  p95_vs_fcfs: { of: 'p95_ms', unit: '×', better: 'lower', kind: 'same-run' },
  max_tokens_vs_fcfs: { of: 'max_tokens_per_s', unit: '×', better: 'higher', kind: 'same-run' },
};

/** Per point: the best and worst adapter-aware policy against the peer (the targets). */
export const SCHED_POINT_METRICS: Record<string, MetricSpec> = {
  best_capacity_vs_fcfs: { unit: '×', better: 'higher', kind: 'same-run' },
  worst_capacity_vs_fcfs: { unit: '×', better: 'higher', kind: 'same-run' },
  // fcfs_lru with every load free against fcfs_lru: what hiding or avoiding loads can buy at
  // most, so the ceiling of any residency policy's capacity ratio.
  free_loads_capacity_vs_fcfs: { unit: '×', better: 'higher', kind: 'same-run' },
};

/** The probed costs of each point (bench counters probe.<name>), for the summary. */
export const SCHED_PROBE_METRICS: Record<string, MetricSpec> = {
  step_ms_t1: { unit: 'ms', better: 'lower', kind: 'absolute' },
  step_ms_t16_a1: { unit: 'ms', better: 'lower', kind: 'absolute' },
  step_ms_t16_a8: { unit: 'ms', better: 'lower', kind: 'absolute' },
  attn_ms_ctx256: { unit: 'ms', better: 'lower', kind: 'absolute' },
  prefill_ms_p128: { unit: 'ms', better: 'lower', kind: 'absolute' },
  load_ms: { unit: 'ms', better: 'lower', kind: 'absolute' },
  read_ms: { unit: 'ms', better: 'lower', kind: 'absolute' },
  read_warm_ms: { unit: 'ms', better: 'lower', kind: 'absolute' },
  unpack_ms: { unit: 'ms', better: 'lower', kind: 'absolute' },
  adapter_mb: { unit: 'MiB', better: 'lower', kind: 'absolute' },
  unpack_slowdown: { unit: '×', better: 'lower', kind: 'same-run' },
  load_slowdown: { unit: '×', better: 'lower', kind: 'same-run' },
};

export const SCHED_CALIBRATION_METRICS: Record<string, MetricSpec> = {
  sim_error_pct: { unit: '%', better: 'lower', kind: 'same-run' },
  real_p50_ms: { unit: 'ms', better: 'lower', kind: 'absolute' },
  real_p95_ms: { unit: 'ms', better: 'lower', kind: 'absolute' },
  real_tokens_per_s: { unit: 'tok/s', better: 'higher', kind: 'absolute' },
  sim_p50_ms: { unit: 'ms', better: 'lower', kind: 'absolute' },
  sim_p95_ms: { unit: 'ms', better: 'lower', kind: 'absolute' },
  sim_tokens_per_s: { unit: 'tok/s', better: 'higher', kind: 'absolute' },
  // Where the simulation's time differs from the real loop's, part by part (1 = exact), and
  // how far the machine's speed moved between the probes before and after the real run.
  step_real_vs_model: { unit: '×', better: 'lower', kind: 'same-run' },
  prefill_real_vs_model: { unit: '×', better: 'lower', kind: 'same-run' },
  load_real_vs_model: { unit: '×', better: 'lower', kind: 'same-run' },
  cold_real_vs_model: { unit: '×', better: 'lower', kind: 'same-run' },
  warm_real_vs_model: { unit: '×', better: 'lower', kind: 'same-run' },
  load_slowdown: { unit: '×', better: 'lower', kind: 'same-run' },
  probe_drift: { unit: '×', better: 'lower', kind: 'same-run' },
};

/** Trace facts per point: deterministic from the seed, the same in every repetition. */
const TRACE_COUNTERS = [
  'offered_rps',
  'requests',
  'trace_duration_s',
  'top1_share',
  'top10pct_share',
  'base_share',
  'observed_mean_adapters',
] as const;

const metricOf = metricFromSamples;

function counter(c: GbenchCase, key: string): number[] {
  return c.runs.map((r) => r.counters[key] ?? Number.NaN);
}

/** The trace hash from its two exact 32-bit halves, as 16 hex digits. */
export function traceHash(hi: number, lo: number): string {
  if (![hi, lo].every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32)) return '';
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

const POINT_RE = /^(zipf(-?\d+(?:\.\d+)?)|uniform)\/N(\d+)\/r(\d+)\/m(\d+(?:\.\d+)?)$/;

export function parsePoint(point: string) {
  const m = POINT_RE.exec(point);
  if (!m) return undefined;
  return {
    popularity: m[2] === undefined ? 'uniform' : 'zipf',
    alpha: m[2] === undefined ? 'uniform' : Number(m[2]),
    adapters_N: Number(m[3]),
    rank: Number(m[4]),
    mean_adapters_per_req: Number(m[5]),
  };
}

function pointCases(c: GbenchCase, point: string, policies: readonly string[]): CaseResult[] {
  const p = parsePoint(point)!;
  const first = c.runs[0]?.counters ?? {};
  const trace: Record<string, string | number> = {
    trace_hash: traceHash(first.trace_hash_hi ?? Number.NaN, first.trace_hash_lo ?? Number.NaN),
  };
  for (const k of TRACE_COUNTERS) if (Number.isFinite(first[k])) trace[k] = first[k]!;
  const params = { ...p, ...trace };
  const out: CaseResult[] = [];
  const peerCapacity = counter(c, `${SCHED_PEER}.capacity_rps`);
  const ratios: number[][] = [];
  for (const policy of policies) {
    if (!c.runs.some((r) => `${policy}.tokens_per_s` in r.counters)) {
      out.push({
        id: `${policy}/${point}`,
        params: { ...params, policy },
        metrics: [],
        error: 'the bench did not report this policy',
      });
      continue;
    }
    const metrics: Metric[] = [];
    for (const [name, spec] of Object.entries(SCHED_POLICY_METRICS)) {
      const samples = counter(c, `${policy}.${name}`);
      // A trace without base-model requests has no base_p95_ms: the metric is absent, not NaN.
      if (name === 'base_p95_ms' && samples.every((v) => !Number.isFinite(v))) continue;
      metrics.push(metricOf(name, spec, samples));
    }
    if (policy !== SCHED_PEER) {
      for (const [name, { of, ...spec }] of Object.entries(SCHED_VS_PEER_METRICS)) {
        const mine = counter(c, `${policy}.${of}`);
        const peer = counter(c, `${SCHED_PEER}.${of}`);
        metrics.push(
          metricOf(
            name,
            spec,
            mine.map((v, i) => v / (peer[i] ?? Number.NaN)),
          ),
        );
      }
      ratios.push(counter(c, `${policy}.capacity_rps`).map((v, i) => v / (peerCapacity[i] ?? Number.NaN)));
    }
    out.push({ id: `${policy}/${point}`, params: { ...params, policy }, metrics });
  }
  if (ratios.length > 0) {
    const reps = c.runs.length;
    const per = (f: (xs: number[]) => number) =>
      Array.from({ length: reps }, (_, i) => f(ratios.map((r) => r[i] ?? Number.NaN)));
    const bound = counter(c, 'bound.free_loads_capacity_rps').map(
      (v, i) => v / (peerCapacity[i] ?? Number.NaN),
    );
    const probes = Object.entries(SCHED_PROBE_METRICS)
      .map(([name, spec]) => [name, spec, counter(c, `probe.${name}`)] as const)
      .filter(([, , samples]) => samples.some((v) => Number.isFinite(v)))
      .map(([name, spec, samples]) => metricOf(`probe_${name}`, spec, samples));
    out.push({
      id: point,
      params,
      metrics: [
        ...(bound.some((v) => Number.isFinite(v))
          ? [metricOf('free_loads_capacity_vs_fcfs', SCHED_POINT_METRICS.free_loads_capacity_vs_fcfs!, bound)]
          : []),
        ...probes,
        metricOf(
          'best_capacity_vs_fcfs',
          SCHED_POINT_METRICS.best_capacity_vs_fcfs!,
          per((xs) => Math.max(...xs)),
        ),
        metricOf(
          'worst_capacity_vs_fcfs',
          SCHED_POINT_METRICS.worst_capacity_vs_fcfs!,
          per((xs) => Math.min(...xs)),
        ),
      ],
    });
  }
  return out;
}

function benchArgs(grid: Grid, ctx: LaneContext): string[] {
  return [
    `--force_path=${ctx.forcePath}`,
    `--seed=${SEED.seed}`,
    `--load_rps=${grid.loadRps}`,
    `--duration_s=${grid.durationS}`,
    `--zipf_alpha=${grid.alpha.join(',')}`,
    `--adapters=${grid.adapters.join(',')}`,
    `--rank=${grid.rank.join(',')}`,
    `--mean_adapters=${grid.meanAdapters.join(',')}`,
    `--sweep=${grid.sweep}`,
    `--decode_threads=${SEED.decodeThreads}`,
    `--adapter_threads=${SEED.adapterThreads}`,
    `--pin_cores=${SEED.pinCores}`,
    `--hidden=${grid.hidden}`,
    `--layers=${grid.layers}`,
    `--q_heads=${grid.qHeads}`,
    `--kv_heads=${grid.kvHeads}`,
    `--ffn=${grid.ffn}`,
    `--probe_layers=${grid.probeLayers}`,
    `--adapter_store=${SEED.adapterStore}`,
    `--storage_lanes=${SEED.storageLanes}`,
    `--cache_adapters=${grid.cacheAdapters}`,
    `--capacity_requests=${grid.capacityRequests}`,
    `--calib_requests=${grid.calibRequests}`,
    `--policies=${SCHED_POLICIES.join(',')}`,
    `--benchmark_repetitions=${ctx.repetitions ?? grid.repetitions}`,
  ];
}

/** Case ids of a profile: every policy at every point, the point itself, the calibration. */
export function schedPlannedCases(profile: Profile): string[] {
  return [
    ...sweepPoints(SCHED_GRIDS[profile]).flatMap((p) => [...SCHED_POLICIES.map((x) => `${x}/${p}`), p]),
    'calibration',
  ];
}

const INFO_KEYS = [
  'compiler',
  'isa_flags',
  'machine_cores',
  'threads_note',
  'decode_threads',
  'adapter_threads',
  'pin_cores',
  'seed',
  'num_requests',
  'duration_s',
  'load_rps',
  'include_base',
  'arrivals',
  'max_new_tokens',
  'prompt_median',
  'policies',
  'sweep',
  'cache_adapters',
  'max_batch',
  'max_adapters_per_batch',
  'max_wait_steps',
  'serial_fraction',
  'hidden',
  'layers',
  'q_heads',
  'kv_heads',
  'ffn',
  'probe_layers',
  'adapter_store',
  'storage_lanes',
  'p95_target_ms',
  'queue_target_ms',
  'capacity_requests',
];

/** Bench JSON → lane result; pure, so it is tested on recorded output. */
export function schedResultFromJson(
  text: string,
  planned: string[],
): Omit<LaneResult, 'durationS' | 'artifacts'> {
  const report = parseGbenchJson(text);
  const info: LaneResult['info'] = {};
  for (const key of INFO_KEYS) {
    const v = report.context[key];
    if (typeof v === 'string' || typeof v === 'number') info[key] = v;
  }
  const policies = String(report.context.policies ?? SCHED_POLICIES.join(','))
    .split(',')
    .filter((p) => p !== '');
  if (!policies.includes(SCHED_PEER)) {
    throw new Error(
      `context.policies: "${policies.join(',')}" lacks ${SCHED_PEER}, the peer every ratio is taken against`,
    );
  }
  const cases: CaseResult[] = [];
  for (const c of report.cases) {
    if (c.name === 'sched/calibration') {
      if (c.error || c.runs.length === 0) {
        cases.push({
          id: 'calibration',
          params: {},
          metrics: [],
          error: c.error ?? 'no repetitions reported',
        });
        continue;
      }
      const first = c.runs[0]!.counters;
      cases.push({
        id: 'calibration',
        params: {
          requests: first.requests ?? '',
          pinned: first.pinned === 1 ? 'true' : 'false',
          decode_threads: 1,
          adapter_threads: 1,
        },
        metrics: Object.entries(SCHED_CALIBRATION_METRICS).map(([name, spec]) =>
          metricOf(name, spec, counter(c, name)),
        ),
      });
      continue;
    }
    const m = /^sched\/(.+)$/.exec(c.name);
    const point = m?.[1];
    if (point === undefined || !parsePoint(point)) continue;
    if (c.error || c.runs.length === 0) {
      for (const id of [...policies.map((p) => `${p}/${point}`), point])
        cases.push({
          id,
          params: parsePoint(point)!,
          metrics: [],
          error: c.error ?? 'no repetitions reported',
        });
      continue;
    }
    cases.push(...pointCases(c, point, policies));
  }
  const seen = new Set(cases.map((c) => c.id));
  for (const id of planned) {
    if (!seen.has(id))
      cases.push({ id, params: {}, metrics: [], error: 'the bench did not report this case' });
  }
  const path = typeof report.context.path === 'string' ? report.context.path : '';
  return { lane: 'sched', status: 'ok', path, cases, planned, info };
}

/**
 * The bench run of a lane context. The calibration (real threads against the simulation) is
 * judged on the head alone, by its gates: an A/B round after the first leaves it out (half of
 * a quick round's time), and its values come from the first round.
 */
export function schedBenchSpec(ctx: LaneContext): BenchSpec {
  const grid = SCHED_GRIDS[ctx.profile];
  const later = ctx.abRound === true;
  const planned = schedPlannedCases(ctx.profile).filter((id) => !later || id !== 'calibration');
  return {
    lane: 'sched',
    bin: 'infeng_sched_bench',
    args: [...benchArgs(grid, ctx), ...(later ? ['--calibrate=false'] : [])],
    planned,
    parse: (text) => schedResultFromJson(text, planned),
    write: writeSchedReports,
  };
}

export const schedLane: Lane = {
  name: 'sched',
  targets: ['infeng_sched_bench'],
  inputs: (buildDir) => [path.join(buildDir, 'bench', 'infeng_sched_bench')],
  plannedCases: schedPlannedCases,
  samplesPerMetric: (profile) => SCHED_GRIDS[profile].repetitions,
  writeReports: writeSchedReports,
  run: (ctx) => runBenchLane(ctx, schedBenchSpec(ctx)),
};
