// The sinks' failure policy, in one place: a sink that fails (no permission, a rate limit or
// GitHub down after the retries, a bad response) prints a warning that names the sink and the
// reason, and the run goes on. The gate's conclusion comes from the verdicts alone, never from
// a sink.
//
// Only a refusal of permission (a 403 that is not a rate limit, or a 401) says the next calls
// would be refused too; a rate limit, a timeout or a 5xx says nothing about the next call.
import { classifyApiError, describeApiError, type ApiFailure } from '../github/errors.js';

export type SinkOutcome<T> =
  { ok: true; value: T } | { ok: false; reason: string; forbidden: boolean; failure: ApiFailure };

/** Said once per sink when the token cannot write, with what happens instead. */
export const FORBIDDEN_HINT =
  'the token cannot write here (a pull request from a fork gets a read-only token); the job summary and the report artifact carry the report, and a workflow_run workflow with `mode: report` can post it';

const HINTS: Partial<Record<ApiFailure, string>> = {
  forbidden: FORBIDDEN_HINT,
  unauthorized: 'the token was refused (expired or revoked?)',
  'rate-limited': "GitHub's rate limit, still in force after waiting and retrying",
};

export async function runSink<T>(
  name: string,
  fn: () => Promise<T>,
  warn: (message: string) => void,
): Promise<SinkOutcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    const failure = classifyApiError(e);
    const forbidden = failure === 'forbidden' || failure === 'unauthorized';
    const reason = describeApiError(e);
    const hint = HINTS[failure];
    warn(`${name}: ${reason}${hint ? `: ${hint}` : ''}`);
    return { ok: false, reason, forbidden, failure };
  }
}
