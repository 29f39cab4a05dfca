// The trend charts as Mermaid itself reads them: every chart the report can draw goes through
// mermaid's own parser (the package GitHub's renderer is built on), and the parsed chart is
// checked point by point. Mermaid's parse sanitises through DOMPurify, which needs a window:
// jsdom stands in for one. Also the comment's budget: the charts go before any table does.
import { JSDOM } from 'jsdom';
import { beforeAll, describe, expect, it } from 'vitest';
import type { HistoryPoint } from '../src/model/history.js';
import type { LaneVerdicts, Verdict, VerdictReport } from '../src/model/verdicts.js';
import { emptyCounts } from '../src/model/verdicts.js';
import { trendChart, trendSection } from '../src/report/trend.js';
import { renderMarkdown } from '../src/report/render.js';
import { machine } from './fixtures/compare/build.js';

interface XyData {
  xAxis: { categories: string[] };
  yAxis: { title: string };
  plots: { type: string; title: string; data: [string, number][] }[];
}
interface Mermaid {
  parse(text: string): Promise<unknown>;
  mermaidAPI: {
    getDiagramFromText(
      text: string,
    ): Promise<{ db: { getXYChartData(): XyData; getDiagramTitle(): string } }>;
  };
}
let mermaid: Mermaid;

beforeAll(async () => {
  const dom = new JSDOM('<!doctype html><html><body></body></html>');
  Object.assign(globalThis, { window: dom.window, document: dom.window.document });
  mermaid = ((await import('mermaid')) as unknown as { default: Mermaid }).default;
}, 60_000);

/** Every ```mermaid block of `markdown`, parsed by Mermaid: its title and data. */
async function parseAll(markdown: string): Promise<{ title: string; data: XyData }[]> {
  const blocks = [...markdown.matchAll(/```mermaid\n([\s\S]*?)\n```/g)].map((m) => m[1] as string);
  const out = [];
  for (const text of blocks) {
    await mermaid.parse(text); // throws on a syntax error, naming the line
    const d = await mermaid.mermaidAPI.getDiagramFromText(text);
    out.push({ title: d.db.getDiagramTitle(), data: d.db.getXYChartData() });
  }
  return out;
}

function point(
  commit: string,
  cases: Record<string, Record<string, number>>,
  unit = 'GFLOP/s',
): HistoryPoint {
  return {
    commit,
    time: '2025-03-01T00:00:00Z',
    cases: Object.fromEntries(
      Object.entries(cases).map(([c, ms]) => [
        c,
        Object.fromEntries(
          Object.entries(ms).map(([m, v]) => [
            m,
            { unit, better: 'higher' as const, median: v, spread: 0.01, n: 5 },
          ]),
        ),
      ]),
    ),
  };
}

const sha = (i: number) => `${(0xabc000 + i).toString(16)}${'0'.repeat(34)}`;

describe('trend charts parsed by Mermaid', () => {
  it('a plain chart: the x labels, one line, its values', async () => {
    const h = [100, 101.5, 99.25].map((v, i) => point(sha(i), { c: { gflops: v } }));
    const chart = trendChart('gemm', h, { current: point('f'.repeat(40), { c: { gflops: 97 } }) })!;
    const [parsed] = await parseAll(chart.markdown);
    expect(parsed!.title).toBe('gemm - c gflops');
    expect(parsed!.data.xAxis.categories).toEqual(['abc0000', 'abc0010', 'abc0020', 'PR-fffffff']);
    expect(parsed!.data.yAxis.title).toBe('GFLOP/s');
    expect(parsed!.data.plots.map((p) => p.data.map(([, v]) => v))).toEqual([[100, 101.5, 99.25, 97]]);
  });

  it('labels with quotes, brackets, comment marks, HTML and non-ASCII stay inside their strings', async () => {
    const evil = 'prefill "M128" [x], %% comment; <b>é</b> `tick` #1 | a:b';
    const h = [1, 2].map((v, i) => point(sha(i), { [evil]: { [`tok"/s%%`]: v } }, 'tok/s "x"'));
    const chart = trendChart('lane "q" %%', h)!;
    const [parsed] = await parseAll(chart.markdown);
    expect(parsed!.data.plots).toHaveLength(1);
    expect(parsed!.data.plots[0]!.data).toHaveLength(2);
    expect(parsed!.title).not.toContain('"');
    // the legend under the chart names the real metric, escaped for Markdown
    expect(chart.markdown).toContain('&lt;b&gt;');
  });

  it('a single history point with this run, negative, zero, tiny and huge values', async () => {
    const cases = [
      [-5.5, -7.25],
      [0, 0],
      [1e-9, 3e-9],
      [1e20, 3.5e21],
      [123456789012, 5],
    ];
    for (const [a, b] of cases) {
      const chart = trendChart('gemm', [point(sha(1), { c: { v: a as number } })], {
        current: point(sha(2), { c: { v: b as number } }),
      });
      expect(chart, `${a}, ${b}`).toBeDefined();
      const [parsed] = await parseAll(chart!.markdown);
      const values = parsed!.data.plots[0]!.data.map(([, v]) => v);
      expect(values, `${a}, ${b}`).toHaveLength(2);
      expect(values.every((v) => Number.isFinite(v))).toBe(true);
      if (Math.abs(a as number) < 1e15 && Math.abs(a as number) >= 1e-3) {
        expect(values[0]).toBeCloseTo(a as number, 6);
      }
      if ((a as number) >= 1e15) expect(values).toEqual([100, 3500]); // scaled to the first point = 100
    }
  });

  it('several lines on one scaled axis, and a whole Trends section of many lanes', async () => {
    const h = Array.from({ length: 30 }, (_, i) =>
      point(sha(i), {
        'decode/M1': { base_gflops: 50 + i, fused_gflops: 80 - i / 2 },
        'prefill/M128': { tok_s: 1e6 + i * 1e3 },
      }),
    );
    const lanes = ['gemm', 'tokenizer', 'attn-decode'];
    const r = report(lanes.map((l) => lane(l, [verdict(l, 'decode/M1', 'base_gflops', 70)])));
    const section = trendSection(r, new Map(lanes.map((l) => [l, h])), {
      series: [
        { caseId: 'decode/M1', metric: 'base_gflops' },
        { caseId: 'decode/M1', metric: 'fused_gflops' },
        { caseId: 'prefill/M128', metric: 'tok_s' },
      ],
    })!;
    const parsed = await parseAll(section);
    expect(parsed).toHaveLength(3);
    for (const p of parsed) {
      expect(p.data.plots).toHaveLength(3);
      // the 20 newest history points; this run lacks two of the lines, so it is not drawn
      expect(p.data.xAxis.categories).toHaveLength(20);
      expect(p.data.plots[0]!.data[0]![1]).toBe(100);
    }
  });

  it('Mermaid rejects what the sanitising prevents (the test can fail)', async () => {
    await expect(mermaid.parse('xychart-beta\n  x-axis ["a"b"]\n  line [1]')).rejects.toThrow(/Parse error/);
    await expect(mermaid.parse('xychart-beta\n  x-axis ["a"]\n  line [1e5]')).rejects.toThrow(/Parse error/);
  });
});

function verdict(l: string, caseId: string, metric: string, v: number): Verdict {
  return {
    lane: l,
    caseId,
    metric,
    unit: 'GFLOP/s',
    better: 'higher',
    kind: 'absolute',
    source: 'baseline',
    state: 'regressed',
    severity: 'fail',
    current: { median: v, spread: 0.01, n: 10 },
    baseline: { median: 100, spread: 0.01, n: 10 },
    deltaPct: v - 100,
    reason: 'beyond tolerance',
  };
}

function lane(l: string, verdicts: Verdict[]): LaneVerdicts {
  return {
    lane: l,
    check: `${l}-perf`,
    conclusion: 'failure',
    summary: 'x',
    path: 'avx2',
    status: 'ok',
    verdicts,
  };
}

function report(lanes: LaneVerdicts[]): VerdictReport {
  return {
    schemaVersion: 1,
    machine: machine({ commit: '9'.repeat(40) }),
    profile: 'quick',
    conclusion: 'failure',
    counts: emptyCounts(),
    lanes,
    notes: [],
  };
}

describe("the comment's budget", () => {
  it('drops the charts before any table, with a note, and the rest still parses', async () => {
    const lanes = ['gemm', 'tokenizer', 'attn-decode', 'attn-prefill'];
    const verdicts = (l: string) =>
      Array.from({ length: 40 }, (_, i) => verdict(l, `case/${i}`, 'base_gflops', 90 + (i % 7)));
    const r = report(lanes.map((l) => lane(l, verdicts(l))));
    const h = Array.from({ length: 20 }, (_, i) =>
      point(
        sha(i),
        Object.fromEntries(
          Array.from({ length: 40 }, (_, c) => [`case/${c}`, { base_gflops: 100 + (i % 3) }]),
        ),
      ),
    );
    const history = new Map(lanes.map((l) => [l, h]));
    const full = renderMarkdown(r, { history, maxChars: Infinity });
    const tablesOnly = renderMarkdown(r, { history, charts: false, maxChars: Infinity });
    expect((await parseAll(full)).length).toBe(4);
    expect(full.length).toBeGreaterThan(tablesOnly.length);
    // a budget the tables fit in and the charts do not
    const budget = tablesOnly.length + 400;
    const md = renderMarkdown(r, { history, maxChars: budget });
    expect(md.length).toBeLessThanOrEqual(budget);
    expect(md).not.toContain('```mermaid');
    expect(md).toMatch(/\*\*Report shortened\*\* to fit [\d,]+ characters: left out the trend charts\./);
    for (const l of lanes) expect(md).toContain(`<b>${l}-perf</b>`);

    // GitHub's own limit, with a history far longer than a chart shows
    const long = Array.from({ length: 500 }, (_, i) => point(sha(i), h[0]!.cases as never));
    const big = report(
      lanes.map((l) =>
        lane(l, [
          ...verdicts(l),
          ...verdicts(l).map((v) => ({ ...v, caseId: `${v.caseId}/more/${'x'.repeat(300)}` })),
        ]),
      ),
    );
    const comment = renderMarkdown(big, { history: new Map(lanes.map((l) => [l, long])) });
    expect(comment.length).toBeLessThanOrEqual(65_536);
    for (const c of await parseAll(comment)) expect(c.data.xAxis.categories.length).toBeLessThanOrEqual(21);
  });
});
