// The attn-decode lane adapter on a recorded smoke run of infeng_attn_decode_bench, its report
// files, and the lane's gates in baselines/rules.yml firing on crafted results.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { attnDecodeLane, attnDecodeResultFromJson } from '../../lanes/attn-decode/lane.js';
import { ATTN_DECODE_CSV_COLUMNS, writeAttnDecodeReports } from '../../lanes/attn-decode/reports.js';
import { compare } from '../../compare/compare.js';
import { loadRules } from '../../compare/rules.js';
import type { LaneResult } from '../../model/results.js';
import { around, baselineOf, lane, machine, metric, run } from '../../../__tests__/fixtures/compare/build.js';

const fixture = readFileSync(
  new URL('../../../__tests__/fixtures/gbench/attn_decode_smoke.json', import.meta.url),
  'utf8',
);
const planned = attnDecodeLane.plannedCases('smoke');

describe('attn-decode lane adapter', () => {
  const r = attnDecodeResultFromJson(fixture, planned);

  it('plans the smoke grid and the perplexity case', () => {
    expect(planned).toEqual(['q32kv4d64/ctx256', 'q32kv4d64/ctx2048', 'perplexity']);
  });

  it('maps counters to metrics with units, direction and kind, keeping every repetition', () => {
    const c = r.cases.find((x) => x.id === 'q32kv4d64/ctx2048');
    expect(c?.error).toBeUndefined();
    const speedup = c?.metrics.find((m) => m.name === 'speedup_vs_fp16kv');
    expect(speedup).toMatchObject({ unit: '×', better: 'higher', kind: 'same-run' });
    expect(speedup?.samples).toHaveLength(3);
    expect(speedup?.value).toBeGreaterThan(0);
    expect(c?.metrics.find((m) => m.name === 'l2_diff')).toMatchObject({ better: 'lower' });
    expect(c?.metrics.find((m) => m.name === 'tokens_per_s')?.kind).toBe('absolute');
    expect(c?.params).toMatchObject({ q_heads: 32, kv_heads: 4, head_dim: 64, ctx: 2048 });
    expect(Number(c?.params.tile_tokens)).toBeGreaterThan(0);
  });

  it('reads the model perplexity case and the run facts', () => {
    const ppl = r.cases.find((x) => x.id === 'perplexity');
    expect(ppl?.error).toBeUndefined();
    const delta = ppl?.metrics.find((m) => m.name === 'perplexity_delta_pct');
    expect(Math.abs(delta?.value ?? Number.NaN)).toBeLessThan(1);
    expect(Number(ppl?.params.ppl_int8)).toBeGreaterThan(1);
    expect(['scalar', 'avx2', 'avx512']).toContain(r.path);
    expect(Number(r.info.read_gbps)).toBeGreaterThan(0);
  });

  it('turns an unreported planned case into a case error', () => {
    const more = attnDecodeResultFromJson(fixture, [...planned, 'q32kv8d128/ctx4096']);
    expect(more.cases.find((c) => c.id === 'q32kv8d128/ctx4096')?.error).toMatch(/did not report/);
  });

  it('writes the CSV with DESIGN.md columns and the summary', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'attn-decode-'));
    const result: LaneResult = { ...r, durationS: 1, artifacts: [] };
    expect(writeAttnDecodeReports(result, dir)).toEqual(['attn_decode.csv', 'attn_decode_summary.json']);
    const rows = parse(readFileSync(path.join(dir, 'attn_decode.csv'), 'utf8'), { columns: true }) as Record<
      string,
      string
    >[];
    expect(Object.keys(rows[0] ?? {})).toEqual([...ATTN_DECODE_CSV_COLUMNS]);
    for (const col of [
      'tokens_per_s',
      'baseline_tokens_per_s',
      'perplexity_delta',
      'scratch_ratio',
      'tile_tokens',
      'acc_width',
      'has_avx2',
      'has_vnni',
      'csr_outliers',
      'l2_bytes_per_token',
    ]) {
      expect(rows[0]).toHaveProperty(col);
      expect(rows[0]?.[col]).not.toBe('');
    }
    expect(rows).toHaveLength(2);
    const summary = JSON.parse(readFileSync(path.join(dir, 'attn_decode_summary.json'), 'utf8'));
    expect(summary.lane).toBe('attn-decode');
    expect(summary.headline.perplexity_delta_pct).toEqual(expect.any(Number));
  });
});

describe('attn-decode gates (baselines/rules.yml)', () => {
  const same = { kind: 'same-run' as const };
  const decodeCase = (id: string, speedup: number, l2: number, scratch: number) => ({
    id,
    params: {},
    metrics: [
      metric('speedup_vs_fp16kv', around(speedup), { unit: '×', ...same }),
      metric('l2_diff', around(l2), { unit: '', better: 'lower', ...same }),
      metric('scratch_ratio', around(scratch), { unit: '×', better: 'lower', ...same }),
    ],
  });
  const pplCase = (delta: number) => ({
    id: 'perplexity',
    params: {},
    metrics: [metric('perplexity_delta_pct', around(delta), { unit: '%', better: 'lower', ...same })],
  });

  async function judge(cases: LaneResult['cases']) {
    const rules = await loadRules(path.resolve(__dirname, '..', '..', '..', 'baselines', 'rules.yml'));
    return compare(run([lane('attn-decode', cases)], machine()), {}, rules);
  }
  const gate = (r: Awaited<ReturnType<typeof judge>>, name: string, caseId: string) =>
    r.lanes[0]?.verdicts.find((v) => v.source === 'gate' && v.gate?.name === name && v.caseId === caseId);

  it('passes a healthy run', async () => {
    const r = await judge([decodeCase('q32kv4d64/ctx4096', 1.6, 5e-5, 1.1), pplCase(0.1)]);
    expect(gate(r, 'speedup-vs-fp16kv', 'q32kv4d64/ctx4096')?.state).toBe('pass');
    expect(gate(r, 'decode-perplexity', 'perplexity')?.state).toBe('pass');
    expect(r.conclusion).toBe('success');
  });

  it('fails a slow int8 kernel at ctx ≥ 2k, and not at 512', async () => {
    const r = await judge([
      decodeCase('q32kv4d64/ctx2048', 1.05, 5e-5, 1.1),
      decodeCase('q32kv4d64/ctx512', 1.05, 5e-5, 1.1),
    ]);
    expect(gate(r, 'speedup-vs-fp16kv', 'q32kv4d64/ctx2048')).toMatchObject({
      state: 'regressed',
      severity: 'fail',
    });
    expect(gate(r, 'speedup-vs-fp16kv', 'q32kv4d64/ctx512')).toBeUndefined();
    expect(r.conclusion).toBe('failure');
  });

  it('takes a drift of the same-run speedup within 10 % from the baseline, and fails a larger drop', async () => {
    const rules = await loadRules(path.resolve(__dirname, '..', '..', '..', 'baselines', 'rules.yml'));
    const base = baselineOf(
      lane('attn-decode', [decodeCase('q32kv8d128/ctx2048', 1.63, 5e-5, 1.17)]),
      machine(),
    );
    const verdict = (speedup: number) => {
      const r = compare(
        run([lane('attn-decode', [decodeCase('q32kv8d128/ctx2048', speedup, 5e-5, 1.17)])], machine()),
        {
          'attn-decode': base,
        },
        rules,
      );
      return {
        r,
        v: r.lanes[0]?.verdicts.find((x) => x.source !== 'gate' && x.metric === 'speedup_vs_fp16kv'),
      };
    };
    // the quick run on a busy runner, 40 minutes after calibrating the same kernel
    const drift = verdict(1.52);
    expect(drift.v?.state).not.toBe('regressed');
    expect(drift.r.conclusion).toBe('success');
    const slower = verdict(1.4);
    expect(slower.v).toMatchObject({ state: 'regressed', severity: 'fail' });
    expect(slower.r.conclusion).toBe('failure');
  });

  it('fails on perplexity either way, output error and scratch', async () => {
    for (const [cases, name, id] of [
      [[pplCase(0.5)], 'decode-perplexity', 'perplexity'],
      [[pplCase(-0.4)], 'decode-perplexity', 'perplexity'],
      [[decodeCase('q32kv8d128/ctx8192', 1.6, 3e-3, 1.1)], 'decode-l2', 'q32kv8d128/ctx8192'],
      [[decodeCase('q32kv8d128/ctx8192', 1.6, 5e-5, 1.4)], 'decode-scratch', 'q32kv8d128/ctx8192'],
    ] as const) {
      const r = await judge([...cases]);
      expect(gate(r, name, id)).toMatchObject({ state: 'regressed', severity: 'fail' });
      expect(r.conclusion).toBe('failure');
    }
  });

  it('shows the issue targets as warnings only', async () => {
    const r = await judge([decodeCase('q32kv4d64/ctx8192', 1.3, 5e-5, 1.1), pplCase(0.2)]);
    expect(gate(r, 'decode-speedup-target', 'q32kv4d64/ctx8192')).toMatchObject({
      state: 'regressed',
      severity: 'warn',
    });
    expect(gate(r, 'decode-perplexity-target', 'perplexity')).toMatchObject({
      state: 'regressed',
      severity: 'warn',
    });
    expect(r.conclusion).toBe('success');
  });
});

// Bad input to the lane binaries is a usage error (exit 2) that names the flag. Needs the
// native build (npm test builds it first); skipped when the binaries are absent.
describe('attention lane binaries refuse bad input', () => {
  const bench = (name: string) =>
    path.resolve(__dirname, '..', '..', '..', 'build', 'native', 'release', 'bench', name);
  const decode = bench('infeng_attn_decode_bench');
  const prefill = bench('infeng_attn_prefill_bench');
  const built = existsSync(decode) && existsSync(prefill);

  it.skipIf(!built).each([
    [decode, '--tile_tokens=0', /--tile_tokens: '0' is not an integer/],
    [decode, '--tile_tokens=24', /not a positive multiple of 16/],
    [decode, '--force_path=avx1024', /unknown ISA path 'avx1024'/],
    [decode, '--attn_shapes=32/5/64', /do not divide/],
    [decode, '--attn_shapes=32/4/60', /head_dim must be a multiple of 8/],
    [prefill, '--tile=24', /--tile: 24 is not a multiple of 16/],
    [prefill, '--attn_shapes=7/2/64', /do not divide/],
  ])('%s %s', (bin, flag, message) => {
    const r = spawnSync(bin, [flag, '--benchmark_filter=none'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it.skipIf(!built)('a model file of the wrong size is a case error, not a crash', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'attn-model-'));
    const model = path.join(dir, 'short.bin');
    const real = readFileSync(
      path.resolve(__dirname, '..', '..', '..', 'native', 'testdata', 'stories260K.bin'),
    );
    writeFileSync(model, real.subarray(0, real.length - 4));
    const out = path.join(dir, 'out.json');
    const r = spawnSync(
      decode,
      [
        `--model=${model}`,
        '--benchmark_filter=perplexity',
        `--benchmark_out=${out}`,
        '--benchmark_out_format=json',
      ],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(0);
    const result = attnDecodeResultFromJson(readFileSync(out, 'utf8'), ['perplexity']);
    expect(result.cases[0]?.error).toMatch(/1056536 bytes but its header .* implies exactly 1056540/);
  });
});
