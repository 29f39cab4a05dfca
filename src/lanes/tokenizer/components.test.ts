// Parity with the reference for tokenizer components no packaged family uses the way these
// tests do: general normalizer chains (Strip, Lowercase, Replace by regex and by string,
// Prepend, NFKC) before the hand-written and the regex pre-tokenizers and before a
// SentencePiece model, and BPE's continuing_subword_prefix and end_of_word_suffix. Each case is
// a real tokenizer.json with the component patched in (for the affixes, the vocabulary and the
// merges extended as such a model's would be), encoded by the native tokenizer and by the
// reference on the shipped corpus and generated adversarial texts.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generated } from './adversarial.js';
import { corpusTexts, referenceTokenizers, type HfTokenizer } from './reference-corpus.js';
import { loadAddon, tokenizerFile, type NativeTokenizer, type TokenizerFamily } from './setup.js';

const root = path.resolve(__dirname, '..', '..', '..');
const addon = loadAddon(path.join(root, 'build', 'native', 'release'));

const hf = referenceTokenizers(root);

const corpus = corpusTexts(root);
const texts = [
  ...corpus,
  ...generated(777, 300),
  '  Leading and trailing  ',
  '\u3000\u2003ＡＢＣ １２３ ﬁﬂ ①② ㍿ \u0130stanbul ΣΑΣ ẞ',
  '',
  ' ',
];

type Json = Record<string, unknown>;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'tok-components-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function variant(family: TokenizerFamily, name: string, patch: (j: Json) => void): string {
  const j = JSON.parse(readFileSync(tokenizerFile(root, family), 'utf8')) as Json;
  patch(j);
  const file = path.join(tmp, `${family}-${name}.json`);
  writeFileSync(file, JSON.stringify(j));
  return file;
}

/**
 * The vocabulary and merges a BPE model with affixes would have: every token also with the
 * prefix and/or the suffix, and every merge in each form the reference's merge rule
 * (a + b without the prefix's length) needs.
 */
function withAffixes(j: Json, prefix: string, suffix: string): void {
  const model = j.model as { vocab: Record<string, number>; merges: ([string, string] | string)[] } & Json;
  const vocab = new Map<string, number>();
  let next = 0;
  const add = (t: string) => {
    if (!vocab.has(t)) vocab.set(t, next++);
  };
  const base = Object.entries(model.vocab)
    .sort((a, b) => a[1] - b[1])
    .map(([t]) => t);
  for (const t of base) for (const p of ['', prefix]) for (const s of ['', suffix]) add(p + t + s);
  const merges: [string, string][] = [];
  for (const m of model.merges) {
    const [a, b] = typeof m === 'string' ? (m.split(' ') as [string, string]) : m;
    for (const p of ['', prefix]) for (const s of ['', suffix]) merges.push([p + a, prefix + b + s]);
  }
  // added tokens move past the new vocabulary, and stay in it (unk_token names one)
  for (const t of (j.added_tokens as { id: number; content: string }[]) ?? []) {
    vocab.delete(t.content);
    t.id = next++;
    vocab.set(t.content, t.id);
  }
  model.vocab = Object.fromEntries(vocab);
  model.merges = merges;
  model.continuing_subword_prefix = prefix;
  model.end_of_word_suffix = suffix;
  j.post_processor = null;
}

const seq = (...normalizers: Json[]) => ({ type: 'Sequence', normalizers });
const CASES: [string, TokenizerFamily, (j: Json) => void][] = [
  [
    'strip, regex replace, lowercase, NFKC before the hand-written split',
    'llama3',
    (j) =>
      (j.normalizer = seq(
        { type: 'Strip', strip_left: true, strip_right: true },
        { type: 'Replace', pattern: { Regex: '\\s{2,}' }, content: ' ' },
        { type: 'Lowercase' },
        { type: 'NFKC' },
      )),
  ],
  [
    'string replace, left strip, prepend before the regex pre-tokenizer',
    'gptoss',
    (j) =>
      (j.normalizer = seq(
        { type: 'Replace', pattern: { String: 'ﬁ' }, content: 'f i' },
        { type: 'Strip', strip_left: true, strip_right: false },
        { type: 'Prepend', prepend: ' ' },
      )),
  ],
  [
    'NFKC and lowercase before SentencePiece Prepend and Replace',
    'llama2',
    (j) =>
      (j.normalizer = seq(
        { type: 'NFKC' },
        { type: 'Lowercase' },
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      )),
  ],
  ['continuing_subword_prefix ## (byte-level)', 'claude', (j) => withAffixes(j, '##', '')],
  ['end_of_word_suffix </w> (byte-level)', 'claude', (j) => withAffixes(j, '', '</w>')],
  ['both affixes (byte-level, ignore_merges)', 'llama3', (j) => withAffixes(j, '##', '</w>')],
  ['continuing_subword_prefix ## (SentencePiece, byte fallback)', 'llama2', (j) => withAffixes(j, '##', '')],
];

describe.each(CASES)('component parity with the reference: %s', (name, family, patch) => {
  let native: NativeTokenizer;
  let ref: HfTokenizer;
  beforeAll(() => {
    const file = variant(family, name.replace(/\W+/g, '_'), patch);
    native = addon.Tokenizer.fromFile(file);
    ref = hf.Tokenizer.fromFile(file);
  });
  it.each([false, true])('corpus and generated texts (special tokens: %s)', async (special) => {
    for (const text of texts) {
      const want = (await ref.encode(text, null, { addSpecialTokens: special })).getIds();
      expect(Array.from(native.encode(text, special)), JSON.stringify(text.slice(0, 200))).toEqual(want);
    }
  });
});
