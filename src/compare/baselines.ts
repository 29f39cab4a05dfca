// Committed baselines: load and validate `baselines/<class>/<lane>.json`, summarise a
// calibration run into one, write it back in a reviewable form, and decide whether a baseline's
// numbers may be compared with this machine's at all.
//
// A baseline belongs to a machine class (src/model/machine-class.ts): a run is judged only
// against its own class's. A class without one is normal (a new runner type: hardware-bound
// verdicts are `incomparable`, and the report says how to calibrate). A malformed file is the
// user's to fix: an InputError naming the file and the field, which compare turns into an error
// for that lane alone.

import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError, LaneError } from '../errors.js';
import type { Baseline, BaselineMeta, MetricSummary } from '../model/baselines.js';
import {
  classKey,
  classOfBaseline,
  classOfRun,
  describeClass,
  type MachineClass,
} from '../model/machine-class.js';
import type { Machine } from '../model/machine.js';
import type { LaneResult } from '../model/results.js';
import { allFinite, summarizeSamples } from './stats.js';
import { makeValidator } from './validate.js';
import { atomicWrite } from '../io/atomic-write.js';

const str = { type: 'string' };

const metricSummarySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['unit', 'better', 'kind', 'median', 'spread', 'n', 'samples'],
  properties: {
    unit: str,
    better: { enum: ['higher', 'lower'] },
    kind: { enum: ['absolute', 'same-run'] },
    median: { type: 'number' },
    spread: { type: 'number', minimum: 0 },
    n: { type: 'integer', minimum: 0 },
    samples: { type: 'array', items: { type: 'number' } },
    runMedians: { type: 'array', items: { type: 'number' } },
  },
};

const baselineSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['_meta', 'cases'],
  properties: {
    _meta: {
      type: 'object',
      additionalProperties: false,
      required: [
        'lane',
        'hardware',
        'cores',
        'isa',
        'compiler',
        'compilerMajor',
        'path',
        'profile',
        'commit',
        'timestamp',
      ],
      properties: {
        lane: str,
        hardware: str,
        cores: { type: 'integer', minimum: 1 },
        isa: { type: 'array', items: str },
        compiler: str,
        compilerMajor: { type: 'integer', minimum: 0 },
        path: str,
        profile: str,
        commit: str,
        timestamp: str,
      },
    },
    cases: {
      type: 'object',
      additionalProperties: { type: 'object', additionalProperties: metricSummarySchema },
    },
  },
};

const validateBaseline = makeValidator<Baseline>(baselineSchema);

/** `<dir>/<class>/<lane>.json`: one folder per machine class. */
export function baselineFile(dir: string, lane: string, classKeyOrMeta: string | BaselineMeta): string {
  const key = typeof classKeyOrMeta === 'string' ? classKeyOrMeta : classKey(classOfBaseline(classKeyOrMeta));
  return join(dir, key, `${lane}.json`);
}

/** Validates parsed JSON as the baseline of `lane`. `file` is only used in error messages. */
export function parseBaseline(text: string, lane: string, file: string): Baseline {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new InputError(`invalid JSON: ${(err as Error).message}`, { file, cause: err });
  }
  const baseline = validateBaseline(data, file);
  if (baseline._meta.lane !== lane) {
    throw new InputError(`is "${baseline._meta.lane}", but the file is the baseline of "${lane}"`, {
      file,
      field: '_meta.lane',
    });
  }
  if (Number.isNaN(Date.parse(baseline._meta.timestamp))) {
    throw new InputError('must be an ISO 8601 time', { file, field: '_meta.timestamp' });
  }
  return baseline;
}

/** Reads and validates one baseline file; undefined when it does not exist. */
export async function readBaselineFile(file: string, lane: string): Promise<Baseline | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InputError(`cannot read: ${(err as Error).message}`, { file, cause: err });
  }
  return parseBaseline(text, lane, file);
}

/** The class folders under `dir` that hold a baseline of `lane`, sorted. */
export async function classesWithBaseline(dir: string, lane: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const key of entries.sort()) {
    try {
      if ((await stat(join(dir, key, `${lane}.json`))).isFile()) out.push(key);
    } catch {
      // no baseline of this lane for that class
    }
  }
  return out;
}

/**
 * The lane's baseline for this run's machine class; when the class has none, the nearest other
 * class's (same ISA path first, then same CPU model) so the report can show it for reference:
 * compare never judges against it. Undefined when no class has one. Throws InputError when this
 * class's file is malformed or lies in another class's folder.
 */
export async function loadBaseline(
  lane: string,
  dir: string,
  runClass: MachineClass,
  notes: string[] = [],
  where: { file?: string } = {},
): Promise<Baseline | undefined> {
  const key = classKey(runClass);
  const own = baselineFile(dir, lane, key);
  const found = await readBaselineFile(own, lane);
  if (found) {
    where.file = own;
    const actual = classKey(classOfBaseline(found._meta));
    if (actual !== key) {
      throw new InputError(
        `was measured on class ${actual} (${describeClass(classOfBaseline(found._meta))}) but lies in the folder of class ${key}: move it to ${baselineFile(dir, lane, actual)}`,
        { file: own, field: '_meta' },
      );
    }
    return found;
  }
  // A baseline from before classes had folders: used when its class matches.
  const legacy = join(dir, `${lane}.json`);
  const flat = await readBaselineFile(legacy, lane);
  if (flat && classKey(classOfBaseline(flat._meta)) === key) {
    where.file = legacy;
    return flat;
  }

  const others = await classesWithBaseline(dir, lane);
  const rank = (k: string) => {
    const [cpu, , path] = k.split('_');
    return (path === key.split('_')[2] ? 0 : 2) + (cpu === key.split('_')[0] ? 0 : 1);
  };
  for (const k of [...others].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))) {
    try {
      const file = baselineFile(dir, lane, k);
      const b = await readBaselineFile(file, lane);
      if (b) {
        where.file = file;
        return b;
      }
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      notes.push(`${lane}: the baseline of class ${k} is not usable for reference: ${err.message}`);
    }
  }
  if (flat) where.file = legacy;
  return flat;
}

/**
 * Every lane's baseline for its class (the ISA path is the lane's own), a malformed one as its
 * InputError so the other lanes go on. Problems that do not concern this run's class go to
 * `notes`; the file each baseline was read from goes to `files` (lane → path).
 */
export async function loadBaselines(
  lanes: readonly { lane: string; path: string }[],
  dir: string,
  machine: Machine,
  notes: string[] = [],
  files: Record<string, string> = {},
): Promise<Record<string, Baseline | undefined | InputError>> {
  const out: Record<string, Baseline | undefined | InputError> = {};
  for (const { lane, path } of lanes) {
    try {
      const where: { file?: string } = {};
      out[lane] = await loadBaseline(lane, dir, classOfRun(machine, path), notes, where);
      if (where.file !== undefined) files[lane] = where.file;
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      out[lane] = err;
    }
  }
  return out;
}

/**
 * A calibration run's lane → its baseline. Cases that failed and metrics without finite samples
 * are left out (a baseline must never hold NaN); a lane that did not run cannot be a baseline.
 * `moreRuns` are further independent runs of the same lane: their samples are pooled and each
 * run's median is kept, so compare knows the run-to-run spread.
 */
export function summarizeLane(
  lane: LaneResult,
  machine: Machine,
  profile: string,
  moreRuns: LaneResult[] = [],
): Baseline {
  if (lane.status !== 'ok') {
    throw new LaneError(
      lane.lane,
      lane.error?.step ?? lane.status,
      `cannot calibrate a lane that is ${lane.status}`,
    );
  }
  const cases: Baseline['cases'] = {};
  for (const c of [...lane.cases].sort((a, b) => a.id.localeCompare(b.id))) {
    if (c.error) continue;
    const metrics: Record<string, MetricSummary> = {};
    for (const m of [...c.metrics].sort((a, b) => a.name.localeCompare(b.name))) {
      if (m.samples.length === 0 || !allFinite(m.samples)) continue;
      const runs = [m.samples];
      for (const other of moreRuns) {
        const om = other.cases
          .find((oc) => oc.id === c.id && !oc.error)
          ?.metrics.find((x) => x.name === m.name);
        if (om && om.samples.length > 0 && allFinite(om.samples)) runs.push(om.samples);
      }
      const pooled = runs.flat();
      const side = summarizeSamples(pooled);
      metrics[m.name] = {
        unit: m.unit,
        better: m.better,
        kind: m.kind,
        ...side,
        samples: pooled,
        ...(runs.length > 1 ? { runMedians: runs.map((r) => summarizeSamples(r).median) } : {}),
      };
    }
    if (Object.keys(metrics).length > 0) cases[c.id] = metrics;
  }
  return {
    _meta: {
      lane: lane.lane,
      hardware: machine.cpuModel,
      cores: machine.cores,
      isa: [...machine.isa].sort(),
      compiler: `${machine.compiler.id} ${machine.compiler.version}`,
      compilerMajor: machine.compiler.major,
      path: lane.path,
      profile,
      commit: machine.commit,
      timestamp: machine.time,
    },
    cases,
  };
}

/** Pretty JSON with number arrays kept on one line, so a recalibration diff stays readable. */
export function formatBaseline(baseline: Baseline): string {
  const json = JSON.stringify(baseline, null, 2);
  return `${json.replace(/\[\s*(-?[\d.eE+-]+(?:,\s*-?[\d.eE+-]+)*)\s*\]/g, (_m, body: string) => `[${body.split(/,\s*/).join(', ')}]`)}\n`;
}

/** Writes `<dir>/<class>/<lane>.json` whole or not at all (a calibration killed mid-write); returns the path. */
export async function writeBaseline(baseline: Baseline, dir = 'baselines'): Promise<string> {
  const file = baselineFile(dir, baseline._meta.lane, baseline._meta);
  atomicWrite(file, formatBaseline(baseline));
  return file;
}

export type Comparability =
  | { ok: true }
  | {
      ok: false;
      reason: string;
      /**
       * false: the baseline is another machine class's (CPU model, cores, ISA path or compiler
       * major differ): nothing tied to the hardware is judged, same-run ratios included, since
       * they too depend on the path and the microarchitecture. true: same class, other ISA
       * flags: only absolute metrics are not judged.
       */
      sameClass: boolean;
    };

/**
 * Whether the baseline's numbers mean anything on this machine: same class (CPU model, core
 * count, ISA path, compiler major) and same ISA flags. The reason names everything that differs.
 */
export function comparable(meta: Baseline['_meta'], machine: Machine, path?: string): Comparability {
  const diffs: string[] = [];
  let sameClass = true;
  const differ = (text: string, classFact: boolean) => {
    diffs.push(text);
    if (classFact) sameClass = false;
  };
  if (meta.hardware !== machine.cpuModel) differ(`CPU "${meta.hardware}" vs "${machine.cpuModel}"`, true);
  if (meta.cores !== machine.cores) differ(`${meta.cores} vs ${machine.cores} cores`, true);
  const before = new Set(meta.isa);
  const now = new Set(machine.isa);
  const lost = [...before].filter((f) => !now.has(f)).sort();
  const gained = [...now].filter((f) => !before.has(f)).sort();
  if (lost.length > 0 || gained.length > 0) {
    const parts = [
      ...(lost.length > 0 ? [`without ${lost.join(', ')}`] : []),
      ...(gained.length > 0 ? [`with ${gained.join(', ')}`] : []),
    ];
    differ(`ISA flags differ (this machine is ${parts.join(' and ')})`, false);
  }
  if (meta.compilerMajor !== machine.compiler.major) {
    differ(`compiler ${meta.compiler} vs ${machine.compiler.id} ${machine.compiler.version}`, true);
  }
  if (path !== undefined && path !== '' && meta.path !== path)
    differ(`ISA path ${meta.path} vs ${path}`, true);
  if (diffs.length === 0) return { ok: true };
  return { ok: false, reason: `baseline vs this run: ${diffs.join('; ')}`, sameClass };
}
