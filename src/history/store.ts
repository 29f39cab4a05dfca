// The history store: `<dir>/<classKey>.jsonl`, one JSON object a line, one line per lane run,
// oldest first.
//
// JSON lines because the store only ever grows at its end: an append is one more line, a
// merge of two appends (git-branch.ts re-appends onto whatever was pushed meanwhile) is the
// concatenation, and a damaged line costs that line only. Reading therefore skips a line it
// cannot parse or validate and says so in a note naming the file and the line, instead of
// refusing the whole history: a chart with one point fewer is still worth showing, and the
// store is written by machines on many branches of time.
//
// The file is replaced whole on every append (read, append, atomic write): a reader sees the
// old history or the new one, never a half-written line.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { atomicWrite } from '../io/atomic-write.js';
import { classKey, classOfRun } from '../model/machine-class.js';
import type { HistoryMetric, HistoryPoint, HistoryRecord } from '../model/history.js';
import type { RunResults } from '../model/results.js';
import { allFinite, summarizeSamples } from '../compare/stats.js';
import { makeValidator } from '../compare/validate.js';

const str = { type: 'string' };
const num = { type: 'number' };

const metricSchema = {
  type: 'object',
  required: ['unit', 'better', 'median', 'spread', 'n'],
  properties: {
    unit: str,
    better: { enum: ['higher', 'lower'] },
    median: num,
    spread: num,
    n: { type: 'integer', minimum: 1 },
  },
};

export const historyRecordSchema = {
  type: 'object',
  required: ['schemaVersion', 'commit', 'time', 'classKey', 'lane', 'profile', 'path', 'cases'],
  properties: {
    schemaVersion: { const: 1 },
    commit: { type: 'string', minLength: 1 },
    time: str,
    classKey: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' },
    lane: { type: 'string', minLength: 1 },
    profile: str,
    path: str,
    cases: {
      type: 'object',
      additionalProperties: { type: 'object', additionalProperties: metricSchema },
    },
  },
};

/** The part of a record a chart needs (trend-history.json holds these, per lane). */
export const historyPointSchema = {
  type: 'object',
  required: ['commit', 'time', 'cases'],
  properties: {
    commit: historyRecordSchema.properties.commit,
    time: str,
    cases: historyRecordSchema.properties.cases,
  },
};

/** The histories the report was drawn from: lane → points, oldest first. */
export const trendHistorySchema = {
  type: 'object',
  required: ['schemaVersion', 'lanes'],
  properties: {
    schemaVersion: { const: 1 },
    lanes: { type: 'object', additionalProperties: { type: 'array', items: historyPointSchema } },
  },
};

export interface TrendHistoryFile {
  schemaVersion: 1;
  lanes: Record<string, HistoryPoint[]>;
}

/** trend-history.json, typed, or an InputError naming the file and the first wrong field. */
export const validateTrendHistory = makeValidator<TrendHistoryFile>(trendHistorySchema);

/** A record, typed, or an InputError naming `where` and the first wrong field. */
export const validateHistoryRecord = makeValidator<HistoryRecord>(historyRecordSchema);

/** The store file of a machine class. */
export function historyFile(dir: string, key: string): string {
  return path.join(dir, `${key}.jsonl`);
}

/**
 * One record per lane that ran to completion, keyed by the class of the machine and the lane's
 * ISA path. Failed cases and metrics without finite samples are left out (a history must never
 * hold NaN, which JSON cannot carry anyway); a lane left with no metric gives no record.
 */
export function recordsFromResults(results: RunResults): HistoryRecord[] {
  const records: HistoryRecord[] = [];
  for (const lane of results.lanes) {
    if (lane.status !== 'ok') continue;
    const cases: HistoryRecord['cases'] = {};
    for (const c of [...lane.cases].sort((a, b) => a.id.localeCompare(b.id))) {
      if (c.error) continue;
      const metrics: Record<string, HistoryMetric> = {};
      for (const m of [...c.metrics].sort((a, b) => a.name.localeCompare(b.name))) {
        if (m.samples.length === 0 || !allFinite(m.samples)) continue;
        const side = summarizeSamples(m.samples);
        metrics[m.name] = { unit: m.unit, better: m.better, ...side };
      }
      if (Object.keys(metrics).length > 0) cases[c.id] = metrics;
    }
    if (Object.keys(cases).length === 0) continue;
    records.push({
      schemaVersion: 1,
      commit: results.machine.commit,
      time: results.machine.time,
      classKey: classKey(classOfRun(results.machine, lane.path)),
      lane: lane.lane,
      profile: results.profile,
      path: lane.path,
      cases,
    });
  }
  return records;
}

/** JSON lines of the records, each ending in a newline. */
export function formatRecords(records: readonly HistoryRecord[]): string {
  return records.map((r) => `${JSON.stringify(r)}\n`).join('');
}

/**
 * `text` with `records` appended. A last line without its newline (a hand edit) gets one first,
 * so that it stays a line of its own and cannot spoil the first appended record.
 */
export function appendRecordsToText(text: string, records: readonly HistoryRecord[]): string {
  const head = text.length > 0 && !text.endsWith('\n') ? `${text}\n` : text;
  return head + formatRecords(records);
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InputError(`cannot read: ${(err as Error).message}`, { file, cause: err });
  }
}

/**
 * Appends the records to their classes' files under `dir` (read, append, atomic write). Every
 * record is validated first, so nothing is written when one is malformed. Returns the files
 * written, sorted.
 */
export function appendHistory(dir: string, records: readonly HistoryRecord[]): string[] {
  const byClass = new Map<string, HistoryRecord[]>();
  for (const r of records) {
    validateHistoryRecord(r, `history record of ${r.lane}`);
    byClass.set(r.classKey, [...(byClass.get(r.classKey) ?? []), r]);
  }
  const written: string[] = [];
  for (const [key, list] of [...byClass].sort(([a], [b]) => a.localeCompare(b))) {
    const file = historyFile(dir, key);
    atomicWrite(file, appendRecordsToText(readText(file) ?? '', list));
    written.push(file);
  }
  return written;
}

export interface ReadHistoryOptions {
  /** keep only the last N records of the lane (after the filters) */
  last?: number;
  /** keep only records of this profile */
  profile?: string;
}

export interface HistoryRead {
  /** the lane's records, oldest first */
  records: HistoryRecord[];
  /** what was skipped and why, one sentence each, naming the file and the line */
  notes: string[];
}

/**
 * Parses a store file's text: the records of `lane`, or of every lane when it is undefined.
 * `name` is how the notes name the file. A line that is not JSON or
 * not a record is skipped with a note; blank lines are skipped silently.
 */
export function parseHistory(
  text: string,
  name: string,
  key: string,
  lane: string | undefined,
  options: ReadHistoryOptions = {},
): HistoryRead {
  const records: HistoryRecord[] = [];
  const notes: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${name} line ${i + 1}`;
    let data: unknown;
    try {
      data = JSON.parse(line);
    } catch {
      notes.push(`${where}: not JSON, skipped`);
      return;
    }
    let record: HistoryRecord;
    try {
      record = validateHistoryRecord(data, where);
    } catch (err) {
      notes.push(`${(err as Error).message}; skipped`);
      return;
    }
    if (record.classKey !== key) {
      notes.push(`${where}: a record of class "${record.classKey}" in the file of "${key}", skipped`);
      return;
    }
    if (lane !== undefined && record.lane !== lane) return;
    if (options.profile !== undefined && record.profile !== options.profile) return;
    records.push(record);
  });
  const last = options.last;
  if (last === undefined) return { records, notes };
  return { records: last <= 0 ? [] : records.slice(-last), notes };
}

/**
 * Why there is no chart: the class has no store file; when the store holds other classes only,
 * it names them (a run on a new runner type has nothing comparable yet).
 */
export function noHistoryNote(file: string, key: string, otherFiles: readonly string[]): string {
  const others = otherFiles.map((f) => f.replace(/\.jsonl$/, '')).filter((k) => k !== key);
  const shown = others.slice(0, 5).join(', ') + (others.length > 5 ? `, and ${others.length - 5} more` : '');
  return others.length > 0
    ? `${file}: no history yet for ${key}; the history holds other machine classes only (${shown}), whose numbers are not comparable: no trend chart`
    : `${file}: no history yet for ${key}`;
}

/**
 * The history of one lane on one machine class, oldest first. A missing file is an empty
 * history with a note (the first run on a class has none); a damaged line is skipped with a note.
 */
export function readHistory(
  dir: string,
  key: string,
  lane: string,
  options: ReadHistoryOptions = {},
): HistoryRead {
  const file = historyFile(dir, key);
  const text = readText(file);
  if (text === undefined) {
    let others: string[] = [];
    try {
      others = readdirSync(dir).filter((f) => f.endsWith('.jsonl'));
    } catch {
      // no store at all: the note below says as much
    }
    return { records: [], notes: [noHistoryNote(file, key, others)] };
  }
  return parseHistory(text, file, key, lane, options);
}

export interface StoreClass {
  classKey: string;
  /** every lane's records, oldest first */
  records: HistoryRecord[];
}

/** Every class of a store's files (`{name, text}`, as read from a folder or the data branch). */
export function parseStoreFiles(
  files: readonly { name: string; text: string }[],
  where: (name: string) => string,
) {
  const classes: StoreClass[] = [];
  const notes: string[] = [];
  for (const f of files) {
    const key = path.basename(f.name, '.jsonl');
    const read = parseHistory(f.text, where(f.name), key, undefined);
    notes.push(...read.notes);
    classes.push({ classKey: key, records: read.records });
  }
  return { classes, notes };
}

/** Every `<classKey>.jsonl` of a local store folder; a folder that does not exist is bad input. */
export function readStoreDir(dir: string): { classes: StoreClass[]; notes: string[] } {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /^[A-Za-z0-9_.-]+\.jsonl$/.test(n));
  } catch (err) {
    throw new InputError(`cannot read the history folder: ${(err as Error).message}`, {
      file: dir,
      cause: err,
    });
  }
  const files = names.sort().map((name) => ({ name, text: readText(path.join(dir, name)) ?? '' }));
  return parseStoreFiles(files, (name) => path.join(dir, name));
}
