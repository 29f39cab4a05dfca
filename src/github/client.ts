// The one Octokit the sinks share: the runner's API URL (GitHub Enterprise, or the loopback
// fake in tests), retries for 5xx and network errors, and throttling that waits out rate
// limits a couple of times before giving up. Nothing here logs the token: the sinks print
// only status codes and GitHub's messages (see describeApiError).
import { getOctokit } from '@actions/github';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';

export type GitHubClient = ReturnType<typeof getOctokit>;

export interface ClientOptions {
  token: string;
  /** GITHUB_API_URL; api.github.com when unset */
  apiUrl?: string;
  warn: (message: string) => void;
}

/** How many times a rate-limited request is retried after waiting the time GitHub asks for. */
const RATE_LIMIT_RETRIES = 2;

export function createClient(o: ClientOptions): GitHubClient {
  const onLimit =
    (kind: string) =>
    (
      retryAfter: number,
      options: { method?: string; url?: string },
      _octokit: unknown,
      retryCount: number,
    ) => {
      const retrying = retryCount < RATE_LIMIT_RETRIES;
      o.warn(
        `GitHub ${kind} rate limit on ${options.method ?? ''} ${options.url ?? ''}: ${
          retrying ? `retrying after ${retryAfter} s` : 'giving up'
        }`,
      );
      return retrying;
    };
  return getOctokit(
    o.token,
    {
      ...(o.apiUrl ? { baseUrl: o.apiUrl.replace(/\/+$/, '') } : {}),
      // waits 1 s, 4 s, 9 s between tries; 400, 401, 403, 404, 410, 422 and 451 are final
      retry: { retries: 3 },
      throttle: { onRateLimit: onLimit('primary'), onSecondaryRateLimit: onLimit('secondary') },
    },
    retry,
    throttling,
  );
}
