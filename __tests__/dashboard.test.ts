// The dashboard page in a real browser: Debian's chromium, headless, driven by playwright-core.
// The page is loaded from file:// as a user would open it; the test counts what was drawn
// (charts per class, lane and metric; points per chart; change points where the history has a
// step), checks the charts have a size on screen and the page logs no error, and keeps a
// screenshot in test-artifacts/ (not committed). Without chromium (scripts/bootstrap.sh installs it) the
// browser test is skipped with a message saying so; the page's own checks still run.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../src/history/changepoints.js';
import { appendHistory } from '../src/history/store.js';
import { writeDashboard } from '../src/commands/dashboard.js';
import type { HistoryRecord } from '../src/model/history.js';

const A = 'amd-epyc-7763_4c_avx2_clang17';
const B = 'intel-xeon-8370c_4c_avx512_clang17';

function chromiumPath(): string | undefined {
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
    } catch {
      // not this name
    }
  }
  return undefined;
}
const CHROMIUM = chromiumPath();
if (!CHROMIUM) {
  console.warn(
    'dashboard browser test skipped: no chromium on PATH (apt-get install chromium, or run scripts/bootstrap.sh)',
  );
}

/** 30 commits on class A (gemm: a 12 % drop at commit 20; tokenizer flat) and 5 on class B. */
function store(): { dir: string; root: string } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'infeng-dashboard-'));
  const dir = path.join(root, 'history');
  const r = mulberry32(5);
  const noise = () => 1 + (r() - 0.5) * 0.004;
  const rec = (key: string, lane: string, i: number, cases: HistoryRecord['cases']): HistoryRecord => ({
    schemaVersion: 1,
    commit: `${(0xc0f00 + i).toString(16)}${'0'.repeat(35)}`,
    time: `2025-03-${String(1 + (i % 28)).padStart(2, '0')}T12:00:00Z`,
    classKey: key,
    lane,
    profile: 'quick',
    path: key.includes('avx512') ? 'avx512' : 'avx2',
    cases,
  });
  const m = (median: number, unit: string, better: 'higher' | 'lower' = 'higher') => ({
    unit,
    better,
    median,
    spread: 0.01,
    n: 10,
  });
  const records: HistoryRecord[] = [];
  for (let i = 0; i < 30; i++) {
    records.push(
      rec(A, 'gemm', i, {
        'decode/M1/H4096/r16': { fused_gflops: m((i < 20 ? 100 : 88) * noise(), 'GFLOP/s') },
        'prefill/M128 "<x>"': { lora_tax_pct: m(3 * noise(), '%', 'lower') },
      }),
      rec(A, 'tokenizer', i, { 'encode/en-wiki': { tokens_per_s: m(2e7 * noise(), 'tok/s') } }),
    );
  }
  for (let i = 0; i < 5; i++)
    records.push(rec(B, 'gemm', i, { 'decode/M1/H4096/r16': { fused_gflops: m(150 * noise(), 'GFLOP/s') } }));
  appendHistory(dir, records);
  // a damaged line: skipped, and listed on the page
  writeFileSync(
    path.join(dir, `${B}.jsonl`),
    `${readFileSync(path.join(dir, `${B}.jsonl`), 'utf8')}not json\n`,
  );
  return { dir, root };
}

describe('infeng-perf dashboard', () => {
  it('writes one chart per lane metric and class, points and change points counted, text escaped', () => {
    const { dir, root } = store();
    const out = writeDashboard({
      root,
      historyDir: dir,
      out: 'site/index.html',
      now: new Date('2025-04-01T00:00:00Z'),
    });
    expect(out.classes).toBe(2);
    expect(out.notes).toEqual([`${path.join(dir, `${B}.jsonl`)} line 6: not JSON, skipped`]);
    const page = readFileSync(out.file, 'utf8');
    expect(page.match(/<svg class="chart"/g)).toHaveLength(4);
    expect(page).toContain('prefill/M128 &quot;&lt;x&gt;&quot;');
    expect(page).not.toContain('<x>');
    expect(page).not.toMatch(/<script|https?:\/\//); // nothing to load, nothing to run
  });

  it.skipIf(!CHROMIUM)(
    'renders in headless Chromium from file:// with every point and the change point',
    async () => {
      const { chromium } = await import('playwright-core');
      const { dir, root } = store();
      const out = writeDashboard({
        root,
        historyDir: dir,
        out: 'site/index.html',
        now: new Date('2025-04-01T00:00:00Z'),
      });
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        const errors: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error') errors.push(m.text());
        });
        page.on('pageerror', (e) => errors.push(e.message));
        page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
        await page.goto(pathToFileURL(out.file).href);
        const charts = await page.$$eval('svg.chart', (svgs) =>
          svgs.map((s) => {
            const box = s.getBoundingClientRect();
            return {
              id: s.id,
              points: s.querySelectorAll('circle.point').length,
              declared: Number(s.getAttribute('data-points')),
              changepoints: s.querySelectorAll('line.changepoint').length,
              path:
                s.querySelector('path.line')?.getAttribute('d')?.split(/[ML]/).filter(Boolean).length ?? 0,
              width: box.width,
              height: box.height,
            };
          }),
        );
        expect(charts).toHaveLength(4);
        const byId = Object.fromEntries(charts.map((c) => [c.id, c]));
        const step = byId[`${A}--gemm--quick--decode_M1_H4096_r16--fused_gflops`];
        expect(step).toMatchObject({ points: 30, declared: 30, path: 30, changepoints: 1 });
        expect(byId[`${A}--tokenizer--quick--encode_en-wiki--tokens_per_s`]).toMatchObject({
          points: 30,
          changepoints: 0,
        });
        expect(byId[`${B}--gemm--quick--decode_M1_H4096_r16--fused_gflops`]).toMatchObject({
          points: 5,
          changepoints: 0,
        });
        for (const c of charts) {
          expect(c.width).toBeGreaterThan(100);
          expect(c.height).toBeGreaterThan(50);
        }
        // the change point sits between the 20th and the 21st commit, and says so
        const title = await page.textContent(
          `#${A}--gemm--quick--decode_M1_H4096_r16--fused_gflops line.changepoint title`,
        );
        expect(title).toMatch(/^level changed −1[12]\.\d % between c0f1300 and c0f1400/);
        expect(await page.title()).toBe('infeng perf history');
        expect(errors).toEqual([]);
        const shots = path.resolve(__dirname, '..', 'test-artifacts');
        mkdirSync(shots, { recursive: true });
        await page.screenshot({ path: path.join(shots, 'dashboard.png'), fullPage: true });
      } finally {
        await browser.close();
      }
    },
    60_000,
  );
});
