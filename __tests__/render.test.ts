// The rendered report is what people read on every pull request: it is kept as a readable
// snapshot (__snapshots__/report.md), and its invariants are checked: marker first, headline
// second, escaped user text, and a size budget that drops whole sections with a note.
import { describe, expect, it } from 'vitest';
import { compare } from '../src/compare/compare.js';
import { parseRules } from '../src/compare/rules.js';
import { DEFAULT_MAX_CHARS, REPORT_MARKER, renderMarkdown, renderTerminal } from '../src/report/render.js';
import { around, baselineOf, lane, metric, run } from './fixtures/compare/build.js';
import { sampleReport } from './fixtures/compare/report.js';

const report = sampleReport();
const full = renderMarkdown(report);

/** Table lines of a Markdown text and how many cells each has (every `|` must be a delimiter). */
function tableShapes(md: string): number[][] {
  const tables: number[][] = [];
  let current: number[] | undefined;
  for (const line of md.split('\n')) {
    if (line.startsWith('|')) {
      current ??= [];
      current.push(line.split('|').length - 2);
    } else if (current) {
      tables.push(current);
      current = undefined;
    }
  }
  if (current) tables.push(current);
  return tables;
}

describe('renderMarkdown', () => {
  it('matches the readable snapshot', async () => {
    await expect(full).toMatchFileSnapshot('__snapshots__/report.md');
  });

  it('starts with the marker, then the headline', () => {
    const [first, second] = full.split('\n');
    expect(first).toBe(REPORT_MARKER);
    expect(second).toMatch(
      /^❌ \*\*infeng perf\*\* · \*\*4 failing\*\* · 3 regressed, 4 improved, 22 unchanged, 6 warnings, 1 noisy, 2 incomparable, 8 new, 1 error · /,
    );
    expect(second).toContain(
      'AMD EPYC 7763 64-Core Processor (4 cores) · avx2 · clang 17.0.6 · profile quick · against committed baselines 7–20 days old',
    );
  });

  it('keeps every table rectangular', () => {
    for (const shape of tableShapes(full)) expect(new Set(shape).size).toBe(1);
  });

  it('says so when nothing changed', () => {
    const l = lane('gemm', [{ id: 'c', params: {}, metrics: [metric('fused_gflops', around(100))] }]);
    const md = renderMarkdown(compare(run([l]), { gemm: baselineOf(l) }, parseRules('')));
    expect(md).toContain('No change beyond tolerance (1 metrics unchanged).');
    expect(md.split('\n')[1]).toMatch(/^✅ /);
  });

  it('escapes Markdown injection in case names and messages', () => {
    const evil = 'x|y`code`<img src=x onerror=alert(1)>@org/team';
    const l = lane('gemm', [{ id: evil, params: {}, metrics: [metric('fused_gflops', around(100))] }]);
    const broken = lane('sched', [], {
      status: 'error',
      error: { step: 'run|x', message: 'boom @admin <script>' },
    });
    const md = renderMarkdown(compare(run([l, broken]), {}, parseRules('')));
    expect(md).toContain('x&#124;y&#96;code&#96;&lt;img src=x onerror=alert(1)&gt;@\u200dorg/team');
    expect(md).not.toContain('<img');
    expect(md).not.toContain('@org');
    expect(md).not.toMatch(/`code`/);
    for (const shape of tableShapes(md)) expect(new Set(shape).size).toBe(1);
    // the lane's output goes into a code block, where nothing renders
    expect(md).toContain('```text\n  boom @admin <script>\n  ```');
  });
});

describe('size budget', () => {
  it('stays within the default budget when small', () => {
    expect(full.length).toBeLessThan(DEFAULT_MAX_CHARS);
  });

  it('drops whole sections from the end, with a note naming them', () => {
    const maxChars = full.length - 100;
    const md = renderMarkdown(report, { maxChars, fullReportHint: 'See the perf-report artifact.' });
    expect(md.length).toBeLessThanOrEqual(maxChars);
    expect(md).toMatch(
      /\*\*Report shortened\*\* to fit [\d,]+ characters: left out the details of tokenizer\. See the perf-report artifact\.\n$/,
    );
    // what is kept is a prefix of the full report made of whole sections
    const kept = md.slice(0, md.indexOf('**Report shortened**'));
    expect(full.startsWith(kept)).toBe(true);
    expect(kept.endsWith('</details>\n\n')).toBe(true);
    for (const shape of tableShapes(md)) expect(new Set(shape).size).toBe(1);
  });

  it('keeps at least the headline and the lane table', () => {
    const md = renderMarkdown(report, { maxChars: 1200 });
    expect(md.length).toBeLessThanOrEqual(1200);
    expect(md.startsWith(REPORT_MARKER)).toBe(true);
    expect(md).toContain('| sched-zipf-perf | ❌ failure |');
    expect(md).toMatch(
      /left out the changes table, the gates table, the notes, the details of gemm, the details of tokenizer\./,
    );
  });
});

describe('renderTerminal', () => {
  it('matches the readable snapshot', async () => {
    await expect(renderTerminal(report)).toMatchFileSnapshot('__snapshots__/report.txt');
  });

  it('aligns columns and marks failing rows without colours', () => {
    const text = renderTerminal(report);
    expect(text.includes('\u001b')).toBe(false);
    const lines = text.split('\n');
    const header = lines.find((l) => l.startsWith('lane  case'))!;
    const failing = lines.filter((l) => l.includes('REGRESSED (p='));
    expect(failing.length).toBe(3);
    for (const row of failing) expect(row.indexOf('REGRESSED')).toBe(header.indexOf('verdict'));
    expect(lines[0]).toBe(
      'infeng perf: FAILED (4 failing) - 3 regressed, 4 improved, 22 unchanged, 6 warnings, 1 noisy, 2 incomparable, 8 new, 1 error',
    );
  });
});

describe('text from the run is inert wherever it goes', () => {
  const HOSTILE_LANE = '<img src=x> @org/team [login](http://x)';

  /** A report whose one lane has a hostile name and enough verdicts to need shortening. */
  function hostileReport() {
    const doc = structuredClone(report);
    for (const l of doc.lanes) {
      l.lane = HOSTILE_LANE;
      l.check = `::add-mask::${HOSTILE_LANE}\u001b[2J`;
      for (const v of l.verdicts) v.lane = HOSTILE_LANE;
    }
    return doc;
  }

  it('the note of a shortened report escapes the lane names it lists', () => {
    const doc = hostileReport();
    const md = renderMarkdown(doc, { maxChars: renderMarkdown(doc).length - 100 });
    const note = md.slice(md.indexOf('**Report shortened**'));
    expect(note).toContain('the details of &lt;img src=x&gt; @\u200dorg/team &#91;login&#93;(http://x)');
    expect(md).not.toContain('<img');
    expect(md).not.toMatch(/@org/);
    expect(md).not.toContain('[login]');
  });

  it('the terminal table shows a hostile check name as one inert line', () => {
    const text = renderTerminal(hostileReport());
    expect(text).not.toContain('\u001b');
    for (const line of text.split('\n')) expect(line).not.toMatch(/^\s*::/);
  });
});
