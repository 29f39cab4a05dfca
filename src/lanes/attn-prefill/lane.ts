// The attn-prefill lane: causal GQA attention over a whole prompt, the tiled online-softmax
// kernel against the naive reference that materialises the scores, timed round-robin on the
// same inputs with the cores' FMA peak measured in the same run
// (native/bench/attn_prefill_bench.cpp), plus the real model's perplexity with each form.
import type { Profile } from '../../model/lanes.js';
import { writeAttnPrefillReports } from './reports.js';
import {
  attnLane,
  attnResultFromJson,
  type AttnBenchOutput,
  type AttnGrid,
  type MetricSpec,
} from '../attention/lane.js';

interface Grid extends AttnGrid {
  seq: number[];
}

// The reference is slow by design (n² scores per head): quick stops at 2048 tokens, full
// (calibration) reaches 4096.
export const ATTN_PREFILL_GRIDS: Record<Profile, Grid> = {
  smoke: { shapes: ['32/4/64'], seq: [128, 256], repetitions: 5, minTimeS: 0.01, pplSequences: 1 },
  quick: {
    shapes: ['32/4/64', '32/8/128'],
    seq: [512, 2048],
    // the U test needs 5 per side (rules.yml minSamples): with 3, no tolerance could fail
    repetitions: 5,
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

const sixDigits = (v: number) => Number(v.toPrecision(6));

const OUTPUT: AttnBenchOutput = {
  lane: 'attn-prefill',
  prefix: 'attn_prefill',
  /** cases are q<Q>kv<KV>d<D>/n<N>, the prompt length under params.seq */
  sizeTag: 'n',
  sizeParam: 'seq',
  infoKeys: ['threads', 'isa_flags', 'peak_gflops', 'compiler', 'model'],
  shape: {
    facts: ['tile', 'peak_gflops', 'scratch_bytes', 'reference_scratch_bytes', 'tiled_ms', 'reference_ms'],
    format: sixDigits,
    metrics: ATTN_PREFILL_METRICS,
  },
  perplexity: {
    facts: ['ppl_reference', 'ppl_tiled', 'ppl_tokens'],
    format: sixDigits,
    metrics: PPL_METRICS,
  },
};

/** Bench JSON → lane result; pure, so it is tested on recorded output. */
export const attnPrefillResultFromJson = (text: string, planned: string[]) =>
  attnResultFromJson(text, planned, OUTPUT);

export const attnPrefillLane = attnLane({
  bin: 'infeng_attn_prefill_bench',
  output: OUTPUT,
  grids: ATTN_PREFILL_GRIDS,
  sizes: (g) => g.seq,
  laneArgs: (g) => [`--attn_seq=${g.seq.join(',')}`],
  writeReports: writeAttnPrefillReports,
});
