// Configuration mistakes that used to pass with exit 0 and judge nothing: a baselines directory
// that does not exist, a fail gate or tolerance of rules.yml naming a metric the lane does not
// measure, a hand-edited baseline median or run median. Each names the file and the field, the
// lanes concerned get an error verdict, and the compare stage exits 2 after writing the report.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../src/config.js';
import { baselineFile, formatBaseline, parseBaseline } from '../src/compare/baselines.js';
import { lintBaseline, lintConfiguration, type LintInput } from '../src/compare/lint.js';
import { DEFAULT_RULES, parseRules } from '../src/compare/rules.js';
import { InputError } from '../src/errors.js';
import type { Baseline } from '../src/model/baselines.js';
import type { RunResults } from '../src/model/results.js';
import { compareStage, ConfigurationError } from '../src/pipeline.js';
import { runActionPhase, type ActionIO } from '../src/action/phases.js';
import { around, baselineOf, gemmCase, lane, machine, metric, run } from './fixtures/compare/build.js';

const CASE = 'prefill/M128/H2048/r16';
const tax = (center: number) =>
  metric('lora_tax_pct', around(center, 10, 0.02), { unit: '%', better: 'lower', kind: 'same-run' });
const gemmRun = (): RunResults =>
  run([
    lane('gemm', [
      gemmCase(CASE, [metric('fused_gflops', around(400)), metric('openblas_gflops', around(300)), tax(2)]),
    ]),
  ]);

function input(rulesYaml: string, over: Partial<LintInput> = {}): LintInput {
  return {
    rules: rulesYaml ? parseRules(rulesYaml) : { ...DEFAULT_RULES, lanes: {} },
    rulesFile: 'baselines/rules.yml',
    baselinesDir: 'baselines',
    baselinesDirExists: true,
    baselines: {},
    baselineFiles: {},
    results: gemmRun(),
    ...over,
  };
}

const messages = (i: LintInput) => lintConfiguration(i).problems.map((p) => p.error.message);

describe('the configuration lint', () => {
  it('a baselines directory that does not exist is a problem naming it', () => {
    const r = lintConfiguration(input('', { baselinesDir: '/repo/baseline', baselinesDirExists: false }));
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]!.lane).toBeUndefined();
    expect(r.problems[0]!.error.file).toBe('/repo/baseline');
    expect(r.problems[0]!.error.message).toMatch(/^\/repo\/baseline: the baselines directory does not exist/);
  });

  it('a fail gate whose metric matches nothing the lane measured names lanes.<lane>.gates[i]; a warn gate does not', () => {
    const rules = `
lanes:
  gemm:
    gates:
      - { name: ok, metric: lora_tax_pct, max: 5, severity: fail }
      - { name: typo, metric: lora_tax_exces_pp, max: 1, severity: fail }
      - { name: shown, metric: lora_tax_exces_pp, max: 1, severity: warn }
`;
    const r = lintConfiguration(input(rules));
    expect(r.problems.map((p) => [p.lane, p.error.file, p.error.field])).toEqual([
      ['gemm', 'baselines/rules.yml', 'lanes.gemm.gates[1]'],
    ]);
    expect(r.problems[0]!.error.detail).toMatch(
      /gate "typo": metric "lora_tax_exces_pp" matches none of the 3 metrics/,
    );
    expect(r.problems[0]!.error.detail).toMatch(/fused_gflops, lora_tax_pct, openblas_gflops/);
  });

  it('a gate whose cases match nothing in this profile is not a problem (the metric is measured)', () => {
    const rules = `
lanes:
  gemm:
    gates:
      - { name: big, metric: lora_tax_pct, cases: "prefill/M8192/*", max: 5, severity: fail }
`;
    expect(messages(input(rules))).toEqual([]);
  });

  it('a fail tolerance whose metric or control names nothing measured is a problem; a warn one is a note', () => {
    const rules = `
lanes:
  gemm:
    tolerances:
      - { metric: "fused_gflop", tolerancePct: 8, severity: fail }
      - { metric: "*_gflops", tolerancePct: 8, control: openblas_gflop, severity: fail }
      - { metric: "batch_*_t16", tolerancePct: 8, severity: warn }
      - { metric: lora_tax_pct, toleranceAbs: 1, control: openblas_gflops, severity: fail }
`;
    const r = lintConfiguration(input(rules));
    expect(r.problems.map((p) => p.error.field)).toEqual([
      'lanes.gemm.tolerances[0].metric',
      'lanes.gemm.tolerances[1].control',
    ]);
    expect(r.problems[1]!.error.detail).toMatch(
      /"openblas_gflop" is none of the 3 metrics the gemm lane measured/,
    );
    expect(r.notes).toEqual([
      expect.stringMatching(/^gemm: baselines\/rules\.yml: lanes\.gemm\.tolerances\[2\]\.metric:/),
    ]);
  });

  it('lanes that did not run cleanly, or reported no cases, are not linted against their rules', () => {
    const rules = `
lanes:
  gemm:
    gates: [{ name: typo, metric: nothing_like_it, max: 1, severity: fail }]
    tolerances: [{ metric: nothing_like_it, tolerancePct: 8, severity: fail }]
`;
    const failed = lane('gemm', [], { status: 'error', error: { step: 'run', message: 'SIGSEGV' } });
    const caseFailed = lane('gemm', [gemmCase(CASE, [], 'exited 1')]);
    for (const l of [failed, lane('gemm', []), lane('gemm', [], { status: 'skipped' }), caseFailed]) {
      expect(messages(input(rules, { results: run([l]) }))).toEqual([]);
    }
  });

  it('a hand-edited baseline median names the file and cases["<id>"].<metric>.median', () => {
    const b = baselineOf(gemmRun().lanes[0]!);
    b.cases[CASE]!.fused_gflops!.median *= 0.8;
    const file = 'baselines/amd/gemm.json';
    const r = lintConfiguration(input('', { baselines: { gemm: b }, baselineFiles: { gemm: file } }));
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]!.lane).toBe('gemm');
    expect(r.problems[0]!.error.file).toBe(file);
    expect(r.problems[0]!.error.field).toBe(`cases["${CASE}"].fused_gflops.median`);
    expect(r.problems[0]!.error.detail).toMatch(/but the median of its 10 samples is 40\d/);
  });

  it('a median off by more than 1e-9 relative is caught, rounding is not', () => {
    const b = baselineOf(gemmRun().lanes[0]!);
    const s = b.cases[CASE]!.fused_gflops!;
    const m = s.median;
    s.median = m * (1 + 1e-12);
    expect(lintBaseline(b, 'f.json')).toEqual([]);
    s.median = m * (1 + 1e-6);
    expect(lintBaseline(b, 'f.json').map((e) => e.field)).toEqual([`cases["${CASE}"].fused_gflops.median`]);
  });

  it('a run median outside the samples, astronomical or not finite, names cases["<id>"].<metric>.runMedians[i]', () => {
    const b = baselineOf(gemmRun().lanes[0]!);
    const s = b.cases[CASE]!.openblas_gflops!;
    s.runMedians = [s.median, 1e300, s.median * 2];
    expect(lintBaseline(b, 'f.json').map((e) => e.field)).toEqual([
      `cases["${CASE}"].openblas_gflops.runMedians[1]`,
      `cases["${CASE}"].openblas_gflops.runMedians[2]`,
    ]);
    // 1e999 in the file is Infinity once parsed: the schema refuses it, naming the field
    const text = formatBaseline(b).replace('1e+300', '1e999');
    expect(() => parseBaseline(text, 'gemm', 'f.json')).toThrow(
      `f.json: cases["${CASE}"].openblas_gflops.runMedians[1]: must be number`,
    );
  });

  it('a baseline whose samples hold a number JSON made infinite names the sample', () => {
    const b = baselineOf(gemmRun().lanes[0]!);
    b.cases[CASE]!.lora_tax_pct!.samples[3] = Infinity;
    expect(lintBaseline(b, 'f.json').map((e) => e.field)).toEqual([
      `cases["${CASE}"].lora_tax_pct.samples[3]`,
    ]);
  });

  it('the shipped baselines pass', () => {
    const dir = path.resolve(__dirname, '..', 'baselines');
    for (const cls of readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory())) {
      for (const f of readdirSync(path.join(dir, cls.name))) {
        const file = path.join(dir, cls.name, f);
        const b = parseBaseline(readFileSync(file, 'utf8'), f.replace(/\.json$/, ''), file);
        expect(lintBaseline(b, file).map((e) => e.message)).toEqual([]);
      }
    }
  });
});

// ---- through the compare stage and the action's compare step ---------------------------------

function workspace(rules: string, baselines: Baseline[] = []) {
  const root = mkdtempSync(path.join(os.tmpdir(), 'infeng-lint-'));
  mkdirSync(path.join(root, 'baselines'));
  mkdirSync(path.join(root, 'reports'));
  writeFileSync(path.join(root, 'baselines', 'rules.yml'), rules);
  for (const b of baselines) {
    const file = baselineFile(path.join(root, 'baselines'), b._meta.lane, b._meta);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, formatBaseline(b));
  }
  const results = gemmRun();
  writeFileSync(path.join(root, 'reports', 'results.json'), JSON.stringify(results));
  return { root, results, config: buildConfig({ root, lanes: 'gemm' }) };
}

const TYPO_GATE = `
lanes:
  gemm:
    gates: [{ name: tax, metric: lora_tax_exces_pp, max: 1, severity: fail }]
`;

describe('the compare stage with a wrong configuration', () => {
  it('writes verdicts.json and report.md, fails the lane with the problem, then throws exit 2', async () => {
    const ws = workspace(TYPO_GATE);
    const err = await compareStage(ws.config, ws.results).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(
      /1 configuration problem: .*rules\.yml: lanes\.gemm\.gates\[0\]: gate "tax"/,
    );
    const verdicts = JSON.parse(readFileSync(path.join(ws.config.reportsDir, 'verdicts.json'), 'utf8'));
    expect(verdicts.conclusion).toBe('failure');
    expect(verdicts.lanes[0].conclusion).toBe('failure');
    expect(readFileSync(path.join(ws.config.reportsDir, 'report.md'), 'utf8')).toMatch(
      /configuration: .*rules\.yml: lanes\.gemm\.gates&#91;0&#93;: gate "tax"/,
    );
  });

  it('a baselines directory that does not exist fails every lane that ran, naming the directory', async () => {
    const ws = workspace('');
    const config = buildConfig({ root: ws.root, lanes: 'gemm', baselinesDir: 'baseline' });
    const err = (await compareStage(config, ws.results).catch((e: unknown) => e)) as ConfigurationError;
    expect(err).toBeInstanceOf(ConfigurationError);
    expect(err.message).toContain(
      `${path.join(ws.root, 'baseline')}: the baselines directory does not exist`,
    );
    expect(err.outcome.report.lanes[0]!.conclusion).toBe('failure');
  });

  it('a hand-edited baseline is named by the file it was read from', async () => {
    const b = baselineOf(gemmRun().lanes[0]!, machine());
    b.cases[CASE]!.fused_gflops!.median = 1e300;
    const ws = workspace('', [b]);
    const err = (await compareStage(ws.config, ws.results).catch((e: unknown) => e)) as ConfigurationError;
    const file = baselineFile(ws.config.baselinesDir, 'gemm', b._meta);
    expect(err.problems.map((p) => p.error.message)).toEqual([
      expect.stringContaining(`${file}: cases["${CASE}"].fused_gflops.median: is 1e+300`),
    ]);
  });

  it('a clean configuration compares as before', async () => {
    const ws = workspace('lanes:\n  gemm:\n    gates: [{ name: tax, metric: lora_tax_pct, max: 5 }]\n');
    const out = await compareStage(ws.config, ws.results);
    expect(out.report.conclusion).toBe('success');
  });

  it("the action's compare step stamps the report as this run's before failing, so the report step posts it", async () => {
    const ws = workspace(TYPO_GATE);
    const lines: string[] = [];
    const io: ActionIO = {
      env: { INFENG_WORKING_DIRECTORY: ws.root, INFENG_LANES: 'gemm', GITHUB_RUN_ID: '7' },
      info: (l) => lines.push(l),
      warn: (l) => lines.push(l),
      error: (l) => lines.push(`error: ${l}`),
      setOutput: () => {},
      print: () => {},
      now: () => new Date('2025-03-20T12:00:00Z'),
    };
    await expect(runActionPhase('compare', io)).rejects.toBeInstanceOf(ConfigurationError);
    expect(existsSync(path.join(ws.root, 'reports', 'compare.json'))).toBe(true);
    expect(lines).toContainEqual(expect.stringMatching(/^error: .*rules\.yml: lanes\.gemm\.gates\[0\]/));
  });
});
