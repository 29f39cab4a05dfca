// The history steps of the bundled action, with the real git: a bare repository in a temporary
// folder is the workspace's "origin". A push to the default branch records (and loses a race
// to another run on the way, through a git wrapper that pushes a competing record first); a
// pull request reads the history into its comment's trend charts and never writes it; a
// missing or damaged history is a note, never a lost report.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeGitHub } from './fake-github/server.js';
import { pullRequestEvent, runner, step, TOKEN, type Runner } from './fake-github/runner.js';
import { makeWorkspace } from './fixtures/action/workspace.js';
import { DEFAULT_HISTORY_BRANCH, publishHistory, runGit } from '../src/history/git-branch.js';
import { recordsFromResults } from '../src/history/store.js';
import type { HistoryRecord } from '../src/model/history.js';
import type { RunResults } from '../src/model/results.js';

type Json = Record<string, unknown>;
const SLOW = 120_000;
const ID = ['-c', 'user.name=test', '-c', 'user.email=test@example.invalid'];
const cli = path.resolve(__dirname, '..', 'dist', 'index.js');

let gh: FakeGitHub;
let apiUrl: string;

beforeEach(async () => {
  gh = new FakeGitHub();
  apiUrl = await gh.start();
});

afterEach(async () => {
  await gh.stop();
  expect(gh.problems).toEqual([]);
});

/** The workspace as a clone of a bare origin, its HEAD the commit results.json names. */
function gitWorkspace() {
  const ws = makeWorkspace();
  const top = mkdtempSync(path.join(os.tmpdir(), 'infeng-action-history-'));
  const origin = path.join(top, 'origin.git');
  runGit(['init', '--quiet', '--bare', '--initial-branch=master', origin], top);
  runGit(['init', '--quiet', '--initial-branch=master'], ws.root);
  writeFileSync(path.join(ws.root, '.gitignore'), 'reports/\nbuild/\n');
  runGit(['add', '.'], ws.root);
  runGit([...ID, 'commit', '--quiet', '-m', 'code'], ws.root);
  runGit(['remote', 'add', 'origin', origin], ws.root);
  runGit(['push', '--quiet', 'origin', 'master'], ws.root);
  return { ...ws, origin, top };
}

function pushEvent(): Json {
  return {
    ref: 'refs/heads/master',
    after: 'c0ffee0000000000000000000000000000000000',
    repository: { full_name: 'Codertocat/Hello-World', default_branch: 'master' },
  };
}

function branchRecords(origin: string, file: string): HistoryRecord[] {
  return runGit(['show', `${DEFAULT_HISTORY_BRANCH}:${file}`], origin)
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as HistoryRecord);
}

function branchTip(origin: string): string | undefined {
  try {
    return runGit(['rev-parse', '--verify', `refs/heads/${DEFAULT_HISTORY_BRANCH}`], origin);
  } catch {
    return undefined;
  }
}

/** Earlier default-branch commits of the same machine class: gemm's fused GFLOP/s level. */
function seed(dir: string, results: RunResults, commits: number): void {
  const records: HistoryRecord[] = [];
  for (let i = 0; i < commits; i++) {
    const r = recordsFromResults({
      ...results,
      machine: {
        ...results.machine,
        commit: `aaaa${i.toString(16).padStart(3, '0')}`,
        time: '2025-03-01T00:00:00Z',
      },
    });
    records.push(...r);
  }
  publishHistory(dir, records);
}

/** A `git` on PATH that, on the first push, lets another run's record land first. */
function racingGit(top: string, competitor: string): string {
  const bin = path.join(top, 'bin');
  mkdirSync(bin);
  const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
  const marker = path.join(top, 'raced');
  writeFileSync(
    path.join(bin, 'git'),
    `#!/bin/sh
if [ "$1" = push ] && [ ! -e "${marker}" ]; then
  touch "${marker}"
  "${process.execPath}" "${cli}" history record --root "${competitor}" --history-branch ${DEFAULT_HISTORY_BRANCH} >&2 || exit 99
fi
exec "${realGit}" "$@"
`,
  );
  chmodSync(path.join(bin, 'git'), 0o755);
  return bin;
}

describe('history steps of the action', { timeout: SLOW }, () => {
  it('a push to the default branch records its results per machine class, after losing a race', async () => {
    const ws = gitWorkspace();
    // another default-branch run, of another commit, finishing at the same moment
    const other = path.join(ws.top, 'other');
    runGit(['clone', '--quiet', ws.origin, other], ws.top);
    mkdirSync(path.join(other, 'reports'));
    writeFileSync(
      path.join(other, 'reports', 'results.json'),
      JSON.stringify({ ...ws.results, machine: { ...ws.results.machine, commit: 'beef001' } }),
    );
    const bin = racingGit(ws.top, other);
    const r = runner({ apiUrl, root: ws.root, event: pushEvent(), eventName: 'push' });
    r.env.GITHUB_REF = 'refs/heads/master';
    const env = { PATH: `${bin}:${process.env.PATH}` };

    const read = await step(r, 'history-read', env);
    expect(read.code, read.stderr).toBe(0);
    for (const phase of ['compare', 'report']) {
      const s = await step(r, phase, env);
      expect(s.code, s.stderr).toBe(0);
    }
    const rec = await step(r, 'history-record', env);
    expect(rec.code, rec.stderr).toBe(0);
    expect(rec.stdout + rec.stderr).not.toContain(TOKEN);
    expect(rec.stdout).toMatch(
      /history: recorded gemm, tokenizer at c0ffee0 on infeng-perf-history \([0-9a-f]{12}, attempt 2\)/,
    );

    // nothing lost: the competitor's records, then this run's, in the class file
    const files = runGit(['ls-tree', '--name-only', DEFAULT_HISTORY_BRANCH], ws.origin).split('\n');
    expect(files).toEqual(['amd-epyc-7763-64-core-processor_4c_avx2_clang17.jsonl']);
    const records = branchRecords(ws.origin, files[0] as string);
    expect(records.map((x) => `${x.commit} ${x.lane}`)).toEqual([
      'beef001 tokenizer',
      'beef001 gemm',
      'c0ffee0 tokenizer',
      'c0ffee0 gemm',
    ]);
    // the crashed sched lane is not history
    expect(records.some((x) => x.lane === 'sched')).toBe(false);
    const summary = r.summary();
    expect(summary).toContain('### infeng perf history');
    expect(summary).toContain('after 1 concurrent push(es)');
    expect(summary).toMatch(
      /No change of level stands in the history \(commits per lane: tokenizer 2, gemm 2\)/,
    );
  });

  it('a pull request draws the history in its comment and never writes it; a damaged line is a note', async () => {
    const ws = gitWorkspace();
    seed(ws.root, ws.results, 5);
    // a damaged line on the branch, as a bad hand edit would leave it
    const editor = path.join(ws.top, 'editor');
    runGit(['clone', '--quiet', '--branch', DEFAULT_HISTORY_BRANCH, ws.origin, editor], ws.top);
    const file = 'amd-epyc-7763-64-core-processor_4c_avx2_clang17.jsonl';
    writeFileSync(path.join(editor, file), `${readFileSync(path.join(editor, file), 'utf8')}{"cut short\n`);
    runGit([...ID, 'commit', '--quiet', '-am', 'damage'], editor);
    runGit(['push', '--quiet', 'origin', DEFAULT_HISTORY_BRANCH], editor);
    const tip = branchTip(ws.origin);

    const r: Runner = runner({ apiUrl, root: ws.root, event: pullRequestEvent(), eventName: 'pull_request' });
    r.env.GITHUB_REF = 'refs/pull/2/merge';
    for (const phase of ['history-read', 'compare', 'report', 'history-record']) {
      const s = await step(r, phase);
      expect(s.code, `${phase}: ${s.stderr}`).toBe(0);
      if (phase === 'history-record')
        expect(s.stdout).toContain('history: not recorded: the event is pull_request, not push');
    }
    expect(branchTip(ws.origin)).toBe(tip);

    const comment = [...gh.comments.values()].map((c) => c.data.body as string)[0] ?? '';
    expect(comment).toContain('### Trends');
    expect(comment).toContain('```mermaid\nxychart-beta');
    expect(comment).toMatch(/x-axis \["aaaa000", .*"PR-c0ffee0"\]/);
    expect(comment).toMatch(/line 11: not JSON, skipped/);
    // the job summary carries the same charts
    expect(r.summary()).toContain('xychart-beta');
  });

  it('without a data branch, or with charts off, the report goes on without trends and says why', async () => {
    const ws = gitWorkspace();
    const r = runner({
      apiUrl,
      root: ws.root,
      event: pullRequestEvent(),
      eventName: 'pull_request',
    });
    for (const phase of ['history-read', 'compare', 'report']) {
      const s = await step(r, phase);
      expect(s.code, s.stderr).toBe(0);
    }
    const comment = [...gh.comments.values()].map((c) => c.data.body as string)[0] ?? '';
    expect(comment).not.toContain('```mermaid');
    expect(comment).toContain('history: no data branch infeng-perf-history yet');

    // an origin that cannot be reached: a warning and a note, the report is still posted
    runGit(['remote', 'set-url', 'origin', path.join(ws.top, 'nowhere.git')], ws.root);
    const r2 = runner({ apiUrl, root: ws.root, event: pullRequestEvent(), eventName: 'pull_request' });
    const read = await step(r2, 'history-read');
    expect(read.code).toBe(0);
    expect(read.stdout).toMatch(/::warning::history: the data branch infeng-perf-history could not be read/);
    for (const phase of ['compare', 'report']) expect((await step(r2, phase)).code).toBe(0);
    expect(r2.summary()).toMatch(/could not be read .*no trends in this report/);
  });

  it('charts off: a history is read, and the comment has the tables only', async () => {
    const ws = gitWorkspace();
    seed(ws.root, ws.results, 3);
    const r = runner({
      apiUrl,
      root: ws.root,
      event: pullRequestEvent(),
      eventName: 'pull_request',
      inputs: { charts: 'false' },
    });
    for (const phase of ['history-read', 'compare', 'report']) expect((await step(r, phase)).code).toBe(0);
    const comment = [...gh.comments.values()].map((c) => c.data.body as string)[0] ?? '';
    expect(comment).toContain('| check | result | summary |');
    expect(comment).not.toContain('```mermaid');
  });
});
