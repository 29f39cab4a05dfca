// The base side of an A/B run, against real git in temporary repositories: resolving the base
// ref (and saying what to do when it is not in the clone), and exporting the base's native/
// into a folder keyed by its tree hash. Nothing is built.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkoutBase, resolveBaseCommit } from '../src/build/base-side.js';
import { BuildError } from '../src/build/errors.js';

const tmpRoots: string[] = [];
let savedCeiling: string | undefined;

function tmp(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpRoots.push(dir);
  return dir;
}

/** git with no user or system config, so the machine's settings cannot change the outcome. */
function git(cwd: string, args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: 'Test',
      GIT_AUTHOR_EMAIL: 'test@example.com',
      GIT_COMMITTER_NAME: 'Test',
      GIT_COMMITTER_EMAIL: 'test@example.com',
    },
  }).trim();
}

function write(root: string, file: string, text: string): void {
  mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  writeFileSync(path.join(root, file), text);
}

interface Repo {
  root: string;
  /** native/x.txt = "one" */
  c1: string;
  /** native/x.txt = "two" (HEAD) */
  c2: string;
  /** branch `docs`: c2 plus a README, the same native/ tree as c2 */
  docs: string;
  /** tag `no-native`: a commit whose tree has no native/ */
  noNative: string;
}

function makeRepo(): Repo {
  const root = tmp('infeng-ab-repo-');
  git(root, ['init', '--quiet', '--initial-branch=main']);
  git(root, ['config', 'user.name', 'Test']);
  git(root, ['config', 'user.email', 'test@example.com']);
  git(root, ['config', 'commit.gpgsign', 'false']);
  write(root, 'native/CMakeLists.txt', 'cmake_minimum_required(VERSION 3.20)\nproject(x)\n');
  write(root, 'native/x.txt', 'one\n');
  git(root, ['add', '-A']);
  git(root, ['commit', '--quiet', '-m', 'one']);
  const c1 = git(root, ['rev-parse', 'HEAD']);
  write(root, 'native/x.txt', 'two\n');
  git(root, ['commit', '--quiet', '-am', 'two']);
  const c2 = git(root, ['rev-parse', 'HEAD']);

  git(root, ['checkout', '--quiet', '-b', 'docs']);
  write(root, 'README.md', 'docs only\n');
  git(root, ['add', 'README.md']);
  git(root, ['commit', '--quiet', '-m', 'docs']);
  const docs = git(root, ['rev-parse', 'HEAD']);
  git(root, ['checkout', '--quiet', 'main']);

  const readmeOnly = git(root, ['rev-parse', `${docs}:README.md`]);
  const tree = execFileSync('git', ['mktree'], {
    cwd: root,
    input: `100644 blob ${readmeOnly}\tREADME.md\n`,
    encoding: 'utf8',
  }).trim();
  const noNative = git(root, ['commit-tree', tree, '-m', 'no native']);
  git(root, ['tag', 'no-native', noNative]);
  return { root, c1, c2, docs, noNative };
}

function buildError(fn: () => unknown): BuildError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BuildError);
    return e as BuildError;
  }
  throw new Error('expected a BuildError, nothing was thrown');
}

let repo: Repo;

beforeAll(() => {
  // a temp dir that is not a repository must not find one above it
  savedCeiling = process.env.GIT_CEILING_DIRECTORIES;
  process.env.GIT_CEILING_DIRECTORIES = os.tmpdir();
  repo = makeRepo();
});

afterAll(() => {
  if (savedCeiling === undefined) delete process.env.GIT_CEILING_DIRECTORIES;
  else process.env.GIT_CEILING_DIRECTORIES = savedCeiling;
  for (const d of tmpRoots) rmSync(d, { recursive: true, force: true });
});

describe('resolveBaseCommit', () => {
  it('resolves HEAD~1, a branch, a tag and a full SHA to the commit', () => {
    expect(resolveBaseCommit(repo.root, 'HEAD~1')).toBe(repo.c1);
    expect(resolveBaseCommit(repo.root, 'HEAD')).toBe(repo.c2);
    expect(resolveBaseCommit(repo.root, 'docs')).toBe(repo.docs);
    expect(resolveBaseCommit(repo.root, 'no-native')).toBe(repo.noNative);
    expect(resolveBaseCommit(repo.root, repo.c1)).toBe(repo.c1);
    expect(resolveBaseCommit(repo.root, repo.c1.slice(0, 10))).toBe(repo.c1);
  });

  it('an unknown ref is a base BuildError naming the ref and how to fetch it', () => {
    const e = buildError(() => resolveBaseCommit(repo.root, 'origin/no-such-branch'));
    expect(e.step).toBe('base');
    expect(e.message).toMatch(/base ref "origin\/no-such-branch" is not in this clone/);
    expect(e.message).toMatch(/git fetch origin/);
    expect(e.message).not.toMatch(/shallow/);
  });

  it('a SHA that names no object here is not in this clone', () => {
    const e = buildError(() => resolveBaseCommit(repo.root, 'f'.repeat(40)));
    expect(e.message).toMatch(/not in this clone/);
  });

  it.each(['-x', '--upload-pack=touch /tmp/pwned', 'main branch', 'HEAD;ls', '', 'main..HEAD'])(
    'refuses %j as not a valid git ref',
    (ref) => {
      const e = buildError(() => resolveBaseCommit(repo.root, ref));
      expect(e.step).toBe('base');
      expect(e.message).toBe(`base ref "${ref}" is not a valid git ref`);
    },
  );

  it('in a shallow clone the missing base is explained by the clone being shallow', () => {
    const clone = path.join(tmp('infeng-ab-shallow-'), 'clone');
    git(os.tmpdir(), ['clone', '--quiet', '--depth=1', `file://${repo.root}`, clone]);
    expect(git(clone, ['rev-parse', '--is-shallow-repository'])).toBe('true');
    expect(resolveBaseCommit(clone, 'HEAD')).toBe(repo.c2);
    for (const ref of ['HEAD~1', repo.c1]) {
      const e = buildError(() => resolveBaseCommit(clone, ref));
      expect(e.step).toBe('base');
      expect(e.message).toContain(`base ref "${ref}" is not in this clone`);
      expect(e.message).toMatch(/this clone is shallow/);
      expect(e.message).toMatch(/fetch-depth: 0/);
    }
  });

  it('a folder that is not a git checkout is a clear BuildError', () => {
    const dir = tmp('infeng-ab-nogit-');
    const e = buildError(() => resolveBaseCommit(dir, 'HEAD~1'));
    expect(e.step).toBe('base');
    expect(e.message).toBe(`base ref "HEAD~1": ${dir} is not a git checkout`);
    const missing = path.join(dir, 'does-not-exist');
    expect(buildError(() => resolveBaseCommit(missing, 'HEAD')).message).toMatch(/is not a git checkout/);
  });
});

describe('checkoutBase', () => {
  it("exports the base's native/ into build/ab/<16 hex of its tree>, then reuses it", () => {
    const r = makeRepo();
    const first = checkoutBase(r.root, 'HEAD~1');
    const tree = git(r.root, ['rev-parse', `${r.c1}:native`]);
    expect(first.ref).toBe('HEAD~1');
    expect(first.commit).toBe(r.c1);
    expect(first.nativeTree).toBe(tree);
    expect(path.basename(first.dir)).toMatch(/^[0-9a-f]{16}$/);
    expect(first.dir).toBe(path.join(r.root, 'build', 'ab', tree.slice(0, 16)));
    expect(first.nativeDir).toBe(path.join(first.dir, 'native'));
    expect(first.buildDir).toBe(path.join(first.dir, 'build', 'native', 'release'));
    expect(first.reused).toBe(false);
    // the base's content, not the working tree's
    expect(readFileSync(path.join(first.nativeDir, 'x.txt'), 'utf8')).toBe('one\n');
    expect(readFileSync(path.join(r.root, 'native', 'x.txt'), 'utf8')).toBe('two\n');
    expect(existsSync(path.join(first.nativeDir, 'CMakeLists.txt'))).toBe(true);
    // nothing left from the export but the folder itself
    expect(readdirSync(path.join(r.root, 'build', 'ab'))).toEqual([path.basename(first.dir)]);
    expect(readdirSync(first.dir)).toEqual(['native']);

    const second = checkoutBase(r.root, 'HEAD~1');
    expect(second.reused).toBe(true);
    expect(second.dir).toBe(first.dir);
    expect(readFileSync(path.join(second.nativeDir, 'x.txt'), 'utf8')).toBe('one\n');
  });

  it('a different native/ gets its own folder; the same native/ tree shares one', () => {
    const r = makeRepo();
    const one = checkoutBase(r.root, r.c1);
    const two = checkoutBase(r.root, 'main');
    expect(two.dir).not.toBe(one.dir);
    expect(two.reused).toBe(false);
    expect(readFileSync(path.join(two.nativeDir, 'x.txt'), 'utf8')).toBe('two\n');

    // `docs` changed only README.md: same native/ tree as main, same folder, already there
    const docs = checkoutBase(r.root, 'docs');
    expect(docs.commit).toBe(r.docs);
    expect(docs.nativeTree).toBe(two.nativeTree);
    expect(docs.dir).toBe(two.dir);
    expect(docs.reused).toBe(true);
    expect(existsSync(path.join(docs.dir, 'README.md'))).toBe(false);
    expect(readdirSync(path.join(r.root, 'build', 'ab')).sort()).toEqual(
      [path.basename(one.dir), path.basename(two.dir)].sort(),
    );
  });

  it('an interrupted export (no CMakeLists.txt yet) is redone, not reused', () => {
    const r = makeRepo();
    const tree = git(r.root, ['rev-parse', `${r.c1}:native`]);
    const dir = path.join(r.root, 'build', 'ab', tree.slice(0, 16));
    write(dir, 'native/x.txt', 'half written\n');
    const out = checkoutBase(r.root, r.c1);
    expect(out.reused).toBe(false);
    expect(readFileSync(path.join(out.nativeDir, 'x.txt'), 'utf8')).toBe('one\n');
  });

  it('a commit without native/ is a base BuildError naming it', () => {
    const e = buildError(() => checkoutBase(repo.root, 'no-native'));
    expect(e.step).toBe('base');
    expect(e.message).toContain(`base no-native (${repo.noNative.slice(0, 12)}) has no native/ folder`);
    expect(existsSync(path.join(repo.root, 'build', 'ab'))).toBe(false);
  });

  it('a folder that is not a git checkout is a clear BuildError', () => {
    const dir = tmp('infeng-ab-nogit-');
    const e = buildError(() => checkoutBase(dir, 'main'));
    expect(e.step).toBe('base');
    expect(e.message).toMatch(/is not a git checkout/);
    expect(existsSync(path.join(dir, 'build'))).toBe(false);
  });

  it('an unknown ref fails before anything is written', () => {
    const r = makeRepo();
    const e = buildError(() => checkoutBase(r.root, 'v9.9.9'));
    expect(e.message).toMatch(/base ref "v9\.9\.9" is not in this clone/);
    expect(existsSync(path.join(r.root, 'build'))).toBe(false);
  });
});
