// The one Octokit the sinks share: the runner's API URL (GitHub Enterprise, or the loopback
// fake in tests), a time limit on every request, retries for 5xx, network errors and requests
// that timed out, and throttling that waits out rate limits a couple of times before giving
// up. Nothing here logs the token: the sinks print only status codes and GitHub's messages
// (see describeApiError).
//
// The plugins nest: the time limit is innermost (each try gets its own), then plugin-retry
// (5xx, no answer: waits 1, 4, 9 × the base), then plugin-throttling (rate limits: waits what
// GitHub asks). A 403 is final for plugin-retry; throttling retries it only when it is a rate
// limit, which it recognises by the message or `x-ratelimit-remaining: 0`; a 403 or 429 that
// carries only `retry-after` is marked for it below.
import { getOctokit } from '@actions/github';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import type { Octokit } from '@octokit/core';
import { sanitizeForLog } from '../io/log-safe.js';
import { isRateLimit } from './errors.js';

export type GitHubClient = ReturnType<typeof getOctokit>;

export interface ClientOptions {
  token: string;
  /** GITHUB_API_URL; api.github.com when unset */
  apiUrl?: string;
  warn: (message: string) => void;
  /** per try of a request; 30 s when unset */
  timeoutMs?: number;
  /** plugin-retry waits 1, 4, 9 times this; 1 s when unset */
  retryBaseMs?: number;
}

/** How many times a rate-limited request is retried after waiting the time GitHub asks for. */
export const RATE_LIMIT_RETRIES = 2;
/** A wait longer than this (a primary limit resetting in half an hour) is not waited for. */
export const MAX_RATE_LIMIT_WAIT_S = 120;
export const DEFAULT_TIMEOUT_MS = 30_000;

/** The time limit and retry base from INFENG_GITHUB_TIMEOUT_MS and INFENG_GITHUB_RETRY_BASE_MS. */
export function clientTimings(env: NodeJS.ProcessEnv): Pick<ClientOptions, 'timeoutMs' | 'retryBaseMs'> {
  const ms = (name: string): number | undefined => {
    const v = Number(env[name]);
    return env[name] !== undefined && env[name] !== '' && Number.isFinite(v) && v > 0 ? v : undefined;
  };
  const timeoutMs = ms('INFENG_GITHUB_TIMEOUT_MS');
  const retryBaseMs = ms('INFENG_GITHUB_RETRY_BASE_MS');
  return {
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(retryBaseMs !== undefined ? { retryBaseMs } : {}),
  };
}

/** `outerSignal`: the caller's own signal, if any, kept apart from the time limit of one try */
type RequestOptions = {
  request?: { signal?: AbortSignal; outerSignal?: AbortSignal | undefined };
} & Record<string, unknown>;

/**
 * Each try of a request ends after `timeoutMs`: a request GitHub never answers fails like a
 * 5xx (and is retried like one) instead of holding the step until the job's own timeout.
 * And a 403 or 429 with `retry-after` gets a message plugin-throttling knows as a rate limit.
 */
function faultHandling(timeoutMs: number) {
  return (octokit: Octokit) => {
    octokit.hook.wrap('request', async (request, options) => {
      // Every layer of hooks is bound to this same options object (the arguments a hook passes
      // down are ignored), so the signal is set on it: a new `request` object each try, never
      // a change to one shared with other requests.
      const opts = options as unknown as RequestOptions;
      const limit = AbortSignal.timeout(timeoutMs);
      const req = opts.request ?? {};
      const outer = 'outerSignal' in req ? req.outerSignal : req.signal;
      opts.request = { ...req, outerSignal: outer, signal: outer ? AbortSignal.any([outer, limit]) : limit };
      try {
        return await request(options);
      } catch (e) {
        const err = e as { message?: unknown };
        if (isRateLimit(e) && typeof err.message === 'string' && !/\bsecondary rate\b/i.test(err.message)) {
          // plugin-throttling reads `retry-after` only for what it takes for a secondary limit
          const primary = (e as { response?: { headers?: Record<string, unknown> } }).response?.headers?.[
            'x-ratelimit-remaining'
          ];
          if (primary !== '0') err.message = `${err.message} (secondary rate limit)`;
        }
        throw e;
      }
    });
  };
}

export function createClient(o: ClientOptions): GitHubClient {
  const onLimit =
    (kind: string) =>
    (
      retryAfter: number,
      options: { method?: string; url?: string },
      _octokit: unknown,
      retryCount: number,
    ) => {
      const retrying = retryCount < RATE_LIMIT_RETRIES && retryAfter <= MAX_RATE_LIMIT_WAIT_S;
      o.warn(
        sanitizeForLog(
          `GitHub ${kind} rate limit on ${options.method ?? ''} ${options.url ?? ''}: ${
            retrying
              ? `retrying after ${retryAfter} s`
              : `giving up (${retryCount} retries, ${retryAfter} s to wait)`
          }`,
        ),
      );
      return retrying;
    };
  return getOctokit(
    o.token,
    {
      ...(o.apiUrl ? { baseUrl: o.apiUrl.replace(/\/+$/, '') } : {}),
      // 400, 401, 403, 404, 410, 422 and 451 are final; 429 is throttling's to wait out
      retry: {
        retries: 3,
        doNotRetry: [400, 401, 403, 404, 410, 422, 429, 451],
        retryAfterBaseValue: o.retryBaseMs ?? 1000,
      },
      throttle: { onRateLimit: onLimit('primary'), onSecondaryRateLimit: onLimit('secondary') },
    },
    faultHandling(o.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    retry,
    throttling,
  );
}
