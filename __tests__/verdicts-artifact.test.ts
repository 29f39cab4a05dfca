// Report mode posts a verdicts.json from another run's artifact (possibly a fork's) with a
// write token: a forged file must be refused, and nothing in it may reach Markdown raw.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readGitHubState, readVerdicts } from '../src/action/state.js';
import type { VerdictReport } from '../src/model/verdicts.js';
import { compare } from '../src/compare/compare.js';
import { DEFAULT_RULES } from '../src/compare/rules.js';
import { renderMarkdown } from '../src/report/render.js';
import { around, baselineOf, gemmCase, lane, metric, run } from './fixtures/compare/build.js';
import { parseRules } from '../src/compare/rules.js';

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

/** Every optional part the renderer and the sinks read: an error, a gate, a baseline, A/B. */
function full(): VerdictReport {
  const cases = [gemmCase('prefill/M128/H2048/r16', [metric('fused_gflops', around(400))])];
  const rules = parseRules(
    'lanes:\n  gemm:\n    gates: [{ name: g, metric: fused_gflops, min: 1, description: d }]\n',
  );
  const doc = compare(
    run([
      lane('gemm', cases),
      lane('sched', [], { status: 'error', error: { step: 'run', message: 'SIGSEGV' } }),
    ]),
    { gemm: baselineOf(lane('gemm', cases)) },
    rules,
  );
  const gemm = doc.lanes[0]!;
  gemm.ab = { rounds: 6, mdePct: 2.5, baseStatus: 'error', baseError: 'did not build' };
  gemm.verdicts[0]!.ab = { ratio: 0.98, low: 0.96, high: 1.0, rounds: 6, mdePct: 2.5 };
  return {
    ...doc,
    ab: { baseRef: 'main', baseCommit: 'abc', baseNativeTree: 'def', baseCached: false, repetitions: 3 },
    abFallback: 'the base did not build',
  };
}

const path_ = (doc: VerdictReport) => doc as unknown as { lanes: Record<string, Record<string, unknown>>[] };

describe('verdicts.json: every field the renderer and the sinks read is pinned', () => {
  it('a genuine file with every optional part is accepted, A/B verdicts included', () => {
    const doc = full();
    doc.lanes[0]!.verdicts[0]!.source = 'ab';
    const back = readVerdicts(write(doc));
    expect(back?.lanes[0]?.baselineMeta?.commit).toBe('ba5e000');
    expect(back?.lanes[0]?.verdicts.some((v) => v.gate?.name === 'g')).toBe(true);
    expect(back?.lanes[1]?.error).toEqual({ step: 'run', message: 'SIGSEGV' });
  });

  const cases: [string, (doc: VerdictReport) => void, RegExp][] = [
    [
      'gate.max as a string',
      (d) => {
        const v = d.lanes[0]!.verdicts.find((x) => x.gate)!;
        (v.gate as Record<string, unknown>).max = '1; drop';
      },
      /lanes\[0\]\.verdicts\[\d+\]\.gate\.max: must be number/,
    ],
    [
      'a gate without a name',
      (d) => delete (d.lanes[0]!.verdicts.find((x) => x.gate)!.gate as Record<string, unknown>).name,
      /lanes\[0\]\.verdicts\[\d+\]\.gate\.name: is required/,
    ],
    [
      'gate.description as an object',
      (d) => ((d.lanes[0]!.verdicts.find((x) => x.gate)!.gate as Record<string, unknown>).description = {}),
      /gate\.description: must be string/,
    ],
    [
      'baselineMeta.timestamp as a number',
      (d) => ((d.lanes[0]!.baselineMeta as unknown as Record<string, unknown>).timestamp = 1742472000),
      /lanes\[0\]\.baselineMeta\.timestamp: must be string/,
    ],
    [
      'baselineMeta without its commit',
      (d) => delete (d.lanes[0]!.baselineMeta as unknown as Record<string, unknown>).commit,
      /lanes\[0\]\.baselineMeta\.commit: is required/,
    ],
    [
      'baselineMeta.profile as a number',
      (d) => ((d.lanes[0]!.baselineMeta as unknown as Record<string, unknown>).profile = 3),
      /lanes\[0\]\.baselineMeta\.profile: must be string/,
    ],
    [
      'an error with a numeric message',
      (d) => (path_(d).lanes[1]!.error = { step: 'run', message: 42 }),
      /lanes\[1\]\.error\.message: must be string/,
    ],
    [
      'an error without its step',
      (d) => (path_(d).lanes[1]!.error = { message: 'x' }),
      /lanes\[1\]\.error\.step: is required/,
    ],
    [
      'a tolerance as a string',
      (d) => ((d.lanes[0]!.verdicts[0]! as unknown as Record<string, unknown>).tolerance = { pct: '8' }),
      /verdicts\[0\]\.tolerance\.pct: must be number/,
    ],
    [
      "an A/B change's ratio as a string",
      (d) => ((d.lanes[0]!.verdicts[0]!.ab as unknown as Record<string, unknown>).ratio = '0.9'),
      /verdicts\[0\]\.ab\.ratio: must be number/,
    ],
    [
      "an A/B change's rounds missing",
      (d) => delete (d.lanes[0]!.verdicts[0]!.ab as unknown as Record<string, unknown>).rounds,
      /verdicts\[0\]\.ab\.rounds: is required/,
    ],
    [
      "a lane's A/B baseStatus as a number",
      (d) => ((d.lanes[0]!.ab as unknown as Record<string, unknown>).baseStatus = 1),
      /lanes\[0\]\.ab\.baseStatus: must be string/,
    ],
    [
      "a lane's A/B baseError as an object",
      (d) => ((d.lanes[0]!.ab as unknown as Record<string, unknown>).baseError = { x: 1 }),
      /lanes\[0\]\.ab\.baseError: must be string/,
    ],
    [
      'ab.baseCommit as a number',
      (d) => ((d.ab as unknown as Record<string, unknown>).baseCommit = 12),
      /^[^ ]*verdicts\.json: ab\.baseCommit: must be string/,
    ],
    [
      'ab.baseCached as a string',
      (d) => ((d.ab as unknown as Record<string, unknown>).baseCached = 'yes'),
      /ab\.baseCached: must be boolean/,
    ],
    [
      'ab.repetitions as a fraction',
      (d) => ((d.ab as unknown as Record<string, unknown>).repetitions = 2.5),
      /ab\.repetitions: must be integer/,
    ],
    [
      'abFallback as an array',
      (d) => ((d as unknown as Record<string, unknown>).abFallback = ['x']),
      /abFallback: must be string/,
    ],
  ];
  for (const [what, forge, field] of cases) {
    it(`refuses ${what}, naming the field`, () => {
      const doc = full();
      forge(doc);
      expect(() => readVerdicts(write(doc))).toThrow(field);
    });
  }
});

describe('github.json from an artifact', () => {
  function writeState(text: string): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'infeng-github-'));
    writeFileSync(path.join(dir, 'github.json'), text);
    return dir;
  }
  const genuineState = {
    schemaVersion: 1,
    repository: 'o/r',
    workflow: 'perf',
    headSha: 'abc',
    pr: 7,
    runId: '42',
    posted: { comment: false, checks: false },
  };

  it('a genuine file is accepted; none at all is no claims', () => {
    expect(readGitHubState(writeState(JSON.stringify(genuineState)))).toEqual(genuineState);
    expect(readGitHubState(mkdtempSync(path.join(os.tmpdir(), 'infeng-github-')))).toBeUndefined();
  });

  it('{} is refused naming the file and the first missing field', () => {
    expect(() => readGitHubState(writeState('{}'))).toThrow(/github\.json: schemaVersion: is required/);
  });

  it('a truncated file is refused naming the file', () => {
    expect(() => readGitHubState(writeState(JSON.stringify(genuineState).slice(0, 40)))).toThrow(
      /github\.json: not valid JSON/,
    );
  });

  it('forged claims are refused, naming the field', () => {
    const forged = (over: Record<string, unknown>) =>
      writeState(JSON.stringify({ ...genuineState, ...over }));
    expect(() => readGitHubState(forged({ posted: { comment: 'yes', checks: false } }))).toThrow(
      /github\.json: posted\.comment: must be boolean/,
    );
    expect(() => readGitHubState(forged({ pr: '7' }))).toThrow(/github\.json: pr: must be integer/);
    expect(() => readGitHubState(forged({ posted: undefined }))).toThrow(/github\.json: posted: is required/);
  });
});
