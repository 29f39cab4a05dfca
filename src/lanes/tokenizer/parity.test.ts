// Parity of the native tokenizer (through its Node addon) with the reference, Hugging Face
// tokenizers' own Node binding, token for token: every shipped corpus text, with and without
// special tokens, for the three real tokenizer files; plus seeded random texts built from the
// characters where the two could disagree (contractions, combining marks, CR/LF, added-token
// fragments, lone surrogates). The addon is built by `npm test` (scripts/test-native.sh).
import { readFileSync, readdirSync, writeFileSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  TOKENIZER_MODELS,
  corpusDir,
  loadAddon,
  tokenizerFile,
  type NativeTokenizer,
} from '../../lanes/tokenizer/setup.js';

const root = path.resolve(__dirname, '..', '..', '..');
const buildDir = path.join(root, 'build', 'native', 'release');
const addon = loadAddon(buildDir);

interface HfEncoding {
  getIds(): number[];
}
interface HfTokenizer {
  encode(text: string, pair: null, opts: { addSpecialTokens: boolean }): Promise<HfEncoding>;
  decode(ids: number[], skipSpecialTokens: boolean): Promise<string>;
}
const hf = createRequire(path.join(root, 'package.json'))('tokenizers') as {
  Tokenizer: { fromFile(path: string): HfTokenizer };
};

const corpus = readdirSync(corpusDir(root))
  .filter((f) => f.endsWith('.txt'))
  .sort()
  .map((f) => ({ name: f, text: readFileSync(path.join(corpusDir(root), f), 'utf8') }));

/** First index where the two id lists differ, or -1. */
function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}

function randomTexts(seed: number, count: number): string[] {
  const atoms = [
    ' ',
    '  ',
    '\n',
    '\r\n',
    '\t',
    "'s",
    "'LL",
    "'re",
    "'",
    'a',
    'Z',
    'hello',
    'é',
    'e\u0301',
    '\u0301',
    '1',
    '12345',
    '٣',
    '½',
    '中文',
    '😀',
    '👩‍💻',
    '.',
    '...',
    '!?',
    '\u00a0',
    '\u3000',
    '<|im_start|>',
    '<s>',
    '</s>',
    '<|begin_of_text|>',
    '<|im',
    'ſ',
    'ǅ',
    '\u200b',
    '\u1100',
    '\u1161',
    '\u11a8',
    '가',
    '\u0085',
    '\v',
    '<',
    '|',
    'x\u0323\u0307',
    '\ufffd',
    'Ω',
    'ﬁ',
    '\u0345',
    '\ud800',
    '\udc00x',
    '\u0000',
  ];
  let s = seed >>> 0;
  const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  return Array.from({ length: count }, () => {
    let t = '';
    const len = 1 + Math.floor(rnd() * 12);
    for (let i = 0; i < len; i++) t += atoms[Math.floor(rnd() * atoms.length)];
    return t;
  });
}

describe.each(TOKENIZER_MODELS)('tokenizer parity with Hugging Face tokenizers: %s', (model) => {
  const file = tokenizerFile(root, model);
  const native: NativeTokenizer = addon.Tokenizer.fromFile(file);
  const ref = hf.Tokenizer.fromFile(file);

  it.each(corpus.flatMap((c) => [false, true].map((special) => ({ ...c, special }))))(
    '$name (special tokens: $special)',
    async ({ text, special }) => {
      const want = (await ref.encode(text, null, { addSpecialTokens: special })).getIds();
      const got = native.encode(text, special);
      const at = firstDiff(want, got);
      expect(at, `first difference at token ${at}`).toBe(-1);
      expect(native.decode(got)).toBe(await ref.decode(want, false));
    },
  );

  it('seeded random texts', async () => {
    for (const text of randomTexts(model.length * 7919, 1500)) {
      const want = (await ref.encode(text, null, { addSpecialTokens: true })).getIds();
      expect(firstDiff(want, native.encode(text, true)), JSON.stringify(text)).toBe(-1);
    }
  });

  it('encodeBatch on 1, 2 and 4 threads equals encode', () => {
    const texts = corpus.flatMap((c) => c.text.split('\n\n'));
    const want = texts.map((t) => Array.from(native.encode(t)));
    for (const threads of [1, 2, 4]) {
      expect(native.encodeBatch(texts, threads).map((ids) => Array.from(ids))).toEqual(want);
    }
  });

  it('encodeBatch views: empty batch, empty texts, each a Uint32Array of its own length', () => {
    expect(native.encodeBatch([], 2)).toEqual([]);
    const texts = ['', 'hello world', '', 'a'];
    const got = native.encodeBatch(texts, 2);
    expect(got).toHaveLength(texts.length);
    got.forEach((ids, i) => {
      expect(ids).toBeInstanceOf(Uint32Array);
      expect(Array.from(ids)).toEqual(Array.from(native.encode(texts[i]!)));
    });
    expect(got[0]!.length).toBe(0);
  });

  it('encodeBatch converts lone and reversed surrogates as encode does, on 1 and 2 threads', () => {
    const texts = ['a\uD800b', '\uDC00', '\uDBFF', 'x\uDC00\uD800y', '\uD83D', '\uDE00 end', 'é€😀 ok'];
    for (const threads of [1, 2]) {
      expect(native.encodeBatch(texts, threads).map((ids) => Array.from(ids))).toEqual(
        texts.map((t) => Array.from(native.encode(t))),
      );
    }
  });

  it('the prefix cache changes no id and hits on a shared prompt', () => {
    const system = corpus.find((c) => c.name === 'chat.txt')!.text;
    const requests = corpus.flatMap((c) => c.text.split('\n\n').slice(0, 8)).map((t) => system + t);
    native.setPrefixCache(0, 1);
    const plain = requests.map((t) => Array.from(native.encode(t, true)));
    for (const k of [1, 7, 64, 1024]) {
      native.setPrefixCache(k, 16);
      expect(requests.map((t) => Array.from(native.encode(t, true)))).toEqual(plain);
      const stats = native.prefixCacheStats();
      expect(stats.lookups).toBe(requests.length);
      expect(stats.hits).toBe(requests.length - 1);
    }
    native.setPrefixCache(0, 1);
  });

  it('empty text and a long text without spaces', async () => {
    expect(Array.from(native.encode(''))).toEqual([]);
    const long = 'x'.repeat(100_000) + 'é'.repeat(20_000);
    const want = (await ref.encode(long, null, { addSpecialTokens: false })).getIds();
    expect(firstDiff(want, native.encode(long))).toBe(-1);
  });
});

describe('tokenizer bad input', () => {
  const file = tokenizerFile(root, 'llama3');

  it('decode rejects an id outside the vocabulary', () => {
    const t = addon.Tokenizer.fromFile(file);
    expect(() => t.decode([1, 10_000_000])).toThrow(/not in the vocabulary/);
  });

  it('a truncated or unsupported tokenizer.json is a load error naming the problem', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'infeng-tok-'));
    const json = readFileSync(file, 'utf8');
    const truncated = path.join(dir, 'truncated.json');
    writeFileSync(truncated, json.slice(0, json.length >> 1));
    expect(() => addon.Tokenizer.fromFile(truncated)).toThrow(/JSON/);
    const doc = JSON.parse(json) as Record<string, unknown>;
    const unigram = path.join(dir, 'unigram.json');
    writeFileSync(unigram, JSON.stringify({ ...doc, model: { type: 'Unigram', vocab: [] } }));
    expect(() => addon.Tokenizer.fromFile(unigram)).toThrow(/model type Unigram is not supported/);
    const nfkd = path.join(dir, 'nfkd.json');
    writeFileSync(nfkd, JSON.stringify({ ...doc, normalizer: { type: 'NFKD' } }));
    expect(() => addon.Tokenizer.fromFile(nfkd)).toThrow(/normalizer NFKD is not supported/);
    const badRegex = path.join(dir, 'bad-regex.json');
    writeFileSync(
      badRegex,
      JSON.stringify({ ...doc, normalizer: { type: 'Replace', pattern: { Regex: '[a-' }, content: '' } }),
    );
    expect(() => addon.Tokenizer.fromFile(badRegex)).toThrow(/normalizer Replace: pattern does not compile/);
    expect(() => addon.Tokenizer.fromFile(path.join(dir, 'missing.json'))).toThrow(/cannot open/);
  });
});
