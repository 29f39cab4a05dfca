// Where a report goes, from real webhook payloads: the PR head commit (never the merge commit),
// fork detection, and the triggering run under workflow_run; plus the pure sink decisions.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileLocator } from '../src/sinks/locate.js';
import type { Verdict, VerdictReport } from '../src/model/verdicts.js';
import { resolveContext } from '../src/github/context.js';
import { classifyApiError, describeApiError } from '../src/github/errors.js';
import { commentDecision, findSticky, workflowMarker } from '../src/sinks/comment.js';
import { chunk, checkNames, planChecks } from '../src/sinks/check-plan.js';
import { readActionInputs } from '../src/action/inputs.js';
import { cacheKey } from '../src/action/cache-key.js';
import { pullRequestEvent, workflowRunEvent } from './fake-github/runner.js';

const env = {
  GITHUB_REPOSITORY: 'Codertocat/Hello-World',
  GITHUB_SHA: 'ffffffffffffffffffffffffffffffffffffffff',
  GITHUB_WORKFLOW: 'perf',
  GITHUB_RUN_ID: '7',
};

describe('resolveContext', () => {
  it('puts checks on the PR head, not the merge commit', () => {
    const ctx = resolveContext({ ...env, GITHUB_EVENT_NAME: 'pull_request' }, pullRequestEvent());
    expect(ctx).toMatchObject({
      owner: 'Codertocat',
      repo: 'Hello-World',
      headSha: 'ec26c3e57ca3a959ca5aad62de7213c562f8c821',
      workflow: 'perf',
      pr: { number: 2, fork: false },
      runUrl: 'https://github.com/Codertocat/Hello-World/actions/runs/7',
    });
  });

  it('knows a fork', () => {
    const ctx = resolveContext(
      { ...env, GITHUB_EVENT_NAME: 'pull_request' },
      pullRequestEvent({ fork: true }),
    );
    expect(ctx.pr).toMatchObject({ fork: true, headRepo: 'forker/Hello-World' });
  });

  it('under workflow_run, reports on the triggering run: its head commit and its workflow name', () => {
    const event = workflowRunEvent({
      headSha: 'a'.repeat(40),
      name: 'perf',
      repository: 'Codertocat/Hello-World',
    });
    const ctx = resolveContext(
      { ...env, GITHUB_EVENT_NAME: 'workflow_run', GITHUB_WORKFLOW: 'perf-report' },
      event,
    );
    expect(ctx.headSha).toBe('a'.repeat(40));
    expect(ctx.workflow).toBe('perf');
    expect(ctx.pr).toBeUndefined();
    expect(ctx.triggeringRun).toMatchObject({ name: 'perf', prNumbers: [], headRepo: 'forker/Hello-World' });
  });

  it('uses GITHUB_SHA on a push', () => {
    expect(resolveContext({ ...env, GITHUB_EVENT_NAME: 'push' }, {}).headSha).toBe(env.GITHUB_SHA);
  });

  it('names the variable when the repository is missing', () => {
    expect(() => resolveContext({}, {})).toThrow(/GITHUB_REPOSITORY/);
  });
});

describe('API errors', () => {
  it('classifies a fork 403 and a rate limit, and never shows more than status and message', () => {
    const forbidden = {
      status: 403,
      message: 'x',
      request: { headers: { authorization: 'token ghs_secret' } },
      response: { data: { message: 'Resource not accessible by integration' }, headers: {} },
    };
    expect(classifyApiError(forbidden)).toBe('forbidden');
    expect(describeApiError(forbidden)).toBe('HTTP 403: Resource not accessible by integration');
    expect(classifyApiError({ status: 403, response: { headers: { 'x-ratelimit-remaining': '0' } } })).toBe(
      'rate-limited',
    );
    expect(classifyApiError({ status: 502, response: { headers: {} } })).toBe('server');
  });

  it('tells a rate limit from a refusal: retry-after, the message, or no requests left', () => {
    const at = (status: number, headers: Record<string, string>, message = 'Forbidden') => ({
      status,
      message,
      response: { data: { message }, headers: { 'x-ratelimit-remaining': '4000', ...headers } },
    });
    expect(classifyApiError(at(403, { 'retry-after': '1' }))).toBe('rate-limited');
    expect(classifyApiError(at(403, {}, 'You have exceeded a secondary rate limit.'))).toBe('rate-limited');
    expect(classifyApiError(at(403, { 'x-ratelimit-remaining': '0' }))).toBe('rate-limited');
    expect(classifyApiError(at(429, {}))).toBe('rate-limited');
    expect(classifyApiError(at(403, {}, 'Resource not accessible by integration'))).toBe('forbidden');
    expect(classifyApiError(at(401, {}, 'Bad credentials'))).toBe('unauthorized');
    expect(describeApiError(at(403, { 'retry-after': '1' }))).toBe(
      'HTTP 403: Forbidden (rate limited, retry after 1 s)',
    );
  });

  it('a request without an answer is a timeout or a network error, not an HTTP 500', () => {
    const timeout = Object.assign(new Error('The operation was aborted due to timeout'), { status: 500 });
    expect(classifyApiError(timeout)).toBe('timeout');
    expect(describeApiError(timeout)).toMatch(/^timed out/);
    const reset = Object.assign(new Error('other side closed'), { status: 500 });
    expect(classifyApiError(reset)).toBe('network');
    expect(describeApiError(reset)).toBe('no answer from GitHub: other side closed');
  });

  it('an API message reaches the log as one inert line', () => {
    const e = { status: 422, response: { data: { message: 'bad\n::add-mask::x \u001b[2J ##[error]y' } } };
    const text = describeApiError(e);
    expect(text).not.toContain('\u001b');
    expect(text).not.toContain('##[');
    expect(text).toBe('HTTP 422: bad');
  });
});

describe('sticky comment', () => {
  it('encodes the workflow name so it cannot close the marker', () => {
    expect(workflowMarker('perf --> <b>')).toBe(
      '<!-- infeng-perf-comment workflow="perf%20--%3E%20%3Cb%3E" -->',
    );
  });

  it('finds only its own comment: marker of this workflow and a trusted author', () => {
    const mk = (id: number, workflow: string, login: string) => ({
      id,
      body: `${workflowMarker(workflow)}\nreport`,
      html_url: `u${id}`,
      user: { login },
    });
    const comments = [
      mk(1, 'perf', 'mallory'),
      mk(2, 'other', 'github-actions[bot]'),
      mk(3, 'perf', 'github-actions[bot]'),
    ];
    expect(findSticky(comments, 'perf', ['github-actions[bot]'])?.id).toBe(3);
  });

  it('on-change creates only with news but keeps an existing comment current', () => {
    expect(commentDecision('on-change', false, false).post).toBe(false);
    expect(commentDecision('on-change', false, true).post).toBe(true);
    expect(commentDecision('on-change', true, false).post).toBe(true);
    expect(commentDecision('never', true, true).post).toBe(false);
    expect(commentDecision('always', false, false).post).toBe(true);
  });
});

describe('check plans', () => {
  it('every stable check name completes, also without a report', () => {
    const plans = planChecks(undefined, { mode: 'per-lane', notRun: 'no report' });
    expect(plans.map((p) => p.name)).toEqual(checkNames('per-lane'));
    expect(plans.every((p) => p.conclusion === 'neutral' && p.title === 'not run: no report')).toBe(true);
    expect(planChecks(undefined, { mode: 'none', notRun: '' })).toEqual([]);
    expect(planChecks(undefined, { mode: 'single', notRun: 'x' }).map((p) => p.name)).toEqual([
      'infeng-perf',
    ]);
  });

  it('chunks annotations 50 at a time', () => {
    expect(
      chunk(
        Array.from({ length: 120 }, (_, i) => i),
        50,
      ).map((c) => c.length),
    ).toEqual([50, 50, 20]);
  });
});

describe('action inputs', () => {
  it('reads the INFENG_* variables action.yml sets, with the defaults of action.yml', () => {
    expect(readActionInputs({})).toMatchObject({
      mode: 'gate',
      comment: 'always',
      checkRuns: 'per-lane',
      failOn: 'regression',
      token: '',
    });
    const i = readActionInputs({ INFENG_MODE: 'report', INFENG_LANES: 'gemm', INFENG_REPORTS_DIR: '/tmp/a' });
    expect(i.options).toMatchObject({ lanes: 'gemm', reportsDir: '/tmp/a' });
  });

  it('names the input that is wrong', () => {
    expect(() => readActionInputs({ INFENG_CHECK_RUNS: 'some' })).toThrow(
      /input "check-runs": must be one of per-lane, single, none/,
    );
  });

  it('builds a readable cache key that changes with sources, compiler and machine', () => {
    const k = cacheKey({ sourcesHash: 'ab'.repeat(32), compiler: 'clang 17.0.6', os: 'Linux', arch: 'X64' });
    expect(k).toBe(`infeng-native-Linux-X64-clang-17.0.6-${'ab'.repeat(16)}`);
    expect(
      cacheKey({ sourcesHash: 'ab'.repeat(32), compiler: 'clang 18.1.0', os: 'Linux', arch: 'X64' }),
    ).not.toBe(k);
  });
});

describe('annotation locations', () => {
  it('only a known lane name becomes a path: an artifact cannot point the locator at another file', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'infeng-locate-'));
    const meta = {
      lane: 'gemm',
      hardware: 'AMD EPYC',
      cores: 2,
      path: 'avx2',
      compiler: 'clang 17.0.6',
      compilerMajor: 17,
    };
    const cls = 'amd-epyc_2c_avx2_clang17';
    mkdirSync(path.join(root, 'baselines', cls), { recursive: true });
    writeFileSync(
      path.join(root, 'baselines', cls, 'gemm.json'),
      '{\n  "cases": {\n    "decode/M1": {}\n  }\n}\n',
    );
    writeFileSync(path.join(root, 'secret.json'), 'x\n"decode/M1"\n');
    const report = {
      lanes: ['gemm', '../secret', 'constructor'].map((lane) => ({ lane, baselineMeta: { ...meta, lane } })),
    } as unknown as VerdictReport;
    const locate = fileLocator(path.join(root, 'baselines'), root, report);
    const verdict = (lane: string) =>
      ({ lane, caseId: 'decode/M1', metric: 'm', source: 'baseline' }) as unknown as Verdict;
    expect(locate(verdict('gemm'))).toEqual({ path: `baselines/${cls}/gemm.json`, line: 3 });
    expect(locate(verdict('../secret'))).toBeUndefined();
    // a class folder is built from the slug of the CPU model: no "..", no "/"
    const sneaky = {
      lanes: [{ lane: 'gemm', baselineMeta: { ...meta, hardware: '../../..' } }],
    } as unknown as VerdictReport;
    expect(fileLocator(path.join(root, 'baselines'), root, sneaky)(verdict('gemm'))).toBeUndefined();
    expect(locate(verdict('constructor'))).toBeUndefined();
  });
});
