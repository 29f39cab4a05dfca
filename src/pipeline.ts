// The one flow: build → lanes → results → compare(baselines, rules) → verdicts → report.
// Each stage reads the previous stage's file under reports/, so any stage can be re-run alone;
// only this module knows the order.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from './config.js';
import type { LaneName } from './model/lanes.js';
import type { RunResults } from './model/results.js';
import type { VerdictReport } from './model/verdicts.js';
import { resolveToolchain, type Toolchain } from './build/toolchain.js';
import { buildTargets, configure } from './build/cmake.js';
import { BuildError } from './build/errors.js';
import { describeMachine, probeCompiler } from './build/machine.js';
import { laneAdapter } from './lanes/registry.js';
import { runLanes } from './lanes/runner.js';
import { InputError } from './errors.js';
import { compare, loadBaselines, loadRules, summarizeLane, writeBaseline } from './compare/index.js';
import { renderMarkdown, renderTerminal } from './report/index.js';
import { atomicWrite, atomicWriteJson } from './io/atomic-write.js';

export type Log = (line: string) => void;

export const RESULTS_FILE = 'results.json';
export const VERDICTS_FILE = 'verdicts.json';
export const REPORT_FILE = 'report.md';

/** Builds what the selected lanes need; returns per-lane build failures instead of throwing. */
export async function buildLanes(
  config: Config,
  toolchain: Toolchain,
  log: Log,
): Promise<Partial<Record<LaneName, string>>> {
  const failures: Partial<Record<LaneName, string>> = {};
  const opts = {
    nativeDir: config.nativeDir,
    buildDir: config.buildDir,
    buildType: 'Release' as const,
    toolchain,
    log,
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

export async function runStage(config: Config, log: Log): Promise<RunResults> {
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
  const lanes = await runLanes(
    config.lanes,
    {
      buildDir: config.buildDir,
      reportsDir: config.reportsDir,
      profile: config.profile,
      forcePath: config.forcePath,
      threads: config.threads,
      timeoutMs: config.timeoutMs,
      log,
    },
    unbuilt,
  );
  const results: RunResults = { schemaVersion: 1, machine, profile: config.profile, lanes };
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

export async function compareStage(config: Config, results: RunResults): Promise<CompareOutcome> {
  const rules = await loadRules(config.rulesFile);
  const baselines = await loadBaselines(
    results.lanes.map((l) => l.lane),
    config.baselinesDir,
  );
  const report = compare(results, baselines, rules);
  const markdown = renderMarkdown(report);
  atomicWriteJson(path.join(config.reportsDir, VERDICTS_FILE), report);
  atomicWrite(path.join(config.reportsDir, REPORT_FILE), markdown);
  const inputErrors = Object.values(baselines).filter((b): b is InputError => b instanceof InputError);
  return { report, markdown, terminal: renderTerminal(report), inputErrors };
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
