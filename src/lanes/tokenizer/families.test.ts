// Parity of the native tokenizer with the reference (Hugging Face tokenizers' Node binding) on
// every family whose tokenizer.json ships in an npm package, token for token, with and without
// special tokens: the shipped corpus, and generated adversarial texts (random code points from
// every assigned block, mixed scripts, long runs of spaces and digits, emoji ZWJ sequences,
// contractions in odd cases). The lane's own three files have their deeper checks in
// parity.test.ts; this file is about breadth. A family the native loader refuses fails here
// with the loader's message.
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generated } from './adversarial.js';
import { corpusTexts, referenceTokenizers, type HfTokenizer } from './reference-corpus.js';
import { PARITY_FAMILIES, loadAddon, tokenizerFile, type NativeTokenizer } from './setup.js';

const root = path.resolve(__dirname, '..', '..', '..');
const addon = loadAddon(path.join(root, 'build', 'native', 'release'));

const hf = referenceTokenizers(root);

const corpus = corpusTexts(root);

const texts = generated(20261207, 1200);

describe.each(PARITY_FAMILIES)('tokenizer family parity with the reference: %s', (family) => {
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
});

describe('pre-tokenizer path chosen at load', () => {
  it('the hand-written split for the Llama-3, Qwen and o200k patterns, the regex engine otherwise', () => {
    const path = (f: (typeof PARITY_FAMILIES)[number]) =>
      addon.Tokenizer.fromFile(tokenizerFile(root, f)).preTokenizer;
    expect(path('llama3')).toBe('hand-written');
    expect(path('qwen3')).toBe('hand-written');
    expect(path('gpt35turbo')).toBe('hand-written'); // Removed + invert of the same pattern
    expect(path('gptoss')).toBe('hand-written'); // o200k, contractions as a suffix
    expect(path('mistral_nemo')).toBe('hand-written'); // o200k style, no contractions, one digit
    expect(path('deepseek_v3')).toBe('regex');
    expect(path('claude')).toBe('hand-written'); // ByteLevel's own GPT-2 regex
    expect(path('llama2')).toBe('none');
  });
});
