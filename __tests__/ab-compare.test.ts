// A/B verdicts: the head judged against its base measured in the same rounds. Crafted results:
// each metric carries its per-round medians (`rounds`) on both sides, as mergeAbRounds leaves
// them, and three samples per round around each median.
import { describe, expect, it } from 'vitest';
import { abInconclusive, abLaneSummary } from '../src/compare/compare-ab.js';
import { compare } from '../src/compare/compare.js';
import { abToleranceFor, parseRules } from '../src/compare/rules.js';
import { InputError } from '../src/errors.js';
import type { AbInfo, CaseResult, LaneResult, Metric, RunResults, SideResult } from '../src/model/results.js';
import type { Rules } from '../src/model/rules.js';
import type { Verdict, VerdictReport } from '../src/model/verdicts.js';
import { around, baselineOf, gemmCase, lane, machine } from './fixtures/compare/build.js';

const rules = parseRules(`
lanes:
  gemm:
    tolerances:
      - { metric: peer_gflops, tolerancePct: 8, severity: warn }
      - { metric: guarded_gflops, tolerancePct: 8, control: peer_gflops, severity: fail }
      - { metric: "*_gflops", tolerancePct: 8, severity: fail }
    gates:
      - { name: floor, metric: fused_gflops, min: 100, severity: fail }
`);

const CASE = 'prefill/M128/H2048/r8';
const AB: AbInfo = {
  baseRef: 'origin/main',
  baseCommit: 'ba5e000000000000000000000000000000000000',
  baseNativeTree: '0123456789abcdef0123456789abcdef01234567',
  baseCached: false,
  repetitions: 3,
};

// ---- helpers -------------------------------------------------------------------------------

function med(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** A metric as merged from A/B rounds: three samples per round around its median. */
function abMetric(
  name: string,
  rounds: number[],
  opts: { unit?: string; better?: 'higher' | 'lower'; kind?: 'absolute' | 'same-run' } = {},
): Metric {
  const samples = rounds.flatMap((r) => [r * 0.997, r, r * 1.003]);
  return {
    name,
    unit: opts.unit ?? 'GFLOP/s',
    better: opts.better ?? 'higher',
    kind: opts.kind ?? 'absolute',
    samples,
    value: med(samples),
    rounds,
  };
}

/** Deterministic jitter of ±`size` (relative) per round, different from `around`'s pattern. */
const JITTER = [0.3, -0.6, 0.9, -0.2, 0.5, -0.9, 0.1, -0.4, 0.7, -0.8];
function jitter(xs: readonly number[], size = 0.002): number[] {
  return xs.map((x, i) => x * (1 + size * (JITTER[i % JITTER.length] as number)));
}
const scale = (xs: readonly number[], f: number) => xs.map((x) => x * f);

function baseSide(cases: CaseResult[], over: Partial<SideResult> = {}): SideResult {
  return { status: 'ok', path: 'avx2', cases, durationS: 30, info: {}, ...over };
}

function abLane(head: Metric[], base: Metric[] | SideResult, headCases: CaseResult[] = []): LaneResult {
  const side = Array.isArray(base) ? baseSide([gemmCase(CASE, base)]) : base;
  const rounds = head[0]?.rounds?.length ?? 0;
  return lane('gemm', [gemmCase(CASE, head), ...headCases], {
    base: side,
    abOrder: Array.from({ length: rounds }, (_, i) => (i % 2 === 0 ? 'base' : 'head')),
  });
}

function abRun(lanes: LaneResult[]): RunResults {
  return { schemaVersion: 1, machine: machine(), profile: 'quick', lanes, ab: AB };
}

function judge(l: LaneResult, r: Rules = rules, baselines: Record<string, unknown> = {}): VerdictReport {
  return compare(abRun([l]), baselines as never, r);
}

function find(report: VerdictReport, metricName: string, source: Verdict['source'] = 'ab'): Verdict {
  const v = report.lanes
    .flatMap((l) => l.verdicts)
    .find((x) => x.metric === metricName && x.source === source);
  if (!v) throw new Error(`no ${source} verdict for ${metricName}`);
  return v;
}

const baseRounds = (n = 8, center = 400) => around(center, n, 0.03);

// ---- verdicts --------------------------------------------------------------------------------

describe('A/B verdicts', () => {
  it('A/A: the same distribution on both sides passes everywhere', () => {
    const fused = baseRounds();
    const peer = baseRounds(8, 300);
    const tax = around(2, 8, 0.1);
    const l = abLane(
      [
        abMetric('fused_gflops', jitter(fused)),
        abMetric('peer_gflops', jitter(peer)),
        abMetric('tax_pct', jitter(tax), { unit: '%', better: 'lower', kind: 'same-run' }),
      ],
      [
        abMetric('fused_gflops', fused),
        abMetric('peer_gflops', peer),
        abMetric('tax_pct', tax, { unit: '%', better: 'lower', kind: 'same-run' }),
      ],
    );
    const r = judge(l);
    const ab = r.lanes[0]!.verdicts.filter((v) => v.source === 'ab');
    expect(ab).toHaveLength(3);
    for (const v of ab) expect(v.state, `${v.metric}: ${v.reason}`).toBe('pass');
    expect(Math.abs(find(r, 'fused_gflops').deltaPct!)).toBeLessThan(0.5);
    expect(r.conclusion).toBe('success');
    expect(r.ab).toEqual(AB);
    expect(r.lanes[0]?.ab).toMatchObject({ rounds: 8, baseStatus: 'ok' });
    expect(abInconclusive(l, rules)).toBe(false);
  });

  it('a head 5 % slower in each of 8 rounds is regressed and fails', () => {
    const base = baseRounds();
    const l = abLane([abMetric('fused_gflops', jitter(scale(base, 0.95)))], [abMetric('fused_gflops', base)]);
    const r = judge(l);
    const v = find(r, 'fused_gflops');
    expect(v).toMatchObject({ state: 'regressed', severity: 'fail', source: 'ab' });
    expect(v.deltaPct).toBeCloseTo(-5, 0);
    expect(Math.abs(v.deltaPct! + 5)).toBeLessThan(0.3);
    expect(v.pValue).toBeLessThan(0.05);
    expect(v.tolerance).toEqual({ pct: 2, abs: undefined });
    expect(v.ab?.rounds).toBe(8);
    expect(v.ab?.ratio).toBeCloseTo(0.95, 2);
    expect(v.ab?.low).toBeLessThan(v.ab!.ratio);
    expect(v.ab?.high).toBeGreaterThan(v.ab!.ratio);
    expect(v.ab?.high).toBeLessThan(1);
    expect(v.ab?.low).toBeGreaterThan(0.9);
    expect(v.reason).toMatch(/\(worse\) beyond ±2 %/);
    expect(v.reason).toMatch(/8 rounds/);
    expect(r.conclusion).toBe('failure');
    expect(r.lanes[0]?.conclusion).toBe('failure');
    expect(r.lanes[0]?.ab?.mdePct).toBeDefined();
    // the gate is judged on the head's median all the same
    expect(find(r, 'fused_gflops', 'gate').state).toBe('pass');
  });

  it('the baselines are not used in an A/B run', () => {
    const base = baseRounds();
    const l = abLane([abMetric('fused_gflops', jitter(base))], [abMetric('fused_gflops', base)]);
    // a committed baseline twice as fast would be a regression against it
    const old = baselineOf(lane('gemm', [gemmCase(CASE, [abMetric('fused_gflops', scale(base, 2))])]));
    const r = judge(l, rules, { gemm: old });
    expect(r.lanes[0]!.verdicts.some((v) => v.source === 'baseline')).toBe(false);
    expect(find(r, 'fused_gflops').state).toBe('pass');
    expect(r.lanes[0]?.baselineMeta).toBeUndefined();
  });

  it('the same 5 % over only 5 rounds is noisy: too few rounds to be significant', () => {
    const base = baseRounds(5);
    const l = abLane([abMetric('fused_gflops', jitter(scale(base, 0.95)))], [abMetric('fused_gflops', base)]);
    const r = judge(l);
    const v = find(r, 'fused_gflops');
    expect(v).toMatchObject({ state: 'noisy', severity: 'fail' });
    expect(v.deltaPct).toBeCloseTo(-5, 0);
    expect(v.reason).toMatch(/5 rounds cannot be significant/);
    expect(v.reason).toMatch(/needs 6 at alpha 0\.05/);
    expect(v.ab?.low).toBeUndefined(); // no interval with 5 pairs at 95 %
    expect(r.conclusion).toBe('success');
    expect(abInconclusive(l, rules)).toBe(true);
  });

  it('a fail metric timed in the first round only warns and asks for no more rounds', () => {
    const base = baseRounds();
    const l = abLane(
      [abMetric('fused_gflops', jitter(base)), abMetric('unfused_gflops', [90])],
      [abMetric('fused_gflops', base), abMetric('unfused_gflops', [100])],
    );
    const v = find(judge(l), 'unfused_gflops');
    expect(v).toMatchObject({ state: 'noisy', severity: 'warn' });
    expect(v.reason).toMatch(/in the 1 of 8 rounds that measured it: not judged here, the gates judge/);
    expect(abInconclusive(l, rules)).toBe(false);
  });

  it('a change beyond tolerance whose rounds go both ways is noisy', () => {
    const base = baseRounds();
    const ratios = [0.85, 1.04, 0.86, 1.05, 0.88, 1.03, 0.87, 1.02];
    const head = base.map((b, i) => b * (ratios[i] as number));
    const l = abLane([abMetric('fused_gflops', head)], [abMetric('fused_gflops', base)]);
    const v = find(judge(l), 'fused_gflops');
    expect(Math.abs(v.deltaPct!)).toBeGreaterThan(2);
    expect(v.pValue).toBeGreaterThanOrEqual(0.05);
    expect(v.state).toBe('noisy');
    expect(v.reason).toMatch(/not significant over the rounds/);
    expect(abInconclusive(l, rules)).toBe(true);
  });

  it('a 1 % change is within the default 2 % A/B tolerance', () => {
    const base = baseRounds();
    const l = abLane([abMetric('fused_gflops', jitter(scale(base, 0.99)))], [abMetric('fused_gflops', base)]);
    const v = find(judge(l), 'fused_gflops');
    expect(v.state).toBe('pass');
    expect(v.deltaPct).toBeCloseTo(-1, 0);
    expect(v.reason).toMatch(/within ±2 %/);
    // significant, but small: pass is about the size, not the p-value
    expect(v.pValue).toBeLessThan(0.05);
  });

  it('a 5 % improvement in every round is improved, not failing', () => {
    const base = baseRounds();
    const l = abLane([abMetric('fused_gflops', jitter(scale(base, 1.05)))], [abMetric('fused_gflops', base)]);
    const r = judge(l);
    expect(find(r, 'fused_gflops').state).toBe('improved');
    expect(r.conclusion).toBe('success');
  });

  it('a rate is judged relative to its control in the same rounds: a slowdown both share passes', () => {
    const base = baseRounds();
    const peer = baseRounds(8, 300);
    const l = abLane(
      [
        abMetric('guarded_gflops', jitter(scale(base, 0.94))),
        abMetric('peer_gflops', jitter(scale(peer, 0.94), 0.001)),
      ],
      [abMetric('guarded_gflops', base), abMetric('peer_gflops', peer)],
    );
    const r = judge(l);
    const v = find(r, 'guarded_gflops');
    // judged relative to its control, round by round: the shared 6 % cancels
    expect(v.state).toBe('pass');
    expect(v.severity).toBe('fail');
    expect(Math.abs(v.deltaPct!)).toBeLessThan(1);
    expect(v.reason).toMatch(/relative to peer_gflops in the same rounds/);
    // the control itself only warns (its baseline tolerance's severity)
    expect(find(r, 'peer_gflops')).toMatchObject({ state: 'regressed', severity: 'warn' });
    expect(r.conclusion).toBe('success');
  });

  it('the same regression with a control that did not move stays regressed', () => {
    const base = baseRounds();
    const peer = baseRounds(8, 300);
    const l = abLane(
      [abMetric('guarded_gflops', jitter(scale(base, 0.94))), abMetric('peer_gflops', jitter(peer, 0.001))],
      [abMetric('guarded_gflops', base), abMetric('peer_gflops', peer)],
    );
    const r = judge(l);
    expect(find(r, 'guarded_gflops').state).toBe('regressed');
    expect(find(r, 'peer_gflops').state).toBe('pass');
    expect(r.conclusion).toBe('failure');
  });

  it('a control noisier than the metric is not used: a steady 5 % slowdown stays regressed', () => {
    const base = baseRounds();
    const peer = baseRounds(8, 300);
    // the control swings ±20 % round by round on the head side; the rate is a steady 5 % slower
    const swing = [1.2, 0.8, 1.15, 0.85, 1.2, 0.8, 1.1, 0.9];
    const l = abLane(
      [
        abMetric('guarded_gflops', jitter(scale(base, 0.95))),
        abMetric(
          'peer_gflops',
          peer.map((x, i) => x * (swing[i] as number)),
        ),
      ],
      [abMetric('guarded_gflops', base), abMetric('peer_gflops', peer)],
    );
    const v = find(judge(l), 'guarded_gflops');
    expect(v.state).toBe('regressed');
    expect(v.deltaPct).toBeCloseTo(-5, 0);
    expect(v.reason).not.toMatch(/relative to/);
  });

  it('a control timed in the first round only neither normalises nor excuses a steady regression', () => {
    const base = baseRounds();
    // the control slowed as much in its one round: over all eight it says nothing
    const l = abLane(
      [abMetric('guarded_gflops', jitter(scale(base, 0.94))), abMetric('peer_gflops', [282])],
      [abMetric('guarded_gflops', base), abMetric('peer_gflops', [300])],
    );
    const v = find(judge(l), 'guarded_gflops');
    expect(v.state).toBe('regressed');
    expect(v.reason).not.toMatch(/relative to|disturbed/);
  });

  it('a % metric is judged in points: +2 pp in every round is beyond the default 1 pp', () => {
    const base = around(3, 8, 0.1);
    const opts = { unit: '%', better: 'lower', kind: 'same-run' } as const;
    const l = abLane(
      [
        abMetric(
          'tax_pct',
          jitter(
            base.map((x) => x + 2),
            0.001,
          ),
          opts,
        ),
      ],
      [abMetric('tax_pct', base, opts)],
    );
    const r = judge(l);
    const v = find(r, 'tax_pct');
    expect(v.tolerance).toEqual({ pct: undefined, abs: 1 });
    expect(v.deltaAbs).toBeCloseTo(2, 1);
    expect(v).toMatchObject({ state: 'regressed', severity: 'fail' });
    expect(v.reason).toMatch(/\+2(\.\d+)? pp \(worse\) beyond ±1 pp/);
    expect(r.conclusion).toBe('failure');
  });

  it("a % metric that crosses zero is tested on every round's difference, not on the positive rounds", () => {
    const base = [-0.5, 0.5, -0.3, 0.4, -0.2, 0.6, -0.1, 0.3];
    const opts = { unit: '%', better: 'lower', kind: 'same-run' } as const;
    const l = abLane(
      [
        abMetric(
          'tax_pct',
          base.map((x) => x + 2),
          opts,
        ),
      ],
      [abMetric('tax_pct', base, opts)],
    );
    const v = find(judge(l), 'tax_pct');
    expect(v).toMatchObject({ state: 'regressed', severity: 'fail' });
    // eight equal differences tie: the normal approximation, p ≈ 0.008
    expect(v.pValue).toBeLessThan(0.01);
    expect(v.deltaPct).toBeUndefined();
    expect(v.ab).toBeUndefined();
  });

  it('a % metric 0.5 pp worse in every round passes although it is +17 % relative', () => {
    const base = around(3, 8, 0.1);
    const opts = { unit: '%', better: 'lower', kind: 'same-run' } as const;
    const l = abLane(
      [
        abMetric(
          'tax_pct',
          base.map((x) => x + 0.5),
          opts,
        ),
      ],
      [abMetric('tax_pct', base, opts)],
    );
    expect(find(judge(l), 'tax_pct').state).toBe('pass');
  });
});

describe('A/B: a base build identical to the head', () => {
  const digest = 'ab'.repeat(32);
  // the head's one plain run: samples, no rounds
  const plain = (name: string, v: number): Metric => ({ ...abMetric(name, [v]), rounds: undefined });

  it('passes every metric without a paired test and still judges the head against its gates', () => {
    const l = abLane(
      [plain('fused_gflops', 90), plain('peer_gflops', 300)],
      baseSide([], { identical: digest }),
    );
    const r = judge(l);
    const fused = find(r, 'fused_gflops');
    expect(fused).toMatchObject({ state: 'pass' });
    expect(fused.reason).toMatch(/byte-identical .*abababababab/);
    expect(fused.ab).toBeUndefined();
    // the floor of 100 is missed by the head's own value: identical to the base or not, it fails
    expect(find(r, 'fused_gflops', 'gate').state).toBe('regressed');
    expect(r.lanes[0]?.ab?.baseStatus).toBe('identical');
    expect(r.lanes[0]?.summary).toMatch(/byte-identical, no A\/B rounds/);
    expect(r.conclusion).toBe('failure');
  });

  it('a healthy head on an identical base succeeds, and nothing of the base is missing', () => {
    const l = abLane([plain('fused_gflops', 400)], baseSide([], { identical: digest }));
    const r = judge(l);
    expect(r.lanes[0]?.verdicts.filter((v) => v.state !== 'pass')).toEqual([]);
    expect(r.conclusion).toBe('success');
  });
});

describe('A/B: what one side lacks', () => {
  it('a metric the base did not measure is new', () => {
    const base = baseRounds();
    const l = abLane(
      [abMetric('fused_gflops', jitter(base)), abMetric('extra_gflops', base)],
      [abMetric('fused_gflops', base)],
    );
    const r = judge(l);
    expect(find(r, 'extra_gflops')).toMatchObject({
      state: 'new',
      severity: 'warn',
      reason: 'not measured by the base',
    });
    expect(find(r, 'fused_gflops').state).toBe('pass');
    expect(r.conclusion).toBe('success');
  });

  it('a metric the base measured and the head did not is missing, from the A/B side', () => {
    const base = baseRounds();
    const other = 'decode/M1/H2048/r8';
    const l = abLane(
      [abMetric('fused_gflops', jitter(base))],
      baseSide([
        gemmCase(CASE, [abMetric('fused_gflops', base), abMetric('gone_gflops', base)]),
        gemmCase(other, [abMetric('fused_gflops', base)]),
      ]),
    );
    const r = judge(l);
    const missing = r.lanes[0]!.verdicts.filter((v) => v.state === 'missing');
    expect(missing.map((v) => [v.caseId, v.metric, v.source, v.severity])).toEqual([
      [CASE, 'gone_gflops', 'ab', 'warn'],
      [other, 'fused_gflops', 'ab', 'warn'],
    ]);
    expect(missing[0]?.reason).toBe('measured by the base, not by the head');
    expect(missing[1]?.reason).toBe('case run by the base, not by the head');
    expect(missing[0]?.baseline?.n).toBe(24);
    expect(r.conclusion).toBe('success');
  });

  it('a base side in error makes every head metric new with the reason; the gates still judge', () => {
    const head = around(80, 8, 0.02); // below the floor gate's 100
    const l = abLane(
      [abMetric('fused_gflops', head), abMetric('peer_gflops', around(300, 8, 0.02))],
      baseSide([], { status: 'error', error: { step: 'run', message: 'unknown flag\nusage: …' }, path: '' }),
    );
    const r = judge(l);
    const ab = r.lanes[0]!.verdicts.filter((v) => v.source === 'ab');
    expect(ab).toHaveLength(2);
    for (const v of ab) {
      expect(v.state).toBe('new');
      expect(v.severity).toBe('warn');
      expect(v.reason).toBe('the base side error at run: unknown flag: not compared');
    }
    const gate = find(r, 'fused_gflops', 'gate');
    expect(gate).toMatchObject({ state: 'regressed', severity: 'fail' });
    expect(r.conclusion).toBe('failure');
    expect(r.lanes[0]?.ab).toEqual({ rounds: 0, baseStatus: 'error', baseError: 'unknown flag' });
    expect(abInconclusive(l, rules)).toBe(false);
  });

  it('a lane without a base side at all: new, "the base did not run this lane"', () => {
    const l = lane('gemm', [gemmCase(CASE, [abMetric('fused_gflops', baseRounds())])]);
    const v = find(judge(l), 'fused_gflops');
    expect(v.state).toBe('new');
    expect(v.reason).toMatch(/the base did not run this lane/);
  });

  it('sides whose rounds do not pair are incomparable, not judged', () => {
    const base = baseRounds();
    const l = abLane(
      [abMetric('fused_gflops', scale(base.slice(0, 7), 0.5))],
      [abMetric('fused_gflops', base)],
    );
    const v = find(judge(l), 'fused_gflops');
    expect(v).toMatchObject({ state: 'incomparable', severity: 'warn' });
  });
});

describe('abInconclusive and abLaneSummary', () => {
  it('is true only for a fail-severity noisy metric that reads worse', () => {
    const base = baseRounds(5);
    const slow = abLane(
      [abMetric('fused_gflops', jitter(scale(base, 0.95)))],
      [abMetric('fused_gflops', base)],
    );
    const same = abLane([abMetric('fused_gflops', jitter(base))], [abMetric('fused_gflops', base)]);
    // the peer's tolerance only warns: its noise is no reason for more rounds
    const peerOnly = abLane(
      [abMetric('peer_gflops', jitter(scale(base, 0.95)))],
      [abMetric('peer_gflops', base)],
    );
    // an unconfirmed 5 % improvement fails nothing: no more rounds for it
    const fast = abLane(
      [abMetric('fused_gflops', jitter(scale(base, 1.05)))],
      [abMetric('fused_gflops', base)],
    );
    expect(abInconclusive(slow, rules)).toBe(true);
    expect(abInconclusive(same, rules)).toBe(false);
    expect(abInconclusive(peerOnly, rules)).toBe(false);
    expect(find(judge(fast), 'fused_gflops')).toMatchObject({ state: 'noisy', severity: 'fail' });
    expect(abInconclusive(fast, rules)).toBe(false);
    // the same slow lane with a failed head is not worth more rounds
    expect(abInconclusive({ ...slow, status: 'error' }, rules)).toBe(false);
  });

  it('asks for more rounds while a change is significant alone but not across the lane', () => {
    const base = baseRounds(6);
    // 6 rounds, every one slower but by 1 to 9 %: p = 2/64 alone, below alpha. Beside it, 19
    // unchanged fail-severity metrics with ±5 % round-to-round noise: under some sign patterns
    // one of them looks as consistent, so the family-wise p of the same rounds is above alpha.
    const slowBy = [0.99, 0.91, 0.97, 0.92, 0.98, 0.93];
    let seed = 12345;
    const noise = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return (seed / 2147483648 - 0.5) * 0.1;
    };
    const others = Array.from({ length: 19 }, (_, j) => ({
      name: `m${j}_gflops`,
      head: base.map((x) => x * (1 + noise())),
    }));
    const many = abLane(
      [
        abMetric(
          'fused_gflops',
          base.map((x, i) => x * slowBy[i]!),
        ),
        ...others.map((o) => abMetric(o.name, o.head)),
      ],
      [abMetric('fused_gflops', base), ...others.map((o) => abMetric(o.name, base))],
    );
    const v = find(judge(many), 'fused_gflops');
    expect(v.state).toBe('noisy');
    expect(v.reason).toMatch(/across the lane's 20 fail-severity metrics/);
    expect(abInconclusive(many, rules)).toBe(true);
    // alone in its lane the same change is settled: regressed, no more rounds
    const alone = abLane(
      [
        abMetric(
          'fused_gflops',
          base.map((x, i) => x * slowBy[i]!),
        ),
      ],
      [abMetric('fused_gflops', base)],
    );
    expect(find(judge(alone), 'fused_gflops').state).toBe('regressed');
    expect(abInconclusive(alone, rules)).toBe(false);
  });

  it('a consistent slowdown is found in 6 rounds beside unchanged metrics that move together', () => {
    const base = baseRounds(6);
    // the rate and its ratio over an unchanged path both drop 5 % in every round: two tests
    // of one change, which the family counts as such (Holm would have asked p < 0.05/2 of each)
    const l = abLane(
      [
        abMetric('fused_gflops', jitter(scale(base, 0.95))),
        abMetric('fused_vs_unfused', jitter(scale(base, 0.95), 0.001), { kind: 'same-run', unit: '×' }),
        abMetric('unfused_gflops', jitter(base)),
      ],
      [
        abMetric('fused_gflops', base),
        abMetric('fused_vs_unfused', base, { kind: 'same-run', unit: '×' }),
        abMetric('unfused_gflops', base),
      ],
    );
    const r = judge(l);
    expect(find(r, 'fused_gflops').state).toBe('regressed');
    expect(find(r, 'fused_vs_unfused').state).toBe('regressed');
    expect(find(r, 'unfused_gflops').state).toBe('pass');
  });

  it('summarises rounds, the median MDE of fail metrics and the base status', () => {
    const base = baseRounds();
    const l = abLane(
      [abMetric('fused_gflops', jitter(scale(base, 0.95))), abMetric('peer_gflops', jitter(base))],
      [abMetric('fused_gflops', base), abMetric('peer_gflops', base)],
    );
    const r = judge(l);
    const s = abLaneSummary(l, r.lanes[0]!.verdicts);
    expect(s.rounds).toBe(8);
    expect(s.baseStatus).toBe('ok');
    // only the fail-severity metric counts: its own MDE
    expect(s.mdePct).toBe(find(r, 'fused_gflops').ab?.mdePct);
    expect(s.mdePct).toBeGreaterThan(0);
  });
});

// ---- rules.yml `ab:` -------------------------------------------------------------------------

describe('rules.yml ab section', () => {
  it('defaults when absent', () => {
    const r = parseRules('');
    expect(r.ab).toMatchObject({
      alpha: 0.05,
      tolerancePct: 2,
      toleranceAbs: 1,
      rounds: 6,
      maxRounds: 12,
      repetitions: 3,
      serve: false,
      lanes: {},
    });
    expect(abToleranceFor(r, 'gemm', 'c', 'fused_gflops', 'GFLOP/s')).toEqual({ pct: 2, severity: 'fail' });
    expect(abToleranceFor(r, 'gemm', 'c', 'tax', '%')).toEqual({ abs: 1, severity: 'fail' });
  });

  it('an override replaces the defaults it names; maxRounds follows rounds up', () => {
    const r = parseRules(`
ab:
  alpha: 0.01
  rounds: 12
  repetitions: 5
  lanes:
    gemm:
      - { metric: fused_gflops, cases: "prefill/*", tolerancePct: 4 }
      - { metric: noisy_gflops, severity: warn }
`);
    expect(r.ab).toMatchObject({ alpha: 0.01, tolerancePct: 2, rounds: 12, maxRounds: 12, repetitions: 5 });
    expect(abToleranceFor(r, 'gemm', 'prefill/x', 'fused_gflops', 'GFLOP/s')).toEqual({
      pct: 4,
      abs: undefined,
      severity: 'fail',
    });
    // the cases glob does not match: the A/B default
    expect(abToleranceFor(r, 'gemm', 'decode/x', 'fused_gflops', 'GFLOP/s').pct).toBe(2);
    // a rule with only a severity keeps the default tolerance
    expect(abToleranceFor(r, 'gemm', 'c', 'noisy_gflops', 'GFLOP/s')).toEqual({ pct: 2, severity: 'warn' });
    expect(parseRules('ab: { rounds: 8, maxRounds: 20 }').ab.maxRounds).toBe(20);
    expect(parseRules('ab: { serve: true }').ab.serve).toBe(true);
  });

  it('ab.serve must be a boolean', () => {
    expect(() => parseRules('ab: { serve: "yes" }', 'baselines/rules.yml')).toThrow(/ab\.serve|serve/);
  });

  it('the A/B severity follows the baseline tolerance, and keeps its control', () => {
    expect(abToleranceFor(rules, 'gemm', CASE, 'peer_gflops', 'GFLOP/s')).toEqual({
      pct: 2,
      severity: 'warn',
    });
    expect(abToleranceFor(rules, 'gemm', CASE, 'guarded_gflops', 'GFLOP/s')).toEqual({
      pct: 2,
      severity: 'fail',
      control: 'peer_gflops',
    });
  });

  it('maxRounds below rounds is an input error naming ab.maxRounds', () => {
    let err: unknown;
    try {
      parseRules('ab: { rounds: 8, maxRounds: 6 }', 'baselines/rules.yml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).field).toBe('ab.maxRounds');
    expect((err as InputError).message).toMatch(
      /baselines\/rules\.yml: ab\.maxRounds: maxRounds \(6\) is below rounds \(8\)/,
    );
  });

  it('an unknown key under ab is an input error', () => {
    let err: unknown;
    try {
      parseRules('ab: { round: 8 }');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).field).toBe('ab.round');
    expect((err as InputError).detail).toBe('unknown field');
  });

  it('rejects out-of-range values, unknown lanes and empty A/B rules', () => {
    expect(() => parseRules('ab: { rounds: 1 }')).toThrow(InputError);
    expect(() => parseRules('ab: { alpha: 1 }')).toThrow(InputError);
    expect(() => parseRules('ab: { repetitions: 0 }')).toThrow(InputError);
    expect(() => parseRules('ab: { lanes: { gemmm: [] } }')).toThrow(/ab\.lanes\.gemmm/);
    expect(() => parseRules('ab: { lanes: { gemm: [ { metric: x } ] } }')).toThrow(
      /ab\.lanes\.gemm\[0\]: needs tolerancePct, toleranceAbs or severity/,
    );
  });
});
