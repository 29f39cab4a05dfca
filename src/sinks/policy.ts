// The sinks' failure policy, in one place: a sink that fails (no permission, GitHub down after
// the retries, a bad response) prints a warning that names the sink and the reason, and the
// run goes on. The gate's conclusion comes from the verdicts alone, never from a sink.
import { classifyApiError, describeApiError } from '../github/errors.js';

export type SinkOutcome<T> = { ok: true; value: T } | { ok: false; reason: string; forbidden: boolean };

/** Said once per sink when the token cannot write, with what happens instead. */
export const FORBIDDEN_HINT =
  'the token cannot write here (a pull request from a fork gets a read-only token); the job summary and the report artifact carry the report, and a workflow_run workflow with `mode: report` can post it';

export async function runSink<T>(
  name: string,
  fn: () => Promise<T>,
  warn: (message: string) => void,
): Promise<SinkOutcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    const forbidden = classifyApiError(e) === 'forbidden';
    const reason = describeApiError(e);
    warn(`${name}: ${reason}${forbidden ? `: ${FORBIDDEN_HINT}` : ''}`);
    return { ok: false, reason, forbidden };
  }
}
