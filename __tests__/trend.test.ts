// Trend charts and the report's Trends section. No Mermaid parser is a dependency of the project,
// so the charts are checked against a strict reading of the xychart grammar's rules for what
// they use (xychart.jison): quoted strings hold no quote, backtick or newline, numbers are plain
// decimals, every line has one value per x-axis label, and nothing opens a `%%` comment.
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../src/history/changepoints.js';
import type { HistoryMetric, HistoryPoint } from '../src/model/history.js';
import type { LaneVerdicts, Verdict, VerdictReport } from '../src/model/verdicts.js';
import { emptyCounts } from '../src/model/verdicts.js';
import {
  mermaidLabel,
  mermaidNumber,
  pointFromVerdicts,
  shortSha,
  trendChart,
  trendSection,
} from '../src/report/trend.js';
import { machine } from './fixtures/compare/build.js';

const STR = '"([^"`\\n]*)"';
const NUM = /^[+-]?(?:\d+(?:\.\d+)?|\.\d+)$/;

interface ParsedChart {
  title: string;
  xLabels: string[];
  yTitle: string;
  lines: { name: string; values: number[] }[];
}

/** Parses a chart the way the xychart grammar reads it, throwing on anything it would not accept. */
function parseChart(markdown: string): ParsedChart {
  const m = /^```mermaid\n([\s\S]*?)\n```(?:\n|$)/.exec(markdown);
  if (!m) throw new Error('not a mermaid fence at the start');
  const body = m[1] as string;
  if (body.includes('%%')) throw new Error('comment marker');
  if (body.includes('`')) throw new Error('backtick');
  const rows = body.split('\n');
  if (rows[0] !== 'xychart-beta') throw new Error(`first line: ${rows[0]}`);
  const out: ParsedChart = { title: '', xLabels: [], yTitle: '', lines: [] };
  const seen = new Set<string>();
  for (const row of rows.slice(1)) {
    const line = row.trim();
    let mm: RegExpExecArray | null;
    if ((mm = new RegExp(`^title ${STR}$`).exec(line))) {
      out.title = mm[1] as string;
      seen.add('title');
    } else if ((mm = /^x-axis \[(.*)\]$/.exec(line))) {
      out.xLabels = (mm[1] as string).split(', ').map((s) => {
        const q = new RegExp(`^${STR}$`).exec(s);
        if (!q) throw new Error(`x label ${s}`);
        return q[1] as string;
      });
      seen.add('x');
    } else if ((mm = new RegExp(`^y-axis ${STR}$`).exec(line))) {
      out.yTitle = mm[1] as string;
      seen.add('y');
    } else if ((mm = new RegExp(`^line ${STR} \\[(.*)\\]$`).exec(line))) {
      const values = (mm[2] as string).split(', ').map((s) => {
        if (!NUM.test(s)) throw new Error(`number ${s}`);
        return Number(s);
      });
      out.lines.push({ name: mm[1] as string, values });
    } else {
      throw new Error(`unexpected line: ${line}`);
    }
  }
  if (!seen.has('title') || !seen.has('x') || !seen.has('y') || out.lines.length === 0)
    throw new Error('missing part');
  for (const l of out.lines) {
    if (l.values.length !== out.xLabels.length) throw new Error(`line ${l.name}: ${l.values.length} values`);
    if (!/^[A-Za-z0-9_./-]+ [A-Za-z0-9_./-]+$/.test(l.name)) throw new Error(`line name ${l.name}`);
  }
  for (const x of out.xLabels) if (!/^[A-Za-z0-9_./-]+$/.test(x)) throw new Error(`x label ${x}`);
  if (new Set(out.xLabels).size !== out.xLabels.length) throw new Error('duplicate x labels');
  return out;
}

const gflops = (median: number): HistoryMetric => ({
  unit: 'GFLOP/s',
  better: 'higher',
  median,
  spread: 0.01,
  n: 10,
});
const latency = (median: number): HistoryMetric => ({
  unit: 'us',
  better: 'lower',
  median,
  spread: 0.01,
  n: 10,
});

function sha(i: number): string {
  return (i.toString(16).padStart(4, '0') + 'abcdef0123456789abcdef0123456789abcdef').slice(0, 40);
}

/** n points of three GEMM throughput metrics, one latency and one ratio, with 0.3 % noise. */
function history(n: number, level: (i: number) => number = () => 100, seed = 1): HistoryPoint[] {
  const random = mulberry32(seed);
  const noise = () => 1 + 0.003 * (random() - 0.5);
  return Array.from({ length: n }, (_, i) => ({
    commit: sha(i),
    time: `2025-03-${String((i % 28) + 1).padStart(2, '0')}T00:00:00Z`,
    cases: {
      'decode/M1/H4096/r16': {
        fused_gflops: gflops(level(i) * noise()),
        base_gflops: gflops(60 * noise()),
        lat_us: latency(5 * noise()),
      },
      'prefill/M128/H2048/r8': {
        fused_gflops: gflops(500 * noise()),
        unfused_gflops: gflops(470 * noise()),
        ratio_vs_openblas: { unit: '×', better: 'higher', median: 1.3, spread: 0, n: 10 },
      },
    },
  }));
}

describe('mermaid text', () => {
  it('labels keep only [A-Za-z0-9_./-]', () => {
    expect(mermaidLabel('decode/M1/H4096/r16')).toBe('decode/M1/H4096/r16');
    expect(mermaidLabel('a"b`c%%d e\nf]g')).toBe('a_b_c_d_e_f_g');
    expect(mermaidLabel('"""')).toBe('_');
    expect(mermaidLabel('')).toBe('_');
    expect(mermaidLabel('x'.repeat(100))).toHaveLength(60);
  });

  it('short SHAs are seven hex digits; anything else is sanitised', () => {
    expect(shortSha('C0FFEE0123456789')).toBe('c0ffee0');
    expect(shortSha('HEAD~1 "x"')).toBe('HEAD_1_x_');
  });

  it('numbers are plain decimals with about four significant digits', () => {
    expect(mermaidNumber(123.456)).toBe('123.5');
    expect(mermaidNumber(1234567.8)).toBe('1234568');
    expect(mermaidNumber(0.000012346)).toBe('0.00001235');
    expect(mermaidNumber(-2.5)).toBe('-2.500');
    expect(mermaidNumber(0)).toBe('0');
    expect(mermaidNumber(-0)).toBe('0');
    expect(mermaidNumber(1e22)).toBe('10000000000000000000000');
    for (const v of [1e-9, 3.14159, 99.99, 1e21, -0.0004]) expect(mermaidNumber(v)).toMatch(NUM);
    expect(() => mermaidNumber(NaN)).toThrow();
  });
});

describe('trendChart', () => {
  it('draws the first three throughput metrics over the last 20 commits, each scaled to its first point', () => {
    const chart = trendChart('gemm', history(25));
    expect(chart).toBeDefined();
    const parsed = parseChart(chart?.markdown as string);
    expect(parsed.xLabels).toEqual(Array.from({ length: 20 }, (_, i) => sha(i + 5).slice(0, 7)));
    expect(parsed.lines.map((l) => l.name)).toEqual([
      'decode/M1/H4096/r16 base_gflops',
      'decode/M1/H4096/r16 fused_gflops',
      'prefill/M128/H2048/r8 fused_gflops',
    ]);
    for (const l of parsed.lines) {
      expect(l.values[0]).toBe(100);
      for (const v of l.values) expect(Math.abs(v - 100)).toBeLessThan(1);
    }
    expect(parsed.title).toBe('gemm - each line scaled to its first point = 100');
    expect(parsed.yTitle).toBe('GFLOP/s relative to first point = 100');
    expect(chart?.markdown).toContain('Lines, in order:\n\n1. decode/M1/H4096/r16 · base_gflops\n2.');
  });

  it('puts the PR last and, in A/B, the base before it', () => {
    const h = history(5);
    const current: HistoryPoint = { commit: 'f'.repeat(40), time: 't', cases: { c: { g: gflops(110) } } };
    const base: HistoryPoint = { commit: 'e'.repeat(40), time: 't', cases: { c: { g: gflops(100) } } };
    const withC = h.map((p) => ({ ...p, cases: { ...p.cases, c: { g: gflops(100) } } }));
    const parsed = parseChart(
      trendChart('gemm', withC, { current, base, series: [{ caseId: 'c', metric: 'g' }] })
        ?.markdown as string,
    );
    expect(parsed.xLabels.slice(-2)).toEqual(['base-eeeeeee', 'PR-fffffff']);
    expect(parsed.xLabels).toHaveLength(7);
    // one line: raw values, the unit on the axis
    expect(parsed.lines).toHaveLength(1);
    expect(parsed.lines[0]?.values.slice(-2)).toEqual([100, 110]);
    expect(parsed.yTitle).toBe('GFLOP/s');
    expect(parsed.title).toBe('gemm - c g');
  });

  it('keeps hostile names out of the chart and the legend', () => {
    const evil = 'x" ]\n%%{init: {"theme":"dark"}}%%\nline [1';
    const p = (i: number): HistoryPoint => ({
      commit: `${sha(i)}`,
      time: 't',
      cases: { ['`case` | <b>@team</b>']: { [evil]: gflops(100 + i), ['b/s']: gflops(1) } },
    });
    const chart = trendChart('lane"\n%%', [p(1), p(2), p(3)]);
    const parsed = parseChart(chart?.markdown as string);
    expect(parsed.lines.map((l) => l.name)).toEqual([
      '_case_b_team_/b_ b/s',
      '_case_b_team_/b_ x_init_theme_dark_line_1',
    ]);
    expect(parsed.title.startsWith('lane_ - ')).toBe(true);
    const legend = chart?.markdown.split('Lines, in order:')[1] as string;
    expect(legend).not.toMatch(/[<>|`]/);
    expect(legend).not.toContain('@team');
  });

  it('leaves out points missing a line, keeps one point per commit, and needs two points', () => {
    const h = history(6);
    delete (h[2]?.cases['decode/M1/H4096/r16'] as Record<string, HistoryMetric>).base_gflops;
    const rerun = { ...(h[5] as HistoryPoint), cases: { ...h[5]?.cases } };
    const chart = trendChart('gemm', [...h, rerun], { last: 20 });
    expect(chart?.labels).toEqual([0, 1, 3, 4, 5].map((i) => sha(i).slice(0, 7)));
    expect(trendChart('gemm', history(1))).toBeUndefined();
    expect(trendChart('gemm', history(5), { last: 0 })).toBeUndefined();
    expect(trendChart('gemm', history(5), { series: [{ caseId: 'nope', metric: 'x' }] })).toBeUndefined();
  });

  it('draws nothing for a lane without throughput metrics unless a line is named', () => {
    const h: HistoryPoint[] = [1, 2, 3].map((i) => ({
      commit: sha(i),
      time: 't',
      cases: { c: { lat: latency(i) } },
    }));
    expect(trendChart('attn-decode', h)).toBeUndefined();
    const named = trendChart('attn-decode', h, { series: [{ caseId: 'c', metric: 'lat' }] });
    expect(parseChart(named?.markdown as string).yTitle).toBe('us');
  });

  it('makes two commits with the same short SHA two x positions', () => {
    const a = 'abcdef1' + '0'.repeat(33);
    const b = 'abcdef1' + '1'.repeat(33);
    const h = [a, b].map((commit) => ({ commit, time: 't', cases: { c: { g: gflops(1) } } }));
    expect(trendChart('gemm', h)?.labels).toEqual(['abcdef1', 'abcdef1-2']);
  });
});

function verdict(caseId: string, metricName: string, current: number, over: Partial<Verdict> = {}): Verdict {
  return {
    lane: 'gemm',
    caseId,
    metric: metricName,
    unit: 'GFLOP/s',
    better: 'higher',
    kind: 'absolute',
    source: 'baseline',
    state: 'pass',
    severity: 'fail',
    current: { median: current, spread: 0.01, n: 10 },
    baseline: { median: 100, spread: 0.01, n: 10 },
    reason: 'within tolerance',
    ...over,
  };
}

function laneVerdicts(lane: string, verdicts: Verdict[]): LaneVerdicts {
  return {
    lane,
    check: `${lane}-perf`,
    conclusion: 'success',
    summary: '',
    path: 'avx2',
    status: 'ok',
    verdicts,
  };
}

function report(lanes: LaneVerdicts[], over: Partial<VerdictReport> = {}): VerdictReport {
  return {
    schemaVersion: 1,
    machine: machine({ commit: '9'.repeat(40) }),
    profile: 'quick',
    conclusion: 'success',
    counts: emptyCounts(),
    lanes,
    notes: [],
    ...over,
  };
}

describe('pointFromVerdicts', () => {
  it("takes the head's numbers, or in A/B the base's, and never a gate's", () => {
    const lane = laneVerdicts('gemm', [
      verdict('c', 'g', 110, { source: 'ab', baseline: { median: 100, spread: 0, n: 5 } }),
      verdict('c', 'gate_metric', 1, { source: 'gate' }),
      verdict('d', 'h', 7, { source: 'baseline' }),
    ]);
    expect(pointFromVerdicts(lane, 'x', 't', 'current').cases).toEqual({
      c: { g: { unit: 'GFLOP/s', better: 'higher', median: 110, spread: 0.01, n: 10 } },
      d: { h: { unit: 'GFLOP/s', better: 'higher', median: 7, spread: 0.01, n: 10 } },
    });
    expect(pointFromVerdicts(lane, 'x', 't', 'base').cases).toEqual({
      c: { g: { unit: 'GFLOP/s', better: 'higher', median: 100, spread: 0, n: 5 } },
    });
  });
});

describe('trendSection', () => {
  const D = 'decode/M1/H4096/r16';

  it('charts each lane with history, the run last, and notes a change of level that still stands', () => {
    // fused decode dropped 10 % at point 15 of 30
    const h = history(30, (i) => (i < 15 ? 100 : 90));
    const r = report([
      laneVerdicts('gemm', [verdict(D, 'fused_gflops', 91), verdict(D, 'base_gflops', 60)]),
      laneVerdicts('tokenizer', [verdict('t', 'tok_s', 1e6, { lane: 'tokenizer', unit: 'tok/s' })]),
    ]);
    const section = trendSection(r, new Map([['gemm', h]]), { analysisPoints: 30 });
    expect(section).toBeDefined();
    const text = section as string;
    expect(text.startsWith('### Trends\n\n#### gemm\n\n```mermaid\n')).toBe(true);
    expect(text).not.toContain('#### tokenizer');
    const parsed = parseChart(text.slice(text.indexOf('```mermaid')));
    expect(parsed.xLabels.at(-1)).toBe('PR-9999999');
    expect(parsed.xLabels).toHaveLength(21);
    // the lines are those of the run: both its throughput metrics
    expect(parsed.lines.map((l) => l.name)).toEqual([`${D} base_gflops`, `${D} fused_gflops`]);
    expect(text).toContain(
      `- gemm · ${D} · fused_gflops: ⚠️ worse: level changed −10.0 % between \`${sha(14).slice(0, 7)}\` and \`${sha(15).slice(0, 7)}\``,
    );
    expect(text).toContain('and has stayed there since.');
    expect(text.match(/level changed/g)).toHaveLength(1); // base_gflops did not move
  });

  it('notes a drift', () => {
    const h = history(25, (i) => 100 * (1 - 0.01 * i));
    const r = report([laneVerdicts('gemm', [verdict(D, 'fused_gflops', 75)])]);
    const text = trendSection(r, new Map([['gemm', h]]), {
      seriesByLane: { gemm: [{ caseId: D, metric: 'fused_gflops' }] },
    });
    expect(text).toMatch(
      /fused_gflops: ⚠️ worse: slow drift of −2\d\.\d % over the last 20 commits \(`0005abc` to `0018abc`, Mann–Kendall p < 0\.001\)\./,
    );
    expect(text).not.toContain('level changed');
  });

  it('in A/B, the base measured beside the head is the point before it', () => {
    const h = history(10);
    const r = report(
      [
        laneVerdicts('gemm', [
          verdict(D, 'fused_gflops', 101, { source: 'ab', baseline: { median: 99, spread: 0, n: 6 } }),
        ]),
      ],
      {
        ab: {
          baseRef: 'main',
          baseCommit: '8'.repeat(40),
          baseNativeTree: 't',
          baseCached: false,
          repetitions: 3,
        },
      },
    );
    const text = trendSection(r, new Map([['gemm', h]])) as string;
    const parsed = parseChart(text.slice(text.indexOf('```mermaid')));
    expect(parsed.xLabels.slice(-2)).toEqual(['base-8888888', 'PR-9999999']);
    expect(parsed.lines[0]?.values.slice(-2)).toEqual([99, 101]);
  });

  it('is undefined without history', () => {
    const r = report([laneVerdicts('gemm', [verdict(D, 'fused_gflops', 91)])]);
    expect(trendSection(r, new Map())).toBeUndefined();
    expect(trendSection(r, new Map([['gemm', []]]))).toBeUndefined();
  });
});
