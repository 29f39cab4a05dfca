// The scheduler lane's report files: reports/sched_zipf.csv with exactly the seed's columns (one
// row per policy × sweep point, medians of the repetitions) and reports/sched_zipf_summary.json
// (definitions, each point's trace hash and skew, each policy's capacity, cache and fairness
// figures, the calibration against real threads).
import { Ajv } from 'ajv';
import { writeCsv, writeJsonReport } from '../../results/report-files.js';
import type { CaseResult, LaneResult } from '../../model/results.js';

/** The seed's schema (DESIGN.md), column names and order exactly. */
export const SCHED_CSV_COLUMNS = [
  'sched',
  'alpha',
  'adapters_N',
  'mean_adapters_per_req',
  'rank',
  'load_rps',
  'duration_s',
  'decode_threads',
  'adapter_threads',
  'pin_cores',
  'p50_ms',
  'p95_ms',
  'base_p95_ms',
  'lora_tax_pct',
  'hot_reload_ms_p95',
  'tokens_per_s',
  'queue_ms_p95',
  'decode_util',
  'adapter_util',
  'overlap_ratio',
] as const;

export const SCHED_DEFINITIONS = {
  alpha:
    'Zipf exponent of adapter popularity: the adapter of rank i is drawn with weight 1/(i+1)^alpha (larger = more skew; S-LoRA’s alpha runs the other way); "uniform" = uniform random; <= 0 = round-robin',
  top1_share:
    'share of adapter uses that go to the most used adapter (the base model counts as one entry when it is in the pool)',
  top10pct_share: 'share of adapter uses that go to the ceil(10 %) most used entries',
  trace_hash:
    'FNV-1a (64-bit) over the adapter table and every request of the trace: the same hash means the same trace',
  load_rps: 'observed offered rate of the trace: requests / time of the last arrival',
  duration_s: 'time of the last arrival of the trace',
  p50_ms: 'median latency, arrival to last token, in virtual time on the probed costs',
  p95_ms: '95th percentile latency (nearest rank)',
  base_p95_ms: 'p95 latency of the requests on the base model alone (empty when the trace has none)',
  lora_tax_pct:
    '(1 − max_tokens_per_s / the same of the same requests on the base model) × 100, at saturation: below capacity both carry the offered load and the tax is zero by construction',
  max_tokens_per_s:
    'output tokens / makespan at saturation: the capacity trace offered at twice the rate a full base-model batch could serve',
  hot_reload_ms_p95: 'p95, over loads of an adapter evicted earlier, of the time from issue to resident',
  tokens_per_s:
    'output tokens / makespan (first arrival to last token) at the offered load: the offered load itself below capacity',
  queue_ms_p95: 'p95 of the wait from arrival to the start of the step the request joined',
  decode_util: 'share of the makespan with a decode step running',
  adapter_util: 'busy share of the modelled adapter threads',
  overlap_ratio: 'share of adapter-thread busy time hidden behind a running decode step',
  capacity_rps:
    'highest offered rate whose p95 latency and queue-wait p95 stay within the targets, by bisection in virtual time (a fixed number of requests per probe)',
  cache_hit_rate: '1 − loads / adapter uses of admitted requests',
  loads_per_s: 'adapter loads / makespan',
  worst_wait_ms: 'the longest queue wait of any request',
  jain_fairness: "Jain's index over the mean latency per adapter (the base model as one): 1 = equal",
  reload_vs_step:
    'hot_reload_ms_p95 in decode steps of a full batch with one adapter, its attention at the trace’s typical context (median prompt + half the mean output) included',
  sim_error_pct:
    'largest relative error of the simulation against a real-thread run (1 decode + 1 adapter thread) of the same trace and configuration, over p50, p95 and tokens/s; the simulation uses the mean of probes taken before and after the real run',
  free_loads_capacity_vs_fcfs:
    'capacity of fcfs_lru with every adapter load free, over fcfs_lru’s: the most that hiding or avoiding loads can buy, so the ceiling of a residency policy’s capacity ratio',
  step_real_vs_model:
    'calibration: the real loop’s decode steps over the cost model’s time for the same shapes (1 = exact); likewise prefill_real_vs_model and load_real_vs_model',
  cold_real_vs_model:
    'calibration: steps and prefills that were the decode thread’s first work after a wait, real over model; warm_real_vs_model the rest',
  load_slowdown:
    'probed: an adapter load with a decode step running beside it over the same load alone; the simulation applies it to loads that start during a step',
  probe_drift:
    'calibration: a mid-sized decode step probed after the real run over the same probed before it',
  overlap_at_capacity:
    'overlap_ratio of the capacity search’s last passing probe: at that rate decode is idle part of the time, so less adapter work can hide behind it than at an overloaded fixed rate',
  decode_util_at_capacity: 'decode_util of the capacity search’s last passing probe',
} as const;

/**
 * Every modelling choice of the simulation, stated in the summary (the numbers it uses are in
 * info and in each point's costs).
 */
export const SCHED_MODELLING = [
  'model: llama-like layers of hidden × layers with q_heads query and kv_heads KV heads; per layer the q/k/v/o projections, int8-KV decode attention (grouped-query) and a gate/up/down MLP of ffn; LoRA adapters on q, k, v and o at the point’s rank; FP32 weights and adapters',
  'probe: the engine’s own GEMM and attention kernels on one thread, probe_layers layers timed and scaled to layers (every layer costs the same); the step grid (tokens × distinct adapters × rank) and prefill and attention timed in interleaved rounds, means kept',
  'decode step = the probed step without attention, interpolated in tokens, distinct adapters and rank, + tokens × the probed attention at the batch’s mean context (prompt + tokens generated so far); with one adapter the fused LoRA kernel, with several the base GEMM plus each adapter’s x·A·B on its rows',
  'prefill = the probed GEMMs over the prompt’s rows + tiled causal attention, in the step the request joins (the KV append is not timed); prompts beyond the largest probed one are extrapolated linearly',
  'adapter load = a read of the adapter’s full size from its file + an unpack into the fused and segmented packed layouts; adapter_store storage drops the file’s pages before each read, so the read comes from the device: adapters outside the cache live on storage',
  'reads share the storage device: storage_lanes reads at full speed at once, the others wait (unpacks run on their own modelled adapter thread)',
  'decode_threads and adapter_threads are modelled lanes of a target machine, not threads of this one: a step spreads over decode_threads by Amdahl’s law at serial_fraction; one load per adapter thread',
  'a decode step running beside an unpack is slowed by the probed unpack_slowdown per unpack; a load that starts while a step runs takes the probed load_slowdown times its time alone',
  'capacity: the highest offered rate whose p95 latency and queue-wait p95 stay within the targets, by bisection, capacity_requests requests per probe (same seed)',
] as const;

function val(c: CaseResult | undefined, name: string): number | undefined {
  return c?.metrics.find((m) => m.name === name)?.value;
}

function round(v: number | undefined, digits = 3): number | '' {
  return v === undefined || !Number.isFinite(v) ? '' : Number(v.toFixed(digits));
}

function num(v: string | number | undefined): number | '' {
  const n = Number(v);
  return v === undefined || v === '' || !Number.isFinite(n) ? '' : n;
}

/** Policy cases: those with a policy parameter (a point case and the calibration have none). */
function policyCases(result: LaneResult): CaseResult[] {
  return result.cases.filter((c) => typeof c.params.policy === 'string');
}

export function schedCsvRows(
  result: LaneResult,
): Record<(typeof SCHED_CSV_COLUMNS)[number], string | number>[] {
  const info = result.info;
  return policyCases(result).map((c) => ({
    sched: String(c.params.policy),
    alpha: c.params.alpha ?? '',
    adapters_N: c.params.adapters_N ?? '',
    mean_adapters_per_req: c.params.mean_adapters_per_req ?? '',
    rank: c.params.rank ?? '',
    load_rps: round(num(c.params.offered_rps) || undefined, 3),
    duration_s: round(num(c.params.trace_duration_s) || undefined, 2),
    decode_threads: num(info.decode_threads),
    adapter_threads: num(info.adapter_threads),
    pin_cores: info.pin_cores === undefined ? '' : String(info.pin_cores),
    p50_ms: round(val(c, 'p50_ms'), 3),
    p95_ms: round(val(c, 'p95_ms'), 3),
    base_p95_ms: round(val(c, 'base_p95_ms'), 3),
    lora_tax_pct: round(val(c, 'lora_tax_pct'), 3),
    hot_reload_ms_p95: round(val(c, 'hot_reload_ms_p95'), 4),
    tokens_per_s: round(val(c, 'tokens_per_s'), 2),
    queue_ms_p95: round(val(c, 'queue_ms_p95'), 3),
    decode_util: round(val(c, 'decode_util'), 4),
    adapter_util: round(val(c, 'adapter_util'), 6),
    overlap_ratio: round(val(c, 'overlap_ratio'), 4),
  }));
}

const POLICY_SUMMARY = [
  'capacity_rps',
  'capacity_vs_fcfs',
  'p95_vs_fcfs',
  'tokens_per_s',
  'max_tokens_per_s',
  'max_tokens_vs_fcfs',
  'p95_ms',
  'queue_ms_p95',
  'cache_hit_rate',
  'loads_per_s',
  'hot_reload_ms_p95',
  'reload_vs_step',
  'overlap_ratio',
  'overlap_at_capacity',
  'decode_util_at_capacity',
  'worst_wait_ms',
  'jain_fairness',
  'lora_tax_pct',
] as const;

/**
 * Throughput at saturation with the most adapters against the fewest, per policy, where the
 * run has points that differ in the adapter count alone (the full profile's 10 → 1000):
 * S-LoRA loses 5-13 % from 5 to 2000 adapters; the target is ≥ 0.90.
 */
export function adapterScaling(result: LaneResult) {
  const groups = new Map<string, CaseResult[]>();
  for (const c of policyCases(result)) {
    if (c.error) continue;
    const p = c.params;
    const key = [p.policy, p.alpha, p.rank, p.mean_adapters_per_req].join('|');
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  const out: {
    policy: string;
    point: string;
    from_N: number;
    to_N: number;
    max_tokens_ratio: number | '';
  }[] = [];
  for (const cs of groups.values()) {
    if (cs.length < 2) continue;
    const byN = [...cs].sort((a, b) => Number(a.params.adapters_N) - Number(b.params.adapters_N));
    const lo = byN[0]!;
    const hi = byN[byN.length - 1]!;
    const a = val(lo, 'max_tokens_per_s');
    const b = val(hi, 'max_tokens_per_s');
    out.push({
      policy: String(lo.params.policy),
      point: lo.id.slice(lo.id.indexOf('/') + 1),
      from_N: Number(lo.params.adapters_N),
      to_N: Number(hi.params.adapters_N),
      max_tokens_ratio: a !== undefined && b !== undefined && a > 0 ? round(b / a, 4) : '',
    });
  }
  return out;
}

export function schedSummary(result: LaneResult) {
  const points = result.cases.filter((c) => typeof c.params.policy !== 'string' && c.id !== 'calibration');
  const calibration = result.cases.find((c) => c.id === 'calibration');
  const pointIds = [...new Set(policyCases(result).map((c) => c.id.slice(c.id.indexOf('/') + 1)))];
  return {
    lane: 'sched',
    path: result.path,
    info: result.info,
    threads: String(result.info.threads_note ?? ''),
    definitions: SCHED_DEFINITIONS,
    modelling: SCHED_MODELLING,
    model: {
      hidden: num(result.info.hidden),
      layers: num(result.info.layers),
      q_heads: num(result.info.q_heads),
      kv_heads: num(result.info.kv_heads),
      ffn: num(result.info.ffn),
      probe_layers: num(result.info.probe_layers),
      adapter_store: String(result.info.adapter_store ?? ''),
      storage_lanes: num(result.info.storage_lanes),
      lora_targets: 'q,k,v,o',
    },
    targets: { p95_ms: num(result.info.p95_target_ms), queue_ms_p95: num(result.info.queue_target_ms) },
    points: pointIds.map((id) => {
      const point = points.find((p) => p.id === id);
      const anyPolicy = policyCases(result).find((c) => c.id.endsWith(`/${id}`));
      const params = point?.params ?? anyPolicy?.params ?? {};
      return {
        point: id,
        trace: {
          hash: String(params.trace_hash ?? ''),
          requests: num(params.requests),
          offered_rps: num(params.offered_rps),
          duration_s: num(params.trace_duration_s),
          top1_share: num(params.top1_share),
          top10pct_share: num(params.top10pct_share),
          base_share: num(params.base_share),
          mean_adapters_per_req: num(params.observed_mean_adapters),
        },
        best_capacity_vs_fcfs: round(val(point, 'best_capacity_vs_fcfs')),
        worst_capacity_vs_fcfs: round(val(point, 'worst_capacity_vs_fcfs')),
        free_loads_capacity_vs_fcfs: round(val(point, 'free_loads_capacity_vs_fcfs')),
        costs: Object.fromEntries(
          (point?.metrics ?? [])
            .filter((m) => m.name.startsWith('probe_'))
            .map((m) => [m.name.slice('probe_'.length), round(m.value, 4)] as const),
        ),
        policies: Object.fromEntries(
          policyCases(result)
            .filter((c) => c.id.endsWith(`/${id}`))
            .map((c) => [
              String(c.params.policy),
              c.error
                ? { error: c.error }
                : Object.fromEntries(POLICY_SUMMARY.map((m) => [m, round(val(c, m), 4)] as const)),
            ]),
        ),
      };
    }),
    adapter_scaling: adapterScaling(result),
    calibration: calibration
      ? {
          error: calibration.error ?? '',
          requests: num(calibration.params.requests),
          pinned: calibration.params.pinned === 'true',
          sim_error_pct: round(val(calibration, 'sim_error_pct'), 2),
          real: {
            p50_ms: round(val(calibration, 'real_p50_ms')),
            p95_ms: round(val(calibration, 'real_p95_ms')),
            tokens_per_s: round(val(calibration, 'real_tokens_per_s'), 1),
          },
          sim: {
            p50_ms: round(val(calibration, 'sim_p50_ms')),
            p95_ms: round(val(calibration, 'sim_p95_ms')),
            tokens_per_s: round(val(calibration, 'sim_tokens_per_s'), 1),
          },
          parts: {
            step_real_vs_model: round(val(calibration, 'step_real_vs_model')),
            prefill_real_vs_model: round(val(calibration, 'prefill_real_vs_model')),
            load_real_vs_model: round(val(calibration, 'load_real_vs_model')),
            cold_real_vs_model: round(val(calibration, 'cold_real_vs_model')),
            warm_real_vs_model: round(val(calibration, 'warm_real_vs_model')),
            load_slowdown: round(val(calibration, 'load_slowdown')),
            probe_drift: round(val(calibration, 'probe_drift')),
          },
        }
      : null,
  };
}

const numOrEmpty = { anyOf: [{ type: 'number' }, { const: '' }] };

/** The summary's shape: what a reader of sched_zipf_summary.json may rely on. */
export const SCHED_SUMMARY_SCHEMA = {
  type: 'object',
  required: [
    'lane',
    'path',
    'info',
    'threads',
    'definitions',
    'modelling',
    'model',
    'targets',
    'points',
    'adapter_scaling',
    'calibration',
  ],
  properties: {
    lane: { const: 'sched' },
    path: { type: 'string' },
    threads: { type: 'string' },
    definitions: { type: 'object', additionalProperties: { type: 'string' } },
    modelling: { type: 'array', minItems: 1, items: { type: 'string' } },
    model: {
      type: 'object',
      required: ['hidden', 'layers', 'q_heads', 'kv_heads', 'ffn', 'adapter_store', 'lora_targets'],
      properties: { adapter_store: { type: 'string' }, lora_targets: { type: 'string' } },
    },
    targets: { type: 'object', required: ['p95_ms', 'queue_ms_p95'] },
    points: {
      type: 'array',
      items: {
        type: 'object',
        required: [
          'point',
          'trace',
          'policies',
          'best_capacity_vs_fcfs',
          'worst_capacity_vs_fcfs',
          'free_loads_capacity_vs_fcfs',
          'costs',
        ],
        properties: {
          point: { type: 'string', pattern: '^(zipf-?[0-9.]+|uniform)/N[0-9]+/r[0-9]+/m[0-9.]+$' },
          trace: {
            type: 'object',
            required: ['hash', 'top1_share', 'top10pct_share', 'offered_rps', 'requests'],
            properties: {
              hash: { type: 'string', pattern: '^([0-9a-f]{16})?$' },
              top1_share: numOrEmpty,
              top10pct_share: numOrEmpty,
              offered_rps: numOrEmpty,
              requests: numOrEmpty,
            },
          },
          best_capacity_vs_fcfs: numOrEmpty,
          worst_capacity_vs_fcfs: numOrEmpty,
          free_loads_capacity_vs_fcfs: numOrEmpty,
          costs: { type: 'object', additionalProperties: numOrEmpty },
          policies: {
            type: 'object',
            additionalProperties: {
              type: 'object',
              anyOf: [
                { required: ['error'] },
                {
                  required: [
                    'capacity_rps',
                    'cache_hit_rate',
                    'loads_per_s',
                    'worst_wait_ms',
                    'jain_fairness',
                  ],
                },
              ],
            },
          },
        },
      },
    },
    adapter_scaling: {
      type: 'array',
      items: { type: 'object', required: ['policy', 'from_N', 'to_N', 'max_tokens_ratio'] },
    },
    calibration: {
      anyOf: [
        { type: 'null' },
        {
          type: 'object',
          required: ['sim_error_pct', 'real', 'sim', 'parts', 'pinned', 'error'],
          properties: { parts: { type: 'object', additionalProperties: numOrEmpty } },
        },
      ],
    },
  },
} as const;

const validateSummary = new Ajv({ allErrors: true }).compile(SCHED_SUMMARY_SCHEMA);

/** Throws naming the field when a summary does not fit the schema (a bug in this file). */
export function checkSchedSummary(summary: unknown): void {
  if (!validateSummary(summary)) {
    const e = validateSummary.errors?.[0];
    throw new Error(`sched_zipf_summary.json${e?.instancePath ?? ''}: ${e?.message ?? 'invalid'}`);
  }
}

/** Writes both files; returns their names relative to reportsDir. */
export function writeSchedReports(result: LaneResult, reportsDir: string): string[] {
  const summary = schedSummary(result);
  checkSchedSummary(summary);
  return [
    writeCsv(reportsDir, 'sched_zipf.csv', schedCsvRows(result), SCHED_CSV_COLUMNS),
    writeJsonReport(reportsDir, 'sched_zipf_summary.json', summary),
  ];
}
