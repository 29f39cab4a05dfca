// Runs one lane binary in its own process with a timeout, so a crash or a hang in native code
// costs that lane only.
import { spawn } from 'node:child_process';

export interface SpawnOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  durationS: number;
  /** set when the process could not be started at all (missing binary, permissions) */
  spawnError?: string;
}

const KEEP = 64 * 1024;

function tail(s: string): string {
  return s.length > KEEP ? s.slice(-KEEP) : s;
}

/**
 * Lane and build processes run the pull request's own code. They get an allowlist of the
 * environment, not the environment minus a list of secrets: a denylist misses the next
 * `*_KEY` or `*_PAT`, and the runner's command files (GITHUB_ENV, GITHUB_PATH, GITHUB_OUTPUT)
 * would let that code set variables for the later steps that hold the token. What is kept is
 * what a compiler, a bench and Node need, and the knobs of the libraries they use.
 */
const LANE_ENV_ALLOWED = [
  /^(PATH|HOME|USER|LOGNAME|SHELL|PWD|TERM|LANG|LANGUAGE|TZ|TMPDIR|TMP|TEMP|CI)$/,
  /^LC_[A-Z]+$/,
  /^(CC|CXX|CFLAGS|CXXFLAGS|LDFLAGS|LD_LIBRARY_PATH|MAKEFLAGS)$/,
  /^(CMAKE|NINJA|CCACHE)_[A-Z_]+$/,
  /^(OPENBLAS|OMP|GOMP|KMP|BLIS|MKL)_[A-Z_]+$/,
  /^[A-Z]SAN_OPTIONS$/,
  /^GLIBC_TUNABLES$/,
  /^INFENG_(FORCE_PATH|CLANG_VERSION|NATIVE_PRESET|BENCH_AB_ROUND)$/,
  /^RUNNER_(OS|ARCH|TEMP)$/,
  /^GITHUB_ACTIONS$/,
];

export function laneEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (LANE_ENV_ALLOWED.some((re) => re.test(k))) out[k] = v;
  }
  return out;
}

/**
 * The heap settings of every bench process. A lane case streams from DRAM by rotating through
 * about 1 GiB of copies of its data; glibc maps blocks that large straight from the kernel and
 * unmaps them when the case ends, so every case switch (every repetition, with random
 * interleaving) faulted 3 GiB in again: about 3 s per GiB on this VM, most of the 190 s a quick
 * attn-decode lane took. Raising the mmap and trim thresholds keeps freed blocks in the heap for
 * the next case, and `hugetlb=1` backs it with transparent huge pages (THP in madvise mode), so a
 * case switch is a copy. The same for every binary, a base's as well as a head's; a user's own
 * GLIBC_TUNABLES come after these and win.
 */
export const BENCH_GLIBC_TUNABLES =
  'glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=68719476736';

export const AB_ROUND_ENV = 'INFENG_BENCH_AB_ROUND';

export function benchEnv(env: NodeJS.ProcessEnv, abRound = false): NodeJS.ProcessEnv {
  const own = env.GLIBC_TUNABLES;
  const out: NodeJS.ProcessEnv = {
    ...env,
    GLIBC_TUNABLES: own ? `${BENCH_GLIBC_TUNABLES}:${own}` : BENCH_GLIBC_TUNABLES,
  };
  if (abRound) out[AB_ROUND_ENV] = '1';
  else delete out[AB_ROUND_ENV];
  return out;
}

export function runProcess(
  cmd: string,
  args: string[],
  opts: { timeoutMs: number; env?: NodeJS.ProcessEnv; cwd?: string; onLine?: (line: string) => void },
): Promise<SpawnOutcome> {
  const start = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - start) / 1e9;
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let settled = false;
    // Its own process group, so a timeout kills whatever the lane started too (a wrapper
    // script's children would otherwise keep the pipes open and the lane "running").
    const child = spawn(cmd, args, {
      env: laneEnv(opts.env ?? process.env),
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        child.kill(sig);
      }
    };
    const finish = (o: Omit<SpawnOutcome, 'stdout' | 'stderr' | 'durationS' | 'timedOut'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...o, timedOut, stdout: tail(stdout), stderr: tail(stderr), durationS: elapsed() });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      // a process that ignores SIGTERM (stuck in a kernel loop) still has to go
      setTimeout(() => killGroup('SIGKILL'), 2000).unref();
    }, opts.timeoutMs);
    // Both streams are progress for the log; each keeps its own partial line.
    const pending = { out: '', err: '' };
    const forward = (key: 'out' | 'err', text: string) => {
      if (!opts.onLine) return;
      pending[key] += text;
      const lines = pending[key].split('\n');
      pending[key] = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) opts.onLine(l);
    };
    child.stdout.on('data', (d: Buffer) => {
      stdout = tail(stdout + d.toString());
      forward('out', d.toString());
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr = tail(stderr + d.toString());
      forward('err', d.toString());
    });
    child.on('error', (e) => finish({ code: null, signal: null, spawnError: e.message }));
    child.on('close', (code, signal) => finish({ code, signal }));
  });
}

/** One sentence on why a process did not succeed, or undefined when it did. */
export function describeFailure(o: SpawnOutcome, what: string, timeoutMs: number): string | undefined {
  if (o.spawnError) return `${what} could not be started: ${o.spawnError}`;
  if (o.timedOut) return `${what} did not finish within ${Math.round(timeoutMs / 1000)} s and was killed`;
  const lastErr = o.stderr.trim().split('\n').slice(-3).join(' / ');
  if (o.signal) return `${what} was killed by ${o.signal}${lastErr ? `: ${lastErr}` : ''}`;
  if (o.code !== 0) return `${what} exited with code ${o.code}${lastErr ? `: ${lastErr}` : ''}`;
  return undefined;
}
