// The Unicode versions of the native tokenizer's data against the reference's, probed with code
// points whose data appeared in a known version: the pre-tokenizer's classes (the regex
// engine's, 16.0), NFC/NFKC (the reference's normalization crate, 9.0) and Lowercase (Rust's,
// 17.0). If a new reference moves any of them, these fail and name the part to regenerate
// (native/src/tokenizer/gen/gen_unicode_tables.mjs).
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAddon, tokenizerFile } from './setup.js';

const root = path.resolve(__dirname, '..', '..', '..');
const addon = loadAddon(path.join(root, 'build', 'native', 'release')) as ReturnType<typeof loadAddon> & {
  unicodeVersions: { classes: string; normalization: string; lowercase: string };
};

interface HfNormalizer {
  normalizeString(s: string): string;
}
interface HfTokenizer {
  encode(text: string, pair: null, opts: { addSpecialTokens: boolean }): Promise<{ getIds(): number[] }>;
}
const hf = createRequire(path.join(root, 'package.json'))('tokenizers') as {
  Tokenizer: { fromFile(path: string): HfTokenizer };
  nfkcNormalizer(): HfNormalizer;
  nfcNormalizer(): HfNormalizer;
  lowercase(): HfNormalizer;
};

const cp = (...cps: number[]) => String.fromCodePoint(...cps);

describe('Unicode versions of the tokenizer data', () => {
  it('are the ones the addon reports', () => {
    expect(addon.unicodeVersions).toEqual({ classes: '16.0.0', normalization: '9.0.0', lowercase: '17.0.0' });
  });

  it('NFKC: the reference decomposes 9.0 data and leaves what 10.0-16.0 added, as the native tables do', () => {
    const nfkc = hf.nfkcNormalizer();
    expect(nfkc.normalizeString(cp(0x1f16a))).toBe('MC'); // 6.1
    for (const c of [0x1f16c /* 12.0 */, 0x10781 /* 14.0 */, 0x1e030 /* 15.0 */, 0x1ccf0 /* 16.0 */])
      expect(nfkc.normalizeString(cp(c)), c.toString(16)).toBe(cp(c));
    // canonical ordering with 9.0 combining classes: U+1DF6 (10.0) stays before U+0316
    expect(hf.nfcNormalizer().normalizeString(cp(0x78, 0x1df6, 0x316))).toBe(cp(0x78, 0x1df6, 0x316));
    expect(hf.nfcNormalizer().normalizeString(cp(0x78, 0x8d4, 0x316))).toBe(cp(0x78, 0x316, 0x8d4));
  });

  it('Lowercase: the reference maps letters of Unicode 17.0', () => {
    expect(hf.lowercase().normalizeString(cp(0x16ea0))).toBe(cp(0x16ebb)); // Beria Erfe, 17.0
    expect(hf.lowercase().normalizeString(cp(0x130))).toBe(cp(0x69, 0x307));
  });

  it('the NFKC family (claude) matches the reference on code points of every version', async () => {
    const file = tokenizerFile(root, 'claude');
    const native = addon.Tokenizer.fromFile(file);
    const ref = hf.Tokenizer.fromFile(file);
    const probes = [
      cp(0x1f16a, 0x1f16c, 0x10781, 0x1e030, 0x1ccf0, 0xfdfa, 0x3250, 0x385),
      cp(0x78, 0x1df6, 0x316, 0x78, 0x8d4, 0x316, 0x78, 0x1ac1, 0x316, 0x78, 0x897, 0x316),
      cp(0x11f04, 0x2ebf0, 0x10d4a, 0x10d40, 0x1e5d0, 0x11bc0, 0x20, 0x16ea0),
    ];
    for (const text of probes) {
      const want = (await ref.encode(text, null, { addSpecialTokens: false })).getIds();
      expect(Array.from(native.encode(text, false)), JSON.stringify(text)).toEqual(want);
    }
  });
});
