// The digest of what a lane runs: the bytes of its binaries and of the data they read, in the
// order the lane lists them, folders walked in name order. Paths are not part of it (only the
// names inside a folder), so the same build in another folder, an A/B run's base, digests the
// same. Symbolic links are followed: <build>/testdata is a link to the sources' testdata/.
import { createHash, type Hash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

function addPath(hash: Hash, file: string, name: string): void {
  const st = statSync(file);
  if (st.isDirectory()) {
    hash.update(`dir ${name}\n`);
    for (const entry of readdirSync(file).sort()) addPath(hash, path.join(file, entry), `${name}/${entry}`);
    return;
  }
  const bytes = readFileSync(file);
  hash.update(`file ${name} ${bytes.length}\n`);
  hash.update(bytes);
}

/**
 * sha-256 over the listed files and folders, or undefined when one of them cannot be read (a
 * lane whose inputs are unknown is measured, never assumed unchanged).
 */
export function inputsDigest(files: readonly string[]): string | undefined {
  if (files.length === 0) return undefined;
  const hash = createHash('sha256');
  try {
    for (const [i, file] of files.entries()) addPath(hash, file, String(i));
  } catch {
    return undefined;
  }
  return hash.digest('hex');
}
