// The digest that tells an A/B run a lane's two builds are the same bytes.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inputsDigest } from '../src/lanes/lane-inputs.js';

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'lane-inputs-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), text);
  }
  return root;
}

describe('inputsDigest', () => {
  it('is the same for the same bytes in other folders, and follows a link to the data', () => {
    const a = tree({ 'bench/x': 'ELF', 'data/m.bin': 'weights', 'data/sub/c.txt': 'corpus' });
    const b = tree({ 'bench/x': 'ELF', 'src/m.bin': 'weights', 'src/sub/c.txt': 'corpus' });
    symlinkSync(path.join(b, 'src'), path.join(b, 'data'));
    const da = inputsDigest([path.join(a, 'bench/x'), path.join(a, 'data')]);
    expect(da).toMatch(/^[0-9a-f]{64}$/);
    expect(inputsDigest([path.join(b, 'bench/x'), path.join(b, 'data')])).toBe(da);
  });

  it('changes with a byte of a file, a file name in a folder, an extra file, or the order', () => {
    const a = tree({ x: 'ELF', 'd/m': 'w' });
    const digest = (root: string, order = ['x', 'd']) => inputsDigest(order.map((f) => path.join(root, f)));
    const base = digest(a);
    expect(digest(tree({ x: 'ELf', 'd/m': 'w' }))).not.toBe(base);
    expect(digest(tree({ x: 'ELF', 'd/n': 'w' }))).not.toBe(base);
    expect(digest(tree({ x: 'ELF', 'd/m': 'w', 'd/o': '' }))).not.toBe(base);
    expect(digest(a, ['d', 'x'])).not.toBe(base);
    // a file's bytes cannot pass for a neighbour's: the lengths are part of the digest
    expect(digest(tree({ 'd/m': 'ab', 'd/n': 'c' }), ['d'])).not.toBe(
      digest(tree({ 'd/m': 'a', 'd/n': 'bc' }), ['d']),
    );
  });

  it('is undefined when an input is missing or none is listed: such a lane is measured', () => {
    const a = tree({ x: 'ELF' });
    expect(inputsDigest([path.join(a, 'x'), path.join(a, 'missing')])).toBeUndefined();
    expect(inputsDigest([])).toBeUndefined();
  });
});
