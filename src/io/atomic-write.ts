// Files the steps hand to each other (results, verdicts, the report, the action's state) and
// the baselines are read by another process, maybe after this one was killed mid-write: they
// are written to a temporary file in the same folder and renamed over the target, so a reader
// sees the old file or the new one, never half of one. A rename within one folder is atomic.
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export function atomicWrite(file: string, data: string): void {
  const dir = path.dirname(file);
  mkdirSync(dir, { recursive: true });
  const tmp = path.join(
    dir,
    `.${path.basename(file)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`,
  );
  try {
    const fd = openSync(tmp, 'wx', 0o644);
    try {
      writeFileSync(fd, data, 'utf8');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Pretty JSON with a final newline, atomically. */
export function atomicWriteJson(file: string, data: unknown): void {
  atomicWrite(file, `${JSON.stringify(data, null, 2)}\n`);
}
