// Which base the action measures a head against: the pull request's base by default, an
// explicit base-ref, or none (the committed baselines) on events without a base.
import { describe, expect, it } from 'vitest';
import { chooseAbBase } from '../src/action/ab-base.js';
import { readActionInputs } from '../src/action/inputs.js';
import { InputError } from '../src/errors.js';

const BASE_SHA = '9e8c2a0f1b3d4c5e6f708192a3b4c5d6e7f80912';
const prEvent = { pull_request: { number: 7, base: { sha: BASE_SHA }, head: { sha: 'ab'.repeat(20) } } };
const inputs = (env: Record<string, string> = {}) => readActionInputs(env);

describe('the A/B base of an action run', () => {
  it('on a pull request, by default: the base.sha of the event', () => {
    const c = chooseAbBase(inputs(), 'pull_request', prEvent);
    expect(c.ref).toBe(BASE_SHA);
    expect(c.why).toContain("the pull request's base 9e8c2a0f1b3d");
  });

  it('on a push: no base, the committed baselines judge', () => {
    const c = chooseAbBase(inputs(), 'push', {});
    expect(c.ref).toBeUndefined();
    expect(c.why).toMatch(/push event has no base/);
  });

  it('compare-to: baseline turns A/B off even on a pull request', () => {
    expect(
      chooseAbBase(inputs({ INFENG_COMPARE_TO: 'baseline' }), 'pull_request', prEvent).ref,
    ).toBeUndefined();
  });

  it('base-ref names the base on any event', () => {
    expect(chooseAbBase(inputs({ INFENG_BASE_REF: 'main' }), 'push', {}).ref).toBe('main');
    expect(chooseAbBase(inputs({ INFENG_BASE_REF: 'v1.2' }), 'pull_request', prEvent).ref).toBe('v1.2');
  });

  it('compare-to: base without a base to take is bad input naming base-ref', () => {
    const e = (() => {
      try {
        chooseAbBase(inputs({ INFENG_COMPARE_TO: 'base' }), 'schedule', {});
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(InputError);
    expect((e as InputError).message).toMatch(/^input "base-ref": compare-to is "base" but there is no base/);
  });

  it('a base.sha that is not a SHA is not taken (the event is input too)', () => {
    const odd = { pull_request: { base: { sha: '--upload-pack=x' } } };
    expect(chooseAbBase(inputs(), 'pull_request', odd).ref).toBeUndefined();
  });

  it('only the gate mode measures: calibrate and report never build a base', () => {
    expect(chooseAbBase(inputs({ INFENG_MODE: 'calibrate' }), 'pull_request', prEvent).ref).toBeUndefined();
    expect(chooseAbBase(inputs({ INFENG_MODE: 'report' }), 'pull_request', prEvent).ref).toBeUndefined();
  });

  it('an unknown compare-to is bad input naming the input', () => {
    expect(() => inputs({ INFENG_COMPARE_TO: 'yesterday' })).toThrow(
      /input "compare-to": must be one of auto, base, baseline/,
    );
  });
});
