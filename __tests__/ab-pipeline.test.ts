// `infeng-perf ab` end to end on the smoke profile, in a temporary clone of this repository:
// the base (HEAD~2, whose GEMM code differs) is exported, built and measured in alternating
// rounds beside the head, and compare judges the paired rounds. A base whose native/ differs
// from the head's by a comment only (HEAD~1) builds to the same bytes: no rounds, the head runs
// once. Then the bad inputs: a base ref that is not in the clone, and a base that does not
// build; each falls back to the committed baselines with the reason in the report, the head
// still measured.
import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildConfig, type Config } from '../src/config.js';
import { abStage, compareStage } from '../src/pipeline.js';

const root = path.resolve(__dirname, '..');
let repo: string;
let config: Config;
const quiet = () => {};

function git(...args: string[]): string {
  return execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@localhost', ...args], {
    encoding: 'utf8',
  }).trim();
}

beforeAll(() => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'infeng-ab-'));
  repo = path.join(tmp, 'repo');
  execFileSync('git', ['clone', '--quiet', '--no-hardlinks', root, repo]);
  symlinkSync(path.join(root, 'node_modules'), path.join(repo, 'node_modules'));
  mkdirSync(path.join(repo, 'build'), { recursive: true });
  const toolchain = path.join(root, 'build', 'toolchain.env');
  if (existsSync(toolchain)) copyFileSync(toolchain, path.join(repo, 'build', 'toolchain.env'));
  // HEAD~1: a change to the GEMM driver's object code (a variable the linker keeps)
  appendFileSync(
    path.join(repo, 'native', 'src', 'gemm', 'gemm_driver.cpp'),
    '\nextern "C" {\nint infeng_ab_test_marker = 2;\n}\n',
  );
  git('commit', '--quiet', '-am', 'a variable in the GEMM driver');
  // HEAD: a comment only; its native/ tree differs from HEAD~1's, its binaries do not
  appendFileSync(path.join(repo, 'native', 'src', 'gemm', 'gemm_driver.cpp'), '\n// head\n');
  git('commit', '--quiet', '-am', 'head: a comment in the GEMM driver');
  // a branch whose native/ does not compile
  git('checkout', '--quiet', '-b', 'broken');
  appendFileSync(path.join(repo, 'native', 'src', 'gemm', 'gemm_driver.cpp'), '\nthis is not C++\n');
  git('commit', '--quiet', '-am', 'broken');
  git('checkout', '--quiet', '-');
  config = buildConfig({
    root: repo,
    lanes: 'gemm',
    profile: 'smoke',
    reportsDir: path.join(tmp, 'reports'),
  });
}, 120_000);

describe('ab on the smoke profile', () => {
  it('measures the head against HEAD~2 in paired rounds and judges them', async () => {
    const results = await abStage(config, 'HEAD~2', quiet);
    expect(results.abFallback).toBeUndefined();
    expect(results.ab).toMatchObject({
      baseRef: 'HEAD~2',
      baseCommit: git('rev-parse', 'HEAD~2'),
      baseCached: false,
    });
    expect(results.ab?.baseNativeTree).toBe(git('rev-parse', 'HEAD~2:native'));
    const lane = results.lanes[0]!;
    expect(lane.status).toBe('ok');
    expect(lane.base?.status).toBe('ok');
    expect(lane.abOrder?.slice(0, 4)).toEqual(['base', 'head', 'base', 'head']);
    const rounds = lane.abOrder!.length;
    expect(rounds).toBeGreaterThanOrEqual(6);
    const fused = lane.cases[0]!.metrics.find((m) => m.name === 'fused_gflops')!;
    const baseFused = lane
      .base!.cases.find((c) => c.id === lane.cases[0]!.id)!
      .metrics.find((m) => m.name === 'fused_gflops')!;
    expect(fused.rounds).toHaveLength(rounds);
    expect(baseFused.rounds).toHaveLength(rounds);
    // 3 repetitions per side per round, pooled
    expect(fused.samples).toHaveLength(3 * rounds);
    expect(
      existsSync(path.join(repo, 'build', 'ab', results.ab!.baseNativeTree.slice(0, 16), 'native')),
    ).toBe(true);

    const out = await compareStage(config, results);
    const ab = out.report.lanes[0]!.verdicts.filter((v) => v.source === 'ab');
    expect(ab.length).toBeGreaterThan(10);
    expect(ab.every((v) => ['pass', 'improved', 'regressed', 'noisy'].includes(v.state))).toBe(true);
    expect(out.report.lanes[0]!.ab).toMatchObject({ rounds, baseStatus: 'ok' });
    expect(out.markdown).toContain(`Changes against the base (${results.ab!.baseCommit.slice(0, 12)}`);
    expect(out.terminal).toContain('A/B against HEAD~2');

    // the second time, the base's export is reused
    const again = await abStage(config, 'HEAD~2', quiet);
    expect(again.ab?.baseCached).toBe(true);
  }, 600_000);

  it('a base that differs by a comment builds to the same bytes: no rounds, every A/B verdict passes', async () => {
    const results = await abStage(config, 'HEAD~1', quiet);
    expect(results.ab?.baseNativeTree).not.toBe(git('rev-parse', 'HEAD:native'));
    const lane = results.lanes[0]!;
    expect(lane.status).toBe('ok');
    expect(lane.base).toMatchObject({ status: 'ok', cases: [] });
    expect(lane.base?.identical).toMatch(/^[0-9a-f]{64}$/);
    expect(lane.info.ab_rounds).toBe(0);
    const out = await compareStage(config, results);
    const ab = out.report.lanes[0]!.verdicts.filter((v) => v.source === 'ab');
    expect(ab.length).toBeGreaterThan(10);
    expect(ab.every((v) => v.state === 'pass' && /byte-identical/.test(v.reason))).toBe(true);
    expect(out.report.lanes[0]!.ab?.baseStatus).toBe('identical');
    expect(out.markdown).toContain("is byte-identical to the head's, so it was not run again");
  }, 600_000);

  it('a base ref that is not in the clone: the head is measured, the baselines judge, the report says why', async () => {
    const results = await abStage(config, 'no-such-branch', quiet);
    expect(results.ab).toBeUndefined();
    expect(results.abFallback).toMatch(
      /A\/B against no-such-branch not possible at the base step: base ref "no-such-branch" is not in this clone/,
    );
    expect(results.lanes[0]?.status).toBe('ok');
    const out = await compareStage(config, results);
    expect(out.markdown).toContain('**A/B**: A/B against no-such-branch not possible');
    expect(readFileSync(path.join(config.reportsDir, 'report.md'), 'utf8')).toContain(
      'A/B not possible, baselines used',
    );
  }, 300_000);

  it('a base that does not build: the same fallback, naming the build failure', async () => {
    const results = await abStage(config, 'broken', quiet);
    expect(results.ab).toBeUndefined();
    expect(results.abFallback).toMatch(/the base broken \([0-9a-f]{12}\) did not build: /);
    expect(results.lanes[0]?.status).toBe('ok');
    const out = await compareStage(config, results);
    expect(out.terminal).toContain('A/B: the base broken');
  }, 300_000);
});
