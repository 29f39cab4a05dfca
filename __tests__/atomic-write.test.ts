// The files the steps hand over are replaced whole: a reader sees the old file or the new one.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { atomicWrite, atomicWriteJson } from '../src/io/atomic-write.js';

describe('atomicWrite', () => {
  it('replaces the file whole and leaves no temporary file behind', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'infeng-atomic-'));
    const file = path.join(dir, 'verdicts.json');
    writeFileSync(file, 'old');
    atomicWriteJson(file, { a: 1 });
    expect(readFileSync(file, 'utf8')).toBe('{\n  "a": 1\n}\n');
    expect(readdirSync(dir)).toEqual(['verdicts.json']);
  });

  it('creates the folder', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'infeng-atomic-'));
    atomicWrite(path.join(dir, 'reports', 'report.md'), '# r\n');
    expect(readFileSync(path.join(dir, 'reports', 'report.md'), 'utf8')).toBe('# r\n');
  });

  it('when the write fails, the old file is intact and the temporary file is gone', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'infeng-atomic-'));
    const target = path.join(dir, 'results.json');
    mkdirSync(target); // renaming a file over a folder fails
    expect(() => atomicWrite(target, 'new')).toThrow();
    expect(readdirSync(dir)).toEqual(['results.json']);
  });
});
