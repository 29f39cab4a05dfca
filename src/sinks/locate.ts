// Annotations need a file and a line. A regression points at the case's entry in the lane's
// committed baseline and a missed gate at the gate in rules.yml: the two places a reviewer
// would go to understand or, after review, accept the change.
//
// The lane name comes from verdicts.json, in report mode from another run's artifact: only the
// names of model/lanes.ts become a path, so no artifact can make this read another file.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Verdict, VerdictReport } from '../model/verdicts.js';
import { isLaneName } from '../model/lanes.js';
import { classKey, classOfBaseline } from '../model/machine-class.js';
import { baselineFile } from '../compare/baselines.js';
import type { Locate } from './check-plan.js';

/** 1-based line of the first line containing `needle`, or undefined. */
export function lineOf(text: string, needle: string): number | undefined {
  const i = text.split('\n').findIndex((l) => l.includes(needle));
  return i >= 0 ? i + 1 : undefined;
}

/**
 * Reads each file once; paths in annotations are relative to the repository root. The
 * baseline's file is that of its machine class, found from the lane's baseline _meta; the
 * folder and file names are built only from the class key (letters, digits, `-`, `_`) and a
 * known lane name, never from other text of the report.
 */
export function fileLocator(baselinesDir: string, repoRoot: string, report?: VerdictReport): Locate {
  const cache = new Map<string, string | undefined>();
  const read = (file: string) => {
    if (!cache.has(file)) cache.set(file, existsSync(file) ? readFileSync(file, 'utf8') : undefined);
    return cache.get(file);
  };
  const rel = (file: string) => path.relative(repoRoot, file).split(path.sep).join('/');
  return (v: Verdict) => {
    if (v.source === 'gate' && v.gate) {
      const file = path.join(baselinesDir, 'rules.yml');
      const text = read(file);
      const line = text && lineOf(text, `name: ${v.gate.name}`);
      return line ? { path: rel(file), line } : undefined;
    }
    if (!v.caseId || !isLaneName(v.lane)) return undefined;
    const meta = report?.lanes.find((l) => l.lane === v.lane)?.baselineMeta;
    if (!meta) return undefined;
    const file = baselineFile(baselinesDir, v.lane, classKey(classOfBaseline(meta)));
    const text = read(file);
    const line = text && lineOf(text, JSON.stringify(v.caseId));
    return line ? { path: rel(file), line } : undefined;
  };
}
