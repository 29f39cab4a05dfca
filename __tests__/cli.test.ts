// The shipped CLI (the committed dist/ bundle): exit codes and messages for bad usage and bad
// input, and the compare command's gate on crafted results.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunResults } from '../src/model/results.js';
import { baselineOf, gemmCase, lane, machine, metric, run } from './fixtures/compare/build.js';

const bundle = path.resolve(__dirname, '..', 'dist', 'index.js');

function cli(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [bundle, ...args], { cwd, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function workspace(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'infeng-cli-'));
  mkdirSync(path.join(dir, 'reports'));
  mkdirSync(path.join(dir, 'baselines'));
  return dir;
}

function results(taxSamples: number[]): RunResults {
  const tax = metric('lora_tax_pct', taxSamples, { unit: '%', better: 'lower', kind: 'same-run' });
  return run([lane('gemm', [gemmCase('prefill/M128/H2048/r16', [tax])])]);
}

/** What calibration would have written for a run with these samples, on the same machine. */
const baselineFor = (samples: number[]) => baselineOf(results(samples).lanes[0]!, machine());

describe('infeng-perf CLI', () => {
  it('an unknown lane is bad usage: exit 2, naming the flag', () => {
    const r = cli(['run', '--lanes', 'gemm,bogus', '--no-build'], workspace());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--lanes: unknown lane "bogus"/);
  });

  it('an unknown option is bad usage: exit 2', () => {
    expect(cli(['compare', '--frobnicate'], workspace()).code).toBe(2);
  });

  it('compare without results is bad input: exit 2, naming the file', () => {
    const r = cli(['compare'], workspace());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/results\.json not found/);
  });

  it('compare exits 1 on a significant regression beyond tolerance, and writes the report', () => {
    const dir = workspace();
    writeFileSync(
      path.join(dir, 'reports', 'results.json'),
      JSON.stringify(results([6.1, 6.0, 6.2, 5.9, 6.3, 6.1, 6.0])),
    );
    writeFileSync(
      path.join(dir, 'baselines', 'gemm.json'),
      JSON.stringify(baselineFor([1.0, 1.1, 0.9, 1.2, 1.0, 1.1, 0.95])),
    );
    const r = cli(['compare'], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/lora_tax_pct/);
    const verdicts = JSON.parse(readFileSync(path.join(dir, 'reports', 'verdicts.json'), 'utf8'));
    expect(verdicts.conclusion).toBe('failure');
    expect(existsSync(path.join(dir, 'reports', 'report.md'))).toBe(true);
  });

  it('compare exits 0 when nothing changed', () => {
    const dir = workspace();
    const same = [1.0, 1.1, 0.9, 1.2, 1.0, 1.1, 0.95];
    writeFileSync(path.join(dir, 'reports', 'results.json'), JSON.stringify(results(same)));
    writeFileSync(path.join(dir, 'baselines', 'gemm.json'), JSON.stringify(baselineFor(same)));
    expect(cli(['compare'], dir).code).toBe(0);
  });

  it('malformed rules are bad input: exit 2, naming the file and field', () => {
    const dir = workspace();
    writeFileSync(path.join(dir, 'reports', 'results.json'), JSON.stringify(results([1, 1, 1, 1, 1])));
    writeFileSync(path.join(dir, 'baselines', 'rules.yml'), 'alpha: "often"\n');
    const r = cli(['compare'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/rules\.yml/);
    expect(r.stderr).toMatch(/alpha/);
  });

  it('a malformed baseline is bad input: exit 2 naming the file and field, and the report is still written', () => {
    const dir = workspace();
    writeFileSync(path.join(dir, 'reports', 'results.json'), JSON.stringify(results([1, 1, 1, 1, 1])));
    writeFileSync(path.join(dir, 'baselines', 'gemm.json'), '{"_meta": {"lane": "gemm"}, "cases": {}}');
    const r = cli(['compare'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/gemm\.json: _meta/);
    expect(readFileSync(path.join(dir, 'reports', 'report.md'), 'utf8')).toMatch(/gemm\.json/);
  });

  it('a fail gate naming a metric the lane did not measure is bad input: exit 2 naming rules.yml and the gate, the report still written', () => {
    const dir = workspace();
    writeFileSync(path.join(dir, 'reports', 'results.json'), JSON.stringify(results([1, 1, 1, 1, 1])));
    writeFileSync(
      path.join(dir, 'baselines', 'rules.yml'),
      'lanes:\n  gemm:\n    gates: [{ name: tax, metric: lora_tax_pc, max: 5, severity: fail }]\n',
    );
    const r = cli(['compare'], dir);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/gemm-perf/);
    expect(r.stderr).toMatch(
      /rules\.yml: lanes\.gemm\.gates\[0\]: gate "tax": metric "lora_tax_pc" matches none/,
    );
    expect(readFileSync(path.join(dir, 'reports', 'report.md'), 'utf8')).toMatch(/lora_tax_pc/);
  });

  it('a baselines directory that does not exist is bad input: exit 2 naming it', () => {
    const dir = workspace();
    writeFileSync(path.join(dir, 'reports', 'results.json'), JSON.stringify(results([1, 1, 1, 1, 1])));
    const r = cli(['compare', '--baselines-dir', 'baseline'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${path.join(dir, 'baseline')}: the baselines directory does not exist`);
  });

  describe('results.json is checked against its schema', () => {
    function compareWith(doc: unknown) {
      const dir = workspace();
      writeFileSync(path.join(dir, 'reports', 'results.json'), JSON.stringify(doc));
      return cli(['compare'], dir);
    }

    it('a wrong field is bad input: exit 2, naming the file and the field', () => {
      const doc = results([1, 1, 1, 1, 1]);
      (doc.lanes[0]!.cases[0]!.metrics[0] as { samples: unknown }).samples = ['fast'];
      const r = compareWith(doc);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(
        /results\.json: lanes\[0\]\.cases\[0\]\.metrics\[0\]\.samples\[0\]: must be number/,
      );
    });

    it('a missing field is bad input', () => {
      const doc = results([1, 1, 1, 1, 1]) as unknown as { machine: Record<string, unknown> };
      delete doc.machine.compiler;
      const r = compareWith(doc);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/results\.json: machine\.compiler: is required/);
    });

    it('a lane named constructor (or any unknown lane) is bad input, not a crash', () => {
      for (const name of ['constructor', '__proto__', 'toString', '../gemm']) {
        const doc = results([1, 1, 1, 1, 1]);
        (doc.lanes[0] as { lane: string }).lane = name;
        const r = compareWith(doc);
        expect(r.code, `${name}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toMatch(/results\.json: lanes\[0\]\.lane: must be one of/);
        expect(r.stderr).not.toMatch(/internal error/);
      }
    });
  });
});
