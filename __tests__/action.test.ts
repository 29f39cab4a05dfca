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
import { EVIL_CASE, makeWorkspace } from './fixtures/action/workspace.js';

type Json = Record<string, unknown>;

const PR_HEAD = 'ec26c3e57ca3a959ca5aad62de7213c562f8c821'; // head.sha of the example payload
const PR_NUMBER = 2;

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

describe('a pull request from the same repository', () => {
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
      `baselines/gemm.json:${lineOf(path.join(ws.root, 'baselines', 'gemm.json'), '"decode/M1/H2048/r16"')}`,
      `baselines/gemm.json:${lineOf(path.join(ws.root, 'baselines', 'gemm.json'), '"prefill/M128/H2048/r16"')}`,
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
});
