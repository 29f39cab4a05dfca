// What a person watching a run sees: which lane of how many is running, with how many cases
// and how long it took last time, and a line at least every 15 s with the runs done of the
// total (counted from the bench's own output) and the time left, so a lane that measures for
// minutes is never mistaken for a hung one.
import type { LaneContext } from './lane.js';

export const HEARTBEAT_MS = 15_000;

/** "[2/4] attn-decode: 7 cases, profile quick, path auto, 2 threads, ~90 s" */
export function laneStartLine(
  index: number,
  total: number,
  name: string,
  cases: number,
  ctx: LaneContext,
  estimateS?: number,
): string {
  const estimate = estimateS !== undefined && estimateS > 0 ? `, ~${Math.round(estimateS)} s` : '';
  return `[${index}/${total}] ${name}: ${cases} case${cases === 1 ? '' : 's'}, profile ${ctx.profile}, path ${ctx.forcePath}, ${ctx.threads} threads${estimate}`;
}

/**
 * Whether a lane output line is Google Benchmark's console line for one finished repetition
 * ("gemm: attn_decode/q32kv4d64/ctx2048/real_time   17169 us   8126 us   3 …"), not one of
 * its aggregates (_mean, _median, _stddev, _cv), which follow the repetitions.
 */
export function isBenchRunLine(line: string): boolean {
  const body = line.replace(/^[\w-]+: /, '');
  const m = /^([\w.:=-]+(?:\/[\w.:=-]+)+)\s+\d[\d.]*\s+(?:ns|us|ms|s)\s/.exec(body);
  return m !== null && !/_(?:mean|median|stddev|cv)$/.test(m[1] ?? '');
}

/** "7/20 runs, 45 s, ~80 s left" (no estimate before the first run or past the planned count). */
export function progressText(done: number, planned: number, elapsedMs: number): string {
  const elapsed = `${Math.round(elapsedMs / 1000)} s`;
  if (done <= 0 || planned <= 0) return `0/${planned} runs, ${elapsed}`;
  if (done >= planned) return `${done}/${planned} runs, ${elapsed}, finishing`;
  const left = (elapsedMs / done) * (planned - done);
  return `${done}/${planned} runs, ${elapsed}, ~${Math.round(left / 1000)} s left`;
}

/**
 * Runs `fn` with a context whose log also resets a silence timer and counts the bench's
 * finished repetitions; after HEARTBEAT_MS without a line, one progress line is printed (runs
 * done of `plannedRuns` and the time left when that is known, else "still running"), and again
 * after each further silence.
 */
export async function withHeartbeat<T>(
  ctx: LaneContext,
  label: string,
  fn: (ctx: LaneContext) => Promise<T>,
  intervalMs = HEARTBEAT_MS,
  plannedRuns = 0,
): Promise<T> {
  const start = Date.now();
  let last = start;
  let done = 0;
  const log = (line: string) => {
    last = Date.now();
    if (isBenchRunLine(line)) done++;
    ctx.log(line);
  };
  const timer = setInterval(
    () => {
      if (Date.now() - last < intervalMs) return;
      const elapsed = Date.now() - start;
      log(
        plannedRuns > 0
          ? `${label}: ${progressText(done, plannedRuns, elapsed)}`
          : `${label}: still running, ${Math.round(elapsed / 1000)} s`,
      );
    },
    Math.max(50, Math.floor(intervalMs / 5)),
  );
  timer.unref();
  try {
    return await fn({ ...ctx, log });
  } finally {
    clearInterval(timer);
  }
}
