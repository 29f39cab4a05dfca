// `infeng-perf tokenize --tokenizer <tokenizer.json> --input <file.txt> [--add-special-tokens]`:
// encodes the whole file as one text with the native tokenizer and prints {"ids":[…]}. The
// addon comes from the release build (build/native/release/addon/infeng_tokenizer.node under
// --root; `npm run test:native` builds it).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { addonPath, loadAddon } from '../lanes/tokenizer/setup.js';

export interface TokenizeOptions {
  tokenizer: string;
  input: string;
  addSpecialTokens?: boolean;
  root?: string;
  nativeDir?: string;
}

/** The ids of the input file as the JSON line the command prints. */
export function tokenizeToJson(opts: TokenizeOptions): string {
  const root = path.resolve(opts.root ?? '.');
  const buildDir = path.resolve(root, opts.nativeDir ?? 'native', '..', 'build', 'native', 'release');
  if (!existsSync(opts.tokenizer)) throw new InputError(`--tokenizer: ${opts.tokenizer} does not exist`);
  if (!existsSync(opts.input)) throw new InputError(`--input: ${opts.input} does not exist`);
  if (!existsSync(addonPath(buildDir)))
    throw new InputError(
      `the tokenizer addon is not built (${addonPath(buildDir)}): run npm run test:native, or ` +
        `cmake --build ${path.relative(process.cwd(), buildDir) || '.'} --target infeng_tokenizer_addon`,
    );
  const addon = loadAddon(buildDir);
  let tok;
  try {
    tok = addon.Tokenizer.fromFile(opts.tokenizer);
  } catch (e) {
    throw new InputError((e as Error).message);
  }
  const text = readFileSync(opts.input, 'utf8');
  const ids = tok.encode(text, opts.addSpecialTokens ?? false);
  return JSON.stringify({ ids: Array.from(ids) });
}
