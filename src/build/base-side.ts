// The base side of an A/B run: the PR's base commit's native/ exported from git and built with
// the same toolchain into its own folder, keyed by the git tree hash of that native/. Two base
// commits with the same native/ share one build, and a base built by an earlier run (or
// restored by the action's cache) costs nothing: CMake and Ninja find it up to date.
//
// Only native/ is taken from the base: the lanes (TypeScript) are the head's, so both sides are
// measured and parsed the same way. The export goes under <root>/build/ab/, inside the project,
// so the base's tokenizer lane resolves the same npm packages (node_modules up the tree).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { BuildError } from './errors.js';

export interface BaseCheckout {
  ref: string;
  commit: string;
  /** git tree hash of the base's native/ */
  nativeTree: string;
  /** <root>/build/ab/<tree> : holds native/ and build/native/release/ */
  dir: string;
  nativeDir: string;
  buildDir: string;
  /** native/ was already exported (and maybe built) by an earlier run */
  reused: boolean;
}

function git(root: string, args: string[]): string {
  return execFileSync('git', ['-C', root, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 << 20,
  }).trim();
}

function gitError(e: unknown): string {
  const err = e as { stderr?: string | Buffer; message?: string };
  const text = (err.stderr ? String(err.stderr) : (err.message ?? String(e))).trim();
  return text.split('\n')[0] ?? text;
}

/** The commit a ref names; a BuildError naming the ref and what to do when it is not here. */
export function resolveBaseCommit(root: string, ref: string): string {
  if (!/^[\w./~^@{}+-]+$/.test(ref) || ref.startsWith('-') || ref.includes('..')) {
    throw new BuildError('base', `base ref "${ref}" is not a valid git ref`);
  }
  try {
    return git(root, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  } catch {
    let shallow = false;
    try {
      shallow = git(root, ['rev-parse', '--is-shallow-repository']) === 'true';
    } catch {
      throw new BuildError('base', `base ref "${ref}": ${root} is not a git checkout`);
    }
    const hint = shallow
      ? 'this clone is shallow: fetch the base (actions/checkout with fetch-depth: 0, or git fetch --depth=1 origin <base sha>)'
      : 'fetch it first (git fetch origin <ref>)';
    throw new BuildError('base', `base ref "${ref}" is not in this clone; ${hint}`);
  }
}

function linkNodeModules(root: string, dir: string): void {
  const target = path.join(root, 'node_modules');
  const link = path.join(dir, 'node_modules');
  if (!existsSync(target) || existsSync(link)) return;
  try {
    symlinkSync(target, link, 'dir');
  } catch {
    // a read-only cache restore: the addon is then not built for the base, and its lane says so
  }
}

function treeOf(root: string, ref: string, commit: string): string {
  try {
    return git(root, ['rev-parse', `${commit}:native`]);
  } catch (e) {
    throw new BuildError(
      'base',
      `base ${ref} (${commit.slice(0, 12)}) has no native/ folder: ${gitError(e)}`,
    );
  }
}

/** The git tree hash of native/ at a ref: the key of the base's build. */
export function nativeTreeOf(root: string, ref: string): string {
  return treeOf(root, ref, resolveBaseCommit(root, ref));
}

/** Exports the base's native/ under <root>/build/ab/<tree>/ unless it is already there. */
export function checkoutBase(root: string, ref: string): BaseCheckout {
  const commit = resolveBaseCommit(root, ref);
  const nativeTree = treeOf(root, ref, commit);
  const dir = path.join(root, 'build', 'ab', nativeTree.slice(0, 16));
  const nativeDir = path.join(dir, 'native');
  const buildDir = path.join(dir, 'build', 'native', 'release');
  const reused = existsSync(path.join(nativeDir, 'CMakeLists.txt'));
  if (!reused) {
    // export into a temporary folder and rename, so an interrupted export is never reused
    const tmp = `${dir}.partial`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    try {
      const tar = path.join(tmp, 'native.tar');
      git(root, ['archive', '--format=tar', '-o', tar, commit, 'native']);
      execFileSync('tar', ['-xf', tar, '-C', tmp], { stdio: ['ignore', 'ignore', 'pipe'] });
      rmSync(tar);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(path.dirname(dir), { recursive: true });
      renameSync(tmp, dir);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw new BuildError(
        'base',
        `exporting native/ of base ${ref} (${commit.slice(0, 12)}) failed: ${gitError(e)}`,
      );
    }
  }
  // native/ finds node-addon-api and the tokenizer files in ../node_modules: the head's
  linkNodeModules(root, dir);
  return { ref, commit, nativeTree, dir, nativeDir, buildDir, reused };
}
