// What a failed GitHub call means for the run. The sinks never fail the gate, but the warning
// should say why and what happens instead: a 403 on a pull request from a fork is expected
// (its token is read-only) and has a documented fallback; a rate limit is not a permission
// problem and must not be mistaken for one (the next calls should still be tried); anything
// else is reported as is.
import { sanitizeForLog } from '../io/log-safe.js';

export type ApiFailure =
  'forbidden' | 'unauthorized' | 'not-found' | 'rate-limited' | 'server' | 'timeout' | 'network' | 'other';

interface RequestErrorLike {
  status?: unknown;
  message?: unknown;
  name?: unknown;
  cause?: unknown;
  response?: { data?: unknown; headers?: Record<string, unknown> };
}

function statusOf(e: unknown): number | undefined {
  const s = (e as RequestErrorLike | undefined)?.status;
  return typeof s === 'number' ? s : undefined;
}

function headerOf(e: unknown, name: string): string | undefined {
  const v = (e as RequestErrorLike | undefined)?.response?.headers?.[name];
  return typeof v === 'string' || typeof v === 'number' ? String(v) : undefined;
}

/** GitHub's own message, else the error's. */
function messageOf(e: unknown): string {
  const data = (e as RequestErrorLike | undefined)?.response?.data;
  if (data && typeof data === 'object' && typeof (data as { message?: unknown }).message === 'string') {
    return (data as { message: string }).message;
  }
  if (typeof data === 'string' && data !== '') return data;
  const own = (e as RequestErrorLike | undefined)?.message;
  return typeof own === 'string' ? own : String(e);
}

/**
 * GitHub's rate limits, primary and secondary. The secondary one answers 403 (or 429) with
 * `retry-after` while `x-ratelimit-remaining` is still above 0, usually with a message that
 * says "secondary rate limit"; the primary one answers 403 or 429 with `x-ratelimit-remaining: 0`.
 */
export function isRateLimit(e: unknown): boolean {
  const status = statusOf(e);
  if (status === 429) return true;
  if (status !== 403) return false;
  return (
    headerOf(e, 'retry-after') !== undefined ||
    headerOf(e, 'x-ratelimit-remaining') === '0' ||
    /\brate limit/i.test(messageOf(e))
  );
}

/** A request that got no HTTP answer at all: Octokit reports it as a 500 without a response. */
function noAnswer(e: unknown): boolean {
  return (e as RequestErrorLike | undefined)?.response === undefined;
}

function timedOut(e: unknown): boolean {
  const err = e as RequestErrorLike | undefined;
  const cause = err?.cause as RequestErrorLike | undefined;
  return (
    err?.name === 'TimeoutError' ||
    cause?.name === 'TimeoutError' ||
    /aborted due to timeout/i.test(typeof err?.message === 'string' ? err.message : '')
  );
}

export function classifyApiError(e: unknown): ApiFailure {
  const status = statusOf(e);
  if (isRateLimit(e)) return 'rate-limited';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not-found';
  if (timedOut(e)) return 'timeout';
  if (status === 500 && noAnswer(e)) return 'network';
  if (status !== undefined && status >= 500) return 'server';
  return 'other';
}

/**
 * One line for the log: the HTTP status and GitHub's own message, made safe for the log (an
 * API message is text from outside). Built from those two fields only, so request headers
 * (the token) can never end up in it.
 */
export function describeApiError(e: unknown): string {
  const status = statusOf(e);
  const message = firstLine(messageOf(e));
  const kind = classifyApiError(e);
  if (kind === 'timeout') return `timed out: no answer from GitHub (${message})`;
  if (kind === 'network') return `no answer from GitHub: ${message}`;
  if (kind === 'rate-limited' && !/\brate limit/i.test(message)) {
    const after = headerOf(e, 'retry-after');
    return `HTTP ${status}: ${message} (rate limited${after !== undefined ? `, retry after ${after} s` : ''})`;
  }
  return status !== undefined ? `HTTP ${status}: ${message}` : message;
}

function firstLine(s: string): string {
  const line = sanitizeForLog(s.split(/\r\n|[\r\n]/)[0] ?? '');
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}
