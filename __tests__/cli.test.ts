// The shipped CLI (the committed dist/ bundle): exit codes and messages for bad usage and bad
// input, and the compare command's gate on crafted results.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunResults } from '../src/model/results.js';

const cli = path.resolve(__dirname, '..', 'dist', 'index.js');

function run(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function workspace(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'infeng-cli-'));
  mkdirSync(path.join(dir, 'reports'));
  mkdirSync(path.join(dir, 'baselines'));
  return dir;
}

const machine = {
  cpuModel: 'Test CPU',
  cores: 2,
  isa: ['avx2', 'fma'],
  compiler: { id: 'clang', version: '17.0.6', major: 17, requestedMajor: 17, path: '/usr/bin/clang++-17' },
  os: 'Linux',
  commit: 'abc',
  time: '2026-11-22T00:00:00.000Z',
};

function results(taxSamples: number[]): RunResults {
  return {
    schemaVersion: 1,
    machine,
    profile: 'quick',
    lanes: [
      {
        lane: 'gemm',
        status: 'ok',
        path: 'avx2',
        planned: ['prefill/M128/H2048/r16'],
        durationS: 1,
        artifacts: [],
        info: {},
        cases: [
          {
            id: 'prefill/M128/H2048/r16',
            params: { phase: 'prefill', M: 128, K: 2048, N: 2048, rank: 16 },
            metrics: [
              {
                name: 'lora_tax_pct',
                unit: '%',
                better: 'lower',
                kind: 'same-run',
                samples: taxSamples,
                value: [...taxSamples].sort((a, b) => a - b)[Math.floor(taxSamples.length / 2)]!,
              },
            ],
          },
        ],
      },
    ],
  };
}

function baselineFor(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    _meta: {
      lane: 'gemm',
      hardware: 'Test CPU',
      cores: 2,
      isa: ['avx2', 'fma'],
      compiler: 'clang 17.0.6',
      compilerMajor: 17,
      path: 'avx2',
      profile: 'quick',
      commit: 'abc',
      timestamp: '2026-11-01T00:00:00.000Z',
    },
    cases: {
      'prefill/M128/H2048/r16': {
        lora_tax_pct: {
          unit: '%',
          better: 'lower',
          kind: 'same-run',
          median: sorted[Math.floor(sorted.length / 2)],
          spread: 0.05,
          n: samples.length,
          samples,
        },
      },
    },
  };
}

describe('infeng-perf CLI', () => {
  it('an unknown lane is bad usage: exit 2, naming the flag', () => {
    const r = run(['run', '--lanes', 'gemm,bogus', '--no-build'], workspace());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--lanes: unknown lane "bogus"/);
  });

  it('an unknown option is bad usage: exit 2', () => {
    expect(run(['compare', '--frobnicate'], workspace()).code).toBe(2);
  });

  it('compare without results is bad input: exit 2, naming the file', () => {
    const r = run(['compare'], workspace());
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
    const r = run(['compare'], dir);
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
    expect(run(['compare'], dir).code).toBe(0);
  });

  it('malformed rules are bad input: exit 2, naming the file and field', () => {
    const dir = workspace();
    writeFileSync(path.join(dir, 'reports', 'results.json'), JSON.stringify(results([1, 1, 1, 1, 1])));
    writeFileSync(path.join(dir, 'baselines', 'rules.yml'), 'alpha: "often"\n');
    const r = run(['compare'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/rules\.yml/);
    expect(r.stderr).toMatch(/alpha/);
  });
});
