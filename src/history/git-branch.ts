// The history kept on a data branch of the repository itself (`infeng-perf-history` by default):
// no service to run, readable by anyone who can read the code, and every append is a commit.
//
// Publishing works in a temporary worktree of the data branch, so the checkout being measured
// is never touched: fetch the branch, add a detached worktree at its tip (or an empty one when
// the branch does not exist yet), append the records, commit, push. Two default-branch runs
// finishing together race for the branch; the loser's push is rejected as not a fast-forward.
// It then fetches the new tip, appends its records again on top of it (the store only grows at
// its end, so this is the whole of a rebase) and pushes again, up to `maxAttempts` times.
//
// Writing the branch needs a token that can push, so it must only ever run for trusted code:
// the action calls publishHistory on `push` events to the default branch only, never for a pull
// request (whose code could write anything into the history). Reading (readHistoryFromBranch)
// fetches and reads objects without checking anything out and is safe everywhere.
//
// The git command runner is a parameter, so the tests run the real git against a bare
// repository standing in for the remote and can make a push lose the race on purpose.
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HistoryRecord } from '../model/history.js';
import {
  appendHistory,
  noHistoryNote,
  parseHistory,
  type HistoryRead,
  type ReadHistoryOptions,
} from './store.js';

export const DEFAULT_HISTORY_BRANCH = 'infeng-perf-history';
export const DEFAULT_MAX_ATTEMPTS = 5;

/** A git command that failed: its arguments, exit status and what it said. */
export class GitCommandError extends Error {
  override readonly name = 'GitCommandError';
  constructor(
    readonly args: readonly string[],
    readonly status: number | null,
    readonly stderr: string,
  ) {
    super(`git ${args.join(' ')} failed${status === null ? '' : ` (exit ${status})`}: ${firstLine(stderr)}`);
  }
}

function firstLine(text: string): string {
  const lines = text.trim().split('\n');
  return lines.find((l) => /error|fatal|rejected/i.test(l)) ?? lines[0] ?? '';
}

/** Runs git with `args` in `cwd`; returns stdout without its trailing newline or throws GitCommandError. */
export type GitRunner = (args: readonly string[], cwd: string) => string;

/**
 * The real git with `extraEnv` on top of this process's environment, never prompting for
 * credentials (a CI job would hang on a prompt).
 */
export function gitRunner(extraEnv: NodeJS.ProcessEnv = {}): GitRunner {
  return (args, cwd) => runGitWith(args, cwd, extraEnv);
}

/** The real git in this process's environment. */
export const runGit: GitRunner = (args, cwd) => runGitWith(args, cwd, {});

/**
 * Environment that makes git send `token` to `serverUrl` (a GitHub App or Actions token, as
 * actions/checkout does), through GIT_CONFIG_* variables rather than `-c` arguments: the
 * arguments are quoted in GitCommandError's message and would put the token in a log. The
 * empty value first clears a header persisted by actions/checkout, since GitHub refuses a
 * request carrying two.
 */
export function tokenAuthEnv(token: string, serverUrl = 'https://github.com'): NodeJS.ProcessEnv {
  const key = `http.${serverUrl.replace(/\/+$/, '')}/.extraheader`;
  const basic = Buffer.from(`x-access-token:${token}`, 'utf8').toString('base64');
  return {
    GIT_CONFIG_COUNT: '2',
    GIT_CONFIG_KEY_0: key,
    GIT_CONFIG_VALUE_0: '',
    GIT_CONFIG_KEY_1: key,
    GIT_CONFIG_VALUE_1: `AUTHORIZATION: basic ${basic}`,
  };
}

function runGitWith(args: readonly string[], cwd: string, extraEnv: NodeJS.ProcessEnv): string {
  try {
    return execFileSync('git', [...args], {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 << 20,
      env: { ...process.env, ...extraEnv, GIT_TERMINAL_PROMPT: '0' },
    }).replace(/\n$/, '');
  } catch (e) {
    const err = e as { status?: number | null; stderr?: string | Buffer; message?: string };
    throw new GitCommandError(
      args,
      err.status ?? null,
      err.stderr ? String(err.stderr) : (err.message ?? ''),
    );
  }
}

export interface BranchOptions {
  /** the data branch; DEFAULT_HISTORY_BRANCH when absent */
  branch?: string;
  /** the remote to fetch from and push to; "origin" when absent */
  remote?: string;
  git?: GitRunner;
}

export interface PublishOptions extends BranchOptions {
  /** pushes tried before giving up when each one loses the race; DEFAULT_MAX_ATTEMPTS when absent */
  maxAttempts?: number;
  /** the commit message; one naming the commits and lanes when absent */
  message?: string;
  /** the committer when git has none configured (a fresh CI runner) */
  identity?: { name: string; email: string };
}

export interface PublishResult {
  /** the data branch's new tip */
  commit: string;
  /** pushes tried, 1 when the first one went through */
  attempts: number;
  /** the store files the records went to, relative to the branch's root */
  files: string[];
}

const DEFAULT_IDENTITY = { name: 'infeng-perf', email: 'infeng-perf@users.noreply.github.com' };

/** A ref name git accepts and that cannot be taken for an option or a range. */
function checkName(kind: string, name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(name) || name.includes('..') || name.endsWith('.lock')) {
    throw new RangeError(`${kind} "${name}" is not a valid name`);
  }
}

function remoteRef(remote: string, branch: string): string {
  return `refs/remotes/${remote}/${branch}`;
}

/**
 * Fetches the data branch into refs/remotes/<remote>/<branch> and returns its tip, or undefined
 * when the remote has no such branch (the tracking ref is then removed, so a branch deleted on
 * the remote is not resurrected from a stale copy).
 */
export function fetchHistoryBranch(root: string, options: BranchOptions = {}): string | undefined {
  const git = options.git ?? runGit;
  const branch = options.branch ?? DEFAULT_HISTORY_BRANCH;
  const remote = options.remote ?? 'origin';
  checkName('branch', branch);
  checkName('remote', remote);
  const listed = git(['ls-remote', '--heads', remote, `refs/heads/${branch}`], root);
  if (listed.trim() === '') {
    git(['update-ref', '-d', remoteRef(remote, branch)], root);
    return undefined;
  }
  git(['fetch', '--quiet', '--no-tags', remote, `+refs/heads/${branch}:${remoteRef(remote, branch)}`], root);
  return git(['rev-parse', '--verify', `${remoteRef(remote, branch)}^{commit}`], root);
}

/** A push that lost the race: someone else moved the branch (or created it) since the fetch. */
export function isRejectedPush(err: unknown): boolean {
  if (!(err instanceof GitCommandError)) return false;
  return /\[rejected\]|non-fast-forward|fetch first|\[remote rejected\].*(lock|stale)|cannot lock ref|stale info/i.test(
    err.stderr,
  );
}

function defaultMessage(records: readonly HistoryRecord[]): string {
  const commits = [...new Set(records.map((r) => r.commit.slice(0, 12)))].join(', ');
  const lanes = [...new Set(records.map((r) => r.lane))].sort().join(', ');
  return `history: ${commits} (${lanes})`;
}

function hasIdentity(git: GitRunner, root: string): boolean {
  try {
    return (
      git(['config', 'user.email'], root).trim() !== '' && git(['config', 'user.name'], root).trim() !== ''
    );
  } catch {
    return false; // `git config` exits 1 when the key is not set
  }
}

/**
 * Appends `records` to the store on the data branch and pushes it. A push rejected because the
 * branch moved is retried on the new tip (fetch, re-append, commit, push) up to `maxAttempts`
 * times; any other failure throws at once. Only for trusted code: see the file header.
 */
export function publishHistory(
  root: string,
  records: readonly HistoryRecord[],
  options: PublishOptions = {},
): PublishResult {
  const git = options.git ?? runGit;
  const branch = options.branch ?? DEFAULT_HISTORY_BRANCH;
  const remote = options.remote ?? 'origin';
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!(Number.isInteger(maxAttempts) && maxAttempts >= 1)) {
    throw new RangeError(`maxAttempts must be a positive integer, got ${maxAttempts}`);
  }
  if (records.length === 0) throw new RangeError('publishHistory: no records to publish');
  const message = options.message ?? defaultMessage(records);
  const identity = hasIdentity(git, root) ? [] : identityArgs(options.identity ?? DEFAULT_IDENTITY);

  const parent = mkdtempSync(path.join(os.tmpdir(), 'infeng-history-publish-'));
  const work = path.join(parent, 'worktree');
  let added = false;
  try {
    let lastError: unknown;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const tip = fetchHistoryBranch(root, { git, branch, remote });
      if (!added) {
        // detached, so no local branch is created or locked; without a tip, an empty index
        git(['worktree', 'add', '--quiet', '--detach', '--no-checkout', work, tip ?? 'HEAD'], root);
        added = true;
      }
      if (tip) {
        git(['checkout', '--quiet', '--detach', '--force', tip], work);
      } else {
        git(['read-tree', '--empty'], work);
      }
      git(['clean', '--quiet', '-fdx'], work);
      const files = appendHistory(work, records).map((f) => path.relative(work, f));
      git(['add', '--', ...files], work);
      const tree = git(['write-tree'], work);
      const commit = git(
        [...identity, 'commit-tree', tree, ...(tip ? ['-p', tip] : []), '-m', message],
        work,
      );
      try {
        git(['push', '--quiet', '--no-verify', remote, `${commit}:refs/heads/${branch}`], work);
        return { commit, attempts: attempt, files };
      } catch (err) {
        if (!isRejectedPush(err)) throw err;
        lastError = err;
      }
    }
    throw new Error(
      `history: the push to ${remote}/${branch} lost the race ${maxAttempts} times; giving up`,
      { cause: lastError },
    );
  } finally {
    if (added) {
      try {
        git(['worktree', 'remove', '--force', work], root);
      } catch {
        // the folder goes below either way; prune forgets the worktree
      }
    }
    rmSync(parent, { recursive: true, force: true });
    if (added) {
      try {
        git(['worktree', 'prune'], root);
      } catch {
        // nothing to prune is not a failure
      }
    }
  }
}

function identityArgs(id: { name: string; email: string }): string[] {
  return ['-c', `user.name=${id.name}`, '-c', `user.email=${id.email}`];
}

/**
 * One lane's history from the data branch on the remote, without a worktree: fetch, then read
 * `<classKey>.jsonl` at the fetched tip. No branch or no file is an empty history with a note.
 */
export function readHistoryFromBranch(
  root: string,
  key: string,
  lane: string,
  options: BranchOptions & ReadHistoryOptions = {},
): HistoryRead {
  const git = options.git ?? runGit;
  const branch = options.branch ?? DEFAULT_HISTORY_BRANCH;
  const tip = fetchHistoryBranch(root, options);
  const name = `${branch}:${key}.jsonl`;
  if (!tip) return { records: [], notes: [`no history branch ${branch} yet`] };
  let text: string;
  try {
    text = git(['cat-file', 'blob', `${tip}:${key}.jsonl`], root);
  } catch {
    let others: string[] = [];
    try {
      others = git(['ls-tree', '--name-only', tip], root).split('\n');
    } catch {
      // the note without the other classes
    }
    return {
      records: [],
      notes: [
        noHistoryNote(
          name,
          key,
          others.filter((f) => f.endsWith('.jsonl')),
        ),
      ],
    };
  }
  return parseHistory(text, name, key, lane, options);
}

/** The store files (`<classKey>.jsonl`) at `tip` of the data branch, with their text. */
export function readStoreFiles(
  root: string,
  tip: string,
  git: GitRunner = runGit,
): { name: string; text: string }[] {
  const names = git(['ls-tree', '--name-only', tip], root)
    .split('\n')
    .filter((n) => /^[A-Za-z0-9_.-]+\.jsonl$/.test(n));
  return names.map((name) => ({ name, text: git(['cat-file', 'blob', `${tip}:${name}`], root) }));
}
