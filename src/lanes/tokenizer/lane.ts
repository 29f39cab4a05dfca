// The tokenizer lane: the native tokenizer against Hugging Face tokenizers (npm `tokenizers`,
// pinned in package.json) on the shipped corpus, for each real tokenizer file. The measuring
// runs in a child Node process (native/addon/tokenizer_lane_child.mjs, installed next to the
// addon) so that a crash in native code costs this lane only and both sides share one process;
// this adapter picks the grid per profile, runs it, checks parity and turns samples into metrics.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Lane, LaneContext } from '../lane.js';
import type { Profile } from '../../model/lanes.js';
import type { CaseResult, LaneResult, Metric } from '../../model/results.js';
import { benchEnv, describeFailure, runProcess } from '../spawn.js';
import {
  PARITY_FAMILIES,
  TOKENIZER_MODELS,
  addonPath,
  corpusDir,
  laneChildPath,
  rootOfBuildDir,
  tokenizerFile,
  type TokenizerFamily,
  type TokenizerModel,
} from './setup.js';
import { writeTokenizerReports } from './reports.js';
import { metricFromSamples, type MetricSpec } from '../../results/metric.js';

interface Grid {
  models: TokenizerModel[];
  /** Other tokenizer files, measured for parity and single-thread speed only (cases after the models). */
  families: TokenizerFamily[];
  repetitions: number;
  minTimeMs: number;
  threads: number[];
  prefixK: number;
  prefixEntries: number;
}

/** Families whose vocabulary the npm `tiktoken` package also has, with its encoding's name. */
export const TIKTOKEN_ENCODINGS: Partial<Record<TokenizerFamily, string>> = {
  gpt35turbo: 'cl100k_base',
  gptoss: 'o200k_base',
};

/** Every packaged family the native loader takes, beyond the lane's three models. */
const OTHER_FAMILIES = PARITY_FAMILIES.filter(
  (f): f is Exclude<TokenizerFamily, TokenizerModel> => !(TOKENIZER_MODELS as readonly string[]).includes(f),
);

// 4 and 8 threads oversubscribe a 2-core runner on purpose: the sweep shows that the batch
// path degrades gracefully instead of collapsing.
export const TOKENIZER_GRIDS: Record<Profile, Grid> = {
  smoke: {
    models: ['llama3'],
    families: [],
    repetitions: 5,
    minTimeMs: 20,
    threads: [1, 2],
    prefixK: 1024,
    prefixEntries: 64,
  },
  quick: {
    models: [...TOKENIZER_MODELS],
    families: [...OTHER_FAMILIES],
    repetitions: 7,
    minTimeMs: 150,
    threads: [1, 2, 4, 8],
    prefixK: 1024,
    prefixEntries: 64,
  },
  full: {
    models: [...TOKENIZER_MODELS],
    families: [...OTHER_FAMILIES],
    repetitions: 11,
    minTimeMs: 300,
    threads: [1, 2, 4, 8],
    prefixK: 1024,
    prefixEntries: 64,
  },
};

const THREAD_METRICS = (threads: number[]): Record<string, MetricSpec> =>
  Object.fromEntries(
    threads.flatMap((n) => [
      [`batch_mb_s_t${n}`, { unit: 'MB/s', better: 'higher', kind: 'absolute' }],
      [`batch_tokens_s_t${n}`, { unit: 'tok/s', better: 'higher', kind: 'absolute' }],
    ]),
  );

/** The samples the child reports that become metrics, in the order the report shows them. */
export function tokenizerMetricSpecs(threads: number[]): Record<string, MetricSpec> {
  return {
    speedup_vs_hf: { unit: '×', better: 'higher', kind: 'same-run' },
    parity_mismatches: { unit: 'checks', better: 'lower', kind: 'same-run' },
    native_mb_s: { unit: 'MB/s', better: 'higher', kind: 'absolute' },
    hf_mb_s: { unit: 'MB/s', better: 'higher', kind: 'absolute' },
    native_tokens_s: { unit: 'tok/s', better: 'higher', kind: 'absolute' },
    hf_tokens_s: { unit: 'tok/s', better: 'higher', kind: 'absolute' },
    batch_scaling_2t: { unit: '×', better: 'higher', kind: 'same-run' },
    batch_speedup_vs_hf: { unit: '×', better: 'higher', kind: 'same-run' },
    hf_batch_mb_s: { unit: 'MB/s', better: 'higher', kind: 'absolute' },
    ...THREAD_METRICS(threads),
    prefix_hit_rate_pct: { unit: '%', better: 'higher', kind: 'same-run' },
    prefix_speedup: { unit: '×', better: 'higher', kind: 'same-run' },
    // the second peer (npm tiktoken) on the vocabularies it has, once its ids match
    speedup_vs_tiktoken: { unit: '×', better: 'higher', kind: 'same-run' },
    tiktoken_mb_s: { unit: 'MB/s', better: 'higher', kind: 'absolute' },
  };
}

/** What the child prints (tokenizer_lane_child.mjs). */
export interface ChildModel {
  name: string;
  file: string;
  family: string;
  /** "hand-written", "regex" or "none" (older child output lacks it) */
  pre_tokenizer?: string;
  texts: number;
  bytes: number;
  tokens: number;
  batch_texts: number;
  batch_bytes: number;
  batch_tokens: number;
  /** null in an A/B round after the first, which does not compare the corpus with the reference */
  parity_mismatches: number | null;
  parity_first: string[];
  samples: Record<string, number[]>;
  prefix: { k: number; entries: number; hits: number; lookups: number };
  /** the second peer's encoding and how many corpus texts it encoded differently */
  tiktoken?: { encoding: string; mismatches: number };
}
export interface ChildOutput {
  context: Record<string, string | number>;
  models: ChildModel[];
}

const metric = metricFromSamples;

/** Child JSON → lane result; pure, so it is tested on recorded output. */
export function tokenizerResultFromJson(
  text: string,
  planned: string[],
  threads: number[],
): Omit<LaneResult, 'durationS' | 'artifacts'> {
  const out = JSON.parse(text) as ChildOutput;
  if (!out || !Array.isArray(out.models) || typeof out.context !== 'object')
    throw new Error('not the tokenizer lane child output');
  const specs = tokenizerMetricSpecs(threads);
  const cases: CaseResult[] = out.models.map((m) => {
    const metrics: Metric[] = [];
    for (const [name, spec] of Object.entries(specs)) {
      let samples: number[] | undefined = m.samples[name];
      if (name === 'parity_mismatches')
        samples = m.parity_mismatches === null ? undefined : [m.parity_mismatches];
      if (name === 'prefix_hit_rate_pct')
        samples = m.prefix.lookups > 0 ? [(100 * m.prefix.hits) / m.prefix.lookups] : undefined;
      if (samples && samples.length > 0) metrics.push(metric(name, spec, samples));
    }
    const c: CaseResult = {
      id: m.name,
      params: {
        family: m.family,
        ...(m.pre_tokenizer ? { pre_tokenizer: m.pre_tokenizer } : {}),
        texts: m.texts,
        bytes: m.bytes,
        tokens: m.tokens,
        batch_texts: m.batch_texts,
        prefix_k: m.prefix.k,
        prefix_cache_entries: m.prefix.entries,
        ...(m.tiktoken
          ? { tiktoken_encoding: m.tiktoken.encoding, tiktoken_mismatches: m.tiktoken.mismatches }
          : {}),
      },
      metrics,
    };
    if (m.parity_mismatches !== null && m.parity_mismatches > 0)
      c.error = `ids differ from the reference on ${m.parity_mismatches} check(s), first: ${m.parity_first.join(', ')}`;
    return c;
  });
  const seen = new Set(cases.map((c) => c.id));
  for (const id of planned)
    if (!seen.has(id))
      cases.push({ id, params: {}, metrics: [], error: 'the lane did not report this case' });
  const info: LaneResult['info'] = {};
  for (const [k, v] of Object.entries(out.context))
    if (typeof v === 'string' || typeof v === 'number') info[k] = v;
  const hostPath = typeof out.context.host_path === 'string' ? out.context.host_path : '';
  return { lane: 'tokenizer', status: 'ok', path: hostPath, cases, planned, info };
}

function childArgs(grid: Grid, root: string, ctx: LaneContext, outFile: string): string[] {
  return [
    laneChildPath(ctx.buildDir),
    `--root=${root}`,
    `--corpus=${corpusDir(root)}`,
    `--models=${grid.models.map((m) => `${m}=${tokenizerFile(root, m)}`).join(',')}`,
    `--families=${grid.families.map((m) => `${m}=${tokenizerFile(root, m)}`).join(',')}`,
    `--tiktoken=${Object.entries(TIKTOKEN_ENCODINGS)
      .map(([f, e]) => `${f}=${e}`)
      .join(',')}`,
    `--repetitions=${ctx.repetitions ?? grid.repetitions}`,
    `--min_time_ms=${grid.minTimeMs}`,
    `--threads=${grid.threads.join(',')}`,
    `--prefix_k=${grid.prefixK}`,
    `--prefix_cache_entries=${grid.prefixEntries}`,
    `--out=${outFile}`,
  ];
}

export const tokenizerLane: Lane = {
  name: 'tokenizer',
  targets: ['infeng_tokenizer_addon'],
  // the addon, the child that drives it and the side's own corpus; the tokenizer files and the
  // peers come from the same node_modules on both sides
  inputs: (buildDir) => [addonPath(buildDir), laneChildPath(buildDir), corpusDir(rootOfBuildDir(buildDir))],
  plannedCases(profile) {
    return [...TOKENIZER_GRIDS[profile].models, ...TOKENIZER_GRIDS[profile].families];
  },
  samplesPerMetric: (profile) => TOKENIZER_GRIDS[profile].repetitions,
  writeReports: writeTokenizerReports,
  async run(ctx) {
    const grid = TOKENIZER_GRIDS[ctx.profile];
    const planned = this.plannedCases(ctx.profile);
    const root = rootOfBuildDir(ctx.buildDir);
    const base = {
      lane: 'tokenizer' as const,
      planned,
      path: '',
      cases: [],
      info: {},
      artifacts: [] as string[],
    };
    const rawDir = path.join(ctx.reportsDir, 'raw');
    mkdirSync(rawDir, { recursive: true });
    const outFile = path.join(rawDir, 'tokenizer_lane.json');
    writeFileSync(outFile, '');
    let args: string[];
    try {
      for (const file of [addonPath(ctx.buildDir), laneChildPath(ctx.buildDir)])
        if (!existsSync(file))
          throw new Error(
            `${file} is not built (cmake --build ${ctx.buildDir} --target infeng_tokenizer_addon)`,
          );
      args = childArgs(grid, root, ctx, outFile);
    } catch (e) {
      return {
        ...base,
        status: 'error',
        durationS: 0,
        error: { step: 'setup', message: (e as Error).message },
      };
    }
    const outcome = await runProcess(process.execPath, args, {
      timeoutMs: ctx.timeoutMs,
      env: benchEnv(process.env, ctx.abRound),
      cwd: root,
      onLine: (l) => ctx.log(`tokenizer: ${l}`),
    });
    const failure = describeFailure(outcome, 'the tokenizer lane process', ctx.timeoutMs);
    if (failure) {
      return {
        ...base,
        status: outcome.timedOut ? 'timeout' : 'error',
        durationS: outcome.durationS,
        error: { step: outcome.spawnError ? 'spawn' : 'run', message: failure },
      };
    }
    let parsed;
    try {
      parsed = tokenizerResultFromJson(readFileSync(outFile, 'utf8'), planned, grid.threads);
    } catch (e) {
      return {
        ...base,
        status: 'error',
        durationS: outcome.durationS,
        error: { step: 'parse', message: `tokenizer lane output: ${(e as Error).message}` },
      };
    }
    const result: LaneResult = { ...parsed, durationS: outcome.durationS, artifacts: [] };
    result.artifacts = writeTokenizerReports(result, ctx.reportsDir);
    return result;
  },
};
