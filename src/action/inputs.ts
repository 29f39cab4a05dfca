// The action's inputs, as action.yml hands them to the `run:` steps. A composite action gets
// no INPUT_* variables in its run steps, so action.yml maps each input to an INFENG_* variable
// in `env:`; that also keeps input text out of the shell scripts, where `${{ inputs.x }}`
// would be pasted into the script before bash reads it (a script injection).
import { InputError } from '../errors.js';
import type { RawOptions } from '../config.js';
import { COMMENT_MODES, type CommentMode } from '../sinks/comment.js';
import { CHECK_RUN_MODES, type CheckRunMode } from '../sinks/check-plan.js';
import { DEFAULT_HISTORY_BRANCH } from '../history/git-branch.js';

export const MODES = ['gate', 'calibrate', 'report'] as const;
export type Mode = (typeof MODES)[number];
export const FAIL_ON = ['regression', 'never'] as const;
export const COMPARE_TO = ['auto', 'base', 'baseline'] as const;
export type CompareTo = (typeof COMPARE_TO)[number];
export type FailOn = (typeof FAIL_ON)[number];
/** auto: on `push` to the default branch only; never: not at all. There is no "always": PR code never writes the history. */
export const RECORD_HISTORY = ['auto', 'never'] as const;
export type RecordHistory = (typeof RECORD_HISTORY)[number];

/** action input name → environment variable set by action.yml */
export const INPUT_ENV = {
  lanes: 'INFENG_LANES',
  profile: 'INFENG_PROFILE',
  'clang-version': 'INFENG_CLANG_VERSION',
  'native-dir': 'INFENG_NATIVE_DIR',
  'baselines-dir': 'INFENG_BASELINES_DIR',
  'reports-dir': 'INFENG_REPORTS_DIR',
  'working-directory': 'INFENG_WORKING_DIRECTORY',
  'github-token': 'INFENG_GITHUB_TOKEN',
  comment: 'INFENG_COMMENT',
  'check-runs': 'INFENG_CHECK_RUNS',
  'fail-on': 'INFENG_FAIL_ON',
  mode: 'INFENG_MODE',
  'compare-to': 'INFENG_COMPARE_TO',
  'base-ref': 'INFENG_BASE_REF',
  'history-branch': 'INFENG_HISTORY_BRANCH',
  'record-history': 'INFENG_RECORD_HISTORY',
  charts: 'INFENG_CHARTS',
  'show-incomparable': 'INFENG_SHOW_INCOMPARABLE',
} as const;
export type InputName = keyof typeof INPUT_ENV;

export interface ActionInputs {
  mode: Mode;
  comment: CommentMode;
  checkRuns: CheckRunMode;
  failOn: FailOn;
  /** auto: the PR's base on pull_request events, the committed baselines otherwise */
  compareTo: CompareTo;
  /** the base commit for A/B; empty: the pull_request event's base.sha */
  baseRef: string;
  /** empty: no GitHub calls, the job summary and outputs only */
  token: string;
  /** the data branch the history is read from and (on push) written to; empty: no history */
  historyBranch: string;
  recordHistory: RecordHistory;
  /** for buildConfig: the same settings the CLI flags give */
  options: RawOptions;
}

function input(env: NodeJS.ProcessEnv, name: InputName): string | undefined {
  const v = env[INPUT_ENV[name]]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

function choice<T extends string>(
  env: NodeJS.ProcessEnv,
  name: InputName,
  allowed: readonly T[],
  fallback: T,
): T {
  const v = input(env, name);
  if (v === undefined) return fallback;
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw new InputError(`must be one of ${allowed.join(', ')}, not "${v}"`, { field: `input "${name}"` });
}

export function readActionInputs(env: NodeJS.ProcessEnv): ActionInputs {
  const root = input(env, 'working-directory');
  const options: RawOptions = {
    ...(root ? { root } : {}),
    ...(input(env, 'lanes') ? { lanes: input(env, 'lanes') } : {}),
    ...(input(env, 'profile') ? { profile: input(env, 'profile') } : {}),
    ...(input(env, 'clang-version') ? { clangVersion: input(env, 'clang-version') } : {}),
    ...(input(env, 'native-dir') ? { nativeDir: input(env, 'native-dir') } : {}),
    ...(input(env, 'baselines-dir') ? { baselinesDir: input(env, 'baselines-dir') } : {}),
    ...(input(env, 'reports-dir') ? { reportsDir: input(env, 'reports-dir') } : {}),
    charts: choice(env, 'charts', ['true', 'false'], 'true') === 'true',
    showIncomparable: choice(env, 'show-incomparable', ['true', 'false'], 'false') === 'true',
  };
  return {
    mode: choice(env, 'mode', MODES, 'gate'),
    comment: choice(env, 'comment', COMMENT_MODES, 'always'),
    checkRuns: choice(env, 'check-runs', CHECK_RUN_MODES, 'per-lane'),
    failOn: choice(env, 'fail-on', FAIL_ON, 'regression'),
    compareTo: choice(env, 'compare-to', COMPARE_TO, 'auto'),
    baseRef: input(env, 'base-ref') ?? '',
    token: input(env, 'github-token') ?? '',
    // unset: the default branch name; set to empty in action.yml: no history at all
    historyBranch:
      env[INPUT_ENV['history-branch']] === undefined
        ? DEFAULT_HISTORY_BRANCH
        : (input(env, 'history-branch') ?? ''),
    recordHistory: choice(env, 'record-history', RECORD_HISTORY, 'auto'),
    options,
  };
}
