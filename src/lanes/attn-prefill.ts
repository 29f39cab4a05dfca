// The attn-prefill lane: causal GQA attention over a whole prompt, the tiled online-softmax
// kernel against the naive reference that materialises the scores, timed round-robin on the
// same inputs with the cores' FMA peak measured in the same run
// (native/bench/attn_prefill_bench.cpp), plus the real model's perplexity with each form.
import type { Lane, LaneContext } from './lane.js';
import type { Profile } from '../model/lanes.js';
import type { CaseResult, LaneResult } from '../model/results.js';
import { parseGbenchJson } from '../results/gbench.js';
import { writeAttnPrefillReports } from '../results/attn-prefill-reports.js';
import {
  addMissing,
  contextInfo,
  metricsFromCounters,
  runBenchLane,
  type MetricSpec,
} from './attn-common.js';

interface Grid {
  shapes: string[];
  seq: number[];
  repetitions: number;
  minTimeS: number;
  pplSequences: number;
}

// The reference is slow by design (n² scores per head): quick stops at 2048 tokens, full
// (calibration) reaches 4096.
export const ATTN_PREFILL_GRIDS: Record<Profile, Grid> = {
  smoke: { shapes: ['32/4/64'], seq: [128, 256], repetitions: 3, minTimeS: 0.01, pplSequences: 1 },
  quick: {
    shapes: ['32/4/64', '32/8/128'],
    seq: [512, 2048],
    repetitions: 3,
    minTimeS: 0.01,
    pplSequences: 4,
  },
  full: {
    shapes: ['32/4/64', '32/8/128'],
    seq: [512, 1024, 2048, 4096],
    repetitions: 5,
    minTimeS: 0.01,
    pplSequences: 8,
  },
};

export const PREFILL_PERPLEXITY_CASE = 'perplexity';

export function attnPrefillCaseId(shape: string, n: number): string {
  const [q, kv, d] = shape.split('/');
  return `q${q}kv${kv}d${d}/n${n}`;
}

export const ATTN_PREFILL_METRICS: Record<string, MetricSpec> = {
  speedup_vs_reference: { unit: '×', better: 'higher', kind: 'same-run' },
  peak_pct: { unit: '%', better: 'higher', kind: 'same-run' },
  tiled_gflops: { unit: 'GFLOP/s', better: 'higher', kind: 'absolute' },
  reference_gflops: { unit: 'GFLOP/s', better: 'higher', kind: 'absolute' },
  tokens_per_s: { unit: 'tok/s', better: 'higher', kind: 'absolute' },
  scratch_ratio: { unit: '×', better: 'lower', kind: 'same-run' },
  l2_diff: { unit: '', better: 'lower', kind: 'same-run' },
};

const PPL_METRICS: Record<string, MetricSpec> = {
  perplexity_delta_pct: { unit: '%', better: 'lower', kind: 'same-run' },
};

const FACTS = ['tile', 'peak_gflops', 'scratch_bytes', 'reference_scratch_bytes', 'tiled_ms', 'reference_ms'];

function benchArgs(grid: Grid, ctx: LaneContext): string[] {
  return [
    `--force_path=${ctx.forcePath}`,
    `--threads=${ctx.threads}`,
    `--attn_shapes=${grid.shapes.join(',')}`,
    `--attn_seq=${grid.seq.join(',')}`,
    `--ppl_sequences=${grid.pplSequences}`,
    `--benchmark_repetitions=${grid.repetitions}`,
    `--benchmark_min_time=${grid.minTimeS}`,
    '--benchmark_enable_random_interleaving=true',
  ];
}

/** Bench JSON → lane result; pure, so it is tested on recorded output. */
export function attnPrefillResultFromJson(
  text: string,
  planned: string[],
): Omit<LaneResult, 'durationS' | 'artifacts'> {
  const report = parseGbenchJson(text);
  const info = contextInfo(report.context, ['threads', 'isa_flags', 'peak_gflops', 'compiler', 'model']);
  const cases: CaseResult[] = [];
  for (const c of report.cases) {
    const isPpl = c.name === `attn_prefill/${PREFILL_PERPLEXITY_CASE}`;
    const m = /^attn_prefill\/q(\d+)kv(\d+)d(\d+)\/n(\d+)$/.exec(c.name);
    if (!isPpl && !m) continue;
    const id = isPpl ? PREFILL_PERPLEXITY_CASE : `q${m![1]}kv${m![2]}d${m![3]}/n${m![4]}`;
    const params: CaseResult['params'] = isPpl
      ? {}
      : { q_heads: Number(m![1]), kv_heads: Number(m![2]), head_dim: Number(m![3]), seq: Number(m![4]) };
    if (c.error || c.runs.length === 0) {
      cases.push({ id, params, metrics: [], error: c.error ?? 'no repetitions reported' });
      continue;
    }
    const facts = isPpl ? ['ppl_reference', 'ppl_tiled', 'ppl_tokens'] : FACTS;
    for (const k of facts) {
      const v = c.runs[0]?.counters[k];
      if (v !== undefined && Number.isFinite(v)) params[k] = Number(v.toPrecision(6));
    }
    cases.push({ id, params, metrics: metricsFromCounters(c, isPpl ? PPL_METRICS : ATTN_PREFILL_METRICS) });
  }
  addMissing(cases, planned);
  const path = typeof report.context.path === 'string' ? report.context.path : '';
  return { lane: 'attn-prefill', status: 'ok', path, cases, planned, info };
}

export const attnPrefillLane: Lane = {
  name: 'attn-prefill',
  targets: ['infeng_attn_prefill_bench'],
  plannedCases(profile) {
    const g = ATTN_PREFILL_GRIDS[profile];
    return [...g.shapes.flatMap((s) => g.seq.map((n) => attnPrefillCaseId(s, n))), PREFILL_PERPLEXITY_CASE];
  },
  async run(ctx) {
    const grid = ATTN_PREFILL_GRIDS[ctx.profile];
    const planned = this.plannedCases(ctx.profile);
    return runBenchLane(
      ctx,
      'attn-prefill',
      'infeng_attn_prefill_bench',
      benchArgs(grid, ctx),
      planned,
      (text) => attnPrefillResultFromJson(text, planned),
      writeAttnPrefillReports,
    );
  },
};
