// Named errors and the policy of what fails the run and what only warns.
//
// The gate must fail only on a real regression, so every other failure has to be classified
// up front instead of bubbling up as a generic crash:
//
//   - InputError: the user's input is wrong (a malformed baselines/rules file, an unknown lane,
//     a bad flag). Fix-it-yourself problems: the CLI exits with code 2 and the message names the
//     file and the field. When a per-lane input (a baseline) is broken, the comparison turns it
//     into an error verdict for that lane and goes on with the other lanes.
//   - LaneError: a lane failed (build, spawn, run, parse). It becomes an `error` verdict for
//     that lane and never stops the other lanes.
//   - A failed gate is not an error at all: it is a `regressed` verdict, and the report says so.
//   - Anything else is a bug in this tool: exit code 1 with the stack when asked for.
//
// Reporting sinks (comments, check runs, cache) warn on failure and never fail the gate; that
// policy lives with them.

import { sanitizeForLog } from './io/log-safe.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_INPUT = 2;

export interface InputErrorOptions {
  /** the file at fault, as the user would type it, e.g. "baselines/gemm.json" */
  file?: string;
  /** path of the field inside the file, e.g. `cases["decode/M1/H4096/r16"].base_gflops.median` */
  field?: string;
  cause?: unknown;
}

/** Bad user input. The message always starts with the file and field when they are known. */
export class InputError extends Error {
  override readonly name = 'InputError';
  readonly file?: string;
  readonly field?: string;
  /** the problem itself, without the file and field prefix */
  readonly detail: string;
  readonly exitCode = EXIT_INPUT;

  constructor(detail: string, options: InputErrorOptions = {}) {
    const where = [options.file, options.field].filter((s): s is string => !!s && s.length > 0);
    super(where.length > 0 ? `${where.join(': ')}: ${detail}` : detail, { cause: options.cause });
    this.detail = detail;
    this.file = options.file;
    this.field = options.field;
  }
}

/** A lane failed at some step. Becomes an error verdict for that lane only. */
export class LaneError extends Error {
  override readonly name = 'LaneError';
  readonly lane: string;
  /** "build", "spawn", "run", "parse", "timeout", ... */
  readonly step: string;

  constructor(lane: string, step: string, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.lane = lane;
    this.step = step;
  }
}

export function isInputError(err: unknown): err is InputError {
  return err instanceof InputError;
}

/** The process exit code for an error that reached the top. */
export function exitCodeFor(err: unknown): number {
  return err instanceof InputError ? EXIT_INPUT : EXIT_FAILURE;
}

/**
 * One readable line for the terminal and the job log; the stack only for unexpected errors and
 * when asked. A message may quote input (a JSON parser quotes the file it failed on, a field
 * path names a key of an artifact): it is made one inert line (io/log-safe.ts).
 */
export function formatError(err: unknown, options: { verbose?: boolean } = {}): string {
  const safe = sanitizeForLog;
  if (err instanceof InputError) return `error: ${safe(err.message)}`;
  if (err instanceof LaneError)
    return `error: lane ${safe(err.lane)} failed at ${safe(err.step)}: ${safe(err.message)}`;
  if (err instanceof Error) {
    const head = `internal error: ${safe(err.message)}`;
    return options.verbose && err.stack ? `${head}\n${err.stack}` : head;
  }
  return `internal error: ${safe(String(err))}`;
}
