// A fail-severity tolerance that the profile's repetitions can never make significant is
// reported before anything runs; the shipped rules with the shipped profiles have none.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildConfig } from '../src/config.js';
import { InputError } from '../src/errors.js';
import { checkRulesReachable } from '../src/pipeline.js';
import { describe, expect, it } from 'vitest';
import { parseRules } from '../src/compare/rules.js';
import { unreachableTolerances } from '../src/compare/reachable.js';
import { minUTestP } from '../src/compare/stats.js';
import { AVAILABLE_LANES } from '../src/lanes/registry.js';
import { PROFILES } from '../src/model/lanes.js';

const rules = parseRules(`
minSamples: 5
defaultSeverity: warn
lanes:
  gemm:
    tolerances:
      - { metric: openblas_gflops, tolerancePct: 8, severity: warn }
      - { metric: "*_gflops", tolerancePct: 8, severity: fail }
`);

describe('unreachable tolerances', () => {
  it('the smallest U-test p: 2 / C(m + n, m)', () => {
    expect(minUTestP(3, 3)).toBeCloseTo(0.1, 12);
    expect(minUTestP(5, 5)).toBeCloseTo(2 / 252, 12);
    expect(minUTestP(30, 5)).toBeCloseTo(2 / 324632, 12);
    expect(minUTestP(1, 1)).toBe(1);
  });

  it('names the lane, the profile and the rule when repetitions are below minSamples', () => {
    const [msg, ...rest] = unreachableTolerances(rules, [{ lane: 'gemm', profile: 'quick', samples: 3 }]);
    expect(rest).toEqual([]);
    expect(msg).toContain('the gemm lane takes 3 samples per metric in the quick profile');
    expect(msg).toContain('lanes.gemm.tolerances[1] (*_gflops)');
    expect(msg).not.toContain('tolerances[0]');
  });

  it('says nothing when the samples suffice or every tolerance only warns', () => {
    expect(unreachableTolerances(rules, [{ lane: 'gemm', profile: 'quick', samples: 5 }])).toEqual([]);
    expect(unreachableTolerances(rules, [{ lane: 'tokenizer', profile: 'quick', samples: 3 }])).toEqual([]);
  });

  it('counts the default severity for metrics no rule matches', () => {
    const strict = parseRules('defaultSeverity: fail\n');
    expect(unreachableTolerances(strict, [{ lane: 'tokenizer', profile: 'smoke', samples: 3 }])[0]).toContain(
      'defaultSeverity (metrics no rule matches)',
    );
  });

  it('catches a minSamples so low that the test runs but can never reach alpha', () => {
    const loose = parseRules('minSamples: 2\nalpha: 0.05\n');
    expect(unreachableTolerances(loose, [{ lane: 'gemm', profile: 'smoke', samples: 3 }])[0]).toMatch(
      /smallest two-sided U-test p with 3 against 3 is 0\.10, not below alpha/,
    );
  });

  it('the shipped rules.yml leaves no fail tolerance dead in any profile of any lane', () => {
    const shipped = parseRules(readFileSync(new URL('../baselines/rules.yml', import.meta.url), 'utf8'));
    const lanes = Object.values(AVAILABLE_LANES).flatMap((l) =>
      PROFILES.map((profile) => ({ lane: l.name, profile, samples: l.samplesPerMetric(profile) })),
    );
    expect(lanes.length).toBeGreaterThanOrEqual(12);
    expect(unreachableTolerances(shipped, lanes)).toEqual([]);
  });
});

describe('before a run', () => {
  it('refuses, as bad input naming rules.yml, a profile whose repetitions cannot fail a fail tolerance', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'reachable-'));
    writeFileSync(path.join(dir, 'rules.yml'), 'minSamples: 50\n');
    const config = buildConfig({ baselinesDir: dir, lanes: 'gemm', profile: 'smoke' });
    const err = await checkRulesReachable(config).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toContain(`${path.join(dir, 'rules.yml')}: the gemm lane takes 5 samples`);
    writeFileSync(path.join(dir, 'rules.yml'), 'minSamples: 5\n');
    await expect(checkRulesReachable(config)).resolves.toBeUndefined();
  });
});
