// Every verdict state, and the rule that only a fail-severity regression or error fails the
// run. Fixtures are built by hand: 10 samples per side unless a test is about sample counts.
import { describe, expect, it } from 'vitest';
import { compare } from '../src/compare/compare.js';
import { parseRules } from '../src/compare/rules.js';
import { InputError } from '../src/errors.js';
import { renderTerminal } from '../src/report/render.js';
import type { Metric } from '../src/model/results.js';
import type { VerdictReport } from '../src/model/verdicts.js';
import { around, baselineOf, gemmCase, lane, machine, metric, run } from './fixtures/compare/build.js';

const rules = parseRules(`
lanes:
  gemm:
    tolerances:
      - { metric: openblas_gflops, tolerancePct: 8, severity: warn }
      - { metric: "*_gflops", tolerancePct: 8, severity: fail }
      - { metric: lora_tax_pct, toleranceAbs: 1.0, severity: fail }
    gates:
      - { name: vs-openblas, metric: ratio_vs_openblas, cases: "prefill/M128/*", path: "avx*", min: 1.3, severity: warn }
      - { name: tax, metric: lora_tax_excess_pp, cases: "prefill/*", max: 1.0, severity: fail }
      - { name: typo, metric: lora_tax_exces_pp, max: 1.0, severity: warn }
`);

const tax = (center: number, n = 10): Metric =>
  metric('lora_tax_pct', around(center, n, 0.02), { unit: '%', better: 'lower', kind: 'same-run' });
const ratio = (center: number): Metric =>
  metric('ratio_vs_openblas', around(center), { unit: '×', kind: 'same-run' });
const excess = (center: number): Metric =>
  metric('lora_tax_excess_pp', around(center, 10, 0.02), { unit: 'pp', better: 'lower', kind: 'same-run' });

const CASE = 'prefill/M128/H2048/r8';
const before = lane('gemm', [
  gemmCase(CASE, [
    metric('fused_gflops', around(400)),
    metric('openblas_gflops', around(300)),
    tax(2),
    ratio(1.33),
    excess(0.5),
  ]),
]);
const baselines = { gemm: baselineOf(before) };

function judge(metrics: Metric[], m = machine(), bl: Record<string, unknown> = baselines): VerdictReport {
  return compare(run([lane('gemm', [gemmCase(CASE, metrics)])], m), bl as never, rules);
}

function find(report: VerdictReport, metricName: string, source: 'baseline' | 'gate' = 'baseline') {
  const v = report.lanes
    .flatMap((l) => l.verdicts)
    .find((x) => x.metric === metricName && x.source === source);
  if (!v) throw new Error(`no ${source} verdict for ${metricName}`);
  return v;
}

const steady = (): Metric[] => [
  metric('fused_gflops', around(402)),
  metric('openblas_gflops', around(299)),
  tax(2.1),
  ratio(1.34),
  excess(0.6),
];

describe('baseline verdicts', () => {
  it('pass: within tolerance', () => {
    const r = judge(steady());
    expect(find(r, 'fused_gflops')).toMatchObject({
      state: 'pass',
      severity: 'fail',
      reason: '+0.50 % within ±8 %',
    });
    expect(r.conclusion).toBe('success');
    expect(r.lanes[0]?.conclusion).toBe('success');
    expect(r.counts.pass).toBe(5 + 2); // five baseline verdicts and two gates
  });

  it('regressed: beyond tolerance in the bad direction and significant', () => {
    const [, ...rest] = steady();
    const r = judge([metric('fused_gflops', around(360)), ...rest]);
    const v = find(r, 'fused_gflops');
    expect(v).toMatchObject({ state: 'regressed', severity: 'fail' });
    expect(v.deltaPct).toBeCloseTo(-10, 6);
    expect(v.pValue).toBeLessThan(0.001);
    expect(v.reason).toMatch(/^−10\.0 % \(worse\) beyond ±8 %, p = /);
    expect(r.conclusion).toBe('failure');
    expect(r.lanes[0]?.conclusion).toBe('failure');
    expect(r.lanes[0]?.summary).toBe('1 failing: 1 regressed, 6 pass (avx2)');
  });

  it('a missed fail-severity gate fails the lane and is counted apart from regressions', () => {
    const [a, b, c, d] = steady();
    const r = judge([a!, b!, c!, d!, excess(1.5)]);
    expect(find(r, 'lora_tax_excess_pp', 'gate')).toMatchObject({ state: 'regressed', severity: 'fail' });
    expect(r.conclusion).toBe('failure');
    // the same value is also a regression against the baseline (0.5 pp then): both are counted
    expect(find(r, 'lora_tax_excess_pp')).toMatchObject({ state: 'regressed', severity: 'fail' });
    expect(r.lanes[0]?.summary).toBe('2 failing: 1 gate missed, 1 regressed, 5 pass (avx2)');
    expect(renderTerminal(r).split('\n')[0]).toMatch(
      /^infeng perf: FAILED \(2 failing\) - 1 regressed, 1 gate missed, 0 improved, 5 unchanged/,
    );
  });

  it('improved: beyond tolerance in the good direction and significant', () => {
    const [, ...rest] = steady();
    const r = judge([metric('fused_gflops', around(460)), ...rest]);
    expect(find(r, 'fused_gflops')).toMatchObject({ state: 'improved' });
    expect(r.conclusion).toBe('success');
  });

  it('a warn-severity regression (the peer library) does not fail', () => {
    const [first, , ...rest] = steady();
    const r = judge([first!, metric('openblas_gflops', around(250)), ...rest]);
    expect(find(r, 'openblas_gflops')).toMatchObject({ state: 'regressed', severity: 'warn' });
    expect(r.conclusion).toBe('success');
  });

  it('noisy: beyond tolerance but too few samples for the U test', () => {
    const [, ...rest] = steady();
    const r = judge([metric('fused_gflops', around(300, 3)), ...rest]);
    const v = find(r, 'fused_gflops');
    expect(v.state).toBe('noisy');
    expect(v.pValue).toBeUndefined();
    expect(v.reason).toMatch(/10 vs 3 samples are too few for the U test \(needs 5 per side\)/);
    expect(r.conclusion).toBe('success');
  });

  it('noisy: beyond tolerance but not significant', () => {
    const wide = lane('gemm', [gemmCase(CASE, [metric('fused_gflops', [100, 80, 120, 90, 110, 70, 130])])]);
    const r = judge([metric('fused_gflops', [88, 60, 125, 75, 118, 65, 135])], machine(), {
      gemm: baselineOf(wide),
    });
    const v = find(r, 'fused_gflops');
    expect(v.state).toBe('noisy');
    expect(v.pValue).toBeGreaterThan(0.05);
    expect(v.reason).toMatch(/not significant \(p = 0\.\d+ ≥ 0\.05\)/);
  });

  it('percentage metrics are judged in percentage points', () => {
    const [a, b, , ...rest] = steady();
    // 2 % → 2.8 % is +40 % relative but only +0.8 pp: within ±1 pp
    expect(find(judge([a!, b!, tax(2.8), ...rest]), 'lora_tax_pct')).toMatchObject({ state: 'pass' });
    // 2 % → 3.5 % is +1.5 pp: a regression (lower is better)
    const v = find(judge([a!, b!, tax(3.5), ...rest]), 'lora_tax_pct');
    expect(v).toMatchObject({ state: 'regressed', tolerance: { abs: 1 } });
    expect(v.deltaAbs).toBeCloseTo(1.5, 2);
    expect(v.reason).toMatch(/^\+1\.50 pp \(worse\) beyond ±1 pp/);
  });

  it('new: no baseline for the lane, or for one metric', () => {
    const none = judge(steady(), machine(), {});
    expect(none.counts.new).toBe(5);
    expect(none.conclusion).toBe('success');
    const r = judge([...steady(), metric('unfused_gflops', around(350))]);
    expect(find(r, 'unfused_gflops')).toMatchObject({ state: 'new', severity: 'warn' });
  });

  it('missing: a baseline metric or planned case that did not run', () => {
    const [, ...rest] = steady();
    expect(find(judge(rest), 'fused_gflops')).toMatchObject({ state: 'missing', severity: 'warn' });

    const other = lane('gemm', [gemmCase('prefill/M512/H2048/r8', steady())]);
    const planned = compare(run([{ ...other, planned: [CASE, 'prefill/M512/H2048/r8'] }]), baselines, rules);
    expect(planned.counts.missing).toBe(5);
    expect(planned.lanes[0]?.verdicts.find((v) => v.state === 'missing')?.reason).toBe(
      'case in the baseline did not run',
    );
    // a case outside this profile's plan is not missing
    const unplanned = compare(run([other]), baselines, rules);
    expect(unplanned.counts.missing).toBe(0);
  });

  it('error: NaN or empty samples, with the reason', () => {
    const [, b, c, ...rest] = steady();
    const r = judge([
      metric('fused_gflops', [400, NaN, 401]),
      { ...b!, samples: [], value: NaN },
      c!,
      ...rest,
    ]);
    expect(find(r, 'fused_gflops')).toMatchObject({
      state: 'error',
      severity: 'fail',
      reason: 'non-finite samples (NaN): the measurement is broken',
    });
    expect(find(r, 'openblas_gflops')).toMatchObject({
      state: 'error',
      severity: 'warn',
      reason: 'no samples: the metric was not measured',
    });
    expect(r.conclusion).toBe('failure');
  });

  it('error: a case that failed inside a healthy lane', () => {
    const r = compare(run([lane('gemm', [gemmCase(CASE, [], 'illegal instruction')])]), baselines, rules);
    expect(r.lanes[0]?.verdicts).toMatchObject([
      { caseId: CASE, state: 'error', severity: 'fail', reason: 'case failed: illegal instruction' },
    ]);
    expect(r.conclusion).toBe('failure');
  });
});

describe('incomparable baselines', () => {
  // the same machine class (CPU model, cores, path, compiler major) with other ISA flags
  const otherFlags = machine({ isa: ['avx2', 'avx512f', 'fma'] });
  const elsewhere = machine({ cpuModel: 'Intel Xeon Platinum 8370C', cores: 2 });

  it('same class, other ISA flags: does not judge absolute metrics, still judges same-run metrics', () => {
    const [, b, , ...rest] = steady();
    const r = judge([metric('fused_gflops', around(200)), b!, tax(3.5), ...rest], otherFlags);
    expect(find(r, 'fused_gflops')).toMatchObject({ state: 'incomparable', severity: 'warn' });
    expect(find(r, 'fused_gflops').deltaPct).toBeCloseTo(-50, 6);
    expect(find(r, 'lora_tax_pct')).toMatchObject({ state: 'regressed', severity: 'fail' });
    expect(r.lanes[0]?.incomparable).toBe(
      'baseline vs this run: ISA flags differ (this machine is with avx512f)',
    );
    expect(r.lanes[0]?.conclusion).toBe('failure');
  });

  it('same class, other ISA flags: neutral when nothing absolute could be judged and nothing failed', () => {
    const r = judge(steady(), otherFlags);
    expect(r.counts.incomparable).toBe(2);
    expect(r.lanes[0]?.conclusion).toBe('neutral');
    expect(r.lanes[0]?.summary).toMatch(/absolute metrics not judged/);
    expect(r.conclusion).toBe('success');
  });

  it('another machine class: nothing tied to the hardware is judged, same-run ratios included; gates still are', () => {
    const [, b, , , e] = steady();
    // a same-run ratio this machine cannot reach is not a regression of the code
    const r = judge([metric('fused_gflops', around(200)), b!, tax(3.5), ratio(0.9), e!], elsewhere);
    for (const name of ['fused_gflops', 'lora_tax_pct', 'ratio_vs_openblas'])
      expect(find(r, name)).toMatchObject({ state: 'incomparable', severity: 'warn' });
    expect(find(r, 'ratio_vs_openblas').baseline?.median).toBeCloseTo(1.33, 2);
    expect(find(r, 'lora_tax_excess_pp', 'gate')).toMatchObject({ state: 'pass' });
    expect(r.lanes[0]?.conclusion).toBe('neutral');
    expect(r.lanes[0]?.summary).toMatch(/no baseline for this machine class/);
    expect(r.lanes[0]?.incomparable).toMatch(
      /^no baseline for this machine class \(intel-xeon-platinum-8370c_2c_avx2_clang17: Intel Xeon Platinum 8370C, 2 cores, avx2, clang 17\)/,
    );
    expect(r.lanes[0]?.incomparable).toContain(
      'npx infeng-perf baseline update --lanes gemm --force-path avx2',
    );
    expect(r.lanes[0]?.otherClass).toBe(true);
    expect(r.conclusion).toBe('success');
  });

  it('another machine class: a missed fail gate still fails', () => {
    const [f, b, t, ra] = steady();
    const r = judge([f!, b!, t!, ra!, excess(2)], elsewhere);
    expect(find(r, 'lora_tax_excess_pp', 'gate')).toMatchObject({ state: 'regressed', severity: 'fail' });
    expect(r.conclusion).toBe('failure');
  });

  it('a changed unit is incomparable, not a 1000× regression', () => {
    const [, ...rest] = steady();
    const r = judge([metric('fused_gflops', around(0.4), { unit: 'TFLOP/s' }), ...rest]);
    expect(find(r, 'fused_gflops')).toMatchObject({
      state: 'incomparable',
      reason: 'unit changed from GFLOP/s to TFLOP/s: recalibrate',
    });
  });
});

describe('lanes that did not run cleanly', () => {
  it('an errored lane is one error verdict naming the step; other lanes are still judged', () => {
    const broken = lane('sched', [], {
      status: 'error',
      error: { step: 'spawn', message: 'ENOENT bench_sched' },
    });
    const r = compare(run([broken, lane('gemm', [gemmCase(CASE, steady())])]), baselines, rules);
    expect(r.lanes[0]).toMatchObject({
      lane: 'sched',
      check: 'sched-zipf-perf',
      conclusion: 'failure',
      summary: 'error: spawn failed: ENOENT bench_sched',
      error: { step: 'spawn', message: 'ENOENT bench_sched' },
    });
    expect(r.lanes[0]?.verdicts).toMatchObject([
      { state: 'error', severity: 'fail', reason: 'spawn failed: ENOENT bench_sched' },
    ]);
    expect(r.lanes[1]?.conclusion).toBe('success');
    expect(r.conclusion).toBe('failure');
  });

  it('a timeout names the step', () => {
    const slow = lane('gemm', [], { status: 'timeout', error: { step: 'run', message: 'after 900 s' } });
    expect(compare(run([slow]), {}, rules).lanes[0]?.summary).toBe('error: run timed out: after 900 s');
  });

  it('a skipped lane is neutral with its reason', () => {
    const skipped = lane('attn-decode', [], {
      status: 'skipped',
      error: { step: 'select', message: 'not selected' },
    });
    expect(compare(run([skipped]), {}, rules).lanes[0]).toMatchObject({
      conclusion: 'neutral',
      summary: 'skipped: not selected',
      verdicts: [],
    });
  });

  it('a lane that reports no cases is an error', () => {
    expect(compare(run([lane('gemm', [])]), {}, rules).lanes[0]?.verdicts[0]?.reason).toBe(
      'the lane ran but reported no cases',
    );
  });

  it('an unusable baseline fails the lane with a note; the gates still judge', () => {
    const bad = new InputError('must be number', { file: 'baselines/gemm.json', field: '_meta.cores' });
    const r = judge(steady(), machine(), { gemm: bad });
    expect(r.notes).toContain('gemm: baseline not used: baselines/gemm.json: _meta.cores: must be number');
    expect(r.lanes[0]?.verdicts.filter((v) => v.source === 'baseline')).toMatchObject([
      {
        state: 'error',
        severity: 'fail',
        reason: 'baseline unusable: baselines/gemm.json: _meta.cores: must be number',
      },
    ]);
    expect(r.lanes[0]?.verdicts.filter((v) => v.source === 'gate')).toHaveLength(2);
    expect(r.conclusion).toBe('failure');
  });
});

describe('gates', () => {
  it('judges the median against the bound, with the rule severity', () => {
    const [a, b, c, ,] = steady();
    const r = judge([a!, b!, c!, ratio(1.2), excess(1.4)]);
    expect(find(r, 'ratio_vs_openblas', 'gate')).toMatchObject({
      state: 'regressed',
      severity: 'warn',
      gate: { name: 'vs-openblas', min: 1.3 },
      reason: 'median 1.20× is below the minimum: ≥ 1.3×',
    });
    expect(find(r, 'lora_tax_excess_pp', 'gate')).toMatchObject({
      state: 'regressed',
      severity: 'fail',
      gate: { name: 'tax', max: 1 },
    });
    expect(r.conclusion).toBe('failure');
  });

  it('passes within the bound', () => {
    expect(find(judge(steady()), 'ratio_vs_openblas', 'gate')).toMatchObject({
      state: 'pass',
      reason: 'median 1.34× meets ≥ 1.3×',
    });
  });

  it('applies only on the matching ISA path', () => {
    const r = compare(run([lane('gemm', [gemmCase(CASE, steady())], { path: 'scalar' })]), {}, rules);
    expect(r.lanes[0]?.verdicts.filter((v) => v.gate?.name === 'vs-openblas')).toHaveLength(0);
  });

  it('notes a gate that matched no metric in a lane that ran', () => {
    expect(judge(steady()).notes).toEqual(['gemm: gate "typo" matched no metric (lora_tax_exces_pp in *)']);
  });
});
