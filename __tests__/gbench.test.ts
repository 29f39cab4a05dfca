import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GbenchParseError, parseGbenchJson, stripSuffixes } from '../src/results/gbench.js';

const fixture = readFileSync(new URL('./fixtures/gbench/gemm_smoke.json', import.meta.url), 'utf8');

describe('google/benchmark JSON parser', () => {
  it('keeps per-repetition entries, drops aggregates, and reads user counters', () => {
    const r = parseGbenchJson(fixture);
    const dec = r.cases.find((c) => c.name === 'gemm/decode/M1/H256/r8');
    expect(dec?.runs).toHaveLength(3);
    expect(dec?.runs.map((x) => x.repetitionIndex)).toEqual([0, 1, 2]);
    expect(dec?.runs[0]?.counters.base_gflops).toBeCloseTo(13.1);
    expect(dec?.runs[0]?.counters).not.toHaveProperty('iterations');
    expect(dec?.runs[1]?.realTimeMs).toBeCloseTo(1.26);
    expect(r.context.path).toBe('avx512');
  });

  it('reports a benchmark that skipped with an error', () => {
    const r = parseGbenchJson(fixture);
    const pre = r.cases.find((c) => c.name === 'gemm/prefill/M64/H256/r8');
    expect(pre?.error).toMatch(/fused and unfused differ/);
    expect(pre?.runs).toHaveLength(0);
  });

  it('turns bare NaN / Infinity counters into NaN instead of failing the whole file', () => {
    const text =
      '{"context":{},"benchmarks":[{"name":"a","run_name":"a","run_type":"iteration","repetition_index":0,' +
      '"real_time":1,"time_unit":"us","x": NaN,"y": -Infinity,"z": 2}]}';
    const r = parseGbenchJson(text);
    expect(r.cases[0]?.runs[0]?.counters.x).toBeNaN();
    expect(r.cases[0]?.runs[0]?.counters.y).toBeNaN();
    expect(r.cases[0]?.runs[0]?.counters.z).toBe(2);
    expect(r.cases[0]?.runs[0]?.realTimeMs).toBeCloseTo(0.001);
  });

  it('strips the suffixes google/benchmark appends to run names', () => {
    expect(stripSuffixes('gemm/decode/M1/H256/r8/repeats:5/real_time')).toBe('gemm/decode/M1/H256/r8');
    expect(stripSuffixes('BM_x/threads:2')).toBe('BM_x');
    expect(stripSuffixes('gemm/membw')).toBe('gemm/membw');
  });

  it('rejects what is not a benchmark report, saying why', () => {
    expect(() => parseGbenchJson('{"benchmarks": 3}')).toThrow(GbenchParseError);
    expect(() => parseGbenchJson('{"benchmarks": 3}')).toThrow(/"benchmarks"/);
    expect(() =>
      parseGbenchJson('{"context":{},"benchmarks":[{"name":"a","run_type":"iteration","time_unit":"h"}]}'),
    ).toThrow(/unknown time_unit/);
    expect(() => parseGbenchJson('')).toThrow(/not JSON/);
  });
});
