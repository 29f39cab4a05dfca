import { describe, expect, it } from 'vitest';
import { buildConfig, parseLanes } from '../src/config.js';
import { InputError } from '../src/errors.js';

describe('config', () => {
  it('defaults: quick profile, auto path, clang 17 not pinned, every lane in this build', () => {
    const c = buildConfig({}, {});
    expect(c).toMatchObject({
      profile: 'quick',
      forcePath: 'auto',
      clangVersion: 17,
      clangVersionExplicit: false,
      lanes: ['tokenizer', 'gemm', 'attn-prefill', 'attn-decode', 'sched'],
    });
    expect(c.buildDir.endsWith('build/native/release')).toBe(true);
  });

  it('an unknown lane is an input error that names the flag and lists the known lanes', () => {
    expect(() => parseLanes('gemm,tokeniser')).toThrow(InputError);
    expect(() => parseLanes('gemm,tokeniser')).toThrow(
      /--lanes: unknown lane "tokeniser"; known lanes: tokenizer, gemm/,
    );
  });

  it('known lanes are deduplicated and keep their order', () => {
    expect(parseLanes('sched, gemm gemm')).toEqual(['sched', 'gemm']);
  });

  it('bad values name their flag', () => {
    expect(() => buildConfig({ profile: 'huge' }, {})).toThrow(/--profile must be one of smoke, quick, full/);
    expect(() => buildConfig({ forcePath: 'neon' }, {})).toThrow(/--force-path/);
    expect(() => buildConfig({ threads: '0' }, {})).toThrow(/--threads must be a positive integer/);
    expect(() => buildConfig({}, { INFENG_CLANG_VERSION: 'seventeen' })).toThrow(/--clang-version/);
  });

  it('the environment can pin the compiler and the path', () => {
    const c = buildConfig({}, { INFENG_CLANG_VERSION: '19', INFENG_FORCE_PATH: 'avx2' });
    expect(c).toMatchObject({ clangVersion: 19, clangVersionExplicit: true, forcePath: 'avx2' });
  });
});
