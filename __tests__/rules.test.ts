// rules.yml is edited by hand and decides what fails a pull request: a typo must be an error
// that names the file and the field, never a silently disabled gate.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { DEFAULT_RULES, globMatch, loadRules, parseRules, toleranceFor } from '../src/compare/rules.js';

function errorOf(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error('expected an InputError');
}

describe('the committed rules.yml', () => {
  it('parses and gates gemm', async () => {
    const rules = await loadRules('baselines/rules.yml');
    expect(rules.alpha).toBe(0.05);
    expect(rules.lanes.gemm?.gates.map((g) => g.name)).toContain('vs-openblas-M128');
    expect(toleranceFor(rules, 'gemm', 'decode/M1/H4096/r16', 'openblas_gflops', 'GFLOP/s')).toEqual({
      pct: 8,
      abs: undefined,
      severity: 'warn',
    });
    // prefill's fused throughput fails on its own; the tax (a difference of timings) warns
    expect(toleranceFor(rules, 'gemm', 'prefill/M128/H2048/r8', 'fused_gflops', 'GFLOP/s').severity).toBe(
      'fail',
    );
    expect(toleranceFor(rules, 'gemm', 'prefill/M128/H2048/r8', 'lora_tax_pct', '%')).toMatchObject({
      severity: 'warn',
      control: 'openblas_gflops',
      controlMoves: 'either',
    });
    // decode's throughput is judged against the read probe of the same rounds
    expect(toleranceFor(rules, 'gemm', 'decode/M1/H4096/r16', 'base_gflops', 'GFLOP/s')).toMatchObject({
      severity: 'fail',
      control: 'read_gbps',
    });
    expect(toleranceFor(rules, 'gemm', 'decode/M1/H4096/r16', 'lora_tax_pct', '%')).toMatchObject({
      abs: 1,
      severity: 'warn',
    });
  });
});

describe('parseRules', () => {
  it('gives the defaults for an empty file, and loadRules for a missing one', async () => {
    expect(parseRules('')).toEqual({ ...DEFAULT_RULES, lanes: {} });
    const dir = await mkdtemp(join(tmpdir(), 'rules-'));
    expect(await loadRules(join(dir, 'rules.yml'))).toEqual({ ...DEFAULT_RULES, lanes: {} });
  });

  it('fills cases and severity defaults', () => {
    const rules = parseRules(
      'defaultSeverity: warn\nlanes:\n  gemm:\n    tolerances:\n      - metric: x\n        tolerancePct: 3\n',
    );
    expect(rules.lanes.gemm?.tolerances[0]).toEqual({
      metric: 'x',
      cases: '*',
      tolerancePct: 3,
      severity: 'warn',
    });
  });

  it('stops a YAML alias bomb as bad input naming the file, not an internal error', async () => {
    // billion laughs: each level names the one below nine times, 9^6 strings once expanded
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (const [prev, name] of [...'abcdef'].slice(0, 5).map((c, i) => [c, 'bcdef'[i]!])) {
      levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const bomb = `${levels.join('\n')}\n`;
    const started = Date.now();
    let err: unknown;
    try {
      parseRules(bomb, 'baselines/rules.yml');
    } catch (e) {
      err = e;
    }
    expect(Date.now() - started).toBeLessThan(2000);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).file).toBe('baselines/rules.yml');
    expect((err as Error).message).toMatch(/^baselines\/rules\.yml: too many YAML aliases/);
    // through the file, too
    const dir = await mkdtemp(join(tmpdir(), 'rules-'));
    await writeFile(join(dir, 'rules.yml'), bomb);
    await expect(loadRules(join(dir, 'rules.yml'))).rejects.toThrow(`${join(dir, 'rules.yml')}: too many`);
  });

  it('a few aliases (a shared list of cases) are still fine', () => {
    const rules = parseRules(
      'lanes:\n  gemm:\n    gates:\n      - { name: a, metric: x, cases: &p "prefill/*", max: 1 }\n      - { name: b, metric: y, cases: *p, max: 2 }\n    tolerances:\n      - { metric: x, tolerancePct: 3 }\n',
    );
    expect(rules.lanes.gemm?.gates.map((g) => [g.name, g.cases])).toEqual([
      ['a', 'prefill/*'],
      ['b', 'prefill/*'],
    ]);
  });

  it('reports bad YAML with the file and the line', () => {
    const err = errorOf(() => parseRules('lanes:\n  gemm: [unclosed\n', 'baselines/rules.yml'));
    expect(err.file).toBe('baselines/rules.yml');
    expect(err.message).toMatch(/^baselines\/rules\.yml: invalid YAML: .*line \d+/s);
  });

  it('names the field of a type error', () => {
    const err = errorOf(() =>
      parseRules('lanes:\n  gemm:\n    gates:\n      - name: g\n        metric: m\n        min: "1.3x"\n'),
    );
    expect(err.field).toBe('lanes.gemm.gates[0].min');
    expect(err.message).toBe('baselines/rules.yml: lanes.gemm.gates[0].min: must be number');
  });

  it('rejects an unknown lane, naming it', () => {
    const err = errorOf(() => parseRules('lanes:\n  gem:\n    gates: []\n'));
    expect(err.field).toBe('lanes.gem');
    expect(err.detail).toMatch(/not an allowed name.*gemm/);
  });

  it('rejects a misspelt key and a bad severity', () => {
    expect(
      errorOf(() =>
        parseRules('lanes:\n  gemm:\n    tolerances:\n      - metric: x\n        tolerance_pct: 5\n'),
      ).field,
    ).toBe('lanes.gemm.tolerances[0].tolerance_pct');
    const sev = errorOf(() => parseRules('defaultSeverity: error\n'));
    expect(sev.field).toBe('defaultSeverity');
    expect(sev.detail).toBe('must be one of "fail", "warn"');
  });

  it('rejects rules that could never judge anything', () => {
    expect(errorOf(() => parseRules('lanes:\n  gemm:\n    tolerances:\n      - metric: x\n')).message).toBe(
      'baselines/rules.yml: lanes.gemm.tolerances[0]: needs tolerancePct or toleranceAbs',
    );
    expect(
      errorOf(() => parseRules('lanes:\n  gemm:\n    gates:\n      - {name: g, metric: m}\n')).detail,
    ).toBe('needs min or max');
    expect(
      errorOf(() => parseRules('lanes:\n  gemm:\n    gates:\n      - {name: g, metric: m, min: 2, max: 1}\n'))
        .detail,
    ).toMatch(/min \(2\) is above max \(1\)/);
    expect(
      errorOf(() =>
        parseRules(
          'lanes:\n  gemm:\n    gates:\n      - {name: g, metric: m, min: 1}\n      - {name: g, metric: n, min: 1}\n',
        ),
      ).field,
    ).toBe('lanes.gemm.gates[1].name');
  });

  it('names a missing required field', () => {
    const err = errorOf(() => parseRules('lanes:\n  sched:\n    gates:\n      - {metric: m, min: 1}\n'));
    expect(err.field).toBe('lanes.sched.gates[0].name');
    expect(err.detail).toBe('is required');
  });

  it('reports an unreadable file as input error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rules-'));
    await writeFile(join(dir, 'rules.yml'), 'alpha: 2\n');
    await expect(loadRules(join(dir, 'rules.yml'))).rejects.toThrow(/rules\.yml: alpha: must be < 1/);
  });
});

describe('matching', () => {
  it('globs span "/" and support alternatives', () => {
    expect(globMatch('prefill/*', 'prefill/M128/H2048/r8')).toBe(true);
    expect(globMatch('prefill/M{512,1024}/*', 'prefill/M1024/H2048/r8')).toBe(true);
    expect(globMatch('prefill/M{512,1024}/*', 'prefill/M128/H2048/r8')).toBe(false);
    expect(globMatch('r?', 'r8')).toBe(true);
    expect(globMatch('a.b', 'axb')).toBe(false);
  });

  it('takes the first matching rule and falls back to the defaults by unit', () => {
    const rules = parseRules(
      'lanes:\n  gemm:\n    tolerances:\n      - {metric: "*", cases: "decode/*", tolerancePct: 3}\n      - {metric: "*", tolerancePct: 9}\n',
    );
    expect(toleranceFor(rules, 'gemm', 'decode/M1', 'x', 'GFLOP/s').pct).toBe(3);
    expect(toleranceFor(rules, 'gemm', 'prefill/M1', 'x', 'GFLOP/s').pct).toBe(9);
    expect(toleranceFor(rules, 'sched', 'c', 'tax', '%')).toEqual({ abs: 1, severity: 'fail' });
    expect(toleranceFor(rules, 'sched', 'c', 'tok', 'tok/s')).toEqual({ pct: 8, severity: 'fail' });
  });
});

describe('errors for the terminal', () => {
  it('formats input errors with file and field, and maps them to exit code 2', async () => {
    const { formatError, exitCodeFor, LaneError } = await import('../src/errors.js');
    const err = new InputError('must be number', { file: 'baselines/rules.yml', field: 'alpha' });
    expect(formatError(err)).toBe('error: baselines/rules.yml: alpha: must be number');
    expect(exitCodeFor(err)).toBe(2);
    expect(formatError(new LaneError('gemm', 'spawn', 'ENOENT'))).toBe(
      'error: lane gemm failed at spawn: ENOENT',
    );
    expect(exitCodeFor(new Error('bug'))).toBe(1);
    expect(formatError(new Error('bug'))).toBe('internal error: bug');
    expect(formatError(new Error('bug'), { verbose: true })).toMatch(/^internal error: bug\nError: bug\n/);
  });
});
