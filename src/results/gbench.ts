// Google Benchmark JSON → per-case repetition samples. The format is google/benchmark's
// JSON reporter: a `context` object and a `benchmarks` array holding one entry per
// repetition (run_type "iteration") and, after them, aggregates (run_type "aggregate":
// mean, median, stddev, cv). We keep the per-repetition entries only, because compare
// needs the samples; aggregates are recomputed from them.

export interface GbenchRun {
  /** run name without the suffixes google/benchmark appends (repeats:, threads:, real_time) */
  name: string;
  repetitionIndex: number;
  realTimeMs: number;
  /** user counters (every numeric field that is not one of the reporter's own) */
  counters: Record<string, number>;
  error?: string;
}

export interface GbenchCase {
  name: string;
  runs: GbenchRun[];
  error?: string;
}

export interface GbenchReport {
  context: Record<string, string | number | boolean>;
  cases: GbenchCase[];
}

const RESERVED = new Set([
  'name',
  'family_index',
  'per_family_instance_index',
  'run_name',
  'run_type',
  'repetitions',
  'repetition_index',
  'threads',
  'iterations',
  'real_time',
  'cpu_time',
  'time_unit',
  'aggregate_name',
  'aggregate_unit',
  'error_occurred',
  'error_message',
  'label',
  'bytes_per_second',
  'items_per_second',
]);

const TIME_TO_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, ms: 1, s: 1e3 };

export class GbenchParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GbenchParseError';
  }
}

export function stripSuffixes(name: string): string {
  return name.replace(
    /(\/(repeats|threads|min_time|iterations):[^/]+|\/(real_time|manual_time|process_time))+$/,
    '',
  );
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * google/benchmark's JSON text as a value. It writes non-finite doubles as bare NaN / Infinity /
 * -Infinity, which is not JSON; they become null (→ NaN in parseGbenchJson), so one bad counter
 * does not lose the file. Throws GbenchParseError when the text is not JSON even so.
 */
export function gbenchDocument(text: string): unknown {
  try {
    return JSON.parse(text.replace(/(:\s*)-?(NaN|Infinity|inf|nan)(?=\s*[,}\n])/g, '$1null'));
  } catch (e) {
    throw new GbenchParseError(`not JSON: ${(e as Error).message}`);
  }
}

/** Parses google/benchmark JSON text. Throws GbenchParseError naming what is wrong. */
export function parseGbenchJson(text: string): GbenchReport {
  const doc = gbenchDocument(text);
  if (!isRecord(doc)) throw new GbenchParseError('top level is not an object');
  const context: GbenchReport['context'] = {};
  if (isRecord(doc.context)) {
    for (const [k, v] of Object.entries(doc.context)) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') context[k] = v;
    }
  }
  if (!Array.isArray(doc.benchmarks)) throw new GbenchParseError('"benchmarks" is missing or not an array');

  const byName = new Map<string, GbenchCase>();
  doc.benchmarks.forEach((entry: unknown, i: number) => {
    if (!isRecord(entry)) throw new GbenchParseError(`benchmarks[${i}] is not an object`);
    const rawName = typeof entry.run_name === 'string' ? entry.run_name : entry.name;
    if (typeof rawName !== 'string' || rawName === '') {
      throw new GbenchParseError(`benchmarks[${i}]: no name`);
    }
    if (entry.run_type === 'aggregate') return;
    const name = stripSuffixes(rawName);
    let c = byName.get(name);
    if (!c) {
      c = { name, runs: [] };
      byName.set(name, c);
    }
    if (entry.error_occurred === true) {
      const msg = typeof entry.error_message === 'string' ? entry.error_message : 'error_occurred';
      // google/benchmark reports a skipped-with-error benchmark once, without repetitions.
      c.error = msg;
      return;
    }
    const unit = typeof entry.time_unit === 'string' ? entry.time_unit : 'ns';
    const scale = TIME_TO_MS[unit];
    if (scale === undefined)
      throw new GbenchParseError(`benchmarks[${i}] (${name}): unknown time_unit "${unit}"`);
    const counters: Record<string, number> = {};
    for (const [k, v] of Object.entries(entry)) {
      if (RESERVED.has(k)) continue;
      // NaN and infinities arrive as strings or null from some reporters; keep them as NaN so
      // compare reports the metric as an error instead of silently dropping it.
      if (typeof v === 'number') counters[k] = v;
      else if (v === null || v === 'nan' || v === 'NaN' || v === 'inf' || v === '-inf')
        counters[k] = Number.NaN;
    }
    c.runs.push({
      name,
      repetitionIndex: typeof entry.repetition_index === 'number' ? entry.repetition_index : c.runs.length,
      realTimeMs: typeof entry.real_time === 'number' ? entry.real_time * scale : Number.NaN,
      counters,
    });
  });
  for (const c of byName.values()) c.runs.sort((a, b) => a.repetitionIndex - b.repetitionIndex);
  return { context, cases: [...byName.values()] };
}
