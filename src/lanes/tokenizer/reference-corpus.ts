// What the parity tests share: the reference tokenizer (Hugging Face `tokenizers`, resolved from
// the project's own node_modules) and the corpus texts, in a fixed order.
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { corpusDir } from './setup.js';

export interface HfTokenizer {
  encode(text: string, pair: null, opts: { addSpecialTokens: boolean }): Promise<{ getIds(): number[] }>;
}

export function referenceTokenizers(root: string): { Tokenizer: { fromFile(path: string): HfTokenizer } } {
  return createRequire(path.join(root, 'package.json'))('tokenizers') as {
    Tokenizer: { fromFile(path: string): HfTokenizer };
  };
}

export function corpusTexts(root: string): string[] {
  return readdirSync(corpusDir(root))
    .filter((f) => f.endsWith('.txt'))
    .sort()
    .map((f) => readFileSync(path.join(corpusDir(root), f), 'utf8'));
}
