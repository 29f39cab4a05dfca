// Which commit the action measures the head against, and whether it does at all. On a pull
// request the default is its base (`pull_request.base.sha`, which the checkout must have
// fetched: fetch-depth 0, or a fetch of that SHA); on a push or a schedule there is no base,
// and the committed baselines judge.
import { InputError } from '../errors.js';
import type { ActionInputs } from './inputs.js';

export interface AbChoice {
  /** the ref to build as the base; undefined: compare with the committed baselines */
  ref?: string;
  /** one line for the log: why this choice */
  why: string;
}

function prBaseSha(event: unknown): string | undefined {
  const pr = (event as { pull_request?: { base?: { sha?: unknown } } } | undefined)?.pull_request;
  const sha = pr?.base?.sha;
  return typeof sha === 'string' && /^[0-9a-f]{7,64}$/i.test(sha) ? sha : undefined;
}

export function chooseAbBase(inputs: ActionInputs, eventName: string | undefined, event: unknown): AbChoice {
  if (inputs.mode !== 'gate') return { why: `mode ${inputs.mode}: no A/B` };
  if (inputs.compareTo === 'baseline') return { why: 'compare-to: baseline' };
  if (inputs.baseRef)
    return { ref: inputs.baseRef, why: `compare-to ${inputs.compareTo}, base-ref ${inputs.baseRef}` };
  const isPr = eventName === 'pull_request' || eventName === 'pull_request_target';
  const sha = isPr ? prBaseSha(event) : undefined;
  if (sha) return { ref: sha, why: `the pull request's base ${sha.slice(0, 12)}` };
  if (inputs.compareTo === 'base') {
    throw new InputError(
      `compare-to is "base" but there is no base: this ${eventName ?? 'unknown'} event has no pull_request.base.sha; set base-ref`,
      { field: 'input "base-ref"' },
    );
  }
  return { why: `a ${eventName ?? 'run'} event has no base: the committed baselines judge` };
}
