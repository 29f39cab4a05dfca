// Every temporary file and folder the tests make goes under one folder of this run (TMPDIR,
// which os.tmpdir() and the tools the tests spawn read), removed when the run ends: the suite
// makes hundreds (clones, reports, baselines) and would otherwise leave them all in /tmp.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default function setup(): () => void {
  const before = process.env.TMPDIR;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'infeng-tests-'));
  process.env.TMPDIR = dir;
  return () => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    rmSync(dir, { recursive: true, force: true });
  };
}
