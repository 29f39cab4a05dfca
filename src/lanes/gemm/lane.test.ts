// The GEMM lane's adapter: the bench's counters → metrics, per case and per phase.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { gemmResultFromJson } from './lane.js';

const fixture = readFileSync(
  new URL('../../../__tests__/fixtures/gbench/gemm_smoke.json', import.meta.url),
  'utf8',
);

describe('GEMM lane adapter', () => {
  const planned = ['decode/M1/H256/r8', 'prefill/M64/H256/r8', 'decode/M16/H256/r8'];
  const r = gemmResultFromJson(fixture, planned);

  it('maps counters to metrics with units, direction and kind', () => {
    const dec = r.cases.find((c) => c.id === 'decode/M1/H256/r8');
    const tax = dec?.metrics.find((m) => m.name === 'lora_tax_pct');
    expect(tax).toMatchObject({ unit: '%', better: 'lower', kind: 'same-run' });
    expect(tax?.samples).toHaveLength(3);
    expect(tax?.value).toBeCloseTo(7.0, 1);
    const excess = dec?.metrics.find((m) => m.name === 'lora_tax_excess_pp');
    expect(excess?.value).toBeCloseTo(7.0 - 6.25, 1);
    expect(dec?.metrics.find((m) => m.name === 'base_gflops')).toMatchObject({
      kind: 'absolute',
      better: 'higher',
    });
    expect(dec?.metrics.find((m) => m.name === 'bw_efficiency_pct')).toBeDefined();
    expect(dec?.params).toMatchObject({ M: 1, K: 256, N: 256, rank: 8, phase: 'decode' });
  });

  it('turns a skipped benchmark and an unreported planned case into case errors', () => {
    expect(r.cases.find((c) => c.id === 'prefill/M64/H256/r8')?.error).toMatch(/differ/);
    expect(r.cases.find((c) => c.id === 'decode/M16/H256/r8')?.error).toMatch(/did not report/);
  });

  it('refuses a report whose decode cutoff differs from the lane case names', () => {
    const withCutoff = (m: number) => fixture.replace('"context": {', `"context": {"decode_max_m": "${m}",`);
    expect(withCutoff(16)).not.toBe(fixture);
    expect(gemmResultFromJson(withCutoff(16), planned).cases).toHaveLength(r.cases.length);
    expect(() => gemmResultFromJson(withCutoff(32), planned)).toThrow(/decode_max_m.*M <= 32.*M <= 16/);
  });

  it('takes the BLIS peer when the bench has it, and leaves it out when an older bench has not', () => {
    expect(r.cases.flatMap((c) => c.metrics).some((m) => m.name.includes('blis'))).toBe(false);
    const json = JSON.parse(fixture) as {
      context: Record<string, string>;
      benchmarks: { counters?: Record<string, number>; [k: string]: unknown }[];
    };
    json.context.blis_arch = 'zen3';
    for (const b of json.benchmarks) {
      const base = Number(b.base_gflops);
      if (Number.isFinite(base)) Object.assign(b, { blis_gflops: base / 1.25, ratio_vs_blis: 1.25 });
    }
    const withBlis = gemmResultFromJson(JSON.stringify(json), planned);
    const dec = withBlis.cases.find((c) => c.id === 'decode/M1/H256/r8');
    expect(dec?.metrics.find((m) => m.name === 'ratio_vs_blis')).toMatchObject({
      unit: '×',
      kind: 'same-run',
      value: 1.25,
    });
    expect(dec?.metrics.find((m) => m.name === 'blis_gflops')?.kind).toBe('absolute');
    expect(withBlis.info.blis_arch).toBe('zen3');
  });

  it('records the path, the peer and the measured read bandwidth', () => {
    expect(r.path).toBe('avx512');
    expect(r.info.read_gbps).toBe(31);
    expect(String(r.info.openblas_config)).toMatch(/OpenBLAS/);
  });
});
