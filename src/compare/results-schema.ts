// The shape of results.json that compare accepts. The lanes step writes it, but compare also
// runs on a file someone copied, edited or truncated (`infeng-perf compare`, `baseline update
// --from`), and every lane name in it becomes a key and a file name (baselines/<lane>.json):
// a malformed file is bad input that names the file and the field (exit code 2), never a
// crash deep inside compare, and only the lanes of model/lanes.ts are accepted.
import { LANES } from '../model/lanes.js';
import type { RunResults } from '../model/results.js';
import { makeValidator } from './validate.js';

const str = { type: 'string' };
const num = { type: 'number' };
const int = { type: 'integer' };
const strings = { type: 'array', items: str };
/** params and info: flat records of strings and numbers */
const facts = { type: 'object', additionalProperties: { anyOf: [str, num] } };

const metricSchema = {
  type: 'object',
  required: ['name', 'unit', 'better', 'kind', 'samples', 'value'],
  properties: {
    name: str,
    unit: str,
    better: { enum: ['higher', 'lower'] },
    kind: { enum: ['absolute', 'same-run'] },
    // a broken measurement is NaN, which JSON writes as null: compare makes it an error verdict
    samples: { type: 'array', items: { anyOf: [num, { type: 'null' }] } },
    value: { anyOf: [num, { type: 'null' }] },
    rounds: { type: 'array', items: num },
  },
};

const caseSchema = {
  type: 'object',
  required: ['id', 'params', 'metrics'],
  properties: {
    id: str,
    params: facts,
    metrics: { type: 'array', items: metricSchema },
    error: str,
  },
};

const laneStatus = { enum: ['ok', 'error', 'timeout', 'skipped'] };
const laneError = {
  type: 'object',
  required: ['step', 'message'],
  properties: { step: str, message: str },
};

/** What both sides of a lane carry: the base side of an A/B run is a lane result without its plan. */
const sideProperties = {
  status: laneStatus,
  error: laneError,
  path: str,
  cases: { type: 'array', items: caseSchema },
  durationS: num,
  info: facts,
};

const laneSchema = {
  type: 'object',
  required: ['lane', 'status', 'path', 'cases', 'planned', 'durationS', 'artifacts', 'info'],
  properties: {
    lane: { enum: [...LANES] },
    ...sideProperties,
    planned: strings,
    artifacts: strings,
    base: {
      type: 'object',
      required: ['status', 'path', 'cases', 'durationS', 'info'],
      properties: { ...sideProperties, identical: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
    },
    abOrder: { type: 'array', items: { enum: ['base', 'head'] } },
  },
};

export const runResultsSchema = {
  type: 'object',
  required: ['schemaVersion', 'machine', 'profile', 'lanes'],
  properties: {
    schemaVersion: { const: 1 },
    profile: str,
    machine: {
      type: 'object',
      required: ['cpuModel', 'cores', 'isa', 'compiler', 'os', 'commit', 'time'],
      properties: {
        cpuModel: str,
        cores: int,
        isa: strings,
        compiler: {
          type: 'object',
          required: ['id', 'version', 'major', 'requestedMajor', 'path'],
          properties: { id: str, version: str, major: int, requestedMajor: int, path: str },
        },
        os: str,
        commit: str,
        time: str,
      },
    },
    lanes: { type: 'array', items: laneSchema },
    ab: {
      type: 'object',
      required: ['baseRef', 'baseCommit', 'baseNativeTree', 'baseCached', 'repetitions'],
      properties: {
        baseRef: str,
        baseCommit: str,
        baseNativeTree: str,
        baseCached: { type: 'boolean' },
        repetitions: int,
      },
    },
    abFallback: str,
  },
};

/** The results, typed, or an InputError naming `file` and the first wrong field. */
export const validateResults = makeValidator<RunResults>(runResultsSchema);
