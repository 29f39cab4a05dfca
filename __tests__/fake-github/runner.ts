// Runs the shipped bundle (dist/index.js) the way action.yml does on a runner: one process per
// step, inputs in INFENG_* variables, the runner's GITHUB_* variables, an event payload file,
// and the step summary and output files the runner would read afterwards.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const cli = path.resolve(__dirname, '..', '..', 'dist', 'index.js');

export const TOKEN = 'ghs_fAkEtOkEn0123456789abcdefABCDEF012345';

type Json = Record<string, unknown>;

interface WebhookExamples {
  name: string;
  examples: Json[];
}

function examples(name: string): Json[] {
  const require = createRequire(import.meta.url);
  const all = require('@octokit/webhooks-examples') as WebhookExamples[];
  const found = all.find((e) => e.name === name);
  if (!found) throw new Error(`no webhook examples for ${name}`);
  return found.examples.map((e) => structuredClone(e));
}

/** pull_request.opened from the examples, as a same-repository PR or from a fork. */
export function pullRequestEvent(options: { fork?: boolean } = {}): Json {
  const event = examples('pull_request').find((e) => e.action === 'opened')!;
  if (options.fork) {
    const head = (event.pull_request as Json).head as Json;
    const repo = head.repo as Json;
    Object.assign(repo, { full_name: 'forker/Hello-World', fork: true, name: 'Hello-World' });
    (repo.owner as Json).login = 'forker';
    head.label = 'forker:changes';
  }
  return event;
}

/** workflow_run.completed from the examples, made into the report of a fork's perf run. */
export function workflowRunEvent(options: { headSha: string; name: string; repository: string }): Json {
  const event = examples('workflow_run').find((e) => e.action === 'completed')!;
  const run = event.workflow_run as Json;
  Object.assign(run, {
    name: options.name,
    event: 'pull_request',
    head_sha: options.headSha,
    conclusion: 'failure',
    // GitHub lists no pull requests on a run from a fork
    pull_requests: [],
  });
  (run.head_repository as Json).full_name = 'forker/Hello-World';
  (event.repository as Json).full_name = options.repository;
  return event;
}

export interface StepResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Runner {
  dir: string;
  env: NodeJS.ProcessEnv;
  summaryFile: string;
  outputFile: string;
  outputs(): Record<string, string>;
  summary(): string;
}

/** A fresh runner: temp files for the summary and outputs, the event written to a file. */
export function runner(options: {
  apiUrl: string;
  root: string;
  event: Json;
  eventName: string;
  inputs?: Record<string, string>;
}): Runner {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'infeng-runner-'));
  const eventPath = path.join(dir, 'event.json');
  const summaryFile = path.join(dir, 'step_summary.md');
  const outputFile = path.join(dir, 'output.txt');
  writeFileSync(eventPath, JSON.stringify(options.event));
  writeFileSync(summaryFile, '');
  writeFileSync(outputFile, '');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_API_URL: options.apiUrl,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REPOSITORY: 'Codertocat/Hello-World',
    GITHUB_EVENT_NAME: options.eventName,
    GITHUB_EVENT_PATH: eventPath,
    // the merge commit of a pull_request run: checks must not land here
    GITHUB_SHA: 'ffffffffffffffffffffffffffffffffffffffff',
    GITHUB_WORKFLOW: 'perf',
    GITHUB_RUN_ID: '4242',
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_OUTPUT: outputFile,
    RUNNER_OS: 'Linux',
    RUNNER_ARCH: 'X64',
    INFENG_WORKING_DIRECTORY: options.root,
    INFENG_GITHUB_TOKEN: TOKEN,
    INFENG_LANES: 'tokenizer,gemm,sched',
    ...Object.fromEntries(
      Object.entries(options.inputs ?? {}).map(([k, v]) => [
        `INFENG_${k.toUpperCase().replace(/-/g, '_')}`,
        v,
      ]),
    ),
  };
  return {
    dir,
    env,
    summaryFile,
    outputFile,
    outputs: () => parseOutputs(readFileSync(outputFile, 'utf8')),
    summary: () => (existsSync(summaryFile) ? readFileSync(summaryFile, 'utf8') : ''),
  };
}

/** One step: `node dist/index.js action <phase>`, asynchronously (the fake runs in this process). */
export function step(r: Runner, phase: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<StepResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, 'action', phase],
      { env: { ...r.env, ...extraEnv }, cwd: r.dir, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** GITHUB_OUTPUT's `name<<delimiter` blocks, as the runner reads them. */
export function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i] ?? '');
    if (m) {
      const [, name, delimiter] = m;
      const value: string[] = [];
      while (++i < lines.length && lines[i] !== delimiter) value.push(lines[i] ?? '');
      out[name!] = value.join('\n');
    } else {
      const kv = /^([^=]+)=(.*)$/.exec(lines[i] ?? '');
      if (kv) out[kv[1]!] = kv[2]!;
    }
  }
  return out;
}
