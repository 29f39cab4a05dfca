#!/usr/bin/env node
// Entry point of the CLI (and of the bundled dist/index.js): parses the command, calls the
// pipeline, and is the only place that exits the process. Exit codes: 0 pass, 1 a gate
// failed, 2 bad usage or bad input.
import { Argument, Command, CommanderError, Option } from 'commander';
import { buildConfig, type RawOptions } from './config.js';
import path from 'node:path';
import {
  abStage,
  calibrateStage,
  compareStage,
  ConfigurationError,
  readResults,
  runStage,
  RESULTS_FILE,
  type CompareOutcome,
} from './pipeline.js';
import { validateResults } from './compare/results-schema.js';
import { appendHistory, recordsFromResults } from './history/store.js';
import { publishHistory } from './history/git-branch.js';
import type { Config } from './config.js';
import { EXIT_FAILURE, EXIT_INPUT, EXIT_OK, InputError, exitCodeFor, formatError } from './errors.js';
import { ISA_PATHS, LANES, PROFILES } from './model/lanes.js';
import * as core from '@actions/core';
import { PHASES, runActionPhase, type ActionIO, type Phase } from './action/phases.js';
import { tokenizeToJson, type TokenizeOptions } from './commands/tokenize.js';
import { writeDashboard } from './commands/dashboard.js';

const log = (line: string) => process.stderr.write(`${line}\n`);

function addCommon(cmd: Command, opts: { run: boolean }): Command {
  cmd
    .option('--root <dir>', 'project root holding native/, baselines/ and reports/', '.')
    .option(
      '--lanes <list>',
      `comma-separated lanes (${LANES.join(', ')}); default: every lane in this build`,
    )
    .option('--baselines-dir <dir>', 'committed baselines and rules.yml', 'baselines')
    .option('--reports-dir <dir>', 'where results, verdicts and reports are written', 'reports')
    .option('--history <dir>', 'a local history store (<class>.jsonl files) for the trend charts')
    .option('--history-branch <name>', "the repository's history data branch for the trend charts")
    .option('--no-charts', 'no trend charts in the report')
    .option('--show-incomparable', 'list incomparable metrics in the details (default: counted only)');
  if (opts.run) {
    cmd
      .addOption(new Option('--profile <name>', 'benchmark profile').choices([...PROFILES]))
      .addOption(new Option('--force-path <path>', 'pin the kernel ISA path').choices([...ISA_PATHS]))
      .option('--native-dir <dir>', 'the CMake project of the kernels', 'native')
      .option('--clang-version <major>', 'clang major to build with (default 17, or INFENG_CLANG_VERSION)')
      .option('--threads <n>', 'threads per kernel (default: all cores)')
      .option('--timeout <seconds>', 'per-lane timeout (default depends on the profile)')
      .option('--no-build', 'use the binaries already in build/ instead of building');
  }
  return cmd;
}

/** reports/results.json, checked against its schema: bad input names the file and the field. */
function readCheckedResults(config: Config) {
  return validateResults(readResults(config), path.join(config.reportsDir, RESULTS_FILE));
}

async function doRun(raw: RawOptions): Promise<number> {
  await runStage(buildConfig(raw), log);
  return 0;
}

async function doCompare(raw: RawOptions, results?: Awaited<ReturnType<typeof runStage>>): Promise<number> {
  const config = buildConfig(raw);
  let outcome: CompareOutcome;
  let problems: readonly InputError[] = [];
  try {
    outcome = await compareStage(config, results ?? readCheckedResults(config));
  } catch (e) {
    // a wrong configuration: the report is written all the same, and shown before the problems
    if (!(e instanceof ConfigurationError)) throw e;
    outcome = e.outcome;
    problems = e.problems.map((p) => p.error);
  }
  process.stdout.write(`${outcome.terminal}\n`);
  log(`wrote ${config.reportsDir}/verdicts.json and report.md`);
  // A broken baseline or configuration is bad input: the report is written for every lane,
  // and the exit code says input, not regression.
  const errors = [...outcome.inputErrors, ...problems];
  for (const e of errors) log(formatError(e));
  if (errors.length > 0) return EXIT_INPUT;
  return outcome.report.conclusion === 'failure' ? EXIT_FAILURE : EXIT_OK;
}

async function doAll(raw: RawOptions): Promise<number> {
  const results = await runStage(buildConfig(raw), log);
  return doCompare(raw, results);
}

async function doAb(raw: RawOptions & { base: string }): Promise<number> {
  const results = await abStage(buildConfig(raw), raw.base, log);
  return doCompare(raw, results);
}

/**
 * Appends this run's results to the history: a local store, or the data branch (pushed, with
 * retries on a concurrent push). Only for the default branch's own runs, never PR code.
 */
async function doHistoryRecord(raw: RawOptions): Promise<number> {
  const config = buildConfig(raw);
  const file = path.join(config.reportsDir, RESULTS_FILE);
  const results = validateResults(readResults(config), file);
  const records = recordsFromResults(results);
  if (records.length === 0) throw new InputError('no lane ran cleanly: nothing to record', { file });
  if (config.historyDir) {
    for (const f of appendHistory(config.historyDir, records)) log(`history: appended to ${f}`);
    return EXIT_OK;
  }
  if (config.historyBranch) {
    const r = publishHistory(config.root, records, { branch: config.historyBranch });
    log(
      `history: pushed ${r.files.join(', ')} to ${config.historyBranch} (${r.commit.slice(0, 12)}, attempt ${r.attempts})`,
    );
    return EXIT_OK;
  }
  throw new InputError('say where: --history <dir> or --history-branch <name>', { field: 'history record' });
}

async function doCalibrate(raw: RawOptions & { from?: boolean; runs?: string }): Promise<number> {
  const config = buildConfig({ ...raw, profile: raw.profile ?? 'full' });
  const count = Number(raw.runs ?? '3');
  if (!Number.isInteger(count) || count < 1) {
    throw new InputError(`--runs must be a positive integer, not "${raw.runs}"`, { field: '--runs' });
  }
  const runs = [];
  if (raw.from) runs.push(readCheckedResults(config));
  else {
    for (let i = 0; i < count; i++) {
      log(`calibration run ${i + 1} of ${count}`);
      // build once; the later runs measure the same binaries
      runs.push(await runStage({ ...config, build: config.build && i === 0 }, log));
    }
  }
  const written = await calibrateStage(config, runs, log);
  if (written.length === 0) throw new InputError('no baseline written: no selected lane ran cleanly');
  return 0;
}

/** One step of the GitHub Action (action.yml); inputs come from INFENG_* variables. */
async function doAction(phase: Phase): Promise<number> {
  // No core.setSecret(token): the runner already masks github.token and secrets, and
  // ::add-mask:: would echo the token to stdout wherever this runs outside a runner.
  const io: ActionIO = {
    env: process.env,
    info: (line) => core.info(line),
    startGroup: (title) => core.startGroup(title),
    endGroup: () => core.endGroup(),
    warn: (message) => core.warning(message),
    error: (message) => core.error(message),
    setOutput: (name, value) => core.setOutput(name, value),
    print: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    now: () => new Date(),
  };
  return runActionPhase(phase, io);
}

function program(setCode: (code: number) => void): Command {
  const root = new Command('infeng-perf')
    .description('Build the native kernels, run the perf lanes, compare with committed baselines, report.')
    .enablePositionalOptions()
    .exitOverride()
    .showHelpAfterError();
  addCommon(root, { run: true }).action(async (o: RawOptions) => {
    setCode(await doAll(o));
  });
  addCommon(
    root.command('run').description('build if needed and run the lanes; writes reports/results.json'),
    { run: true },
  ).action(async (o: RawOptions) => {
    setCode(await doRun(o));
  });
  addCommon(
    root
      .command('compare')
      .description('compare reports/results.json with the baselines; exit 1 when a gate fails'),
    { run: false },
  ).action(async (o: RawOptions) => {
    setCode(await doCompare(o));
  });
  addCommon(
    root
      .command('ab')
      .description(
        'A/B: build the base commit beside this checkout, run both in alternating rounds, judge the paired change',
      ),
    { run: true },
  )
    .requiredOption('--base <ref>', 'the commit to compare with (a SHA, a branch, HEAD~1)')
    .option(
      '--measure-identical',
      "run the A/B rounds even for a lane whose base build is byte-identical to the head's (an A/A run)",
    )
    .action(async (o: RawOptions & { base: string }) => {
      setCode(await doAb(o));
    });
  const baseline = root.command('baseline').description('manage the committed baselines');
  addCommon(
    baseline
      .command('update')
      .description('calibrate: run the lanes (full profile) and write baselines/<lane>.json'),
    {
      run: true,
    },
  )
    .option('--from', 'use the existing reports/results.json instead of running the lanes')
    .option('--runs <n>', 'independent runs to pool; their spread widens the tolerances (default 3)')
    .action(async (o: RawOptions & { from?: boolean; runs?: string }) => {
      setCode(await doCalibrate(o));
    });
  root
    .command('action')
    .description('one step of the GitHub Action (see action.yml); settings come from INFENG_* variables')
    .addArgument(new Argument('<phase>', 'the step to run').choices([...PHASES]))
    .action(async (phase: Phase) => {
      setCode(await doAction(phase));
    });
  const history = root.command('history').description('the default-branch history behind the trend charts');
  addCommon(
    history
      .command('record')
      .description(
        'append reports/results.json to the history (--history <dir>, or --history-branch to push)',
      ),
    { run: false },
  ).action(async (o: RawOptions) => {
    setCode(await doHistoryRecord(o));
  });
  root
    .command('dashboard')
    .description('write the history as a static HTML page: one chart per lane metric and machine class')
    .option('--root <dir>', 'project root (the git clone holding the data branch)', '.')
    .option('--history <dir>', 'a local history store (<class>.jsonl files)')
    .option('--history-branch <name>', "the repository's history data branch, fetched from origin")
    .option('--out <file>', 'the page to write', 'reports/dashboard/index.html')
    .action((o: { root: string; history?: string; historyBranch?: string; out: string }) => {
      const root = path.resolve(o.root);
      const r = writeDashboard({
        root,
        ...(o.history ? { historyDir: path.resolve(root, o.history) } : {}),
        ...(o.historyBranch ? { historyBranch: o.historyBranch } : {}),
        out: o.out,
        now: new Date(),
      });
      for (const n of r.notes) log(`dashboard: ${n}`);
      log(`dashboard: wrote ${r.file} (${r.classes} machine class${r.classes === 1 ? '' : 'es'})`);
      setCode(EXIT_OK);
    });
  root
    .command('tokenize')
    .description('encode a text file with the native tokenizer; prints {"ids":[…]}')
    .requiredOption('--tokenizer <file>', 'a Hugging Face tokenizer.json')
    .requiredOption('--input <file>', 'the text, encoded whole as one text')
    .option('--add-special-tokens', "apply the post-processor's template (e.g. BOS)")
    .option('--root <dir>', 'project root holding build/native/release/addon/', '.')
    .action((o: TokenizeOptions) => {
      process.stdout.write(`${tokenizeToJson(o)}\n`);
    });
  return root;
}

async function main(argv: string[]): Promise<number> {
  let code = 0;
  try {
    await program((c) => (code = c)).parseAsync(argv);
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version are not errors
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? EXIT_OK : EXIT_INPUT;
    }
    log(formatError(e));
    return exitCodeFor(e);
  }
}

main(process.argv).then(
  (code) => process.exit(code),
  (e: unknown) => {
    log(formatError(e));
    process.exit(EXIT_FAILURE);
  },
);
