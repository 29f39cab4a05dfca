// Files the action's steps hand to each other under reports/, next to the pipeline's own
// (results.json, verdicts.json, report.md). Each step is a separate process, and the report
// artifact carries the same files to the workflow_run workflow, so the hand-over is plain JSON.
//
//   build.json   build step → lanes step: lanes whose build failed, and why
//   checks.json  lanes step → report step: ids of the check runs started in_progress
//   github.json  report step → report artifact → mode: report: the PR, its head commit, and
//                what this run could already post (so the report workflow posts the rest)
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import type { VerdictReport } from '../model/verdicts.js';
import { makeValidator } from '../compare/validate.js';
import { verdictReportSchema } from './verdicts-schema.js';

const validateVerdicts = makeValidator<VerdictReport>(verdictReportSchema);

export const BUILD_STATE = 'build.json';
export const CHECKS_STATE = 'checks.json';
export const GITHUB_STATE = 'github.json';

export interface BuildState {
  /** lane → why its build failed */
  failures: Record<string, string>;
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

export function writeState(dir: string, file: string, data: unknown): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, file), `${JSON.stringify(data, null, 2)}\n`);
}

/** The parsed file, or undefined when it does not exist; malformed JSON is an InputError. */
export function readState<T>(dir: string, file: string): T | undefined {
  const full = path.join(dir, file);
  if (!existsSync(full)) return undefined;
  try {
    return JSON.parse(readFileSync(full, 'utf8')) as T;
  } catch (e) {
    throw new InputError(`not valid JSON: ${(e as Error).message}`, { file: full });
  }
}

export function readVerdicts(dir: string): VerdictReport | undefined {
  const r = readState<unknown>(dir, 'verdicts.json');
  if (r === undefined) return undefined;
  return validateVerdicts(r, path.join(dir, 'verdicts.json'));
}

/** The event payload the runner wrote; {} when there is none (a local run). */
export function readEvent(env: NodeJS.ProcessEnv): unknown {
  const file = env.GITHUB_EVENT_PATH;
  if (!file || !existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InputError(`not valid JSON: ${(e as Error).message}`, { file, field: 'GITHUB_EVENT_PATH' });
  }
}
