// The sched lane adapter on a recorded smoke run of infeng_sched_bench, its report files (the
// seed's CSV columns exactly, the summary schema), and its rules in baselines/rules.yml firing
// on crafted results.
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import {
  SCHED_GRIDS,
  pointName,
  schedBenchSpec,
  schedLane,
  schedPlannedCases,
  schedResultFromJson,
  sweepPoints,
  traceHash,
} from './lane.js';
import {
  SCHED_CSV_COLUMNS,
  adapterScaling,
  checkSchedSummary,
  schedSummary,
  writeSchedReports,
} from './reports.js';
import { compare } from '../../compare/compare.js';
import { loadRules } from '../../compare/rules.js';
import { unreachableTolerances } from '../../compare/reachable.js';
import type { LaneResult } from '../../model/results.js';
import { PROFILES } from '../../model/lanes.js';
import { around, baselineOf, lane, machine, metric, run } from '../../../__tests__/fixtures/compare/build.js';
import { laneContext } from '../../../__tests__/fixtures/lane-context.js';

const fixture = readFileSync(
  new URL('../../../__tests__/fixtures/gbench/sched_smoke.json', import.meta.url),
  'utf8',
);
const planned = schedPlannedCases('smoke');
const rulesPath = path.resolve(__dirname, '..', '..', '..', 'baselines', 'rules.yml');

describe('sched lane adapter', () => {
  const r = schedResultFromJson(fixture, planned);

  it('plans every policy at every point, the point itself and the calibration', () => {
    expect(planned).toEqual([
      'fcfs_lru/zipf1.0/N20/r8/m1.0',
      'affinity_prefetch/zipf1.0/N20/r8/m1.0',
      'cost_aware/zipf1.0/N20/r8/m1.0',
      'zipf1.0/N20/r8/m1.0',
      'fcfs_lru/uniform/N20/r8/m1.0',
      'affinity_prefetch/uniform/N20/r8/m1.0',
      'cost_aware/uniform/N20/r8/m1.0',
      'uniform/N20/r8/m1.0',
      'calibration',
    ]);
    expect(r.cases.map((c) => c.id).sort()).toEqual([...planned].sort());
    expect(r.cases.every((c) => c.error === undefined)).toBe(true);
  });

  it('leaves the real-thread calibration out of A/B rounds after the first', () => {
    const first = schedBenchSpec(laneContext({ profile: 'quick', abRound: false }));
    expect(first.planned).toEqual(schedPlannedCases('quick'));
    expect(first.args).not.toContain('--calibrate=false');
    const later = schedBenchSpec(laneContext({ profile: 'quick', abRound: true }));
    expect(later.planned).toEqual(schedPlannedCases('quick').filter((id) => id !== 'calibration'));
    expect(later.args).toContain('--calibrate=false');
  });

  it('names points as the bench does, and the full profile varies one knob at a time', () => {
    expect(pointName(1, 100, 16, 1)).toBe('zipf1.0/N100/r16/m1.0');
    expect(pointName(1.25, 10, 8, 4)).toBe('zipf1.25/N10/r8/m4.0');
    expect(pointName('uniform', 1000, 64, 1)).toBe('uniform/N1000/r64/m1.0');
    expect(sweepPoints(SCHED_GRIDS.full)).toEqual([
      'zipf1.0/N100/r16/m1.0',
      'uniform/N100/r16/m1.0',
      'zipf0.5/N100/r16/m1.0',
      'zipf1.5/N100/r16/m1.0',
      'zipf1.0/N10/r16/m1.0',
      'zipf1.0/N1000/r16/m1.0',
      'zipf1.0/N100/r8/m1.0',
      'zipf1.0/N100/r64/m1.0',
      'zipf1.0/N100/r16/m4.0',
    ]);
  });

  it('maps counters to metrics with units, directions and kinds, one sample per repetition', () => {
    const c = r.cases.find((x) => x.id === 'affinity_prefetch/zipf1.0/N20/r8/m1.0');
    const tps = c?.metrics.find((m) => m.name === 'tokens_per_s');
    expect(tps).toMatchObject({ unit: 'tok/s', better: 'higher', kind: 'absolute' });
    expect(tps?.samples).toHaveLength(3);
    expect(tps?.value).toBeGreaterThan(0);
    expect(c?.metrics.find((m) => m.name === 'p95_ms')).toMatchObject({ better: 'lower' });
    expect(c?.metrics.find((m) => m.name === 'lora_tax_pct')).toMatchObject({ unit: '%', kind: 'same-run' });
    // No base-model requests in this trace: no base_p95_ms metric rather than a NaN one.
    expect(c?.metrics.find((m) => m.name === 'base_p95_ms')).toBeUndefined();
    expect(c?.params).toMatchObject({ policy: 'affinity_prefetch', alpha: 1, adapters_N: 20, rank: 8 });
  });

  it('takes ratios against fcfs_lru repetition by repetition, and not for fcfs_lru itself', () => {
    const peer = r.cases.find((x) => x.id === 'fcfs_lru/zipf1.0/N20/r8/m1.0')!;
    const aff = r.cases.find((x) => x.id === 'affinity_prefetch/zipf1.0/N20/r8/m1.0')!;
    expect(peer.metrics.find((m) => m.name === 'capacity_vs_fcfs')).toBeUndefined();
    const peerCap = peer.metrics.find((m) => m.name === 'capacity_rps')!.samples;
    const affCap = aff.metrics.find((m) => m.name === 'capacity_rps')!.samples;
    const ratio = aff.metrics.find((m) => m.name === 'capacity_vs_fcfs')!;
    expect(ratio.samples).toEqual(affCap.map((v, i) => v / peerCap[i]!));
    const point = r.cases.find((x) => x.id === 'zipf1.0/N20/r8/m1.0')!;
    const best = point.metrics.find((m) => m.name === 'best_capacity_vs_fcfs')!;
    const worst = point.metrics.find((m) => m.name === 'worst_capacity_vs_fcfs')!;
    best.samples.forEach((b, i) => expect(b).toBeGreaterThanOrEqual(worst.samples[i]!));
  });

  it('carries the trace hash and skew, and the calibration against real threads', () => {
    const point = r.cases.find((x) => x.id === 'zipf1.0/N20/r8/m1.0')!;
    expect(point.params.trace_hash).toMatch(/^[0-9a-f]{16}$/);
    const uniform = r.cases.find((x) => x.id === 'uniform/N20/r8/m1.0')!;
    expect(uniform.params.trace_hash).not.toBe(point.params.trace_hash);
    expect(Number(point.params.top1_share)).toBeGreaterThan(Number(uniform.params.top1_share));
    const cal = r.cases.find((x) => x.id === 'calibration')!;
    expect(cal.metrics.find((m) => m.name === 'sim_error_pct')).toMatchObject({ unit: '%', better: 'lower' });
    expect(Number(r.info.decode_threads)).toBe(6);
    expect(String(r.info.threads_note)).toMatch(/modelled 6 decode \+ 4 adapter threads/);
    expect(String(r.info.compiler)).not.toBe('');
  });

  it('bounds what residency can buy and carries the probed costs of each point', () => {
    const point = r.cases.find((x) => x.id === 'zipf1.0/N20/r8/m1.0')!;
    const bound = point.metrics.find((m) => m.name === 'free_loads_capacity_vs_fcfs')!;
    expect(bound).toMatchObject({ unit: '×', better: 'higher', kind: 'same-run' });
    expect(bound.value).toBeGreaterThan(0.5);
    for (const name of [
      'probe_load_ms',
      'probe_read_ms',
      'probe_unpack_ms',
      'probe_attn_ms_ctx256',
      'probe_adapter_mb',
    ])
      expect(point.metrics.find((m) => m.name === name)?.value, name).toBeGreaterThan(0);
    const cal = r.cases.find((x) => x.id === 'calibration')!;
    for (const name of [
      'step_real_vs_model',
      'prefill_real_vs_model',
      'load_real_vs_model',
      'cold_real_vs_model',
      'warm_real_vs_model',
      'probe_drift',
    ])
      expect(cal.metrics.find((m) => m.name === name)?.value, name).toBeGreaterThan(0);
    expect(cal.metrics.find((m) => m.name === 'load_slowdown')?.value).toBeGreaterThanOrEqual(1);
    expect(point.metrics.find((m) => m.name === 'probe_load_slowdown')?.value).toBeGreaterThanOrEqual(1);
    expect(r.info.adapter_store).toBe('storage');
    expect(Number(r.info.ffn)).toBe(704);
  });

  it('rebuilds the 64-bit hash from its halves and refuses halves that are not 32-bit integers', () => {
    expect(traceHash(0x61ed_e0b8, 0xe834_6a97)).toBe('61ede0b8e8346a97');
    expect(traceHash(1, 2)).toBe('0000000100000002');
    expect(traceHash(2 ** 32, 0)).toBe('');
    expect(traceHash(Number.NaN, 0)).toBe('');
  });

  it('turns a failed point and an unreported case into case errors naming them', () => {
    const broken = JSON.parse(fixture.replace(/: NaN/g, ': null')) as {
      benchmarks: Record<string, unknown>[];
    };
    broken.benchmarks = broken.benchmarks.filter((b) => !String(b.name).startsWith('sched/uniform'));
    broken.benchmarks.push({
      name: 'sched/uniform/N20/r8/m1.0',
      run_name: 'sched/uniform/N20/r8/m1.0',
      run_type: 'iteration',
      error_occurred: true,
      error_message: 'simulator: 3 requests left and nothing more can happen',
    });
    const b = schedResultFromJson(JSON.stringify(broken), [...planned, 'fcfs_lru/zipf1.5/N20/r8/m1.0']);
    expect(b.cases.find((c) => c.id === 'cost_aware/uniform/N20/r8/m1.0')?.error).toMatch(
      /nothing more can happen/,
    );
    expect(b.cases.find((c) => c.id === 'fcfs_lru/zipf1.5/N20/r8/m1.0')?.error).toMatch(/did not report/);
  });

  it('refuses a run without the peer policy, naming the field', () => {
    const noPeer = fixture.replace(
      '"policies": "fcfs_lru,affinity_prefetch,cost_aware"',
      '"policies": "cost_aware"',
    );
    expect(noPeer).not.toBe(fixture);
    expect(() => schedResultFromJson(noPeer, planned)).toThrow(/context\.policies.*fcfs_lru/);
  });

  it('writes the CSV with exactly the seed columns, one row per policy and point', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sched-'));
    const result: LaneResult = { ...r, durationS: 1, artifacts: [] };
    expect(writeSchedReports(result, dir)).toEqual(['sched_zipf.csv', 'sched_zipf_summary.json']);
    const text = readFileSync(path.join(dir, 'sched_zipf.csv'), 'utf8');
    expect(text.split('\n')[0]).toBe(
      'sched,alpha,adapters_N,mean_adapters_per_req,rank,load_rps,duration_s,decode_threads,adapter_threads,pin_cores,p50_ms,p95_ms,base_p95_ms,lora_tax_pct,hot_reload_ms_p95,tokens_per_s,queue_ms_p95,decode_util,adapter_util,overlap_ratio',
    );
    expect(SCHED_CSV_COLUMNS).toHaveLength(20);
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(6);
    expect(rows.map((x) => x.sched)).toEqual([
      'fcfs_lru',
      'affinity_prefetch',
      'cost_aware',
      'fcfs_lru',
      'affinity_prefetch',
      'cost_aware',
    ]);
    const first = rows[0]!;
    expect(first.alpha).toBe('1');
    expect(rows[3]!.alpha).toBe('uniform');
    expect(first.decode_threads).toBe('6');
    expect(first.pin_cores).toBe('true');
    // The observed rate, near the seed's 24 rps but not equal to it.
    expect(Number(first.load_rps)).toBeGreaterThan(15);
    expect(Number(first.load_rps)).not.toBe(24);
    for (const col of ['p50_ms', 'p95_ms', 'tokens_per_s', 'queue_ms_p95', 'decode_util', 'lora_tax_pct'])
      expect(Number(first[col]), col).toBeGreaterThanOrEqual(0);
    expect(first.base_p95_ms).toBe('');
    expect(Number(first.overlap_ratio)).toBe(0); // loads on the critical path never overlap
  });

  it('writes a summary that fits its schema, with hash, skew, capacity and calibration', () => {
    const result: LaneResult = { ...r, durationS: 1, artifacts: [] };
    const s = schedSummary(result);
    expect(() => checkSchedSummary(s)).not.toThrow();
    expect(s.points).toHaveLength(2);
    expect(s.points[0]?.trace.hash).toMatch(/^[0-9a-f]{16}$/);
    expect(Number(s.points[0]?.trace.top10pct_share)).toBeGreaterThan(0);
    expect(Object.keys(s.points[0]?.policies ?? {})).toEqual(['fcfs_lru', 'affinity_prefetch', 'cost_aware']);
    expect(s.calibration?.sim_error_pct).toEqual(expect.any(Number));
    expect(s.definitions.alpha).toMatch(/S-LoRA/);
    // Every modelling choice is stated, with the model and each point's probed costs.
    expect(s.modelling.join(' ')).toMatch(/storage/);
    expect(s.model).toMatchObject({ hidden: 256, q_heads: 4, kv_heads: 2, adapter_store: 'storage' });
    expect(s.points[0]?.free_loads_capacity_vs_fcfs).toEqual(expect.any(Number));
    expect(s.points[0]?.costs.load_ms).toBeGreaterThan(0);
    expect(s.points[0]?.policies.affinity_prefetch).toMatchObject({
      overlap_at_capacity: expect.any(Number),
      decode_util_at_capacity: expect.any(Number),
    });
    expect(s.calibration?.parts.step_real_vs_model).toEqual(expect.any(Number));
    const unstated = structuredClone(s) as Record<string, unknown>;
    delete unstated.modelling;
    expect(() => checkSchedSummary(unstated)).toThrow(/modelling/);
    // The schema is not a formality: a summary without a trace hash or a policy's capacity fails it.
    const bad = structuredClone(s);
    (bad.points[0]!.trace as Record<string, unknown>).hash = 'xyz';
    expect(() => checkSchedSummary(bad)).toThrow(/trace\/hash/);
    const noCapacity = structuredClone(s);
    delete (noCapacity.points[0]!.policies.fcfs_lru as Record<string, unknown>).capacity_rps;
    expect(() => checkSchedSummary(noCapacity)).toThrow(/policies/);
  });

  it('compares throughput at the most adapters with the fewest, per policy, only across the adapter count', () => {
    const tps = (v: number) => metric('max_tokens_per_s', around(v, 5, 0), { unit: 'tok/s' });
    const c = (policy: string, n: number, alpha: number | string, v: number) => ({
      id: `${policy}/zipf1.0/N${n}/r16/m1.0`,
      params: { policy, alpha, adapters_N: n, rank: 16, mean_adapters_per_req: 1 },
      metrics: [tps(v)],
    });
    const result: LaneResult = {
      ...lane('sched', [
        c('fcfs_lru', 10, 1, 1000),
        c('fcfs_lru', 100, 1, 980),
        c('fcfs_lru', 1000, 1, 850),
        c('cost_aware', 1000, 1, 900),
        c('fcfs_lru', 100, 'uniform', 700),
      ]),
    };
    expect(adapterScaling(result)).toEqual([
      { policy: 'fcfs_lru', point: 'zipf1.0/N10/r16/m1.0', from_N: 10, to_N: 1000, max_tokens_ratio: 0.85 },
    ]);
  });

  it('takes at least minSamples repetitions in every profile, so its fail rules can fire', async () => {
    const rules = await loadRules(rulesPath);
    const sampling = PROFILES.map((profile) => ({
      lane: 'sched',
      profile,
      samples: schedLane.samplesPerMetric(profile),
    }));
    expect(unreachableTolerances(rules, sampling)).toEqual([]);
    expect(unreachableTolerances(rules, [{ lane: 'sched', profile: 'x', samples: 3 }])).toHaveLength(1);
  });
});

describe('sched rules (baselines/rules.yml)', () => {
  const same = { kind: 'same-run' as const };
  const abs = { kind: 'absolute' as const };
  const policyCase = (
    policy: string,
    point: string,
    o: { tps: number; cap: number; tax: number; queue: number },
  ) => ({
    id: `${policy}/${point}`,
    params: { policy },
    metrics: [
      metric('tokens_per_s', around(o.tps), { unit: 'tok/s', ...abs }),
      metric('capacity_rps', around(o.cap), { unit: 'req/s', ...abs }),
      metric('lora_tax_pct', around(o.tax), { unit: '%', better: 'lower', ...same }),
      metric('queue_ms_p95', around(o.queue), { unit: 'ms', better: 'lower', ...abs }),
    ],
  });
  const pointCase = (point: string, best: number, worst: number) => ({
    id: point,
    params: {},
    metrics: [
      metric('best_capacity_vs_fcfs', around(best), { unit: '×', ...same }),
      metric('worst_capacity_vs_fcfs', around(worst), { unit: '×', ...same }),
    ],
  });
  const calibration = (err: number) => ({
    id: 'calibration',
    params: {},
    metrics: [metric('sim_error_pct', around(err), { unit: '%', better: 'lower', ...same })],
  });
  const healthy = { tps: 1700, cap: 100, tax: 3, queue: 20 };
  const P = 'zipf1.0/N100/r16/m1.0';

  const judge = async (cases: LaneResult['cases'], base?: LaneResult['cases']) => {
    const rules = await loadRules(rulesPath);
    const baselines = base ? { sched: baselineOf(lane('sched', base), machine()) } : {};
    return compare(run([lane('sched', cases)], machine()), baselines, rules);
  };
  const verdict = (r: Awaited<ReturnType<typeof judge>>, caseId: string, name: string, source = 'gate') =>
    r.lanes[0]?.verdicts.find(
      (v) =>
        v.source === source &&
        v.caseId === caseId &&
        (source === 'gate' ? v.gate?.name === name : v.metric === name),
    );

  it('passes a healthy run', async () => {
    const r = await judge([policyCase('fcfs_lru', P, healthy), pointCase(P, 1.4, 1.0), calibration(8)]);
    expect(verdict(r, `fcfs_lru/${P}`, 'sched-lora-tax')?.state).toBe('pass');
    expect(verdict(r, P, 'sched-capacity-skew')?.state).toBe('pass');
    expect(verdict(r, 'calibration', 'sched-sim-error')?.state).toBe('pass');
    expect(r.conclusion).toBe('success');
  });

  it('warns on the seed gates (LoRA tax > 10 %, queue wait p95 > 200 ms) without failing', async () => {
    const r = await judge([policyCase('fcfs_lru', P, { ...healthy, tax: 14, queue: 350 })]);
    expect(verdict(r, `fcfs_lru/${P}`, 'sched-lora-tax')).toMatchObject({
      state: 'regressed',
      severity: 'warn',
    });
    expect(verdict(r, `fcfs_lru/${P}`, 'sched-queue-wait')).toMatchObject({
      state: 'regressed',
      severity: 'warn',
    });
    expect(r.conclusion).not.toBe('failure');
  });

  it('warns when the adapter-aware policies miss the capacity targets, fails when the simulation drifts', async () => {
    const r = await judge([
      pointCase(P, 1.1, 1.0),
      pointCase('uniform/N100/r16/m1.0', 1.0, 0.9),
      calibration(30),
    ]);
    expect(verdict(r, P, 'sched-capacity-skew')).toMatchObject({ state: 'regressed', severity: 'warn' });
    expect(verdict(r, 'uniform/N100/r16/m1.0', 'sched-capacity-uniform')?.state).toBe('regressed');
    // the skew target is not applied to the uniform trace
    expect(verdict(r, 'uniform/N100/r16/m1.0', 'sched-capacity-skew')).toBeUndefined();
    expect(verdict(r, 'calibration', 'sched-sim-error-bound')).toMatchObject({
      state: 'regressed',
      severity: 'fail',
    });
    expect(r.conclusion).toBe('failure');
    // 20 %: the warning alone
    const near = await judge([calibration(20)]);
    expect(verdict(near, 'calibration', 'sched-sim-error')).toMatchObject({
      state: 'regressed',
      severity: 'warn',
    });
    expect(verdict(near, 'calibration', 'sched-sim-error-bound')?.state).toBe('pass');
  });

  it('fails a throughput and capacity regression against the baseline, not a small drift', async () => {
    const base = [policyCase('fcfs_lru', P, healthy)];
    const slow = await judge([policyCase('fcfs_lru', P, { ...healthy, tps: 1400, cap: 80 })], base);
    expect(verdict(slow, `fcfs_lru/${P}`, 'tokens_per_s', 'baseline')).toMatchObject({
      state: 'regressed',
      severity: 'fail',
    });
    expect(verdict(slow, `fcfs_lru/${P}`, 'capacity_rps', 'baseline')?.state).toBe('regressed');
    expect(slow.conclusion).toBe('failure');
    const drift = await judge([policyCase('fcfs_lru', P, { ...healthy, tps: 1660 })], base);
    expect(verdict(drift, `fcfs_lru/${P}`, 'tokens_per_s', 'baseline')?.state).not.toBe('regressed');
    expect(drift.conclusion).toBe('success');
  });
});
