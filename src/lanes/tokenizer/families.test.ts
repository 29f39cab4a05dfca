// Parity of the native tokenizer with the reference (Hugging Face tokenizers' Node binding) on
// every family whose tokenizer.json ships in an npm package, token for token, with and without
// special tokens: the shipped corpus, and generated adversarial texts (random code points from
// every assigned block, mixed scripts, long runs of spaces and digits, emoji ZWJ sequences,
// contractions in odd cases). The lane's own three files have their deeper checks in
// parity.test.ts; this file is about breadth. A family the native loader refuses fails here
// with the loader's message.
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { PARITY_FAMILIES, corpusDir, loadAddon, tokenizerFile, type NativeTokenizer } from './setup.js';

const root = path.resolve(__dirname, '..', '..', '..');
const addon = loadAddon(path.join(root, 'build', 'native', 'release'));

interface HfTokenizer {
  encode(text: string, pair: null, opts: { addSpecialTokens: boolean }): Promise<{ getIds(): number[] }>;
}
const hf = createRequire(path.join(root, 'package.json'))('tokenizers') as {
  Tokenizer: { fromFile(path: string): HfTokenizer };
};

const corpus = readdirSync(corpusDir(root))
  .filter((f) => f.endsWith('.txt'))
  .sort()
  .map((f) => readFileSync(path.join(corpusDir(root), f), 'utf8'));

/** Blocks of assigned characters across scripts, including ones new in Unicode 15.0–16.0. */
const BLOCKS: [number, number][] = [
  [0x20, 0x7e], // ASCII
  [0xa0, 0x24f], // Latin-1, Latin Extended
  [0x300, 0x36f], // combining marks
  [0x370, 0x3ff], // Greek
  [0x400, 0x4ff], // Cyrillic
  [0x590, 0x5ff], // Hebrew
  [0x600, 0x6ff], // Arabic
  [0x900, 0x97f], // Devanagari
  [0xe00, 0xe7f], // Thai
  [0x10a0, 0x10ff], // Georgian
  [0x1100, 0x11ff], // Hangul Jamo
  [0x1e00, 0x1eff], // Latin Extended Additional
  [0x2000, 0x206f], // General Punctuation (spaces, joiners)
  [0x20a0, 0x20cf], // currency
  [0x2150, 0x218f], // number forms
  [0x2460, 0x24ff], // enclosed alphanumerics
  [0x3000, 0x303f], // CJK punctuation
  [0x3040, 0x30ff], // kana
  [0x4e00, 0x9fff], // CJK
  [0xac00, 0xd7a3], // Hangul syllables
  [0xfb00, 0xfb4f], // presentation forms (ligatures)
  [0xff00, 0xffef], // halfwidth and fullwidth forms
  [0x1d400, 0x1d7ff], // mathematical alphanumerics
  [0x1f300, 0x1faff], // emoji
  [0x11f00, 0x11f5f], // Kawi (15.0)
  [0x31350, 0x323af], // CJK Extension H (15.0)
  [0x2ebf0, 0x2ee5d], // CJK Extension I (15.1)
  [0x10d40, 0x10d8f], // Garay (16.0)
  [0x1e5d0, 0x1e5ff], // Ol Onal (16.0)
  [0x11bc0, 0x11bff], // Sunuwar (16.0)
];

const ATOMS = [
  ' ',
  '   ',
  '\n',
  '\r\n',
  '\t',
  "'s",
  "'LL",
  "'Re",
  'ſ',
  '\u00a0',
  '\u3000',
  '\u200d',
  '👩‍👩‍👧‍👦',
  '🏳️‍🌈',
  '👍🏽',
  'e\u0301',
  '１２３',
  '٣٤٥',
  '½',
  'ﬁ',
  '...',
  '//',
  '<|',
  '|>',
];

function generated(seed: number, count: number): string[] {
  let s = seed >>> 0;
  const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const texts: string[] = [];
  for (let k = 0; k < count; k++) {
    let t = '';
    const parts = 1 + Math.floor(rnd() * 10);
    for (let i = 0; i < parts; i++) {
      const r = rnd();
      if (r < 0.45) {
        const [lo, hi] = pick(BLOCKS);
        const n = 1 + Math.floor(rnd() * 6);
        for (let j = 0; j < n; j++) t += String.fromCodePoint(lo + Math.floor(rnd() * (hi - lo + 1)));
      } else if (r < 0.8) {
        t += pick(ATOMS);
      } else if (r < 0.9) {
        t += ' '.repeat(1 + Math.floor(rnd() * 40));
      } else {
        t += String(Math.floor(rnd() * 1e15)).repeat(1 + Math.floor(rnd() * 3));
      }
    }
    texts.push(t);
  }
  return texts;
}

const texts = generated(20261207, 1200);

/**
 * Families the native loader still refuses, with the component it names: a file that loads
 * must match the reference, and one that does not must say why (NFKC is not implemented yet).
 */
const REFUSED: Partial<Record<(typeof PARITY_FAMILIES)[number], RegExp>> = {};

describe.each(Object.entries(REFUSED))('tokenizer family refused at load: %s', (family, why) => {
  it('is a load error naming the component', () => {
    const file = tokenizerFile(root, family as (typeof PARITY_FAMILIES)[number]);
    expect(() => addon.Tokenizer.fromFile(file)).toThrow(why);
  });
});

describe.each(PARITY_FAMILIES.filter((f) => !(f in REFUSED)))(
  'tokenizer family parity with the reference: %s',
  (family) => {
    const file = tokenizerFile(root, family);
    let native: NativeTokenizer;
    let ref: HfTokenizer;
    // loaded here, so a file the native loader refuses fails this family's tests with its message
    beforeAll(() => {
      native = addon.Tokenizer.fromFile(file);
      ref = hf.Tokenizer.fromFile(file);
    });

    it.each([false, true])('shipped corpus (special tokens: %s)', async (special) => {
      for (const [i, text] of corpus.entries()) {
        const want = (await ref.encode(text, null, { addSpecialTokens: special })).getIds();
        expect(Array.from(native.encode(text, special)), `corpus file #${i}`).toEqual(want);
      }
    });

    it.each([false, true])('generated adversarial texts (special tokens: %s)', async (special) => {
      for (const text of texts) {
        const want = (await ref.encode(text, null, { addSpecialTokens: special })).getIds();
        expect(Array.from(native.encode(text, special)), JSON.stringify(text)).toEqual(want);
      }
    });
  },
);

describe('pre-tokenizer path chosen at load', () => {
  it('the hand-written split for the Llama-3 and Qwen patterns, the regex engine otherwise', () => {
    const path = (f: (typeof PARITY_FAMILIES)[number]) =>
      addon.Tokenizer.fromFile(tokenizerFile(root, f)).preTokenizer;
    expect(path('llama3')).toBe('hand-written');
    expect(path('qwen3')).toBe('hand-written');
    expect(path('gpt35turbo')).toBe('hand-written'); // Removed + invert of the same pattern
    expect(path('gptoss')).toBe('regex');
    expect(path('deepseek_v3')).toBe('regex');
    expect(path('llama2')).toBe('none');
  });
});
