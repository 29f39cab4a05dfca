// A lane that crashes, hangs, or is not built must cost that lane only: the runner still
// returns one result per lane, and the next lane still runs.
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gemmLane } from '../src/lanes/gemm/lane.js';
import type { Lane, LaneContext } from '../src/lanes/lane.js';
import { runLanes } from '../src/lanes/runner.js';
import type { LaneResult } from '../src/model/results.js';

function fakeBuild(script: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'infeng-lane-'));
  mkdirSync(path.join(dir, 'bench'));
  const bin = path.join(dir, 'bench', 'infeng_gemm_bench');
  writeFileSync(bin, `#!/bin/sh\n${script}\n`);
  chmodSync(bin, 0o755);
  return dir;
}

function ctx(buildDir: string, timeoutMs = 10_000): LaneContext {
  const reportsDir = mkdtempSync(path.join(os.tmpdir(), 'infeng-reports-'));
  return { buildDir, reportsDir, profile: 'smoke', forcePath: 'auto', threads: 1, timeoutMs, log: () => {} };
}

describe('GEMM lane process handling', () => {
  it('a crashing bench becomes an error result naming the signal', async () => {
    const r = await gemmLane.run(ctx(fakeBuild('echo "about to crash" >&2; kill -SEGV $$')));
    expect(r.status).toBe('error');
    expect(r.error?.step).toBe('run');
    expect(r.error?.message).toMatch(/SIGSEGV/);
    expect(r.error?.message).toMatch(/about to crash/);
  });

  it('a hanging bench is killed at the timeout', async () => {
    const r = await gemmLane.run(ctx(fakeBuild('sleep 30'), 500));
    expect(r.status).toBe('timeout');
    expect(r.error?.message).toMatch(/did not finish within/);
  });

  it('a missing binary is a spawn error', async () => {
    const r = await gemmLane.run(ctx(path.join(os.tmpdir(), 'no-such-build-dir')));
    expect(r.status).toBe('error');
    expect(r.error?.step).toBe('spawn');
  });

  it('garbage output is a parse error that names the file', async () => {
    const r = await gemmLane.run(
      ctx(
        fakeBuild(
          'for a in "$@"; do case "$a" in --benchmark_out=*) echo "{not json" > "${a#--benchmark_out=}";; esac; done',
        ),
      ),
    );
    expect(r.status).toBe('error');
    expect(r.error?.step).toBe('parse');
    expect(r.error?.message).toMatch(/gemm_bench\.json: not JSON/);
  });

  it('NaN counters survive as NaN metric values (compare turns them into errors)', async () => {
    const doc = JSON.stringify({
      context: { path: 'scalar' },
      benchmarks: [
        {
          name: 'gemm/decode/M1/H256/r8',
          run_type: 'iteration',
          repetition_index: 0,
          real_time: 1,
          time_unit: 'ms',
          base_gflops: 1,
        },
      ],
    }).replace('"base_gflops":1', '"base_gflops":NaN');
    const r = await gemmLane.run(
      ctx(
        fakeBuild(
          `for a in "$@"; do case "$a" in --benchmark_out=*) echo '${doc}' > "\${a#--benchmark_out=}";; esac; done`,
        ),
      ),
    );
    expect(r.status).toBe('ok');
    const c = r.cases.find((x) => x.id === 'decode/M1/H256/r8');
    expect(c?.metrics.find((m) => m.name === 'base_gflops')?.value).toBeNaN();
    // planned cases the bench never reported are not silently dropped
    expect(r.cases.find((x) => x.id === 'prefill/M64/H256/r8')?.error).toMatch(/did not report/);
  });
});

describe('lane runner', () => {
  const ok: Lane = {
    name: 'gemm',
    targets: [],
    plannedCases: () => [],
    samplesPerMetric: () => 5,
    writeReports: () => [],
    run: async (): Promise<LaneResult> => ({
      lane: 'gemm',
      status: 'ok',
      path: 'scalar',
      cases: [],
      planned: [],
      durationS: 0,
      artifacts: [],
      info: {},
    }),
  };
  const throwing: Lane = {
    ...ok,
    name: 'tokenizer',
    run: async () => {
      throw new Error('adapter blew up');
    },
  };

  it('keeps going after a lane throws, and reports lanes this build lacks as skipped', async () => {
    const lookup = (n: string) => (n === 'gemm' ? ok : n === 'tokenizer' ? throwing : undefined);
    const results = await runLanes(['tokenizer', 'gemm', 'sched'], ctx('/nonexistent'), {}, lookup);
    expect(results.map((r) => [r.lane, r.status])).toEqual([
      ['tokenizer', 'error'],
      ['gemm', 'ok'],
      ['sched', 'skipped'],
    ]);
    expect(results[0]?.error?.message).toBe('adapter blew up');
    expect(results[2]?.error?.message).toMatch(/not part of this build/);
  });

  it('a lane whose build failed is an error at the build step and is not run', async () => {
    let ran = false;
    const spy: Lane = {
      ...ok,
      run: async (c) => {
        ran = true;
        return ok.run(c);
      },
    };
    const results = await runLanes(
      ['gemm'],
      ctx('/nonexistent'),
      { gemm: 'building infeng_gemm_bench failed' },
      () => spy,
    );
    expect(ran).toBe(false);
    expect(results[0]).toMatchObject({ status: 'error', error: { step: 'build' } });
  });
});

describe('lane process environment', () => {
  it('carries no credentials and no runner command files into the code under test', async () => {
    const { laneEnv } = await import('../src/lanes/spawn.js');
    const env = laneEnv({
      PATH: '/usr/bin',
      HOME: '/root',
      LC_ALL: 'C.UTF-8',
      OPENBLAS_CORETYPE: 'Haswell',
      ASAN_OPTIONS: 'detect_leaks=0',
      INFENG_FORCE_PATH: 'avx2',
      INFENG_GITHUB_TOKEN: 'ghs_x',
      GITHUB_TOKEN: 'ghs_y',
      ACTIONS_RUNTIME_TOKEN: 'z',
      ACTIONS_RESULTS_URL: 'u',
      DEPLOY_KEY: 'k',
      NPM_PAT: 'p',
      REGISTRY_AUTH: 'a',
      AWS_CREDENTIALS: 'c',
      DB_PASS: 'd',
      GITHUB_ENV: '/tmp/set_env',
      GITHUB_PATH: '/tmp/add_path',
      GITHUB_OUTPUT: '/tmp/set_output',
      GITHUB_STEP_SUMMARY: '/tmp/summary',
    });
    expect(env).toEqual({
      PATH: '/usr/bin',
      HOME: '/root',
      LC_ALL: 'C.UTF-8',
      OPENBLAS_CORETYPE: 'Haswell',
      ASAN_OPTIONS: 'detect_leaks=0',
      INFENG_FORCE_PATH: 'avx2',
    });
  });

  it('a lane process sees only the allowlist', async () => {
    const { runProcess } = await import('../src/lanes/spawn.js');
    const o = await runProcess('sh', ['-c', 'env'], {
      timeoutMs: 5000,
      env: { PATH: process.env.PATH, GITHUB_ENV: '/tmp/x', SECRET_KEY: 's' },
    });
    expect(o.stdout).toContain('PATH=');
    expect(o.stdout).not.toContain('GITHUB_ENV');
    expect(o.stdout).not.toContain('SECRET_KEY');
  });
});

describe('bench processes', () => {
  it('run with the heap tunables that keep a case switch from faulting gigabytes in, the user’s own last', async () => {
    const { BENCH_GLIBC_TUNABLES, benchEnv } = await import('../src/lanes/spawn.js');
    expect(benchEnv({ PATH: '/bin' })).toEqual({ PATH: '/bin', GLIBC_TUNABLES: BENCH_GLIBC_TUNABLES });
    expect(benchEnv({ GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' }).GLIBC_TUNABLES).toBe(
      `${BENCH_GLIBC_TUNABLES}:glibc.malloc.hugetlb=0`,
    );
  });

  it("marks a base side's A/B round, and only that, for the bench", async () => {
    const { AB_ROUND_ENV, benchEnv, laneEnv } = await import('../src/lanes/spawn.js');
    expect(benchEnv({}, true)[AB_ROUND_ENV]).toBe('1');
    // a value inherited from the caller's environment never marks a full run
    expect(benchEnv({ [AB_ROUND_ENV]: '1' })[AB_ROUND_ENV]).toBeUndefined();
    // and the allowlist lets it through to the process
    expect(laneEnv(benchEnv({}, true))[AB_ROUND_ENV]).toBe('1');
  });

  it('a bench sees them in its environment', async () => {
    const { runProcess, benchEnv } = await import('../src/lanes/spawn.js');
    const o = await runProcess('sh', ['-c', 'echo "$GLIBC_TUNABLES"'], {
      timeoutMs: 5000,
      env: benchEnv({}),
    });
    expect(o.stdout.trim()).toMatch(/^glibc\.malloc\.hugetlb=1:glibc\.malloc\.mmap_threshold=33554432/);
  });
});

/** A lane context whose log lines land in `lines`. */
function progressCtx(lines: string[]) {
  return {
    buildDir: '/b',
    reportsDir: '/r',
    profile: 'quick' as const,
    forcePath: 'auto' as const,
    threads: 2,
    timeoutMs: 1000,
    log: (l: string) => lines.push(l),
  };
}

describe('progress', () => {
  it('names the lane, its place and its cases; a silent lane still says it is running', async () => {
    const { laneStartLine, withHeartbeat } = await import('../src/lanes/progress.js');
    const lines: string[] = [];
    const ctx = progressCtx(lines);
    expect(laneStartLine(2, 4, 'attn-decode', 7, ctx)).toBe(
      '[2/4] attn-decode: 7 cases, profile quick, path auto, 2 threads',
    );
    const value = await withHeartbeat(
      ctx,
      'lane gemm',
      async (c) => {
        c.log('gemm: started');
        await new Promise((r) => setTimeout(r, 400));
        return 42;
      },
      100,
    );
    expect(value).toBe(42);
    expect(lines[0]).toBe('gemm: started');
    expect(lines.some((l) => /^lane gemm: still running, \d+ s$/.test(l))).toBe(true);
    expect(laneStartLine(1, 5, 'gemm', 4, ctx, 89.6)).toBe(
      '[1/5] gemm: 4 cases, profile quick, path auto, 2 threads, ~90 s',
    );
  });

  it("counts the bench's finished repetitions, not its aggregates, and says the time left", async () => {
    const { isBenchRunLine, progressText, withHeartbeat } = await import('../src/lanes/progress.js');
    const run =
      'attn-decode: attn_decode/q32kv4d64/ctx2048/real_time       17169 us         8126 us            3 acc_width=16';
    expect(isBenchRunLine(run)).toBe(true);
    expect(
      isBenchRunLine('gemm: gemm/prefill/M128/H2048/r16/real_time 10.2 ms 4.66 ms 70 base_gflops=1'),
    ).toBe(true);
    expect(isBenchRunLine(run.replace('real_time ', 'real_time_median '))).toBe(false);
    expect(isBenchRunLine(run.replace('real_time ', 'real_time_cv '))).toBe(false);
    expect(isBenchRunLine('gemm: progress: gemm/prefill/M128/H2048/r16 run 1')).toBe(false);
    expect(isBenchRunLine('gemm: Run on (2 X 2096.02 MHz CPU s)')).toBe(false);
    expect(progressText(0, 20, 3000)).toBe('0/20 runs, 3 s');
    expect(progressText(5, 20, 10_000)).toBe('5/20 runs, 10 s, ~30 s left');
    expect(progressText(21, 20, 50_000)).toBe('21/20 runs, 50 s, finishing');
    const lines: string[] = [];
    const ctx = progressCtx(lines);
    await withHeartbeat(
      ctx,
      'lane attn-decode',
      async (c) => {
        c.log(run);
        await new Promise((r) => setTimeout(r, 400));
      },
      100,
      4,
    );
    expect(lines.some((l) => /^lane attn-decode: 1\/4 runs, \d+ s, ~\d+ s left$/.test(l))).toBe(true);
  });
});
