// The bundled action under the faults a bot meets on GitHub, and under hostile input: rate
// limits (which are not a fork's read-only token), 5xx, connection resets, requests that are
// never answered, a renderer that throws, a compare step that fails and leaves last run's
// verdicts behind, and artifact text that tries to become a workflow command. Whatever
// happens, every check this run started ends `completed`, and no step hangs.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeGitHub, primaryRateLimit, secondaryRateLimit, type Fault } from './fake-github/server.js';
import {
  pullRequestEvent,
  runner,
  step,
  TOKEN,
  workflowRunEvent,
  type Runner,
} from './fake-github/runner.js';
import { makeWorkspace, type Workspace } from './fixtures/action/workspace.js';

type Json = Record<string, unknown>;

const PR_HEAD = 'ec26c3e57ca3a959ca5aad62de7213c562f8c821';
const SLOW = 90_000;
/** short enough that a test waits seconds, long enough for a loaded 2-core runner to answer */
const FAST_GITHUB = { INFENG_GITHUB_TIMEOUT_MS: '2000', INFENG_GITHUB_RETRY_BASE_MS: '100' };
const CHECKS = ['attn-decode-perf', 'attn-prefill-perf', 'gemm-perf', 'sched-zipf-perf', 'tokenizer-perf'];

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

function checksByName(): Record<string, Json> {
  return Object.fromEntries([...gh.checkRuns.values()].map((c) => [c.name as string, c]));
}

function allCompleted(): void {
  const checks = checksByName();
  expect(Object.keys(checks).sort()).toEqual(CHECKS);
  for (const [name, c] of Object.entries(checks)) {
    expect(c.status, name).toBe('completed');
    expect(c.head_sha, name).toBe(PR_HEAD);
  }
}

/**
 * A pull request run whose three lanes (tokenizer, gemm, sched) failed to build, so the lanes
 * step starts their three checks in_progress without any native code.
 */
function measuringRun(ws: Workspace, env: Record<string, string> = {}): Runner {
  writeFileSync(
    path.join(ws.reports, 'build.json'),
    JSON.stringify({ failures: { tokenizer: 'no compiler', gemm: 'no compiler', sched: 'no compiler' } }),
  );
  const r = runner({ apiUrl, root: ws.root, event: pullRequestEvent(), eventName: 'pull_request' });
  Object.assign(r.env, FAST_GITHUB, env);
  return r;
}

function logsOf(...steps: { stdout: string; stderr: string }[]): string {
  return steps.map((s) => s.stdout + s.stderr).join('\n');
}

describe('a rate limit is not a read-only token', { timeout: SLOW }, () => {
  it('waits out a secondary rate limit (403, retry-after, requests left) and goes on starting checks', async () => {
    const ws = makeWorkspace();
    const r = measuringRun(ws);
    gh.faults = [secondaryRateLimit('checks/create', 2, 1)];
    const lanes = await step(r, 'lanes');
    expect(lanes.code, lanes.stderr).toBe(0);
    expect(logsOf(lanes)).not.toMatch(/fork|cannot write/);
    // each lane's output folded in its own log group (here only the line that it did not
    // build), titled with its place in the run
    const groups = lanes.stdout.match(/^::group::\[\d+\/\d+\] [\w-]+$/gm) ?? [];
    expect(groups).toEqual(['::group::[1/3] tokenizer', '::group::[2/3] gemm', '::group::[3/3] sched']);
    expect((lanes.stdout.match(/^::endgroup::$/gm) ?? []).length).toBe(groups.length);
    const state = JSON.parse(readFileSync(path.join(ws.reports, 'checks.json'), 'utf8')) as Json;
    expect(state.forbidden).toBe(false);
    expect(Object.keys(state.ids as Json).sort()).toEqual(['gemm-perf', 'sched-zipf-perf', 'tokenizer-perf']);
    expect(gh.callsTo('checks/create').map((q) => q.status)).toEqual([403, 403, 201, 201, 201]);
    await step(r, 'compare');
    const report = await step(r, 'report');
    expect(report.code, report.stderr).toBe(0);
    allCompleted();
    expect(gh.callsTo('checks/update')).toHaveLength(3); // the started ones, completed in place
  });

  it('takes a 403 with retry-after for a rate limit even when its message does not say so', async () => {
    const ws = makeWorkspace();
    const r = measuringRun(ws);
    gh.faults = [
      {
        operationId: 'checks/create',
        status: 403,
        times: 1,
        message: 'Forbidden',
        headers: { 'retry-after': '1' },
      },
    ];
    const lanes = await step(r, 'lanes');
    expect(logsOf(lanes)).not.toMatch(/fork|cannot write/);
    expect(gh.callsTo('checks/create').map((q) => q.status)).toEqual([403, 201, 201, 201]);
  });

  it('a secondary rate limit that outlasts the retries warns as a rate limit, and the report step still completes every check', async () => {
    const ws = makeWorkspace();
    const r = measuringRun(ws);
    gh.faults = [secondaryRateLimit('checks/create', Infinity, 1)];
    const lanes = await step(r, 'lanes');
    expect(lanes.code, lanes.stderr).toBe(0);
    const log = logsOf(lanes);
    expect(log).toMatch(/::warning::check tokenizer-perf: .*secondary rate limit/);
    expect(log).not.toMatch(/fork|cannot write/);
    const state = JSON.parse(readFileSync(path.join(ws.reports, 'checks.json'), 'utf8')) as Json;
    expect(state.forbidden).toBe(false);

    gh.faults = []; // the limit is over by the time the lanes ran
    await step(r, 'compare');
    const report = await step(r, 'report');
    expect(report.code, report.stderr).toBe(0);
    allCompleted();
    expect(checksByName()['gemm-perf']!.conclusion).toBe('failure');
    expect(checksByName()['attn-decode-perf']!.conclusion).toBe('neutral');
  });

  it('a check started in_progress is completed even when completing it is rate limited through the retries', async () => {
    const ws = makeWorkspace();
    const r = measuringRun(ws);
    expect((await step(r, 'lanes')).code).toBe(0);
    expect([...gh.checkRuns.values()].map((c) => c.status)).toEqual([
      'in_progress',
      'in_progress',
      'in_progress',
    ]);
    await step(r, 'compare');
    gh.faults = [secondaryRateLimit('checks/update', 3, 1)];
    const report = await step(r, 'report');
    expect(report.code, report.stderr).toBe(0);
    expect(logsOf(report)).not.toMatch(/fork|cannot write/);
    allCompleted();
    expect(checksByName()['tokenizer-perf']!.conclusion).toBe('failure');
  });

  it('waits for an exhausted primary limit to reset, and for a 429', async () => {
    const ws = makeWorkspace();
    const r = measuringRun(ws);
    await step(r, 'lanes');
    await step(r, 'compare');
    gh.faults = [
      primaryRateLimit('issues/create-comment', 1, 1),
      { operationId: 'issues/list-comments', status: 429, times: 1, headers: { 'retry-after': '1' } },
    ];
    const report = await step(r, 'report');
    expect(report.code, report.stderr).toBe(0);
    expect(logsOf(report)).not.toMatch(/fork|cannot write/);
    expect(gh.callsTo('issues/create-comment').map((q) => q.status)).toEqual([403, 201]);
    expect(gh.callsTo('issues/list-comments').map((q) => q.status)).toEqual([429, 200]);
    allCompleted();
  });
});

describe('GitHub not answering', { timeout: SLOW }, () => {
  it('times out a request that is never answered and retries it', async () => {
    const ws = makeWorkspace();
    const r = measuringRun(ws);
    await step(r, 'lanes');
    await step(r, 'compare');
    gh.faults = [
      { operationId: 'checks/update', kind: 'hang', times: 1 },
      { operationId: 'issues/list-comments', kind: 'reset', times: 1 },
    ];
    const report = await step(r, 'report');
    expect(report.code, report.stderr).toBe(0);
    expect(logsOf(report)).not.toContain('::warning::');
    allCompleted();
    expect(gh.callsTo('checks/update').map((q) => q.status)).toEqual([0, 200, 200, 200]);
    expect(gh.callsTo('issues/list-comments').map((q) => q.status)).toEqual([0, 200]);
    expect(gh.comments.size).toBe(1);
  });

  it('gives up on an endpoint that never answers with a warning, and the run goes on', async () => {
    const ws = makeWorkspace();
    const r = measuringRun(ws);
    await step(r, 'lanes');
    await step(r, 'compare');
    gh.faults = [{ operationId: 'graphql', kind: 'hang', times: Infinity }];
    const started = Date.now();
    const report = await step(r, 'report');
    expect(report.code, report.stderr).toBe(0);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(logsOf(report)).toMatch(/::warning::comment: cannot look up the token's login.*timed out/);
    expect(gh.callsTo('graphql').length).toBeGreaterThan(1); // retried like a 5xx
    allCompleted();
    expect(gh.comments.size).toBe(1);
  });

  it('a 5xx after N requests: the check that could not be completed is superseded by a completed one', async () => {
    const ws = makeWorkspace();
    const r = measuringRun(ws);
    await step(r, 'lanes');
    await step(r, 'compare');
    // the first completion goes through, then GitHub fails the next four tries (all retries)
    gh.faults = [{ operationId: 'checks/update', status: 502, times: 4, after: 1 }];
    const report = await step(r, 'report');
    expect(report.code, report.stderr).toBe(0);
    allCompleted();
    // the run whose completion kept failing was superseded by a new completed run of its name:
    // 3 started by the lanes step, 2 never started, 1 superseding
    expect(gh.callsTo('checks/create').filter((q) => q.status === 201)).toHaveLength(6);
  });
});

describe('every check this run started completes, whatever happens', { timeout: SLOW }, () => {
  /**
   * A lane error without its message, which the renderer reads: the schema refuses it now
   * (in the measuring run the report step fails on it, in the report workflow the artifact
   * counts as no report); either way every check completes.
   */
  function craftVerdicts(file: string): void {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { lanes: Json[] };
    const sched = doc.lanes.find((l) => l.lane === 'sched')!;
    sched.error = { step: 'run' };
    writeFileSync(file, JSON.stringify(doc));
  }

  it('when rendering throws in the measuring run', async () => {
    const ws = makeWorkspace();
    const r = measuringRun(ws);
    await step(r, 'lanes');
    expect((await step(r, 'compare')).code).toBe(0);
    craftVerdicts(path.join(ws.reports, 'verdicts.json'));
    const report = await step(r, 'report');
    expect(report.code).not.toBe(0); // a crash is a crash, but
    allCompleted(); // no required check is left pending
    const checks = checksByName();
    for (const name of ['tokenizer-perf', 'gemm-perf', 'sched-zipf-perf']) {
      expect(checks[name]!.conclusion, name).toBe('failure');
      expect((checks[name]!.output as Json).summary as string).toMatch(/the report step failed/);
    }
    expect(checks['attn-prefill-perf']!.conclusion).toBe('neutral');
  });

  it('when rendering throws on an artifact in the report workflow', async () => {
    const ws = makeWorkspace();
    const r = measuringRun(ws);
    r.env.INFENG_GITHUB_TOKEN = '';
    await step(r, 'lanes');
    await step(r, 'compare');
    await step(r, 'report');
    const artifact = mkdtempSync(path.join(os.tmpdir(), 'infeng-artifact-'));
    for (const f of ['verdicts.json', 'github.json']) {
      writeFileSync(path.join(artifact, f), readFileSync(path.join(ws.reports, f)));
    }
    craftVerdicts(path.join(artifact, 'verdicts.json'));
    const report = runner({
      apiUrl,
      root: ws.root,
      event: workflowRunEvent({ headSha: PR_HEAD, name: 'perf', repository: 'Codertocat/Hello-World' }),
      eventName: 'workflow_run',
      inputs: { mode: 'report', 'reports-dir': artifact },
    });
    Object.assign(report.env, FAST_GITHUB);
    await step(report, 'report');
    allCompleted();
    expect(Object.values(checksByName()).every((c) => c.conclusion === 'failure')).toBe(true);
  });

  const badStates: [string, string][] = [
    ['{}', '{}'],
    ['cut short', '{"schemaVersion": 1, "repository": "Codertocat/Hel'],
  ];
  for (const [what, text] of badStates) {
    it(`when the artifact's github.json is ${what}: refused naming the file, every check completed`, async () => {
      const ws = makeWorkspace();
      const r = measuringRun(ws);
      r.env.INFENG_GITHUB_TOKEN = '';
      await step(r, 'lanes');
      await step(r, 'compare');
      await step(r, 'report');
      const artifact = mkdtempSync(path.join(os.tmpdir(), 'infeng-artifact-'));
      writeFileSync(
        path.join(artifact, 'verdicts.json'),
        readFileSync(path.join(ws.reports, 'verdicts.json')),
      );
      writeFileSync(path.join(artifact, 'github.json'), text);
      const report = runner({
        apiUrl,
        root: ws.root,
        event: workflowRunEvent({ headSha: PR_HEAD, name: 'perf', repository: 'Codertocat/Hello-World' }),
        eventName: 'workflow_run',
        inputs: { mode: 'report', 'reports-dir': artifact },
      });
      Object.assign(report.env, FAST_GITHUB);
      const out = await step(report, 'report');
      expect(out.code).toBe(2);
      expect(logsOf(out)).toContain(`${path.join(artifact, 'github.json')}: `);
      allCompleted();
      for (const c of Object.values(checksByName())) {
        expect(c.conclusion).toBe('failure');
        expect((c.output as Json).summary as string).toMatch(/github\.json/);
      }
    });
  }

  it('when the lanes step died after starting its checks (no results, compare fails)', async () => {
    const ws = makeWorkspace();
    const r = measuringRun(ws);
    expect((await step(r, 'lanes')).code).toBe(0);
    rmSync(path.join(ws.reports, 'results.json')); // as if cancelled before writing it
    expect((await step(r, 'compare')).code).toBe(2);
    const report = await step(r, 'report');
    expect(report.code, report.stderr).toBe(0);
    allCompleted();
    expect(gh.callsTo('checks/update')).toHaveLength(3); // the started ones, in place
    const checks = checksByName();
    for (const name of ['tokenizer-perf', 'gemm-perf', 'sched-zipf-perf']) {
      expect(checks[name]!.conclusion, name).toBe('failure');
    }
    expect((await step(r, 'gate')).code).not.toBe(0);
  });
});

describe("last run's verdicts are never this run's", { timeout: SLOW }, () => {
  it('a compare step that fails before writing makes the gate fail, and the report says there is no report', async () => {
    const ws = makeWorkspace();
    // a first run that passes: the tokenizer lane alone
    const passing = { ...ws.results, lanes: ws.results.lanes.filter((l) => l.lane === 'tokenizer') };
    writeFileSync(path.join(ws.reports, 'results.json'), JSON.stringify(passing));
    const first = runner({ apiUrl, root: ws.root, event: pullRequestEvent(), eventName: 'pull_request' });
    expect((await step(first, 'compare')).code).toBe(0);
    expect((await step(first, 'gate')).code).toBe(0);

    // the next run on the same workspace (a self-hosted runner): its results are unreadable
    writeFileSync(path.join(ws.reports, 'results.json'), '{"schemaVersion": 1, "lanes": [');
    const second = runner({ apiUrl, root: ws.root, event: pullRequestEvent(), eventName: 'pull_request' });
    Object.assign(second.env, FAST_GITHUB, { GITHUB_RUN_ID: '4243' });
    const compare = await step(second, 'compare');
    expect(compare.code).toBe(2);
    const report = await step(second, 'report');
    expect(report.code, report.stderr).toBe(0);
    expect(second.outputs().conclusion).toBe('failure');
    expect(second.summary()).toContain('No report');
    for (const c of Object.values(checksByName())) expect(c.conclusion).not.toBe('success');
    const gate = await step(second, 'gate');
    expect(gate.code).not.toBe(0);
    expect(logsOf(gate)).toMatch(/no verdicts.json of this run: the compare step did not run or failed/);
  });
});

describe('artifact text in the log', { timeout: SLOW }, () => {
  const lines = (text: string) => text.split(/\r?\n/);

  it('a JSON parse error that echoes the file does not start a workflow command', async () => {
    const ws = makeWorkspace();
    writeFileSync(path.join(ws.reports, 'results.json'), '\n::add-mask::pwned\u001b[2J\r::error::x');
    const r = runner({ apiUrl, root: ws.root, event: pullRequestEvent(), eventName: 'pull_request' });
    const compare = await step(r, 'compare');
    expect(compare.code).toBe(2);
    const out = logsOf(compare);
    expect(out).toContain('not valid JSON');
    expect(out).not.toContain('\u001b');
    expect(out).not.toContain('\r');
    for (const line of lines(out)) expect(line).not.toMatch(/^\s*::(add-mask|error)/);
  });

  it("a lane's name and an API message reach the log as one inert line", async () => {
    const ws = makeWorkspace();
    const hostile = structuredClone(ws.results);
    (hostile.lanes[2] as { lane: string }).lane = '::add-mask::x\u001b]8;;http://evil\u0007';
    writeFileSync(path.join(ws.reports, 'results.json'), JSON.stringify(hostile));
    const r = runner({ apiUrl, root: ws.root, event: pullRequestEvent(), eventName: 'pull_request' });
    Object.assign(r.env, FAST_GITHUB);
    gh.faults = [
      {
        operationId: 'issues/create-comment',
        status: 422,
        times: 1,
        message: 'Validation Failed \u001b[31mred\u001b[0m ##[error]legacy',
      },
    ];
    const compare = await step(r, 'compare');
    const report = await step(r, 'report');
    const out = logsOf(compare, report);
    expect(out).not.toContain(TOKEN);
    expect(out).not.toContain('\u001b');
    expect(out).not.toContain('##[error]');
    for (const line of lines(out)) expect(line).not.toMatch(/^\s*::add-mask/);
  });
});

describe('the token and the pull request code', { timeout: SLOW }, () => {
  it('the checks step starts every check; the lanes step runs without a token and starts none; all complete', async () => {
    const ws = makeWorkspace();
    const r = measuringRun(ws);
    const checks = await step(r, 'checks');
    expect(checks.code, checks.stderr).toBe(0);
    expect(gh.callsTo('checks/create')).toHaveLength(3);
    for (const c of Object.values(checksByName())) expect(c.status).toBe('in_progress');
    // as action.yml runs it: no token in the step that runs the lanes (the PR's code)
    const lanes = await step(r, 'lanes', { INFENG_GITHUB_TOKEN: '' });
    expect(lanes.code, lanes.stderr).toBe(0);
    expect(gh.callsTo('checks/create')).toHaveLength(3);
    await step(r, 'compare');
    const report = await step(r, 'report');
    expect(report.code, report.stderr).toBe(0);
    // the three started checks were completed in place, the two others created completed
    expect(gh.callsTo('checks/create')).toHaveLength(5);
    allCompleted();
  });
});

// Every kind of failure GitHub has, at each call a pull request run makes, for the whole run:
// nothing may stay in_progress, the job summary is always written, and no sink failure fails a
// step. A check GitHub never let us create cannot be completed; every one it did create is.
describe('every fault at every call', { timeout: 240_000 }, () => {
  const OPERATIONS = [
    'checks/create',
    'checks/update',
    'graphql',
    'issues/list-comments',
    'issues/create-comment',
  ];
  const FAULTS: Record<string, (op: string) => Fault> = {
    'secondary rate limit': (op) => secondaryRateLimit(op, 3, 1),
    '5xx': (op) => ({ operationId: op, status: 502, times: Infinity, message: 'Bad Gateway' }),
    hang: (op) => ({ operationId: op, kind: 'hang', times: 2 }),
    reset: (op) => ({ operationId: op, kind: 'reset', times: Infinity }),
    '403': (op) => ({
      operationId: op,
      status: 403,
      times: Infinity,
      message: 'Resource not accessible by integration',
    }),
  };
  for (const op of OPERATIONS) {
    for (const [name, fault] of Object.entries(FAULTS)) {
      it(`${name} at ${op}`, async () => {
        const ws = makeWorkspace();
        const r = measuringRun(ws);
        gh.faults = [fault(op)];
        const checks = await step(r, 'checks');
        const lanes = await step(r, 'lanes', { INFENG_GITHUB_TOKEN: '' });
        const compare = await step(r, 'compare');
        const report = await step(r, 'report');
        for (const s of [checks, lanes, compare, report]) expect(s.code, s.stderr).toBe(0);
        for (const [check, c] of Object.entries(checksByName())) {
          expect(c.status, `${check} after ${name} at ${op}`).toBe('completed');
          expect(c.head_sha).toBe(PR_HEAD);
        }
        expect(r.summary()).toContain('infeng perf');
        expect(logsOf(checks, lanes, compare, report)).not.toContain(TOKEN);
      });
    }
  }
});
