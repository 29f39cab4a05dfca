// The shape of a verdicts.json that report mode accepts. In a workflow_run workflow that file
// comes from the artifact of a run that may have executed a fork's code, and is then posted
// with a write token: every field the renderer and the check runs use is pinned to its type,
// and every word that becomes Markdown without escaping to its fixed set.
import { VERDICT_STATES } from '../model/verdicts.js';

const str = { type: 'string' };
const num = { type: 'number' };
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
    source: { enum: ['baseline', 'gate'] },
    state: { enum: [...VERDICT_STATES] },
    severity: { enum: ['fail', 'warn'] },
    baseline: side,
    current: side,
    deltaPct: num,
    deltaAbs: num,
    pValue: num,
    reason: str,
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
          baselineMeta: {
            type: 'object',
            required: ['hardware', 'cores', 'path', 'compiler', 'compilerMajor'],
            properties: { hardware: str, cores: num, path: str, compiler: str, compilerMajor: num },
          },
          verdicts: { type: 'array', items: verdict },
        },
      },
    },
  },
};
