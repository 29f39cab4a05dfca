// The action's steps. action.yml runs each as `node dist/index.js action <phase>`, so every
// step shows in the job log under its own name and a failing lane or sink is visible where it
// happened:
//
//   cache-key  key of the native build cache (sources, compiler, OS, arch) → step output
//   build      configure and build what the lanes need; a failed build fails only its lanes
//   lanes      per lane: start its check (in_progress), run it; reports/results.json
//   history-read    the data branch's store files → build/infeng-history/ (history.ts)
//   compare    results + baselines (+ history) → verdicts.json, report.md, trend-history.json
//   report     sinks: check runs, sticky comment, job summary, outputs, github.json
//   history-record  push to the default branch only: results → the data branch (history.ts)
//   gate       exit 1 when a verdict fails the gate (and fail-on is `regression`)
//
// Only the gate step decides the job's result, and only from the verdicts: every sink failure
// is a warning (sinks/policy.ts).
import os from 'node:os';
import path from 'node:path';
import { buildConfig, type Config } from '../config.js';
import { InputError } from '../errors.js';
import {
  abInfo,
  buildLanes,
  compareStage,
  ConfigurationError,
  type CompareOutcome,
  loadAbRules,
  prepareBase,
  runAbLanes,
  type BasePrepared,
  readResults,
  runStage,
  writeResults,
  REPORT_FILE,
  RESULTS_FILE,
  TREND_HISTORY_FILE,
  VERDICTS_FILE,
} from '../pipeline.js';
import { validateResults } from '../compare/results-schema.js';
import { resolveToolchain, type Toolchain } from '../build/toolchain.js';
import { chooseAbBase } from './ab-base.js';
import { nativeTreeOf } from '../build/base-side.js';
import { BuildError } from '../build/errors.js';
import { emptyResult } from '../lanes/runner.js';
import { probeCompiler } from '../build/machine.js';
import { CHECK_NAMES } from '../model/lanes.js';
import type { LaneResult, RunResults } from '../model/results.js';
import { readActionInputs, type ActionInputs } from './inputs.js';
import { cacheKey, hashTree } from './cache-key.js';
import {
  BUILD_STATE,
  CHECKS_STATE,
  COMPARE_STATE,
  GITHUB_STATE,
  compareStamp,
  readCurrentVerdicts,
  readState,
  removeStale,
  writeState,
  type BuildState,
  type ChecksState,
} from './state.js';
import { FULL_REPORT_FILE, reportPhase } from './report.js';
import { historyReadPhase, historyRecordPhase, readHistorySource } from './history.js';
import { resolveContext } from '../github/context.js';
import { readEvent } from './state.js';
import { clientTimings, createClient } from '../github/client.js';
import { sanitizeForLog } from '../io/log-safe.js';
import { startCheck } from '../sinks/checks.js';
import { SINGLE_CHECK_NAME } from '../sinks/check-plan.js';
import { runSink } from '../sinks/policy.js';

export const PHASES = [
  'cache-key',
  'history-read',
  'build',
  'checks',
  'lanes',
  'compare',
  'report',
  'history-record',
  'gate',
] as const;
export type Phase = (typeof PHASES)[number];

/** The runner-facing effects, given by the entry point (@actions/core there, fakes in tests). */
export interface ActionIO {
  env: NodeJS.ProcessEnv;
  info: (line: string) => void;
  warn: (message: string) => void;
  error: (message: string) => void;
  setOutput: (name: string, value: string) => void;
  /** stdout: the terminal table */
  print: (text: string) => void;
  now: () => Date;
  /** a folded section of the job log (one per lane); absent in tests that do not look */
  startGroup?: (title: string) => void;
  endGroup?: () => void;
}

export async function runActionPhase(phase: Phase, io: ActionIO): Promise<number> {
  const inputs = readActionInputs(io.env);
  const config = buildConfig(inputs.options, io.env);
  switch (phase) {
    case 'cache-key':
      return cacheKeyPhase(inputs, config, io);
    case 'build':
      return buildPhase(inputs, config, io);
    case 'checks':
      return checksPhase(inputs, config, io);
    case 'lanes':
      return lanesPhase(inputs, config, io);
    case 'history-read':
      return historyReadPhase(inputs, config, io);
    case 'compare':
      return comparePhase(config, io);
    case 'history-record':
      return historyRecordPhase(inputs, config, io);
    case 'report':
      return reportPhase(inputs, config, io);
    case 'gate':
      return gatePhase(inputs, config, io);
  }
}

function cacheKeyPhase(inputs: ActionInputs, config: Config, io: ActionIO): number {
  let compiler = 'none';
  try {
    const tc = resolveToolchain(
      config.clangVersion,
      config.clangVersionExplicit,
      path.join(config.root, 'build', 'toolchain.env'),
    );
    const c = probeCompiler(tc.cxx, config.clangVersion);
    compiler = `${c.id}-${c.version}`;
  } catch (e) {
    if (!(e instanceof BuildError)) throw e;
    io.warn(`cache key: ${e.message}`);
  }
  const key = cacheKey({
    sourcesHash: hashTree(config.nativeDir),
    compiler,
    os: io.env.RUNNER_OS ?? os.platform(),
    arch: io.env.RUNNER_ARCH ?? os.arch(),
  });
  io.info(`cache key: ${key}`);
  io.setOutput('key', key);
  // the directory CMake builds into: what the cache saves and restores
  io.setOutput('path', path.dirname(config.buildDir));
  // A/B: the base's build, keyed by its native/ tree, so an unchanged base costs no build
  const choice = chooseAbBase(inputs, io.env.GITHUB_EVENT_NAME, readEvent(io.env));
  let baseKey = '';
  if (choice.ref) {
    try {
      const tree = nativeTreeOf(config.root, choice.ref);
      baseKey = `infeng-base-${io.env.RUNNER_OS ?? os.platform()}-${io.env.RUNNER_ARCH ?? os.arch()}-${compiler}-${tree}`;
    } catch (e) {
      if (!(e instanceof BuildError)) throw e;
      io.warn(`cache key of the base: ${sanitizeForLog(e.message)}`);
    }
  }
  io.setOutput('base-key', baseKey);
  io.setOutput('base-path', path.join(config.root, 'build', 'ab'));
  return 0;
}

async function buildPhase(inputs: ActionInputs, config: Config, io: ActionIO): Promise<number> {
  let failures: Record<string, string> = {};
  let toolchain: Toolchain | undefined;
  try {
    toolchain = resolveToolchain(
      config.clangVersion,
      config.clangVersionExplicit,
      path.join(config.root, 'build', 'toolchain.env'),
    );
    if (toolchain.note) io.info(`toolchain: ${toolchain.note}`);
    failures = await buildLanes(config, toolchain, io.info);
  } catch (e) {
    if (!(e instanceof BuildError)) throw e;
    for (const l of config.lanes) failures[l] = e.message;
  }
  for (const [lane, message] of Object.entries(failures)) {
    // not a failed step: the lane reports an error verdict and the other lanes still run
    io.error(`build of lane ${lane} failed: ${sanitizeForLog(message.split('\n')[0] ?? '')}`);
  }
  // A/B: the base is built here too, so the lanes step only measures
  const choice = chooseAbBase(inputs, io.env.GITHUB_EVENT_NAME, readEvent(io.env));
  io.info(`compare: ${sanitizeForLog(choice.why)}`);
  let base: BasePrepared | undefined;
  if (choice.ref) {
    base = await prepareBase(config, choice.ref, toolchain, io.info);
    if (base.fallback)
      io.warn(`A/B: ${sanitizeForLog(base.fallback)}; the committed baselines judge instead`);
  }
  writeState(config.reportsDir, BUILD_STATE, { failures, ...(base ? { base } : {}) } satisfies BuildState);
  return 0;
}

/** What the compare and report steps write: an earlier run's copy must never pass for this run's. */
const STALE_REPORTS = [
  VERDICTS_FILE,
  REPORT_FILE,
  FULL_REPORT_FILE,
  COMPARE_STATE,
  GITHUB_STATE,
  TREND_HISTORY_FILE,
];

/**
 * Starts every selected lane's check in_progress, from a step that runs no pull request code:
 * the lanes step that follows runs that code, and gets no token (action.yml), so nothing it
 * starts can read the token from an ancestor's environment.
 */
async function checksPhase(inputs: ActionInputs, config: Config, io: ActionIO): Promise<number> {
  removeStale(config.reportsDir, [...STALE_REPORTS, CHECKS_STATE]);
  const starter = await checkStarter(inputs, io);
  const names =
    inputs.checkRuns === 'single'
      ? [SINGLE_CHECK_NAME]
      : inputs.checkRuns === 'per-lane'
        ? config.lanes.map((l) => CHECK_NAMES[l])
        : [];
  for (const name of names) {
    await starter.start(name);
    writeState(config.reportsDir, CHECKS_STATE, starter.state());
  }
  return 0;
}

async function lanesPhase(inputs: ActionInputs, config: Config, io: ActionIO): Promise<number> {
  // A token here means the checks were not started by the checks step: this step starts each
  // as its lane starts (the CLI-compatible path). action.yml gives this step no token.
  const startsChecks = inputs.token !== '';
  // a new measurement: whatever an earlier run in this workspace compared is not about it
  removeStale(config.reportsDir, startsChecks ? [...STALE_REPORTS, CHECKS_STATE] : STALE_REPORTS);
  const buildState = readState<BuildState>(config.reportsDir, BUILD_STATE);
  const built = buildState?.failures ?? {};
  const base = buildState?.base;
  const ab = base && !base.fallback ? { base, rules: await loadAbRules(config) } : undefined;
  const starter = startsChecks
    ? await checkStarter(inputs, io)
    : { start: async () => {}, state: () => undefined };
  // Saved after every start, not once at the end: if this step is cancelled or dies, the
  // report step still knows which checks are in_progress and completes them.
  const start = async (name: string) => {
    if (!startsChecks) return;
    await starter.start(name);
    writeState(config.reportsDir, CHECKS_STATE, starter.state());
  };
  if (inputs.checkRuns === 'single') await start(SINGLE_CHECK_NAME);

  const lanes: LaneResult[] = [];
  let machine: RunResults['machine'] | undefined;
  for (const [i, lane] of config.lanes.entries()) {
    if (inputs.checkRuns === 'per-lane') await start(CHECK_NAMES[lane]);
    // One folded log group per lane: its bench output is long, and the group's title is the
    // lane's place in the run.
    io.startGroup?.(`[${i + 1}/${config.lanes.length}] ${lane}`);
    try {
      const failure = built[lane];
      if (failure) {
        // never run a binary left in the cache by an earlier build of other sources
        io.info(`lane ${lane}: not run, its build failed`);
        lanes.push(emptyResult(lane, 'error', 'build', failure));
        continue;
      }
      if (ab) {
        lanes.push(
          ...(await runAbLanes({ ...config, lanes: [lane], build: false }, ab.base, {}, ab.rules, io.info)),
        );
        continue;
      }
      const r = await runStage({ ...config, lanes: [lane], build: false }, io.info);
      machine = r.machine;
      lanes.push(...r.lanes);
    } finally {
      io.endGroup?.();
    }
  }
  machine ??= (await runStage({ ...config, lanes: [], build: false }, io.info)).machine;
  const results: RunResults = {
    schemaVersion: 1,
    machine,
    profile: config.profile,
    lanes,
    ...(ab ? { ab: abInfo(ab.base, ab.rules) } : {}),
    ...(base?.fallback
      ? { abFallback: `${base.fallback}; compared with the committed baselines instead` }
      : {}),
  };
  writeResults(config, results);
  return 0;
}

/**
 * Starts check runs in_progress; after the first refusal of permission (a fork's token) it
 * stops trying. A rate limit or an outage is not a refusal: the next lanes still try, and
 * the report step completes (or creates) every check either way.
 */
async function checkStarter(inputs: ActionInputs, io: ActionIO) {
  const state: ChecksState = { headSha: '', ids: {}, forbidden: false };
  const enabled = inputs.mode === 'gate' && inputs.checkRuns !== 'none' && inputs.token !== '';
  if (!enabled) return { start: async (_name: string) => {}, state: () => state };
  const ctx = resolveContext(io.env, readEvent(io.env));
  state.headSha = ctx.headSha;
  const client = createClient({
    token: inputs.token,
    apiUrl: io.env.GITHUB_API_URL,
    warn: io.warn,
    ...clientTimings(io.env),
  });
  const target = {
    owner: ctx.owner,
    repo: ctx.repo,
    headSha: ctx.headSha,
    ...(ctx.runUrl ? { detailsUrl: ctx.runUrl } : {}),
  };
  return {
    start: async (name: string) => {
      if (state.forbidden) return;
      const r = await runSink(`check ${name}`, () => startCheck(client, target, name, io.now()), io.warn);
      if (r.ok) state.ids[name] = r.value;
      else if (r.forbidden) state.forbidden = true;
    },
    state: () => state,
  };
}

async function comparePhase(config: Config, io: ActionIO): Promise<number> {
  // A compare that fails before writing leaves no verdicts at all, never the last run's: the
  // report step then reports no verdicts and the gate step fails.
  removeStale(config.reportsDir, STALE_REPORTS);
  const results = validateResults(readResults(config), path.join(config.reportsDir, RESULTS_FILE));
  // the store files the history-read step fetched before any code of the checkout ran
  const source = readHistorySource(config.reportsDir, io);
  const withHistory = source?.dir ? { ...config, historyDir: source.dir, historyBranch: undefined } : config;
  let outcome: CompareOutcome;
  try {
    outcome = await compareStage(withHistory, results, { historyNotes: source?.notes ?? [] });
  } catch (e) {
    if (!(e instanceof ConfigurationError)) throw e;
    // The configuration is wrong, and the report says so in an error verdict of each lane
    // concerned: it is this run's, so the report step posts it; the step fails with exit 2.
    writeState(config.reportsDir, COMPARE_STATE, compareStamp(io.env, results.machine.time));
    io.print(e.outcome.terminal);
    for (const p of e.problems) io.error(sanitizeForLog(p.error.message));
    throw e;
  }
  writeState(config.reportsDir, COMPARE_STATE, compareStamp(io.env, results.machine.time));
  io.print(outcome.terminal);
  io.info(`wrote ${path.join(config.reportsDir, VERDICTS_FILE)} and ${REPORT_FILE}`);
  return 0;
}

function gatePhase(inputs: ActionInputs, config: Config, io: ActionIO): number {
  const { report, stale } = readCurrentVerdicts(config.reportsDir, io.env);
  if (!report) {
    throw new InputError(
      `no ${VERDICTS_FILE} of this run: the compare step did not run or failed${stale ? ` (${stale})` : ''}`,
      { file: config.reportsDir },
    );
  }
  const failing = report.lanes.filter((l) => l.conclusion === 'failure').map((l) => sanitizeForLog(l.check));
  if (report.conclusion !== 'failure') {
    io.info('gate: pass');
    return 0;
  }
  if (inputs.failOn === 'never') {
    io.warn(`gate: ${failing.join(', ')} failed, but fail-on is "never"`);
    return 0;
  }
  io.error(`gate: ${failing.join(', ')} failed; see the report in the job summary`);
  return 1;
}
