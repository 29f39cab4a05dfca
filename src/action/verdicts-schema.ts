// The shape of the files report mode takes from an artifact: verdicts.json and github.json.
// In a workflow_run workflow they come from a run that may have executed a fork's code, and
// are then posted with a write token: every field the renderer, the check runs, the comment
// and the annotations read is pinned to its type (a number the renderer formats must be a
// number, a string it slices must be a string), and every word that becomes Markdown without
// escaping to its fixed set. A file that does not match is refused naming the field.
import { VERDICT_STATES } from '../model/verdicts.js';

const str = { type: 'string' };
const num = { type: 'number' };
const int = { type: 'integer' };
const bool = { type: 'boolean' };
const side = {
  type: 'object',
  required: ['median', 'spread', 'n'],
  properties: { median: num, spread: num, n: num },
};

const verdict = {
  type: 'object',
  required: ['lane', 'caseId', 'metric', 'unit', 'better', 'kind', 'source', 'state', 'severity', 'reason'],
  properties: {
    lane: str,
    caseId: str,
    metric: str,
    unit: str,
    better: { enum: ['higher', 'lower'] },
    kind: { enum: ['absolute', 'same-run'] },
    source: { enum: ['baseline', 'gate', 'ab'] },
    state: { enum: [...VERDICT_STATES] },
    severity: { enum: ['fail', 'warn'] },
    baseline: side,
    current: side,
    deltaPct: num,
    deltaAbs: num,
    pValue: num,
    tolerance: { type: 'object', properties: { pct: num, abs: num } },
    ab: {
      type: 'object',
      required: ['ratio', 'rounds'],
      properties: { ratio: num, low: num, high: num, rounds: num, mdePct: num },
    },
    gate: {
      type: 'object',
      required: ['name'],
      properties: { name: str, min: num, max: num, description: str },
    },
    reason: str,
  },
};

/** The baseline's header, shown in the lane's details and used to find its file. */
const baselineMeta = {
  type: 'object',
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
    cores: num,
    isa: { type: 'array', items: str },
    compiler: str,
    compilerMajor: num,
    path: str,
    profile: str,
    commit: str,
    timestamp: str,
  },
};

export const verdictReportSchema = {
  type: 'object',
  required: ['schemaVersion', 'machine', 'profile', 'conclusion', 'counts', 'lanes', 'notes'],
  properties: {
    schemaVersion: { const: 1 },
    profile: str,
    conclusion: { enum: ['success', 'failure'] },
    counts: { type: 'object', additionalProperties: num },
    notes: { type: 'array', items: str },
    ab: {
      type: 'object',
      required: ['baseRef', 'baseCommit', 'baseNativeTree', 'baseCached', 'repetitions'],
      properties: { baseRef: str, baseCommit: str, baseNativeTree: str, baseCached: bool, repetitions: int },
    },
    abFallback: str,
    machine: {
      type: 'object',
      required: ['cpuModel', 'cores', 'isa', 'compiler', 'os', 'commit', 'time'],
      properties: {
        cpuModel: str,
        cores: num,
        isa: { type: 'array', items: str },
        compiler: { type: 'object', required: ['id', 'version'], properties: { id: str, version: str } },
        os: str,
        commit: str,
        time: str,
      },
    },
    lanes: {
      type: 'array',
      items: {
        type: 'object',
        required: ['lane', 'check', 'conclusion', 'summary', 'path', 'status', 'verdicts'],
        properties: {
          lane: str,
          check: str,
          conclusion: { enum: ['success', 'failure', 'neutral'] },
          summary: str,
          path: str,
          status: str,
          incomparable: str,
          otherClass: { type: 'boolean' },
          // the annotation locator builds the baseline's class folder from these
          baselineMeta,
          error: { type: 'object', required: ['step', 'message'], properties: { step: str, message: str } },
          ab: {
            type: 'object',
            required: ['rounds', 'baseStatus'],
            properties: { rounds: num, mdePct: num, baseStatus: str, baseError: str },
          },
          verdicts: { type: 'array', items: verdict },
        },
      },
    },
  },
};

/**
 * github.json: what the measuring run could post and which pull request it measured. Report
 * mode trusts none of it blindly (the PR is checked against the event's commit), but reads
 * every field, so each has its type.
 */
export const githubStateSchema = {
  type: 'object',
  required: ['schemaVersion', 'repository', 'workflow', 'headSha', 'posted'],
  properties: {
    schemaVersion: { const: 1 },
    repository: str,
    workflow: str,
    headSha: str,
    pr: { type: 'integer', minimum: 1 },
    runId: str,
    posted: {
      type: 'object',
      required: ['comment', 'checks'],
      properties: { comment: bool, checks: bool },
    },
  },
};
