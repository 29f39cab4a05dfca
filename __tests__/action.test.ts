// The bundled action (dist/index.js), step by step as action.yml runs it, against a loopback
// GitHub that validates every request and response against GitHub's OpenAPI description,
// with real webhook payloads. No GitHub and no native build needed: the run starts from a
// crafted reports/results.json (a passing, a regressed and a crashed lane).
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeGitHub, COMMENT_MAX } from './fake-github/server.js';
import {
  pullRequestEvent,
  runner,
  step,
  TOKEN,
  workflowRunEvent,
  type Runner,
} from './fake-github/runner.js';
import { EVIL_CASE, extraCaseId, makeWorkspace } from './fixtures/action/workspace.js';

type Json = Record<string, unknown>;

const PR_HEAD = 'ec26c3e57ca3a959ca5aad62de7213c562f8c821'; // head.sha of the example payload
const PR_NUMBER = 2;
/** Octokit's throttling spaces writes 1 s apart, as GitHub asks of bots: a run takes seconds. */
const SLOW = 90_000;
// the class folder of the workspace's gemm baseline (the fixtures' AMD EPYC 7763, 4 cores, avx2, clang 17)
const GEMM_CLASS = 'amd-epyc-7763-64-core-processor_4c_avx2_clang17';

let gh: FakeGitHub;
let apiUrl: string;

beforeEach(async () => {
  gh = new FakeGitHub();
  apiUrl = await gh.start();
});

afterEach(async () => {
  await gh.stop();
  // every request the bot made, and every answer the fake gave, matched GitHub's schemas
  expect(gh.problems).toEqual([]);
});

/** compare → report → gate, as action.yml runs them after the lanes. */
async function runSteps(r: Runner) {
  const compare = await step(r, 'compare');
  expect(compare.code, compare.stderr).toBe(0);
  const report = await step(r, 'report');
  expect(report.code, report.stderr).toBe(0);
  const gate = await step(r, 'gate');
  const logs = [compare, report, gate].map((s) => s.stdout + s.stderr).join('\n');
  expect(logs).not.toContain(TOKEN);
  return { compare, report, gate, logs };
}

function lineOf(file: string, needle: string): number {
  return (
    readFileSync(file, 'utf8')
      .split('\n')
      .findIndex((l) => l.includes(needle)) + 1
  );
}

function checksByName(): Record<string, Json> {
  return Object.fromEntries([...gh.checkRuns.values()].map((c) => [c.name as string, c]));
}

function botComments(): Json[] {
  return [...gh.comments.values()].map((c) => c.data);
}

describe('a pull request from the same repository', { timeout: SLOW }, () => {
  it('creates the sticky comment and one completed check per lane on the PR head, then updates the same comment', async () => {
    const ws = makeWorkspace();
    const r = runner({ apiUrl, root: ws.root, event: pullRequestEvent(), eventName: 'pull_request' });
    const first = await runSteps(r);

    // the gate fails on the regressed and the crashed lane, from the verdicts alone
    expect(first.gate.code).toBe(1);
    expect(first.gate.stdout + first.gate.stderr).toMatch(/::error::gate: gemm-perf, sched-zipf-perf failed/);

    const checks = checksByName();
    expect(Object.keys(checks).sort()).toEqual([
      'attn-decode-perf',
      'attn-prefill-perf',
      'gemm-perf',
      'sched-zipf-perf',
      'tokenizer-perf',
    ]);
    for (const c of Object.values(checks)) {
      expect(c.head_sha).toBe(PR_HEAD); // never the merge commit in GITHUB_SHA
      expect(c.status).toBe('completed');
    }
    expect(checks['tokenizer-perf']!.conclusion).toBe('success');
    expect(checks['gemm-perf']!.conclusion).toBe('failure');
    expect(checks['sched-zipf-perf']!.conclusion).toBe('failure');
    expect(checks['attn-prefill-perf']!.conclusion).toBe('neutral');
    expect(checks['attn-decode-perf']!.conclusion).toBe('neutral');
    expect((checks['attn-decode-perf']!.output as Json).title).toMatch(/^not run: not selected/);
    expect((checks['sched-zipf-perf']!.output as Json).summary).toContain('failed at the run step');

    // the regression and the missed gate point at the baseline entry and the gate in rules.yml
    const gemmCreate = gh.callsTo('checks/create').find((q) => (q.body as Json).name === 'gemm-perf')!;
    const annotations = ((gemmCreate.body as Json).output as Json).annotations as Json[];
    expect(annotations.map((a) => `${a.path}:${a.start_line}`).sort()).toEqual([
      `baselines/${GEMM_CLASS}/gemm.json:${lineOf(path.join(ws.root, 'baselines', GEMM_CLASS, 'gemm.json'), '"decode/M1/H2048/r16"')}`,
      `baselines/${GEMM_CLASS}/gemm.json:${lineOf(path.join(ws.root, 'baselines', GEMM_CLASS, 'gemm.json'), '"prefill/M128/H2048/r16"')}`,
      `baselines/rules.yml:${lineOf(path.join(ws.root, 'baselines', 'rules.yml'), 'name: lora-tax-prefill')}`,
    ]);
    expect(annotations.every((a) => a.annotation_level === 'failure')).toBe(true);

    const comments = botComments();
    expect(comments).toHaveLength(1);
    const body = comments[0]!.body as string;
    expect(body.startsWith('<!-- infeng-perf-comment workflow="perf" -->\n<!-- infeng-perf-report -->')).toBe(
      true,
    );
    const outputs = r.outputs();
    expect(outputs).toMatchObject({ conclusion: 'failure', 'comment-url': comments[0]!.html_url });
    expect(Number(outputs.regressions)).toBeGreaterThanOrEqual(2);
    expect(outputs['report-path']).toBe(path.join(ws.root, 'reports', 'report.md'));
    expect(r.summary()).toContain('<!-- infeng-perf-report -->');
    expect(r.summary()).toContain('- comment: created');
    await expect(body).toMatchFileSnapshot('__snapshots__/action-comment.md');

    // second run on a new push: the same comment is edited, no second one appears
    const second = runner({ apiUrl, root: ws.root, event: pullRequestEvent(), eventName: 'pull_request' });
    await runSteps(second);
    expect(botComments()).toHaveLength(1);
    expect(gh.callsTo('issues/create-comment')).toHaveLength(1);
    expect(gh.callsTo('issues/update-comment')).toHaveLength(0); // same body: nothing to edit
    expect(second.outputs()['comment-url']).toBe(comments[0]!.html_url);

    const changed = structuredClone(ws.results);
    changed.machine.time = '2025-03-21T12:00:00Z'; // one day later: the headline changes
    writeFileSync(path.join(ws.reports, 'results.json'), JSON.stringify(changed));
    const third = runner({ apiUrl, root: ws.root, event: pullRequestEvent(), eventName: 'pull_request' });
    await runSteps(third);
    expect(botComments()).toHaveLength(1);
    expect(gh.callsTo('issues/update-comment')).toHaveLength(1);
    expect(third.summary()).toContain('- comment: updated');
  });

  it("keeps one comment under a GitHub App's token, which comments as its own bot", async () => {
    gh.botLogin = 'infeng-perf[bot]'; // an installation token: ghs_ like GITHUB_TOKEN, another login
    const ws = makeWorkspace();
    const pr = () => runner({ apiUrl, root: ws.root, event: pullRequestEvent(), eventName: 'pull_request' });
    await runSteps(pr());
    const changed = structuredClone(ws.results);
    changed.machine.time = '2025-03-21T12:00:00Z';
    writeFileSync(path.join(ws.reports, 'results.json'), JSON.stringify(changed));
    await runSteps(pr());
    expect(botComments()).toHaveLength(1);
    expect(botComments()[0]!.user).toMatchObject({ login: 'infeng-perf[bot]' });
    expect(gh.callsTo('issues/update-comment')).toHaveLength(1);
    expect(gh.callsTo('graphql')).toHaveLength(2);

    // the lookup failing is a warning; the run still reports
    gh.faults.push({ operationId: 'graphql', status: 401, times: 1, message: 'Bad credentials' });
    changed.machine.time = '2025-03-22T12:00:00Z';
    writeFileSync(path.join(ws.reports, 'results.json'), JSON.stringify(changed));
    const third = await runSteps(pr());
    expect(third.logs).toMatch(/cannot look up the token's login, assuming github-actions\[bot\]: .*401/);
  });
});

describe('a pull request from a fork', { timeout: SLOW }, () => {
  it('falls back to the job summary and the artifact when the token cannot write, then the report workflow posts on the head commit', async () => {
    const ws = makeWorkspace();
    // a fork's GITHUB_TOKEN is read-only: reads work, writes are refused
    gh.faults = [
      { operationId: 'checks/create', status: 403, times: Infinity },
      { operationId: 'issues/create-comment', status: 403, times: Infinity },
    ];
    const r = runner({
      apiUrl,
      root: ws.root,
      event: pullRequestEvent({ fork: true }),
      eventName: 'pull_request',
    });
    const gate = await runSteps(r);

    expect(gate.report.stderr + gate.report.stdout).toMatch(
      /::warning::check tokenizer-perf: HTTP 403: Resource not accessible by integration: the token cannot write here/,
    );
    expect(gate.report.stderr + gate.report.stdout).toMatch(/::warning::comment: HTTP 403/);
    // after the first refusal no more check runs are tried
    expect(gh.callsTo('checks/create')).toHaveLength(1);
    expect(gate.gate.code).toBe(1); // the verdicts still fail the gate
    expect(r.summary()).toContain('<!-- infeng-perf-report -->');
    expect(r.summary()).toMatch(/- comment: not posted: HTTP 403/);
    expect(r.outputs()).toMatchObject({ conclusion: 'failure', 'comment-url': '' });
    const claims = JSON.parse(readFileSync(path.join(ws.reports, 'github.json'), 'utf8')) as Json;
    expect(claims).toMatchObject({
      pr: PR_NUMBER,
      headSha: PR_HEAD,
      posted: { comment: false, checks: false },
    });

    // perf-report (workflow_run, write token): downloads the artifact and posts it
    gh.faults = [];
    gh.pulls.set(PR_NUMBER, { headSha: PR_HEAD, headRepo: 'forker/Hello-World' });
    const artifact = downloadArtifact(ws.reports);
    const event = workflowRunEvent({ headSha: PR_HEAD, name: 'perf', repository: 'Codertocat/Hello-World' });
    const report = runner({
      apiUrl,
      root: ws.root,
      event,
      eventName: 'workflow_run',
      inputs: { mode: 'report', 'reports-dir': artifact },
    });
    report.env.GITHUB_WORKFLOW = 'perf-report';
    report.env.GITHUB_SHA = '0000000000000000000000000000000000000000'; // the default branch
    const posted = await step(report, 'report');
    expect(posted.code, posted.stderr).toBe(0);
    expect(posted.stdout + posted.stderr).not.toContain(TOKEN);

    expect(gh.callsTo('pulls/get')).toHaveLength(1); // the artifact's PR number was checked
    const checks = checksByName();
    expect(Object.keys(checks)).toHaveLength(5);
    for (const c of Object.values(checks)) expect(c.head_sha).toBe(PR_HEAD);
    expect(checks['gemm-perf']!.conclusion).toBe('failure');
    expect(checks['attn-prefill-perf']!.conclusion).toBe('neutral');
    const comments = botComments();
    expect(comments).toHaveLength(1);
    // named after the measuring workflow, so a later same-repository run edits this comment
    expect(comments[0]!.body as string).toMatch(/^<!-- infeng-perf-comment workflow="perf" -->/);
    expect(report.outputs()['comment-url']).toBe(comments[0]!.html_url);
  });

  it('does not comment on a pull request the artifact names when its head is another commit', async () => {
    const ws = makeWorkspace();
    const r = runner({
      apiUrl,
      root: ws.root,
      event: pullRequestEvent({ fork: true }),
      eventName: 'pull_request',
    });
    r.env.INFENG_GITHUB_TOKEN = ''; // no token at all: summary and outputs only
    await runSteps(r);
    expect(gh.requests).toHaveLength(0);
    expect(r.summary()).toContain('no github-token');

    // a tampered artifact aims at PR 7, whose head is not the measured commit
    const artifact = downloadArtifact(ws.reports);
    const claims = JSON.parse(readFileSync(path.join(artifact, 'github.json'), 'utf8')) as Json;
    writeFileSync(path.join(artifact, 'github.json'), JSON.stringify({ ...claims, pr: 7 }));
    gh.pulls.set(7, { headSha: '1111111111111111111111111111111111111111', headRepo: 'victim/Hello-World' });
    const report = runner({
      apiUrl,
      root: ws.root,
      event: workflowRunEvent({ headSha: PR_HEAD, name: 'perf', repository: 'Codertocat/Hello-World' }),
      eventName: 'workflow_run',
      inputs: { mode: 'report', 'reports-dir': artifact },
    });
    const posted = await step(report, 'report');
    expect(posted.code).toBe(0);
    expect(posted.stdout + posted.stderr).toMatch(
      /::warning::comment: the report artifact names pull request #7/,
    );
    expect(botComments()).toHaveLength(0);
    expect(Object.keys(checksByName())).toHaveLength(5); // the checks still complete
  });

  it('completes every check as failed when the measuring run left no report', async () => {
    const ws = makeWorkspace();
    const empty = mkdtempSync(path.join(os.tmpdir(), 'infeng-artifact-'));
    const report = runner({
      apiUrl,
      root: ws.root,
      event: workflowRunEvent({ headSha: PR_HEAD, name: 'perf', repository: 'Codertocat/Hello-World' }),
      eventName: 'workflow_run',
      inputs: { mode: 'report', 'reports-dir': empty },
    });
    const posted = await step(report, 'report');
    expect(posted.code, posted.stderr).toBe(0);
    const checks = Object.values(checksByName());
    expect(checks).toHaveLength(5);
    expect(checks.every((c) => c.conclusion === 'failure' && c.head_sha === PR_HEAD)).toBe(true);
    expect(report.summary()).toContain('No report: the perf run ended failure');
    expect(report.outputs().conclusion).toBe('failure');
    expect(botComments()).toHaveLength(0);
  });
});

describe('GitHub having a bad moment', { timeout: SLOW }, () => {
  it('retries a 5xx and still completes every check and the comment', async () => {
    const ws = makeWorkspace();
    gh.faults = [
      { operationId: 'checks/create', status: 502, times: 1 },
      { operationId: 'issues/list-comments', status: 503, times: 1 },
    ];
    const r = runner({ apiUrl, root: ws.root, event: pullRequestEvent(), eventName: 'pull_request' });
    const { report } = await runSteps(r);
    expect(report.stdout + report.stderr).not.toContain('::warning::');
    expect(gh.callsTo('checks/create').map((q) => q.status)).toEqual([502, 201, 201, 201, 201, 201]);
    expect(gh.callsTo('issues/list-comments').map((q) => q.status)).toEqual([503, 200]);
    expect(Object.keys(checksByName())).toHaveLength(5);
    expect(botComments()).toHaveLength(1);
  });
});

describe('what the comment may contain', { timeout: SLOW }, () => {
  it(
    'keeps a report over the size limit under GitHub’s limits, whole sections left out with a note',
    { timeout: 120_000 },
    async () => {
      const ws = makeWorkspace({ extraCases: 200 });
      const r = runner({ apiUrl, root: ws.root, event: pullRequestEvent(), eventName: 'pull_request' });
      await runSteps(r);
      const body = botComments()[0]!.body as string;
      expect(body.length).toBeLessThanOrEqual(COMMENT_MAX);
      expect(body).toContain('**Report shortened** to fit 65,000 characters: left out the changes table');
      expect(body).toContain(
        'The full report is in the job summary and the report artifact of https://github.com/Codertocat/Hello-World/actions/runs/4242.',
      );
      expect(body).not.toContain('decode/M200/H4096/r64');
      // the job summary and report-full.md (in the artifact) have room for all of it
      expect(r.summary().length).toBeGreaterThan(COMMENT_MAX);
      expect(r.summary()).toContain('decode/M200/H4096/r64');
      expect(readFileSync(path.join(ws.reports, 'report-full.md'), 'utf8')).toContain(
        'decode/M200/H4096/r64',
      );
      // 603 regressions: the first 50 annotations complete the check, updates append the rest
      const gemm = checksByName()['gemm-perf']!;
      expect((gemm.output as Json).annotations_count).toBe(603);
      const batches = gh
        .callsTo('checks/update')
        .map((q) => (((q.body as Json).output as Json).annotations as unknown[]).length);
      const created = gh.callsTo('checks/create').find((q) => (q.body as Json).name === 'gemm-perf')!;
      expect((((created.body as Json).output as Json).annotations as unknown[]).length).toBe(50);
      expect(batches).toEqual([...Array<number>(11).fill(50), 3]);
      expect(((gemm.output as Json).summary as string).length).toBeLessThanOrEqual(65_535);
    },
  );

  it('the fake GitHub refuses what GitHub refuses: a check summary over 65,535 bytes, an annotation title over 255 characters', async () => {
    const post = (output: Json) =>
      fetch(`${apiUrl}/repos/Codertocat/Hello-World/check-runs`, {
        method: 'POST',
        headers: {
          authorization: `token ${TOKEN}`,
          accept: 'application/vnd.github+json',
          'content-type': 'application/json',
        },
        body: JSON.stringify({ name: 'gemm-perf', head_sha: PR_HEAD, output }),
      });
    // 30,000 characters, 90,000 bytes: under a budget in characters, over GitHub's in bytes
    const r1 = await post({ title: 't', summary: '汉'.repeat(30_000) });
    expect(r1.status).toBe(422);
    const annotation = { path: 'a', start_line: 1, end_line: 1, annotation_level: 'failure', message: 'm' };
    const r2 = await post({
      title: 't',
      summary: 's',
      annotations: [{ ...annotation, title: 'x'.repeat(256) }],
    });
    expect(r2.status).toBe(422);
    const r3 = await post({ title: 't', summary: '汉'.repeat(21_000) });
    expect(r3.status).toBe(201);
    expect(gh.problems).toEqual([
      "output.summary of 90000 bytes is over GitHub's 65535",
      "output.annotations[0].title of 256 characters is over GitHub's 255",
    ]);
    gh.problems.length = 0;
  });

  it(
    'thousands of CJK case names: check runs within 65,535 bytes and the job summary within 1 MiB (GitHub counts bytes); report-full.md whole',
    { timeout: 180_000 },
    async () => {
      const extra = 1200;
      const ws = makeWorkspace({ extraCases: extra, cjk: true });
      const r = runner({ apiUrl, root: ws.root, event: pullRequestEvent(), eventName: 'pull_request' });
      await runSteps(r);
      // the fake refuses (422) and records any body over GitHub's limits; afterEach wants none
      expect(gh.problems).toEqual([]);
      for (const c of Object.values(checksByName())) {
        expect(c.status).toBe('completed');
        expect(Buffer.byteLength((c.output as Json).summary as string)).toBeLessThanOrEqual(65_535);
      }
      expect(checksByName()['gemm-perf']!.conclusion).toBe('failure');
      expect((botComments()[0]!.body as string).length).toBeLessThanOrEqual(COMMENT_MAX);
      expect(Buffer.byteLength(r.summary())).toBeLessThanOrEqual(1_048_576);
      expect(r.summary()).toMatch(/Report shortened\*\* to fit [\d,]+ bytes/);
      const full = readFileSync(path.join(ws.reports, 'report-full.md'), 'utf8');
      expect(Buffer.byteLength(full)).toBeGreaterThan(1_048_576);
      expect(full).not.toMatch(/Report shortened/);
      const missing = Array.from({ length: extra }, (_, i) => extraCaseId(i, true)).filter(
        (id) => !full.includes(id),
      );
      expect(missing).toEqual([]);
    },
  );

  it('neutralises Markdown and HTML in a case name', async () => {
    const ws = makeWorkspace();
    const r = runner({ apiUrl, root: ws.root, event: pullRequestEvent(), eventName: 'pull_request' });
    await runSteps(r);
    const body = botComments()[0]!.body as string;
    const row = body.split('\n').find((l) => l.includes('evil'))!;
    const header = body.split('\n').find((l) => l.startsWith('| case | metric |'))!;
    // one cell per column: no `|` of the name survives to split the row
    expect(row.split('|').length).toBe(header.split('|').length);
    expect(row).not.toMatch(/<img|`|\[click\]|\*\*bold|@octo-org/);
    expect(row).toContain('@\u200docto-org/admins'); // readable, but no team is notified
    expect(EVIL_CASE).toContain('<img');
  });
});

describe('a lane that errored', { timeout: SLOW }, () => {
  it('starts its check in_progress when the lane starts and completes it as failed; lanes not run complete neutral', async () => {
    const ws = makeWorkspace();
    writeFileSync(
      path.join(ws.reports, 'build.json'),
      JSON.stringify({
        failures: { sched: 'building infeng_sched_bench failed:\nsched.cpp:1: error: `x` | y' },
      }),
    );
    const r = runner({
      apiUrl,
      root: ws.root,
      event: pullRequestEvent(),
      eventName: 'pull_request',
      inputs: { lanes: 'sched' },
    });
    const lanes = await step(r, 'lanes');
    expect(lanes.code, lanes.stderr).toBe(0);
    const started = gh.callsTo('checks/create');
    expect(
      started.map((q) => [(q.body as Json).name, (q.body as Json).status, (q.body as Json).head_sha]),
    ).toEqual([['sched-zipf-perf', 'in_progress', PR_HEAD]]);
    await runSteps(r);
    const checks = checksByName();
    expect(Object.keys(checks)).toHaveLength(5);
    // the started check was completed in place, not duplicated
    expect(gh.callsTo('checks/update').map((q) => (q.body as Json).conclusion)).toEqual(['failure']);
    expect(checks['sched-zipf-perf']).toMatchObject({ status: 'completed', conclusion: 'failure' });
    expect((checks['sched-zipf-perf']!.output as Json).summary).toContain('failed at the build step');
    for (const name of ['tokenizer-perf', 'gemm-perf', 'attn-prefill-perf', 'attn-decode-perf']) {
      expect(checks[name]).toMatchObject({ status: 'completed', conclusion: 'neutral' });
      expect((checks[name]!.output as Json).title).toBe(
        'not run: not selected in this workflow (lanes: sched)',
      );
    }
  });
});

function downloadArtifact(reports: string): string {
  // what actions/download-artifact leaves in the report workflow's workspace
  const dir = mkdtempSync(path.join(os.tmpdir(), 'infeng-artifact-'));
  cpSync(reports, dir, { recursive: true });
  expect(existsSync(path.join(dir, 'verdicts.json'))).toBe(true);
  return dir;
}
