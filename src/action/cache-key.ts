// The key of the native build cache. The build is reusable exactly when the sources, the
// compiler and the machine kind are the same, so the key is a hash of every file under
// native/ (path and content), the compiler's full version and the runner's OS and CPU
// architecture. Computed here rather than with hashFiles() so the compiler's version, which
// the toolchain step only knows after installing it, is part of it.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface CacheKeyParts {
  sourcesHash: string;
  compiler: string;
  os: string;
  arch: string;
}

/** Directories under native/ that are build output, not sources. */
const SKIP = new Set(['build', '.cache', 'node_modules']);

/** sha256 over the sorted relative paths and contents of every file below `dir`. */
export function hashTree(dir: string): string {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) {
        if (!SKIP.has(e.name)) walk(path.join(d, e.name));
      } else if (e.isFile()) files.push(path.join(d, e.name));
    }
  };
  walk(dir);
  const h = createHash('sha256');
  for (const f of files.map((f) => path.relative(dir, f).split(path.sep).join('/')).sort()) {
    h.update(`${f}\0`);
    h.update(readFileSync(path.join(dir, f)));
    h.update('\0');
  }
  return h.digest('hex');
}

/** e.g. "infeng-native-Linux-X64-clang-17.0.6-3f2a…"; readable parts first, for the cache list. */
export function cacheKey(p: CacheKeyParts): string {
  const compiler = p.compiler.replace(/[^A-Za-z0-9._-]+/g, '-');
  return `infeng-native-${p.os}-${p.arch}-${compiler}-${p.sourcesHash.slice(0, 32)}`;
}
