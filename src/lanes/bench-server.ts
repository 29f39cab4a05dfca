// One bench process that serves many runs (native/bench/serve.h has the protocol). The A/B
// runner starts one per side and asks each for one case at a time, so a case is set up once per
// side and pass instead of once per round. A process that crashes, hangs or answers out of
// protocol fails the run it was asked for, with the same sentence a one-shot run would give.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { laneEnv, describeFailure, type SpawnOutcome } from './spawn.js';

const TAG = '@@infeng-serve';
const KEEP = 64 * 1024;

export interface ServedRun {
  /** undefined when the run finished; else why not, as describeFailure words it */
  failure?: string;
  timedOut: boolean;
  durationS: number;
}

interface Pending {
  resolve: (r: ServedRun) => void;
  start: bigint;
  timer?: NodeJS.Timeout;
}

export class BenchServer {
  private stderr = '';
  private partial = '';
  private pending?: Pending;
  private ready?: (ok: boolean) => void;
  private exited?: { code: number | null; signal: NodeJS.Signals | null; error?: string };
  private readonly closed: Promise<void>;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly what: string,
    private readonly onLine: (line: string) => void,
  ) {
    child.stdout.on('data', (d: Buffer) => this.onStdout(d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString();
      this.stderr = (this.stderr + text).slice(-KEEP);
      for (const l of text.split('\n')) if (l.trim()) onLine(l);
    });
    // stdin of a process that died: the write fails; the exit is what gets reported
    child.stdin.on('error', () => undefined);
    this.closed = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null, error?: string) => {
        if (this.exited) return;
        this.exited = { code, signal, ...(error ? { error } : {}) };
        this.ready?.(false);
        this.settle(this.exitFailure());
        resolve();
      };
      child.on('error', (e) => done(null, null, e.message));
      child.on('close', (code, signal) => done(code, signal));
    });
  }

  /**
   * Starts `cmd args --infeng_serve` and waits until it says it is ready. Returns the reason
   * instead when it does not (a bench from before serve mode rejects the flag and exits).
   */
  static async start(
    cmd: string,
    args: string[],
    opts: { env: NodeJS.ProcessEnv; onLine: (line: string) => void; readyTimeoutMs: number; what: string },
  ): Promise<BenchServer | string> {
    const child = spawn(cmd, [...args, '--infeng_serve'], {
      env: laneEnv(opts.env),
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const server = new BenchServer(child, opts.what, opts.onLine);
    const ok = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), opts.readyTimeoutMs);
      server.ready = (v) => {
        clearTimeout(timer);
        resolve(v);
      };
      if (server.exited) server.ready(false);
    });
    server.ready = undefined;
    if (ok) return server;
    const why = server.exited
      ? server.exitFailure().failure!
      : `${opts.what} did not say it was ready within ${Math.round(opts.readyTimeoutMs / 1000)} s`;
    await server.close();
    return why;
  }

  /** Runs the benchmarks `filter` selects; abRound: an A/B round after the first. */
  run(filter: string, abRound: boolean, timeoutMs: number): Promise<ServedRun> {
    if (this.pending) throw new Error(`${this.what}: a run is already in progress`);
    if (/[\r\n]/.test(filter)) throw new Error(`${this.what}: a filter cannot hold a line break`);
    if (this.exited) return Promise.resolve(this.exitFailure());
    return new Promise((resolve) => {
      const pending: Pending = { resolve, start: process.hrtime.bigint() };
      pending.timer = setTimeout(() => {
        this.settle({ ...this.outcome(pending, true), failure: this.timeoutFailure(timeoutMs) });
        this.kill('SIGTERM');
        setTimeout(() => this.kill('SIGKILL'), 2000).unref();
      }, timeoutMs);
      this.pending = pending;
      this.child.stdin.write(`run ${abRound ? 1 : 0} ${filter}\n`);
    });
  }

  /** Asks the process to quit; kills it when it does not within a few seconds. */
  async close(): Promise<void> {
    if (!this.exited) {
      this.child.stdin.end('quit\n');
      const timer = setTimeout(() => this.kill('SIGKILL'), 5000);
      await this.closed;
      clearTimeout(timer);
    }
  }

  private onStdout(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const l of lines) {
      if (!l.startsWith(TAG)) {
        if (l.trim()) this.onLine(l);
        continue;
      }
      const rest = l.slice(TAG.length).trim();
      if (rest === 'ready') this.ready?.(true);
      else if (rest.startsWith('done') && this.pending) this.settle(this.outcome(this.pending, false));
      else if (this.pending) {
        this.settle({ ...this.outcome(this.pending, false), failure: `${this.what} said: ${rest}` });
      }
    }
  }

  private outcome(p: Pending, timedOut: boolean): ServedRun {
    return { timedOut, durationS: Number(process.hrtime.bigint() - p.start) / 1e9 };
  }

  private settle(r: ServedRun): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    p.resolve(r);
  }

  private exitFailure(): ServedRun {
    const e = this.exited!;
    const o: SpawnOutcome = {
      code: e.code,
      signal: e.signal,
      timedOut: false,
      stdout: '',
      stderr: this.stderr,
      durationS: 0,
      ...(e.error ? { spawnError: e.error } : {}),
    };
    // a clean exit while a run was asked for is still a failure of that run
    const failure = describeFailure(o, this.what, 0) ?? `${this.what} exited before finishing the run`;
    return { failure, timedOut: false, durationS: 0 };
  }

  private timeoutFailure(timeoutMs: number): string {
    return `${this.what} did not finish a run within ${Math.round(timeoutMs / 1000)} s and was killed`;
  }

  private kill(sig: NodeJS.Signals): void {
    try {
      if (this.child.pid !== undefined) process.kill(-this.child.pid, sig);
    } catch {
      this.child.kill(sig);
    }
  }
}
