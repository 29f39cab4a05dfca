// Committed baselines: load and validate `baselines/<lane>.json`, summarise a calibration run
// into one, write it back in a reviewable form, and decide whether a baseline's absolute numbers
// may be compared with this machine's at all.
//
// A missing file is normal (a new lane: every verdict is `new`). A malformed file is the user's
// to fix: an InputError naming the file and the field, which compare turns into an error for
// that lane alone.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError, LaneError } from '../errors.js';
import type { Baseline, MetricSummary } from '../model/baselines.js';
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

export function baselineFile(dir: string, lane: string): string {
  return join(dir, `${lane}.json`);
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

/** The lane's baseline; undefined when there is none. Throws InputError when it is malformed. */
export async function loadBaseline(lane: string, dir = 'baselines'): Promise<Baseline | undefined> {
  const file = baselineFile(dir, lane);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InputError(`cannot read: ${(err as Error).message}`, { file, cause: err });
  }
  return parseBaseline(text, lane, file);
}

/** Every lane's baseline, a malformed one as its InputError so the other lanes go on. */
export async function loadBaselines(
  lanes: readonly string[],
  dir = 'baselines',
): Promise<Record<string, Baseline | undefined | InputError>> {
  const out: Record<string, Baseline | undefined | InputError> = {};
  for (const lane of lanes) {
    try {
      out[lane] = await loadBaseline(lane, dir);
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

/** Writes `<dir>/<lane>.json` whole or not at all (a calibration killed mid-write); returns the path. */
export async function writeBaseline(baseline: Baseline, dir = 'baselines'): Promise<string> {
  const file = baselineFile(dir, baseline._meta.lane);
  atomicWrite(file, formatBaseline(baseline));
  return file;
}

export type Comparability = { ok: true } | { ok: false; reason: string };

/**
 * Whether the baseline's absolute numbers (GFLOP/s, latency) mean anything on this machine:
 * same CPU model, core count, ISA flags, compiler major and — when given — ISA path.
 * The reason names everything that differs.
 */
export function comparable(meta: Baseline['_meta'], machine: Machine, path?: string): Comparability {
  const diffs: string[] = [];
  if (meta.hardware !== machine.cpuModel) diffs.push(`CPU "${meta.hardware}" vs "${machine.cpuModel}"`);
  if (meta.cores !== machine.cores) diffs.push(`${meta.cores} vs ${machine.cores} cores`);
  const before = new Set(meta.isa);
  const now = new Set(machine.isa);
  const lost = [...before].filter((f) => !now.has(f)).sort();
  const gained = [...now].filter((f) => !before.has(f)).sort();
  if (lost.length > 0 || gained.length > 0) {
    const parts = [
      ...(lost.length > 0 ? [`without ${lost.join(', ')}`] : []),
      ...(gained.length > 0 ? [`with ${gained.join(', ')}`] : []),
    ];
    diffs.push(`ISA flags differ (this machine is ${parts.join(' and ')})`);
  }
  if (meta.compilerMajor !== machine.compiler.major) {
    diffs.push(`compiler ${meta.compiler} vs ${machine.compiler.id} ${machine.compiler.version}`);
  }
  if (path !== undefined && path !== '' && meta.path !== path) diffs.push(`ISA path ${meta.path} vs ${path}`);
  return diffs.length === 0
    ? { ok: true }
    : { ok: false, reason: `baseline vs this run: ${diffs.join('; ')}` };
}
