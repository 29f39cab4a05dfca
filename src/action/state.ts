// Files the action's steps hand to each other under reports/, next to the pipeline's own
// (results.json, verdicts.json, report.md). Each step is a separate process, and the report
// artifact carries the same files to the workflow_run workflow, so the hand-over is plain JSON.
//
//   build.json   build step → lanes step: lanes whose build failed, and why
//   checks.json  lanes step → report step: ids of the check runs started in_progress
//   compare.json compare step → report and gate steps: which run wrote verdicts.json, so a
//                verdicts.json left by an earlier run in the same workspace is never taken
//                for this run's
//   github.json  report step → report artifact → mode: report: the PR, its head commit, and
//                what this run could already post (so the report workflow posts the rest)
//
// Every file is written whole or not at all (atomicWrite): the next step may read it after
// this one was cancelled.
import type { BasePrepared } from '../pipeline.js';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { atomicWriteJson } from '../io/atomic-write.js';
import { sanitizeForLog } from '../io/log-safe.js';
import type { VerdictReport } from '../model/verdicts.js';
import { makeValidator } from '../compare/validate.js';
import { VERDICTS_FILE } from '../pipeline.js';
import { githubStateSchema, verdictReportSchema } from './verdicts-schema.js';

const validateVerdicts = makeValidator<VerdictReport>(verdictReportSchema);
const validateGitHubState = makeValidator<GitHubState>(githubStateSchema);

export const BUILD_STATE = 'build.json';
export const CHECKS_STATE = 'checks.json';
export const GITHUB_STATE = 'github.json';
export const COMPARE_STATE = 'compare.json';

export interface BuildState {
  /** lane → why its build failed */
  failures: Record<string, string>;
  /** A/B: the base built beside the head (or why A/B is not possible); absent: baselines judge */
  base?: BasePrepared;
}

export interface ChecksState {
  headSha: string;
  /** check name → check run id */
  ids: Record<string, number>;
  /** the token could not create checks: the report step does not try again */
  forbidden: boolean;
}

export interface GitHubState {
  schemaVersion: 1;
  repository: string;
  workflow: string;
  headSha: string;
  /** the pull request this run measured; the report workflow verifies it before commenting */
  pr?: number;
  runId?: string;
  posted: { comment: boolean; checks: boolean };
}

/** Which run compared: GITHUB_RUN_ID and GITHUB_RUN_ATTEMPT, and the time of its results. */
export interface CompareState {
  runId?: string;
  runAttempt?: string;
  /** results.json's machine.time, which verdicts.json repeats */
  resultsTime: string;
}

export function writeState(dir: string, file: string, data: unknown): void {
  atomicWriteJson(path.join(dir, file), data);
}

/** Removes files an earlier run may have left, so they cannot pass for this run's. */
export function removeStale(dir: string, files: readonly string[]): void {
  for (const f of files) rmSync(path.join(dir, f), { force: true });
}

export function compareStamp(env: NodeJS.ProcessEnv, resultsTime: string): CompareState {
  return {
    ...(env.GITHUB_RUN_ID ? { runId: env.GITHUB_RUN_ID } : {}),
    ...(env.GITHUB_RUN_ATTEMPT ? { runAttempt: env.GITHUB_RUN_ATTEMPT } : {}),
    resultsTime,
  };
}

/** The parsed file, or undefined when it does not exist; malformed JSON is an InputError. */
export function readState<T>(dir: string, file: string): T | undefined {
  const full = path.join(dir, file);
  if (!existsSync(full)) return undefined;
  try {
    return JSON.parse(readFileSync(full, 'utf8')) as T;
  } catch (e) {
    // the parser's message quotes the file, which may come from an artifact
    throw new InputError(`not valid JSON: ${sanitizeForLog((e as Error).message)}`, { file: full });
  }
}

export function readVerdicts(dir: string): VerdictReport | undefined {
  const r = readState<unknown>(dir, VERDICTS_FILE);
  if (r === undefined) return undefined;
  return validateVerdicts(r, path.join(dir, VERDICTS_FILE));
}

/** github.json of an artifact, checked; undefined when the artifact has none (nothing was posted). */
export function readGitHubState(dir: string): GitHubState | undefined {
  const r = readState<unknown>(dir, GITHUB_STATE);
  if (r === undefined) return undefined;
  return validateGitHubState(r, path.join(dir, GITHUB_STATE));
}

/**
 * verdicts.json when this run's compare step wrote it: the stamp it left names this run (when
 * the runner says which run this is) and the same results. Else `stale` says why not.
 */
export function readCurrentVerdicts(
  dir: string,
  env: NodeJS.ProcessEnv,
): { report?: VerdictReport; stale?: string } {
  const report = readVerdicts(dir);
  if (!report) return {};
  const stamp = readState<Partial<CompareState>>(dir, COMPARE_STATE);
  const now = compareStamp(env, report.machine.time);
  if (!stamp)
    return { stale: `${VERDICTS_FILE} has no ${COMPARE_STATE}: it is not from this run's compare step` };
  if (
    stamp.runId !== now.runId ||
    stamp.runAttempt !== now.runAttempt ||
    stamp.resultsTime !== now.resultsTime
  ) {
    return {
      stale: `${VERDICTS_FILE} is from another run (run ${sanitizeForLog(String(stamp.runId ?? 'unknown'))}, results of ${sanitizeForLog(String(stamp.resultsTime ?? 'unknown'))})`,
    };
  }
  return { report };
}

/** The event payload the runner wrote; {} when there is none (a local run). */
export function readEvent(env: NodeJS.ProcessEnv): unknown {
  const file = env.GITHUB_EVENT_PATH;
  if (!file || !existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InputError(`not valid JSON: ${sanitizeForLog((e as Error).message)}`, {
      file,
      field: 'GITHUB_EVENT_PATH',
    });
  }
}
