// What a failed GitHub call means for the run. The sinks never fail the gate, but the warning
// should say why and what happens instead: a 403 on a pull request from a fork is expected
// (its token is read-only) and has a documented fallback; anything else is reported as is.

export type ApiFailure = 'forbidden' | 'not-found' | 'rate-limited' | 'server' | 'other';

interface RequestErrorLike {
  status?: unknown;
  message?: unknown;
  response?: { data?: unknown; headers?: Record<string, unknown> };
}

function statusOf(e: unknown): number | undefined {
  const s = (e as RequestErrorLike | undefined)?.status;
  return typeof s === 'number' ? s : undefined;
}

export function classifyApiError(e: unknown): ApiFailure {
  const status = statusOf(e);
  if (status === 403 || status === 401) {
    const remaining = (e as RequestErrorLike).response?.headers?.['x-ratelimit-remaining'];
    return remaining === '0' ? 'rate-limited' : 'forbidden';
  }
  if (status === 404) return 'not-found';
  if (status === 429) return 'rate-limited';
  if (status !== undefined && status >= 500) return 'server';
  return 'other';
}

/**
 * One line for the log: the HTTP status and GitHub's own message. Built from those two fields
 * only, so request headers (the token) can never end up in it.
 */
export function describeApiError(e: unknown): string {
  const status = statusOf(e);
  const data = (e as RequestErrorLike | undefined)?.response?.data;
  const apiMessage =
    data && typeof data === 'object' && typeof (data as { message?: unknown }).message === 'string'
      ? (data as { message: string }).message
      : undefined;
  const own = (e as RequestErrorLike | undefined)?.message;
  const message = apiMessage ?? (typeof own === 'string' ? own : String(e));
  return status !== undefined ? `HTTP ${status}: ${firstLine(message)}` : firstLine(message);
}

function firstLine(s: string): string {
  const line = s.split('\n')[0] ?? '';
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}
