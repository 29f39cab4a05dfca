// What a person watching a run sees: which lane of how many is running, with how many cases,
// and a line at least every 15 s, so a lane that measures for minutes is never mistaken for a
// hung one.
import type { LaneContext } from './lane.js';

export const HEARTBEAT_MS = 15_000;

/** "[2/4] attn-decode: 7 cases, profile quick, path auto, 2 threads" */
export function laneStartLine(
  index: number,
  total: number,
  name: string,
  cases: number,
  ctx: LaneContext,
): string {
  return `[${index}/${total}] ${name}: ${cases} case${cases === 1 ? '' : 's'}, profile ${ctx.profile}, path ${ctx.forcePath}, ${ctx.threads} threads`;
}

/**
 * Runs `fn` with a context whose log also resets a silence timer; after HEARTBEAT_MS without a
 * line, one "still running" line with the elapsed time is printed (and again after each further
 * silence).
 */
export async function withHeartbeat<T>(
  ctx: LaneContext,
  label: string,
  fn: (ctx: LaneContext) => Promise<T>,
  intervalMs = HEARTBEAT_MS,
): Promise<T> {
  const start = Date.now();
  let last = start;
  const log = (line: string) => {
    last = Date.now();
    ctx.log(line);
  };
  const timer = setInterval(
    () => {
      if (Date.now() - last < intervalMs) return;
      log(`${label}: still running, ${Math.round((Date.now() - start) / 1000)} s`);
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
