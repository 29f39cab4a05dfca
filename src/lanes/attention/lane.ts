// What the two attention lanes (attn-decode, attn-prefill) share: both benches take the same
// shape grid and flags, name their cases "<bench>/q<Q>kv<KV>d<D>/<axis><N>" plus a model-level
// perplexity case, report per-case facts and counters the same way, and run the same way (a
// failed run is an error result, never an exception). Each lane keeps its own grid, sequence
// axis, metric tables and report files, and describes them to attnLane.
import path from 'node:path';
import type { Lane, LaneContext } from '../lane.js';
import type { LaneName, Profile } from '../../model/lanes.js';
import type { CaseResult, LaneResult, Metric } from '../../model/results.js';
import { parseGbenchJson, type GbenchCase } from '../../results/gbench.js';
import { ATTN_PERPLEXITY_CASE } from './reports.js';
import { runBenchLane, type BenchSpec, type ParsedResult } from '../bench-lane.js';
import { metricFromSamples, type MetricSpec } from '../../results/metric.js';
import { exceptFilter } from '../bench-filter.js';

export type { MetricSpec };

/** What every attention grid sets; a lane adds its sequence axis and any flags of its own. */
export interface AttnGrid {
  shapes: string[];
  repetitions: number;
  minTimeS: number;
  pplSequences: number;
}

/** How one kind of case turns into a lane case: facts kept as params, counters kept as metrics. */
export interface AttnCaseKind {
  facts: string[];
  /** how a fact is stored; the lanes round differently, and the CSVs show what is stored */
  format: (v: number) => number;
  metrics: Record<string, MetricSpec>;
}

/** One attention bench's output, described for attnResultFromJson. */
export interface AttnBenchOutput {
  lane: LaneName;
  /** the bench's case-name prefix, e.g. "attn_decode" */
  prefix: string;
  /** the sequence axis in case names ("ctx" in …/ctx2048) and in params ("ctx") */
  sizeTag: string;
  sizeParam: string;
  /** context keys worth keeping as lane info */
  infoKeys: string[];
  shape: AttnCaseKind;
  perplexity: AttnCaseKind;
  /** run-level facts from cases that are not lane cases, such as a bandwidth probe */
  extraInfo?: (cases: GbenchCase[]) => LaneResult['info'];
}

/** "32/4/64", "ctx", 2048 → "q32kv4d64/ctx2048", the bench's case name without its prefix. */
function attnCaseId(shape: string, sizeTag: string, size: number | string): string {
  const [q, kv, d] = shape.split('/');
  return `q${q}kv${kv}d${d}/${sizeTag}${size}`;
}

function attnBenchArgs(grid: AttnGrid, ctx: LaneContext, laneArgs: string[]): string[] {
  return [
    `--force_path=${ctx.forcePath}`,
    `--threads=${ctx.threads}`,
    `--attn_shapes=${grid.shapes.join(',')}`,
    ...laneArgs,
    `--ppl_sequences=${grid.pplSequences}`,
    `--benchmark_repetitions=${ctx.repetitions ?? grid.repetitions}`,
    `--benchmark_min_time=${grid.minTimeS}`,
    '--benchmark_enable_random_interleaving=true',
  ];
}

/** The counters in `specs` that a case reported, as metrics with every repetition's sample. */
function metricsFromCounters(c: GbenchCase, specs: Record<string, MetricSpec>): Metric[] {
  const out: Metric[] = [];
  for (const [name, spec] of Object.entries(specs)) {
    if (!c.runs.some((r) => name in r.counters)) continue;
    out.push(
      metricFromSamples(
        name,
        spec,
        c.runs.map((r) => r.counters[name] ?? Number.NaN),
      ),
    );
  }
  return out;
}

/** Context keys worth keeping as lane info. */
function contextInfo(context: Record<string, string | number | boolean>, keys: string[]): LaneResult['info'] {
  const info: LaneResult['info'] = {};
  for (const key of keys) {
    const v = context[key];
    if (typeof v === 'string' || typeof v === 'number') info[key] = v;
  }
  return info;
}

/**
 * One bench case as a lane case. A failed case, or one with no repetitions, keeps only the
 * params from its name: its facts would come from a run that did not happen.
 */
function attnCase(c: GbenchCase, id: string, named: CaseResult['params'], kind: AttnCaseKind): CaseResult {
  const params = { ...named };
  if (c.error || c.runs.length === 0) {
    return { id, params, metrics: [], error: c.error ?? 'no repetitions reported' };
  }
  for (const k of kind.facts) {
    const v = c.runs[0]?.counters[k];
    if (v !== undefined && Number.isFinite(v)) params[k] = kind.format(v);
  }
  return { id, params, metrics: metricsFromCounters(c, kind.metrics) };
}

/** The lane case a bench case stands for, or undefined for a case that is not one (probes). */
function laneCase(c: GbenchCase, out: AttnBenchOutput): CaseResult | undefined {
  if (c.name === `${out.prefix}/${ATTN_PERPLEXITY_CASE}`)
    return attnCase(c, ATTN_PERPLEXITY_CASE, {}, out.perplexity);
  const m = new RegExp(`^${out.prefix}/q(\\d+)kv(\\d+)d(\\d+)/${out.sizeTag}(\\d+)$`).exec(c.name);
  if (!m) return undefined;
  const [, q, kv, d, n] = m;
  const params = {
    q_heads: Number(q),
    kv_heads: Number(kv),
    head_dim: Number(d),
    [out.sizeParam]: Number(n),
  };
  return attnCase(c, attnCaseId(`${q}/${kv}/${d}`, out.sizeTag, n!), params, out.shape);
}

/** Planned ids the bench did not report become case errors, so a silent gap is visible. */
function withMissing(cases: CaseResult[], planned: string[]): CaseResult[] {
  const seen = new Set(cases.map((c) => c.id));
  const missing = planned
    .filter((id) => !seen.has(id))
    .map((id) => ({ id, params: {}, metrics: [], error: 'the bench did not report this case' }));
  return [...cases, ...missing];
}

/** Bench JSON → lane result; pure, so each lane tests it on recorded output. */
export function attnResultFromJson(text: string, planned: string[], out: AttnBenchOutput): ParsedResult {
  const report = parseGbenchJson(text);
  const info = { ...contextInfo(report.context, out.infoKeys), ...out.extraInfo?.(report.cases) };
  const cases = report.cases.map((c) => laneCase(c, out)).filter((c): c is CaseResult => c !== undefined);
  const path = typeof report.context.path === 'string' ? report.context.path : '';
  return { lane: out.lane, status: 'ok', path, cases: withMissing(cases, planned), planned, info };
}

/** Everything that makes an attention lane besides its report files' layout. */
export interface AttnLaneSpec<G extends AttnGrid> {
  bin: string;
  output: AttnBenchOutput;
  grids: Record<Profile, G>;
  /** the grid's sequence axis (decode's context lengths, prefill's prompt lengths) */
  sizes: (grid: G) => number[];
  /** the lane's flags for its sequence axis and own knobs, placed after the shapes */
  laneArgs: (grid: G) => string[];
  writeReports: (result: LaneResult, reportsDir: string) => string[];
}

export function attnLane<G extends AttnGrid>(spec: AttnLaneSpec<G>): Lane {
  const { lane, sizeTag } = spec.output;
  const plannedCases = (profile: Profile) => {
    const grid = spec.grids[profile];
    const ids = grid.shapes.flatMap((s) => spec.sizes(grid).map((n) => attnCaseId(s, sizeTag, n)));
    return [...ids, ATTN_PERPLEXITY_CASE];
  };
  const benchSpec = (ctx: LaneContext): BenchSpec => {
    const grid = spec.grids[ctx.profile];
    // The perplexity is deterministic for a build: an A/B round after the first would compute
    // the same values again (5 s of every decode round in the quick profile), so it is left out
    // and its A/B verdicts come from the first round; the gates judge the head's value.
    const later = ctx.abRound === true;
    const planned = plannedCases(ctx.profile).filter((id) => !later || id !== ATTN_PERPLEXITY_CASE);
    const skip = later
      ? [`--benchmark_filter=${exceptFilter([`${spec.output.prefix}/${ATTN_PERPLEXITY_CASE}`])}`]
      : [];
    return {
      lane,
      bin: spec.bin,
      args: [...attnBenchArgs(grid, ctx, spec.laneArgs(grid)), ...skip],
      planned,
      parse: (text) => attnResultFromJson(text, planned, spec.output),
      write: spec.writeReports,
      benchmarkOf: (id) => `${spec.output.prefix}/${id}`,
    };
  };
  return {
    name: lane,
    targets: [spec.bin],
    // the bench and the model it reads through <build>/testdata (native/src/attention/CMakeLists.txt)
    inputs: (buildDir) => [
      path.join(buildDir, 'bench', spec.bin),
      path.join(buildDir, 'testdata', 'stories260K.bin'),
    ],
    plannedCases,
    samplesPerMetric: (profile: Profile) => spec.grids[profile].repetitions,
    writeReports: spec.writeReports,
    benchSpec,
    async run(ctx) {
      return runBenchLane(ctx, benchSpec(ctx));
    },
  };
}
