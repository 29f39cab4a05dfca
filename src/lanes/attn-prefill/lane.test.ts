// The attn-prefill lane adapter on a recorded smoke run of infeng_attn_prefill_bench, its
// report files, and the lane's gates in baselines/rules.yml firing on crafted results.
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { attnPrefillLane, attnPrefillResultFromJson } from '../../lanes/attn-prefill/lane.js';
import { ATTN_PREFILL_CSV_COLUMNS, writeAttnPrefillReports } from '../../lanes/attn-prefill/reports.js';
import { compare } from '../../compare/compare.js';
import { loadRules } from '../../compare/rules.js';
import type { LaneResult } from '../../model/results.js';
import { around, lane, machine, metric, run } from '../../../__tests__/fixtures/compare/build.js';

const fixture = readFileSync(
  new URL('../../../__tests__/fixtures/gbench/attn_prefill_smoke.json', import.meta.url),
  'utf8',
);
const planned = attnPrefillLane.plannedCases('smoke');

describe('attn-prefill lane adapter', () => {
  const r = attnPrefillResultFromJson(fixture, planned);

  it('maps counters to metrics and keeps every repetition', () => {
    expect(planned).toEqual(['q32kv4d64/n128', 'q32kv4d64/n256', 'perplexity']);
    const c = r.cases.find((x) => x.id === 'q32kv4d64/n256');
    expect(c?.error).toBeUndefined();
    const speedup = c?.metrics.find((m) => m.name === 'speedup_vs_reference');
    expect(speedup).toMatchObject({ unit: '×', better: 'higher', kind: 'same-run' });
    expect(speedup?.samples).toHaveLength(3);
    expect(speedup?.value).toBeGreaterThan(1);
    expect(c?.params).toMatchObject({ q_heads: 32, kv_heads: 4, head_dim: 64, seq: 256 });
    const ppl = r.cases.find((x) => x.id === 'perplexity');
    expect(Math.abs(ppl?.metrics.find((m) => m.name === 'perplexity_delta_pct')?.value ?? 1)).toBeLessThan(
      0.01,
    );
  });

  it('writes the CSV and the summary', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'attn-prefill-'));
    const result: LaneResult = { ...r, durationS: 1, artifacts: [] };
    expect(writeAttnPrefillReports(result, dir)).toEqual(['attn_prefill.csv', 'attn_prefill_summary.json']);
    const rows = parse(readFileSync(path.join(dir, 'attn_prefill.csv'), 'utf8'), { columns: true }) as Record<
      string,
      string
    >[];
    expect(Object.keys(rows[0] ?? {})).toEqual([...ATTN_PREFILL_CSV_COLUMNS]);
    expect(rows).toHaveLength(2);
    expect(Number(rows[0]?.speedup_vs_reference)).toBeGreaterThan(1);
    expect(rows[0]?.perplexity_delta).not.toBe('');
    const summary = JSON.parse(readFileSync(path.join(dir, 'attn_prefill_summary.json'), 'utf8'));
    expect(summary.headline.speedup_vs_reference_min).toBeGreaterThan(1);
  });
});

describe('attn-prefill gates (baselines/rules.yml)', () => {
  const same = { kind: 'same-run' as const };
  async function judge(speedup: number, delta: number) {
    const rules = await loadRules(path.resolve(__dirname, '..', '..', '..', 'baselines', 'rules.yml'));
    const cases: LaneResult['cases'] = [
      {
        id: 'q32kv4d64/n2048',
        params: {},
        metrics: [metric('speedup_vs_reference', around(speedup), { unit: '×', ...same })],
      },
      {
        id: 'perplexity',
        params: {},
        metrics: [metric('perplexity_delta_pct', around(delta), { unit: '%', better: 'lower', ...same })],
      },
    ];
    return compare(run([lane('attn-prefill', cases)], machine()), {}, rules);
  }
  const gate = (r: Awaited<ReturnType<typeof judge>>, name: string) =>
    r.lanes[0]?.verdicts.find((v) => v.source === 'gate' && v.gate?.name === name);

  it('passes a healthy run and fails a slower-than-reference kernel or a perplexity shift', async () => {
    expect((await judge(12, 0)).conclusion).toBe('success');
    const slow = await judge(0.8, 0);
    expect(gate(slow, 'prefill-speedup')).toMatchObject({ state: 'regressed', severity: 'fail' });
    expect(gate(slow, 'prefill-speedup-target')).toMatchObject({ state: 'regressed', severity: 'warn' });
    const drift = await judge(12, 0.5);
    expect(gate(drift, 'prefill-perplexity')).toMatchObject({ state: 'regressed', severity: 'fail' });
    expect(drift.conclusion).toBe('failure');
  });
});
