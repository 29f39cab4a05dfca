// Report mode posts a verdicts.json from another run's artifact (possibly a fork's) with a
// write token: a forged file must be refused, and nothing in it may reach Markdown raw.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readVerdicts } from '../src/action/state.js';
import { compare } from '../src/compare/compare.js';
import { DEFAULT_RULES } from '../src/compare/rules.js';
import { renderMarkdown } from '../src/report/render.js';
import { gemmCase, lane, metric, run } from './fixtures/compare/build.js';

function genuine() {
  return compare(
    run([lane('gemm', [gemmCase('prefill/M128/H2048/r16', [metric('fused_gflops', [1, 2, 3])])])]),
    {},
    DEFAULT_RULES,
  );
}

function write(doc: unknown): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'infeng-verdicts-'));
  writeFileSync(path.join(dir, 'verdicts.json'), JSON.stringify(doc));
  return dir;
}

describe('verdicts.json from an artifact', () => {
  it('a genuine file is accepted', () => {
    expect(readVerdicts(write(genuine()))?.lanes[0]?.check).toBe('gemm-perf');
  });

  it('a forged conclusion is refused, naming the field', () => {
    const doc = genuine();
    (doc.lanes[0] as { conclusion: string }).conclusion = '<img src=x> @octocat';
    expect(() => readVerdicts(write(doc))).toThrow(/lanes\[0\]\.conclusion/);
  });

  it('a forged verdict state is refused', () => {
    const doc = genuine();
    (doc.lanes[0]!.verdicts[0] as { state: string }).state = '<b>hi</b> @team';
    expect(() => readVerdicts(write(doc))).toThrow(/state/);
  });

  it('the renderer escapes even the words it expects to be fixed', () => {
    const doc = genuine();
    (doc.lanes[0] as { conclusion: string }).conclusion = '<img src=x> @octocat';
    (doc.lanes[0]!.verdicts[0] as { state: string }).state = '<b>hi</b>';
    const md = renderMarkdown(doc);
    expect(md).not.toContain('<img');
    expect(md).not.toContain('<b>hi');
    expect(md).not.toMatch(/@octocat/);
  });
});
