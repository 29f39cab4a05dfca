// The report draws a lane's default-branch history as a trend chart when a history store is
// given, says so when there is none, and leaves the charts out when asked.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../src/config.js';
import { compareStage } from '../src/pipeline.js';
import { appendHistory, recordsFromResults } from '../src/history/store.js';
import { around, gemmCase, lane, machine, metric, run } from './fixtures/compare/build.js';

function setup() {
  const root = mkdtempSync(path.join(os.tmpdir(), 'infeng-history-report-'));
  mkdirSync(path.join(root, 'baselines'));
  writeFileSync(path.join(root, 'baselines', 'rules.yml'), 'minSamples: 5\n');
  const history = path.join(root, 'history');
  const at = (commit: string, gflops: number, time: string) =>
    run(
      [lane('gemm', [gemmCase('prefill/M128/H2048/r16', [metric('fused_gflops', around(gflops))])])],
      machine({ commit, time }),
    );
  // three default-branch commits, then this run
  for (const [i, g] of [300, 305, 302].entries()) {
    appendHistory(history, recordsFromResults(at(`c0ffee${i}`, g, `2025-03-1${i}T12:00:00Z`)));
  }
  return { root, history, results: at('feedbee', 290, '2025-03-20T12:00:00Z') };
}

describe('trend charts in the report', () => {
  it('a lane with history gets a Mermaid chart ending in this run', async () => {
    const { root, history, results } = setup();
    const config = buildConfig({ root, history: 'history', lanes: 'gemm' });
    expect(config.historyDir).toBe(history);
    const out = await compareStage(config, results);
    expect(out.markdown).toContain('```mermaid');
    expect(out.markdown).toContain('xychart-beta');
    expect(out.markdown).toMatch(/PR-feedbee/);
    // the terminal never gets Mermaid
    expect(out.terminal).not.toContain('mermaid');
  });

  it('no charts when asked, and a note instead of a chart when the class has no history', async () => {
    const { root, results } = setup();
    const off = await compareStage(
      buildConfig({ root, history: 'history', lanes: 'gemm', charts: false }),
      results,
    );
    expect(off.markdown).not.toContain('```mermaid');
    const empty = await compareStage(buildConfig({ root, history: 'nowhere', lanes: 'gemm' }), results);
    expect(empty.markdown).not.toContain('```mermaid');
    expect(empty.report.notes.some((n) => /^history: .*no history yet/.test(n))).toBe(true);
  });
});
