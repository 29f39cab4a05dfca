// Baselines are committed and edited by hand: a broken one must be an error naming the file
// and the field (for that lane only), a missing one simply means "no baseline yet".
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError, LaneError } from '../src/errors.js';
import {
  comparable,
  formatBaseline,
  loadBaseline,
  loadBaselines,
  parseBaseline,
  summarizeLane,
  writeBaseline,
} from '../src/compare/baselines.js';
import { cpuInfo, withFamily } from '../src/build/machine.js';
import { classKey, classOfBaseline, cpuSlug } from '../src/model/machine-class.js';
import { baselineOf, gemmCase, lane, machine, metric } from './fixtures/compare/build.js';

const gemm = lane('gemm', [
  gemmCase('decode/M1/H4096/r16', [
    metric('fused_gflops', [10, 11, 12, 13, 14]),
    metric('lora_tax_pct', [2, 2.5, 3], { unit: '%', better: 'lower', kind: 'same-run' }),
    metric('broken', [1, NaN]),
  ]),
  gemmCase('prefill/M128/H2048/r8', [metric('fused_gflops', [100])], 'segfault'),
]);
const good = baselineOf(gemm);

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'baselines-'));
}

function parseError(text: string): InputError {
  try {
    parseBaseline(text, 'gemm', 'baselines/gemm.json');
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error('expected an InputError');
}

describe('summarizeLane', () => {
  it('keeps median, spread, n and samples, leaving out failed cases and non-finite metrics', () => {
    expect(Object.keys(good.cases)).toEqual(['decode/M1/H4096/r16']);
    expect(good.cases['decode/M1/H4096/r16']).toEqual({
      fused_gflops: {
        unit: 'GFLOP/s',
        better: 'higher',
        kind: 'absolute',
        median: 12,
        spread: 2 / 12,
        n: 5,
        samples: [10, 11, 12, 13, 14],
      },
      lora_tax_pct: {
        unit: '%',
        better: 'lower',
        kind: 'same-run',
        median: 2.5,
        spread: 0.2,
        n: 3,
        samples: [2, 2.5, 3],
      },
    });
    expect(good._meta).toMatchObject({
      lane: 'gemm',
      hardware: 'AMD EPYC 7763 64-Core Processor',
      compiler: 'clang 17.0.6',
      compilerMajor: 17,
      path: 'avx2',
      profile: 'quick',
      commit: 'ba5e000',
    });
  });

  it('refuses a lane that did not run', () => {
    const failed = lane('gemm', [], { status: 'error', error: { step: 'build', message: 'no compiler' } });
    expect(() => summarizeLane(failed, machine(), 'quick')).toThrow(LaneError);
  });
});

const CLASS = 'amd-epyc-7763-64-core-processor_4c_avx2_clang17';
const runClass = {
  cpuModel: 'AMD EPYC 7763 64-Core Processor',
  cores: 4,
  path: 'avx2',
  compiler: 'clang',
  compilerMajor: 17,
};

describe('load and write', () => {
  it('round-trips through the file of its machine class, with sample arrays on one line', async () => {
    const dir = await tempDir();
    const file = await writeBaseline(good, dir);
    expect(file).toBe(join(dir, CLASS, 'gemm.json'));
    const text = await readFile(file, 'utf8');
    expect(text).toContain('"samples": [10, 11, 12, 13, 14]');
    expect(text).toContain('"isa": [\n');
    expect(await loadBaseline('gemm', dir, runClass)).toEqual(good);
  });

  it('gives undefined when no class has a baseline (every verdict will be `new`)', async () => {
    expect(await loadBaseline('gemm', await tempDir(), runClass)).toBeUndefined();
  });

  it('collects a malformed baseline of this class as an InputError and loads the others', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, CLASS));
    await writeFile(join(dir, CLASS, 'gemm.json'), '{"_meta": ');
    await writeFile(
      join(dir, CLASS, 'sched.json'),
      formatBaseline({ ...good, _meta: { ...good._meta, lane: 'sched' } }),
    );
    const lanes = ['gemm', 'sched', 'tokenizer'].map((l) => ({ lane: l, path: 'avx2' }));
    const all = await loadBaselines(lanes, dir, machine());
    expect(all.gemm).toBeInstanceOf(InputError);
    expect((all.gemm as InputError).message).toMatch(new RegExp(`${CLASS}/gemm\\.json: invalid JSON`));
    expect(all.sched).toMatchObject({ _meta: { lane: 'sched' } });
    expect(all.tokenizer).toBeUndefined();
  });
});

describe('baselines per machine class', () => {
  const intel = {
    ...good,
    _meta: { ...good._meta, hardware: 'Intel(R) Xeon(R) Processor', cores: 2, path: 'avx512' },
  };
  const epycAvx512 = { ...good, _meta: { ...good._meta, path: 'avx512' } };

  it('names a class by CPU model, cores, ISA path and compiler major', () => {
    expect(classKey(classOfBaseline(good._meta))).toBe(CLASS);
    expect(classKey(classOfBaseline(intel._meta))).toBe('intel-xeon-processor_2c_avx512_clang17');
    expect(cpuSlug('Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz')).toBe('intel-xeon-platinum-8370c');
    expect(cpuSlug('../../etc')).toBe('etc');
    expect(cpuSlug('')).toBe('unknown-cpu');
  });

  it('tells masked CPU names apart by CPUID family and model', () => {
    const cpuinfo = (name: string, family: number, model: number) =>
      `processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: ${family}\nmodel\t\t: ${model}\nmodel name\t: ${name}\nflags\t\t: fma avx2\n`;
    const zen4 = cpuInfo(cpuinfo('AMD EPYC', 25, 17)).model;
    const zen5 = cpuInfo(cpuinfo('AMD EPYC', 26, 2)).model;
    expect(zen4).toBe('AMD EPYC (family 25, model 17)');
    expect(cpuSlug(zen4)).toBe('amd-epyc-family-25-model-17');
    expect(cpuSlug(zen4)).not.toBe(cpuSlug(zen5));
    // a name with its model number is already one microarchitecture
    expect(cpuInfo(cpuinfo('AMD EPYC 7763 64-Core Processor', 25, 1)).model).toBe(
      'AMD EPYC 7763 64-Core Processor',
    );
    // no family line (another architecture): the name alone
    expect(withFamily('AMD EPYC', 'model name\t: AMD EPYC\n')).toBe('AMD EPYC');
  });

  it("picks this run's class among several", async () => {
    const dir = await tempDir();
    await writeBaseline(intel, dir);
    await writeBaseline(epycAvx512, dir);
    await writeBaseline(good, dir);
    expect(await loadBaseline('gemm', dir, runClass)).toEqual(good);
    expect(await loadBaseline('gemm', dir, { ...runClass, path: 'avx512' })).toEqual(epycAvx512);
  });

  it('without one of its own, returns the nearest other class (same path first) for reference', async () => {
    const dir = await tempDir();
    await writeBaseline(intel, dir);
    await writeBaseline(good, dir);
    const zen4 = { ...runClass, cpuModel: 'AMD EPYC 9V74 80-Core Processor' };
    expect(await loadBaseline('gemm', dir, { ...zen4, path: 'avx512' })).toEqual(intel);
    expect(await loadBaseline('gemm', dir, zen4)).toEqual(good);
  });

  it('refuses a baseline that lies in the folder of another class', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, CLASS));
    await writeFile(join(dir, CLASS, 'gemm.json'), formatBaseline(intel));
    await expect(loadBaseline('gemm', dir, runClass)).rejects.toThrow(/lies in the folder of class/);
  });

  it('still reads a flat baselines/<lane>.json from before class folders when its class matches', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'gemm.json'), formatBaseline(good));
    expect(await loadBaseline('gemm', dir, runClass)).toEqual(good);
  });

  it('says which file each baseline came from: its class folder, the flat file, or the nearest class', async () => {
    const dir = await tempDir();
    await writeBaseline(good, dir);
    await writeFile(
      join(dir, 'sched.json'),
      formatBaseline({ ...good, _meta: { ...good._meta, lane: 'sched' } }),
    );
    await writeBaseline({ ...intel, _meta: { ...intel._meta, lane: 'tokenizer' } }, dir);
    const files: Record<string, string> = {};
    const lanes = ['gemm', 'sched', 'tokenizer', 'attn-decode'].map((l) => ({ lane: l, path: 'avx2' }));
    await loadBaselines(lanes, dir, machine(), [], files);
    expect(files).toEqual({
      gemm: join(dir, CLASS, 'gemm.json'),
      sched: join(dir, 'sched.json'),
      tokenizer: join(dir, 'intel-xeon-processor_2c_avx512_clang17', 'tokenizer.json'),
    });
  });

  it('a malformed baseline of another class is a note, not an error of this run', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'intel-xeon-processor_2c_avx512_clang17'));
    await writeFile(join(dir, 'intel-xeon-processor_2c_avx512_clang17', 'gemm.json'), '{');
    const notes: string[] = [];
    expect(await loadBaseline('gemm', dir, runClass, notes)).toBeUndefined();
    expect(notes[0]).toMatch(/class intel-xeon-processor_2c_avx512_clang17 is not usable for reference/);
  });
});

describe('malformed baselines name the file and the field', () => {
  const text = (mutate: (b: Record<string, unknown>) => void): string => {
    const b = JSON.parse(JSON.stringify(good)) as Record<string, unknown>;
    mutate(b);
    return JSON.stringify(b);
  };

  it('malformed JSON', () => {
    const err = parseError('{ "cases": [1, }');
    expect(err.file).toBe('baselines/gemm.json');
    expect(err.message).toMatch(/^baselines\/gemm\.json: invalid JSON: /);
  });

  it('a wrong type deep inside a case', () => {
    const err = parseError(
      text((b) => {
        (b.cases as Record<string, Record<string, Record<string, unknown>>>)[
          'decode/M1/H4096/r16'
        ]!.fused_gflops!.median = '12';
      }),
    );
    expect(err.message).toBe(
      'baselines/gemm.json: cases["decode/M1/H4096/r16"].fused_gflops.median: must be number',
    );
  });

  it('a missing _meta field', () => {
    const err = parseError(text((b) => delete (b._meta as Record<string, unknown>).compilerMajor));
    expect(err.field).toBe('_meta.compilerMajor');
    expect(err.message).toBe('baselines/gemm.json: _meta.compilerMajor: is required');
  });

  it('a missing _meta', () => {
    expect(parseError(text((b) => delete b._meta)).field).toBe('_meta');
  });

  it('a bad enum, a sample that is not a number, an unknown field', () => {
    const at = (b: Record<string, unknown>) =>
      (b.cases as Record<string, Record<string, Record<string, unknown>>>)['decode/M1/H4096/r16']!
        .lora_tax_pct!;
    expect(parseError(text((b) => (at(b).better = 'up'))).message).toBe(
      'baselines/gemm.json: cases["decode/M1/H4096/r16"].lora_tax_pct.better: must be one of "higher", "lower"',
    );
    expect(parseError(text((b) => (at(b).samples = [1, 'x']))).field).toBe(
      'cases["decode/M1/H4096/r16"].lora_tax_pct.samples[1]',
    );
    expect(parseError(text((b) => (at(b).mean = 3))).detail).toBe('unknown field');
  });

  it('a baseline of another lane, a bad timestamp', () => {
    expect(parseError(text((b) => ((b._meta as Record<string, unknown>).lane = 'sched'))).field).toBe(
      '_meta.lane',
    );
    expect(
      parseError(text((b) => ((b._meta as Record<string, unknown>).timestamp = 'last week'))).message,
    ).toBe('baselines/gemm.json: _meta.timestamp: must be an ISO 8601 time');
  });
});

describe('comparable', () => {
  it('accepts the same machine whatever the ISA flag order', () => {
    expect(comparable(good._meta, machine({ isa: ['fma', 'avx2'] }), 'avx2')).toEqual({ ok: true });
  });

  it('names everything that differs', () => {
    const other = machine({
      cpuModel: 'Intel Xeon Platinum 8370C',
      cores: 2,
      isa: ['avx2', 'avx512f', 'fma'],
      compiler: { id: 'clang', version: '16.0.6', major: 16, requestedMajor: 17, path: '/usr/bin/clang-16' },
    });
    const r = comparable(good._meta, other, 'avx512');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.sameClass).toBe(false);
    expect(r.reason).toBe(
      'baseline vs this run: CPU "AMD EPYC 7763 64-Core Processor" vs "Intel Xeon Platinum 8370C"; 4 vs 2 cores; ' +
        'ISA flags differ (this machine is with avx512f); compiler clang 17.0.6 vs clang 16.0.6; ISA path avx2 vs avx512',
    );
  });

  it('flags lost ISA features', () => {
    const r = comparable(good._meta, machine({ isa: ['avx2'] }));
    expect(r).toEqual({
      ok: false,
      reason: 'baseline vs this run: ISA flags differ (this machine is without fma)',
      sameClass: true,
    });
  });
});
