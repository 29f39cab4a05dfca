// The data branch, with the real git: a bare repository in a temporary folder stands in for the
// remote, and two clones of it publish like two default-branch runs finishing together.
import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_HISTORY_BRANCH,
  GitCommandError,
  isRejectedPush,
  publishHistory,
  readHistoryFromBranch,
  runGit,
  gitRunner,
  tokenAuthEnv,
  type GitRunner,
} from '../src/history/git-branch.js';
import type { HistoryRecord } from '../src/model/history.js';

const KEY = 'amd-epyc-7763_4c_avx2_clang17';
const ID = ['-c', 'user.name=test', '-c', 'user.email=test@example.invalid'];

function record(commit: string, lane = 'gemm'): HistoryRecord {
  return {
    schemaVersion: 1,
    commit,
    time: '2025-03-20T12:00:00Z',
    classKey: KEY,
    lane,
    profile: 'quick',
    path: 'avx2',
    cases: { c1: { gflops: { unit: 'GFLOP/s', better: 'higher', median: 100, spread: 0.01, n: 10 } } },
  };
}

/** A bare "origin" with one commit on main, and `clones` clones of it. */
function setup(clones = 2): { origin: string; dirs: string[] } {
  const top = mkdtempSync(path.join(os.tmpdir(), 'infeng-history-git-'));
  const origin = path.join(top, 'origin.git');
  runGit(['init', '--quiet', '--bare', '--initial-branch=main', origin], top);
  const seed = path.join(top, 'seed');
  runGit(['init', '--quiet', '--initial-branch=main', seed], top);
  runGit([...ID, 'commit', '--quiet', '--allow-empty', '-m', 'code'], seed);
  runGit(['remote', 'add', 'origin', origin], seed);
  runGit(['push', '--quiet', 'origin', 'main'], seed);
  const dirs = Array.from({ length: clones }, (_, i) => {
    const dir = path.join(top, `clone${i}`);
    runGit(['clone', '--quiet', origin, dir], top);
    return dir;
  });
  return { origin, dirs };
}

function branchFile(origin: string): string[] {
  return runGit(['show', `${DEFAULT_HISTORY_BRANCH}:${KEY}.jsonl`], origin)
    .split('\n')
    .map((l) => (JSON.parse(l) as HistoryRecord).commit);
}

function parents(origin: string, rev: string): string {
  return runGit(['log', '-1', '--format=%P', rev], origin);
}

/** A runner that calls `before` (once per push, up to `times` pushes) just before pushing. */
function racing(before: () => void, times = 1): GitRunner {
  let left = times;
  return (args, cwd) => {
    if (args[0] === 'push' && left > 0) {
      left--;
      before();
    }
    return runGit(args, cwd);
  };
}

describe('publishHistory', () => {
  it('creates the branch as an orphan holding only the store, and leaves the checkout alone', () => {
    const { origin, dirs } = setup(1);
    const a = dirs[0] as string;
    const head = runGit(['rev-parse', 'HEAD'], a);
    const got = publishHistory(a, [record('c1'), record('c1', 'tokenizer')]);
    expect(got.attempts).toBe(1);
    expect(got.files).toEqual([`${KEY}.jsonl`]);
    expect(runGit(['rev-parse', DEFAULT_HISTORY_BRANCH], origin)).toBe(got.commit);
    expect(parents(origin, got.commit)).toBe('');
    expect(runGit(['ls-tree', '--name-only', got.commit], origin)).toBe(`${KEY}.jsonl`);
    expect(branchFile(origin)).toEqual(['c1', 'c1']);
    // the measured checkout: same HEAD, clean, no new local branch, no leftover worktree
    expect(runGit(['rev-parse', 'HEAD'], a)).toBe(head);
    expect(runGit(['status', '--porcelain'], a)).toBe('');
    expect(runGit(['branch', '--format=%(refname:short)'], a)).toBe('main');
    expect(runGit(['worktree', 'list', '--porcelain'], a).match(/^worktree /gm)).toHaveLength(1);
  });

  it('appends on top of the existing branch', () => {
    const { origin, dirs } = setup(2);
    const first = publishHistory(dirs[0] as string, [record('c1')]);
    const second = publishHistory(dirs[1] as string, [record('c2')], { message: 'history: c2' });
    expect(parents(origin, second.commit)).toBe(first.commit);
    expect(runGit(['log', '-1', '--format=%s', second.commit], origin)).toBe('history: c2');
    expect(branchFile(origin)).toEqual(['c1', 'c2']);
  });

  it('a push that loses the race fetches the new tip, appends again and pushes', () => {
    const { origin, dirs } = setup(2);
    const [a, b] = dirs as [string, string];
    publishHistory(a, [record('c1')]);
    let winner = '';
    const got = publishHistory(b, [record('c3')], {
      git: racing(() => {
        winner = publishHistory(a, [record('c2')]).commit;
      }),
    });
    expect(got.attempts).toBe(2);
    expect(parents(origin, got.commit)).toBe(winner);
    expect(branchFile(origin)).toEqual(['c1', 'c2', 'c3']);
  });

  it('two first runs racing to create the branch both land', () => {
    const { origin, dirs } = setup(2);
    const [a, b] = dirs as [string, string];
    const got = publishHistory(b, [record('c2')], {
      git: racing(() => publishHistory(a, [record('c1')])),
    });
    expect(got.attempts).toBe(2);
    expect(branchFile(origin)).toEqual(['c1', 'c2']);
    expect(runGit(['rev-list', '--count', DEFAULT_HISTORY_BRANCH], origin)).toBe('2');
  });

  it('gives up after maxAttempts lost races and cleans up its worktree', () => {
    const { origin, dirs } = setup(2);
    const [a, b] = dirs as [string, string];
    let n = 0;
    const tmpBefore = readdirSync(os.tmpdir()).filter((f) => f.startsWith('infeng-history-publish-'));
    expect(() =>
      publishHistory(b, [record('loser')], {
        maxAttempts: 3,
        git: racing(() => publishHistory(a, [record(`w${n++}`)]), 99),
      }),
    ).toThrow(/lost the race 3 times/);
    expect(branchFile(origin)).toEqual(['w0', 'w1', 'w2']);
    expect(runGit(['worktree', 'list', '--porcelain'], b).match(/^worktree /gm)).toHaveLength(1);
    const tmpAfter = readdirSync(os.tmpdir()).filter((f) => f.startsWith('infeng-history-publish-'));
    expect(tmpAfter.filter((f) => !tmpBefore.includes(f))).toEqual([]);
  });

  it('fails at once on anything but a lost race', () => {
    const { dirs } = setup(1);
    const a = dirs[0] as string;
    runGit(['remote', 'set-url', 'origin', path.join(os.tmpdir(), 'no-such-remote.git')], a);
    let calls = 0;
    const counting: GitRunner = (args, cwd) => {
      if (args[0] === 'ls-remote') calls++;
      return runGit(args, cwd);
    };
    expect(() => publishHistory(a, [record('c1')], { git: counting })).toThrow(GitCommandError);
    expect(calls).toBe(1);
  });

  it('refuses a branch name that could be an option or a range', () => {
    const { dirs } = setup(1);
    expect(() => publishHistory(dirs[0] as string, [record('c1')], { branch: '--force' })).toThrow(
      /not a valid name/,
    );
    expect(() => publishHistory(dirs[0] as string, [record('c1')], { branch: 'a..b' })).toThrow(
      /not a valid name/,
    );
  });
});

describe('isRejectedPush', () => {
  it('tells a lost race from other failures', () => {
    const rejected = new GitCommandError(
      ['push'],
      1,
      ' ! [rejected]        abc -> infeng-perf-history (fetch first)\nerror: failed to push some refs',
    );
    const nff = new GitCommandError(['push'], 1, ' ! [rejected] x -> y (non-fast-forward)');
    const auth = new GitCommandError(['push'], 128, 'fatal: Authentication failed');
    expect(isRejectedPush(rejected)).toBe(true);
    expect(isRejectedPush(nff)).toBe(true);
    expect(isRejectedPush(auth)).toBe(false);
    expect(isRejectedPush(new Error('[rejected]'))).toBe(false);
  });
});

describe('readHistoryFromBranch', () => {
  it('reads a lane from the remote branch without a worktree, with notes for what is not there', () => {
    const { dirs } = setup(2);
    const [a, b] = dirs as [string, string];
    expect(readHistoryFromBranch(b, KEY, 'gemm')).toEqual({
      records: [],
      notes: [`no history branch ${DEFAULT_HISTORY_BRANCH} yet`],
    });
    publishHistory(a, [record('c1'), record('c1', 'tokenizer')]);
    publishHistory(a, [record('c2')]);
    const got = readHistoryFromBranch(b, KEY, 'gemm', { last: 1 });
    expect(got.records.map((r) => r.commit)).toEqual(['c2']);
    expect(got.notes).toEqual([]);
    expect(readHistoryFromBranch(b, 'other_1c_avx2_clang17', 'gemm').notes).toEqual([
      `${DEFAULT_HISTORY_BRANCH}:other_1c_avx2_clang17.jsonl: no history yet for other_1c_avx2_clang17; the history holds other machine classes only (${KEY}), whose numbers are not comparable: no trend chart`,
    ]);
    expect(runGit(['worktree', 'list', '--porcelain'], b).match(/^worktree /gm)).toHaveLength(1);
  });
});

describe('tokenAuthEnv', () => {
  it('hands git the token through the environment, never in the arguments an error quotes', () => {
    const token = 'ghs_sEcReT0123456789';
    const env = tokenAuthEnv(token, 'https://github.example/');
    expect(env.GIT_CONFIG_KEY_1).toBe('http.https://github.example/.extraheader');
    expect(env.GIT_CONFIG_VALUE_0).toBe('');
    expect(
      Buffer.from(String(env.GIT_CONFIG_VALUE_1).replace('AUTHORIZATION: basic ', ''), 'base64').toString(),
    ).toBe(`x-access-token:${token}`);
    const git = gitRunner(env);
    let message = '';
    try {
      git(['push', 'https://github.example/nowhere/nothing.git', 'HEAD:refs/heads/x'], os.tmpdir());
    } catch (e) {
      expect(e).toBeInstanceOf(GitCommandError);
      message = (e as Error).message;
    }
    expect(message).toMatch(/^git push/);
    expect(message).not.toContain(token);
    expect(message).not.toContain(Buffer.from(`x-access-token:${token}`).toString('base64'));
  });
});
