// The machine-drift guard: a regression that the same-run peer shares is the runner's, not
// the code's.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compare } from '../src/compare/compare.js';
import { parseRules } from '../src/compare/rules.js';
import type { Metric, RunResults } from '../src/model/results.js';
import { baselineOf, lane, machine, metric, run as runOf } from './fixtures/compare/build.js';

const scale = (xs: number[], f: number) => xs.map((x) => x * f);
const ours = [100, 101, 99, 102, 100, 98, 101];
const peer = [80, 81, 79, 80, 82, 80, 79];
const id = 'prefill/M128/H2048/r16';

function run(oursFactor: number, peerFactor: number, extra: Metric[] = []): RunResults {
  return runOf([
    lane('gemm', [
      {
        id,
        params: {},
        metrics: [
          metric('fused_gflops', scale(ours, oursFactor)),
          metric('openblas_gflops', scale(peer, peerFactor)),
          ...extra,
        ],
      },
    ]),
  ]);
}

// the baseline: the same machine, calibrated on the unscaled samples
const baselineFrom = (extra: Metric[] = []) => baselineOf(run(1, 1, extra).lanes[0]!, machine());
const baseline = baselineFrom();

const rules = parseRules(`
lanes:
  gemm:
    tolerances:
      - metric: fused_gflops
        tolerancePct: 8
        control: openblas_gflops
        severity: fail
      - metric: openblas_gflops
        tolerancePct: 8
        severity: warn
`);

function fused(r: RunResults) {
  return compare(r, { gemm: baseline }, rules).lanes[0]!.verdicts.find((v) => v.metric === 'fused_gflops')!;
}

describe('machine-drift guard', () => {
  it('a slowdown the peer does not share is a regression', () => {
    const v = fused(run(0.85, 1.0));
    expect(v.state).toBe('regressed');
    expect(v.severity).toBe('fail');
  });

  it('a slowdown the peer shares is noisy, with the reason', () => {
    const v = fused(run(0.85, 0.86));
    expect(v.state).toBe('noisy');
    expect(v.reason).toMatch(
      /openblas_gflops, measured in the same rounds, moved −14\.\d+ %: the machine changed/,
    );
    expect(compare(run(0.85, 0.86), { gemm: baseline }, rules).conclusion).toBe('success');
  });

  it('a peer that lost less than half as much does not excuse the regression', () => {
    expect(fused(run(0.8, 0.93)).state).toBe('regressed');
  });

  it('a peer that got faster does not excuse it either', () => {
    expect(fused(run(0.85, 1.2)).state).toBe('regressed');
  });

  it('control must be a metric name', () => {
    expect(() =>
      parseRules(
        'lanes:\n  gemm:\n    tolerances:\n      - metric: x\n        tolerancePct: 5\n        control: ""\n',
      ),
    ).toThrow(/control/);
  });
});

describe('machine-drift guard on a metric judged in percentage points', () => {
  const tax = (samples: number[]) =>
    metric('lora_tax_pct', samples, { unit: '%', better: 'lower', kind: 'same-run' });
  const before = [1.0, 1.2, 0.9, 1.1, 1.0, 1.05, 0.95];
  const after = before.map((x) => x + 3);
  const b = baselineFrom([tax(before)]);
  const taxRules = parseRules(`
lanes:
  gemm:
    tolerances:
      - metric: lora_tax_pct
        toleranceAbs: 1
        control: openblas_gflops
        severity: fail
`);
  const verdict = (peerFactor: number) =>
    compare(run(1, peerFactor, [tax(after)]), { gemm: b }, taxRules).lanes[0]!.verdicts.find(
      (v) => v.metric === 'lora_tax_pct',
    )!;

  it('stays a regression when the peer held steady', () => {
    expect(verdict(0.97).state).toBe('regressed');
  });

  it('is noisy when the peer lost more than the disturbance threshold', () => {
    expect(verdict(0.8).state).toBe('noisy');
  });
});

const ratio = (xs: number[]) => metric('ratio_vs_openblas', xs, { unit: '×', kind: 'same-run' });

// ratio_vs_openblas judged with OpenBLAS as its control; `extra` adds lines to the rule.
const ratioRules = (extra = '') =>
  parseRules(`
lanes:
  gemm:
    tolerances:
      - metric: ratio_vs_openblas
        tolerancePct: 5
        control: openblas_gflops
        ${extra}
        severity: fail
`);

describe('machine-drift guard and a baseline from other hardware', () => {
  it('does not excuse a same-run regression by comparing the peer across machines', () => {
    const before = [1.5, 1.52, 1.49, 1.51, 1.5, 1.48, 1.5];
    // same class (CPU model, cores, path, compiler), other ISA flags: absolute numbers are not comparable
    const other = machine({ isa: ['avx2', 'avx512f', 'fma'] });
    const b = baselineOf(run(1, 1, [ratio(before)]).lanes[0]!, other);
    const rules = ratioRules();
    // the peer is 40 % slower than on the baseline's machine: another machine, not a disturbance
    const v = compare(
      run(1, 0.6, [ratio(before.map((x) => x * 0.7))]),
      { gemm: b },
      rules,
    ).lanes[0]!.verdicts.find((x) => x.metric === 'ratio_vs_openblas')!;
    expect(v.state).toBe('regressed');
  });
});

// The shipped rules: decode GEMM streams its weights from DRAM, so a host with less bandwidth
// today slows it while OpenBLAS's decode (far from the bandwidth) barely moves; the read probe
// of the same rounds is its control.
describe('decode GEMM and the shipped rules', () => {
  const shipped = parseRules(readFileSync(new URL('../baselines/rules.yml', import.meta.url), 'utf8'));
  const decodeId = 'decode/M1/H2048/r16';
  const probe = [30, 30.5, 29.8, 30.2, 30.1, 29.9, 30];
  const decodeRun = (oursFactor: number, probeFactor: number): RunResults =>
    runOf([
      lane('gemm', [
        {
          id: decodeId,
          params: {},
          metrics: [
            metric('base_gflops', scale(ours, oursFactor)),
            metric('openblas_gflops', peer),
            metric('read_gbps', scale(probe, probeFactor), { unit: 'GB/s' }),
          ],
        },
      ]),
    ]);
  const base = (oursFactor: number, probeFactor: number) =>
    compare(
      decodeRun(oursFactor, probeFactor),
      { gemm: baselineOf(decodeRun(1, 1).lanes[0]!, machine()) },
      shipped,
    ).lanes[0]!.verdicts.find((v) => v.metric === 'base_gflops')!;

  it('is noisy when the read probe lost as much bandwidth, though OpenBLAS did not move', () => {
    const v = base(0.86, 0.88);
    expect(v.state).toBe('noisy');
    expect(v.reason).toContain('read_gbps');
  });

  it('is a regression when the read probe held steady', () => {
    const v = base(0.86, 1.0);
    expect(v.state).toBe('regressed');
    expect(v.severity).toBe('fail');
  });
});

describe('a control that got better', () => {
  const before = [1.57, 1.58, 1.56, 1.57, 1.57, 1.56, 1.58];
  const b = baselineOf(run(1, 1, [ratio(before)]).lanes[0]!, machine());
  const judge = (moves: string) => {
    const rules = ratioRules(moves);
    // the peer is 22 % faster today, ours 12 %: the ratio drops 8 % with no change in the code
    return compare(
      run(1.12, 1.22, [ratio(before.map((x) => (x * 1.12) / 1.22))]),
      { gemm: b },
      rules,
    ).lanes[0]!.verdicts.find((x) => x.metric === 'ratio_vs_openblas')!;
  };

  it('excuses a drop of a ratio over it with controlMoves: either', () => {
    const v = judge('controlMoves: either');
    expect(v.state).toBe('noisy');
    expect(v.reason).toContain('openblas_gflops');
  });

  it('does not by default', () => {
    expect(judge('').state).toBe('regressed');
  });

  it('needs a control to name', () => {
    expect(() =>
      parseRules(`
lanes:
  gemm:
    tolerances:
      - metric: ratio_vs_openblas
        tolerancePct: 5
        controlMoves: either
`),
    ).toThrow(/controlMoves needs a control/);
  });
});

// A lane with one case: our rate, a peer's rate and our same-run ratio over it, judged under the
// shipped rules against a baseline of the unscaled samples; `verdict` finds a metric's verdict.
function ratioOverPeer(
  laneName: 'tokenizer' | 'attn-prefill',
  caseId: string,
  names: { ours: string; peer: string; ratio: string },
  ours: number[],
  peer: number[],
  unit = 'GFLOP/s',
) {
  const shipped = parseRules(readFileSync(new URL('../baselines/rules.yml', import.meta.url), 'utf8'));
  const runAt = (oursFactor: number, peerFactor: number): RunResults =>
    runOf([
      lane(laneName, [
        {
          id: caseId,
          params: {},
          metrics: [
            metric(names.ours, scale(ours, oursFactor), { unit }),
            metric(names.peer, scale(peer, peerFactor), { unit }),
            metric(
              names.ratio,
              ours.map((x, i) => (x * oursFactor) / ((peer[i] as number) * peerFactor)),
              { unit: '×', kind: 'same-run' },
            ),
          ],
        },
      ]),
    ]);
  const base = baselineOf(runAt(1, 1).lanes[0]!, machine());
  const verdict = (r: RunResults, name: string) =>
    compare(r, { [laneName]: base }, shipped).lanes[0]!.verdicts.find(
      (v) => v.metric === name && v.source === 'baseline',
    )!;
  return { runAt, verdict };
}

describe("the tokenizer's ratio over the reference, under the shipped rules", () => {
  const { runAt: tokRun, verdict } = ratioOverPeer(
    'tokenizer',
    'qwen3',
    { ours: 'native_mb_s', peer: 'hf_mb_s', ratio: 'speedup_vs_hf' },
    [80, 81, 79, 80, 82, 80, 79],
    [2.5, 2.52, 2.48, 2.5, 2.51, 2.49, 2.5],
    'MB/s',
  );

  it('a reference 17 % faster today takes the ratio down without failing it', () => {
    const r = tokRun(1.03, 1.17);
    expect(verdict(r, 'speedup_vs_hf')).toMatchObject({ state: 'noisy', severity: 'fail' });
    expect(verdict(r, 'native_mb_s').state).toBe('pass');
  });

  it('a native tokenizer 15 % slower, the reference steady, fails through both', () => {
    const r = tokRun(0.85, 1.0);
    expect(verdict(r, 'speedup_vs_hf').state).toBe('regressed');
    expect(verdict(r, 'native_mb_s').state).toBe('regressed');
  });

  it('a slower native tokenizer still fails through its own rate when the reference sped up too', () => {
    const r = tokRun(0.85, 1.17);
    expect(verdict(r, 'speedup_vs_hf').state).toBe('noisy');
    expect(verdict(r, 'native_mb_s').state).toBe('regressed');
  });
});

describe("prefill attention's ratio over the naive reference, under the shipped rules", () => {
  const { runAt: prefillRun, verdict } = ratioOverPeer(
    'attn-prefill',
    'q32kv4d64/n512',
    { ours: 'tiled_gflops', peer: 'reference_gflops', ratio: 'speedup_vs_reference' },
    [203, 205, 201, 204, 202, 203, 204],
    [11.6, 11.7, 11.5, 11.6, 11.7, 11.6, 11.5],
  );

  it('a reference 33 % faster today (the kernel 15 %) takes the ratio down without failing it', () => {
    const r = prefillRun(1.15, 1.33);
    expect(verdict(r, 'speedup_vs_reference')).toMatchObject({ state: 'noisy', severity: 'fail' });
  });

  it('a tiled kernel 12 % slower, the reference steady, fails', () => {
    expect(verdict(prefillRun(0.88, 1.0), 'speedup_vs_reference').state).toBe('regressed');
  });
});
