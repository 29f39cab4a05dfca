// baselines/rules.yml → the `Rules` model, and the lookups compare needs.
//
// The file is reviewed like code and edited by hand, so parsing is strict: unknown keys and
// unknown lanes are errors (a typo must not silently disable a gate), and every error names the
// file and the field. A missing file is not an error: the built-in defaults apply.
//
// Matching: `metric`, `cases` and `path` are globs (`*` any run of characters including "/",
// `?` one character, `{a,b}` alternatives). The first tolerance rule of a lane that matches a
// (case, metric) wins, so specific rules go above catch-alls; every matching gate applies.

import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { InputError } from '../errors.js';
import { LANES } from '../model/lanes.js';
import type {
  AbRules,
  AbToleranceRule,
  GateRule,
  LaneRules,
  Rules,
  Severity,
  ToleranceRule,
} from '../model/rules.js';
import { makeValidator } from './validate.js';

export const DEFAULT_RULES: Readonly<Rules> = Object.freeze({
  alpha: 0.05,
  // with 5 against 5 samples the smallest exact two-sided p is 2/252 ≈ 0.008, below alpha;
  // with 3 against 3 it is 0.1, so no change could ever be significant
  minSamples: 5,
  // shared runners: ~2.7 % run-to-run CV, so the difference of two runs has σ ≈ 3.8 %; 8 % is
  // about 2σ, rare enough by chance for a failing gate
  defaultTolerancePct: 8,
  defaultToleranceAbs: 1,
  defaultSeverity: 'fail' as Severity,
  lanes: {},
  ab: Object.freeze({
    alpha: 0.05,
    // a 3-5 % slowdown is what the A/B gate exists to see; rounds pair away the machine's drift
    tolerancePct: 2,
    toleranceAbs: 1,
    // 6 pairs is the fewest for which the signed-rank test can reach p < 0.05 (2/64 = 0.031)
    rounds: 6,
    maxRounds: 12,
    repetitions: 3,
    laneBudgetS: 240,
    serve: false,
    lanes: {},
  }),
});

const severity = { enum: ['fail', 'warn'] };
const glob = { type: 'string', minLength: 1 };

const toleranceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['metric'],
  properties: {
    metric: glob,
    cases: glob,
    tolerancePct: { type: 'number', exclusiveMinimum: 0 },
    toleranceAbs: { type: 'number', exclusiveMinimum: 0 },
    control: { type: 'string', minLength: 1 },
    controlMoves: { enum: ['worse', 'either'] },
    severity,
  },
};

const gateSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'metric'],
  properties: {
    name: { type: 'string', minLength: 1 },
    metric: glob,
    cases: glob,
    min: { type: 'number' },
    max: { type: 'number' },
    path: glob,
    severity,
    description: { type: 'string' },
  },
};

const abToleranceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['metric'],
  properties: {
    metric: glob,
    cases: glob,
    tolerancePct: { type: 'number', exclusiveMinimum: 0 },
    toleranceAbs: { type: 'number', exclusiveMinimum: 0 },
    severity,
  },
};

const abSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    alpha: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
    tolerancePct: { type: 'number', exclusiveMinimum: 0 },
    toleranceAbs: { type: 'number', exclusiveMinimum: 0 },
    rounds: { type: 'integer', minimum: 2, maximum: 100 },
    maxRounds: { type: 'integer', minimum: 2, maximum: 100 },
    repetitions: { type: 'integer', minimum: 1, maximum: 100 },
    laneBudgetS: { type: 'number', exclusiveMinimum: 0 },
    serve: { type: 'boolean' },
    lanes: {
      type: 'object',
      propertyNames: { enum: [...LANES] },
      additionalProperties: { type: 'array', items: abToleranceSchema },
    },
  },
};

const rulesSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ab: abSchema,
    alpha: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
    minSamples: { type: 'integer', minimum: 2 },
    defaultTolerancePct: { type: 'number', exclusiveMinimum: 0 },
    defaultToleranceAbs: { type: 'number', exclusiveMinimum: 0 },
    defaultSeverity: severity,
    lanes: {
      type: 'object',
      propertyNames: { enum: [...LANES] },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          tolerances: { type: 'array', items: toleranceSchema },
          gates: { type: 'array', items: gateSchema },
        },
      },
    },
  },
};

interface RawTolerance {
  metric: string;
  cases?: string;
  tolerancePct?: number;
  toleranceAbs?: number;
  control?: string;
  controlMoves?: 'worse' | 'either';
  severity?: Severity;
}
type RawAbTolerance = Omit<AbToleranceRule, 'cases'> & { cases?: string };
type RawGate = Omit<GateRule, 'cases' | 'severity'> & { cases?: string; severity?: Severity };
interface RawRules {
  alpha?: number;
  minSamples?: number;
  defaultTolerancePct?: number;
  defaultToleranceAbs?: number;
  defaultSeverity?: Severity;
  lanes?: Record<string, { tolerances?: RawTolerance[]; gates?: RawGate[] }>;
  ab?: Partial<Omit<AbRules, 'lanes'>> & { lanes?: Record<string, RawAbTolerance[]> };
}

const validateRules = makeValidator<RawRules>(rulesSchema);

/**
 * Aliases a rules file may expand: a hand-written file shares a list or two, never hundreds;
 * a document whose aliases nest (billion laughs) would expand to gigabytes.
 */
const MAX_ALIAS_COUNT = 100;

/** Parses the text of a rules file. `file` is only used in error messages. */
export function parseRules(text: string, file = 'baselines/rules.yml'): Rules {
  const doc = parseDocument(text, { prettyErrors: true });
  const yamlError = doc.errors[0];
  if (yamlError) throw new InputError(`invalid YAML: ${yamlError.message}`, { file, cause: yamlError });
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // the yaml package stops an alias bomb (billion laughs) with a ReferenceError of its own
    if (err instanceof ReferenceError && /alias/i.test(err.message)) {
      throw new InputError(
        `too many YAML aliases (more than ${MAX_ALIAS_COUNT} expansions): the file expands into a resource exhaustion, not rules`,
        { file, cause: err },
      );
    }
    throw err;
  }
  const raw = validateRules(data ?? {}, file);

  const defaultSeverity = raw.defaultSeverity ?? DEFAULT_RULES.defaultSeverity;
  const lanes: Record<string, LaneRules> = {};
  for (const [lane, laneRaw] of Object.entries(raw.lanes ?? {})) {
    const tolerances = (laneRaw.tolerances ?? []).map((t, i): ToleranceRule => {
      if (t.tolerancePct === undefined && t.toleranceAbs === undefined) {
        throw new InputError('needs tolerancePct or toleranceAbs', {
          file,
          field: `lanes.${lane}.tolerances[${i}]`,
        });
      }
      if (t.controlMoves !== undefined && t.control === undefined) {
        throw new InputError('controlMoves needs a control', {
          file,
          field: `lanes.${lane}.tolerances[${i}]`,
        });
      }
      return { ...t, cases: t.cases ?? '*', severity: t.severity ?? defaultSeverity };
    });
    const names = new Set<string>();
    const gates = (laneRaw.gates ?? []).map((g, i): GateRule => {
      const field = `lanes.${lane}.gates[${i}]`;
      if (g.min === undefined && g.max === undefined)
        throw new InputError('needs min or max', { file, field });
      if (g.min !== undefined && g.max !== undefined && g.min > g.max) {
        throw new InputError(`min (${g.min}) is above max (${g.max})`, { file, field });
      }
      if (names.has(g.name))
        throw new InputError(`duplicate gate name "${g.name}"`, { file, field: `${field}.name` });
      names.add(g.name);
      return { ...g, cases: g.cases ?? '*', severity: g.severity ?? defaultSeverity };
    });
    lanes[lane] = { tolerances, gates };
  }

  const abDefaults = DEFAULT_RULES.ab;
  const abRaw = raw.ab ?? {};
  const abLanes: Record<string, AbToleranceRule[]> = {};
  for (const [lane, list] of Object.entries(abRaw.lanes ?? {})) {
    abLanes[lane] = list.map((t, i) => {
      if (t.tolerancePct === undefined && t.toleranceAbs === undefined && t.severity === undefined) {
        throw new InputError('needs tolerancePct, toleranceAbs or severity', {
          file,
          field: `ab.lanes.${lane}[${i}]`,
        });
      }
      return { ...t, cases: t.cases ?? '*' };
    });
  }
  const ab: AbRules = {
    alpha: abRaw.alpha ?? abDefaults.alpha,
    tolerancePct: abRaw.tolerancePct ?? abDefaults.tolerancePct,
    toleranceAbs: abRaw.toleranceAbs ?? abDefaults.toleranceAbs,
    rounds: abRaw.rounds ?? abDefaults.rounds,
    maxRounds: abRaw.maxRounds ?? Math.max(abRaw.rounds ?? abDefaults.rounds, abDefaults.maxRounds),
    repetitions: abRaw.repetitions ?? abDefaults.repetitions,
    laneBudgetS: abRaw.laneBudgetS ?? abDefaults.laneBudgetS,
    serve: abRaw.serve ?? abDefaults.serve,
    lanes: abLanes,
  };
  if (ab.maxRounds < ab.rounds) {
    throw new InputError(`maxRounds (${ab.maxRounds}) is below rounds (${ab.rounds})`, {
      file,
      field: 'ab.maxRounds',
    });
  }

  return {
    ab,
    alpha: raw.alpha ?? DEFAULT_RULES.alpha,
    minSamples: raw.minSamples ?? DEFAULT_RULES.minSamples,
    defaultTolerancePct: raw.defaultTolerancePct ?? DEFAULT_RULES.defaultTolerancePct,
    defaultToleranceAbs: raw.defaultToleranceAbs ?? DEFAULT_RULES.defaultToleranceAbs,
    defaultSeverity,
    lanes,
  };
}

/** Reads the rules file; the defaults when it does not exist. */
export async function loadRules(file: string): Promise<Rules> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ...DEFAULT_RULES, lanes: {} };
    throw new InputError(`cannot read: ${(err as Error).message}`, { file, cause: err });
  }
  return parseRules(text, file);
}

const globCache = new Map<string, RegExp>();

/** `*` any run of characters (including "/"), `?` one character, `{a,b}` alternatives. */
export function globMatch(pattern: string, text: string): boolean {
  let re = globCache.get(pattern);
  if (!re) {
    let src = '';
    let depth = 0;
    for (const ch of pattern) {
      if (ch === '*') src += '.*';
      else if (ch === '?') src += '.';
      else if (ch === '{') {
        src += '(?:';
        depth++;
      } else if (ch === '}' && depth > 0) {
        src += ')';
        depth--;
      } else if (ch === ',' && depth > 0) src += '|';
      else src += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
    src += ')'.repeat(depth); // an unclosed brace closes at the end
    re = new RegExp(`^${src}$`);
    globCache.set(pattern, re);
  }
  return re.test(text);
}

/**
 * A control metric (the peer measured in the same rounds) that got worse by more than this, in
 * percent, excuses a regression of a metric judged in points: the machine changed, not the code.
 */
export const DISTURBED_PCT = 8;

export interface Tolerance {
  pct?: number;
  abs?: number;
  control?: string;
  controlMoves?: 'worse' | 'either';
  severity: Severity;
}

/** Units where a relative change misleads (2 % → 3 % is +1 pp, not +50 %). */
export function isPercentUnit(unit: string): boolean {
  return unit === '%' || unit === 'pp';
}

/** The tolerance for one (lane, case, metric): the first matching rule, else the defaults. */
export function toleranceFor(
  rules: Rules,
  lane: string,
  caseId: string,
  metric: string,
  unit: string,
): Tolerance {
  const rule = rules.lanes[lane]?.tolerances.find(
    (t) => globMatch(t.metric, metric) && globMatch(t.cases, caseId),
  );
  if (rule) {
    return {
      pct: rule.tolerancePct,
      abs: rule.toleranceAbs,
      ...(rule.control !== undefined ? { control: rule.control } : {}),
      ...(rule.controlMoves !== undefined ? { controlMoves: rule.controlMoves } : {}),
      severity: rule.severity,
    };
  }
  if (isPercentUnit(unit) && rules.defaultToleranceAbs !== undefined) {
    return { abs: rules.defaultToleranceAbs, severity: rules.defaultSeverity };
  }
  return { pct: rules.defaultTolerancePct, severity: rules.defaultSeverity };
}

/**
 * The A/B tolerance for one (lane, case, metric): the first matching `ab.lanes` rule, else the
 * A/B defaults; the severity, unless the rule sets one, is that of the metric's baseline
 * tolerance, so a peer's throughput (OpenBLAS, the reference tokenizer) only warns here too.
 */
export function abToleranceFor(
  rules: Rules,
  lane: string,
  caseId: string,
  metric: string,
  unit: string,
): Tolerance {
  const base = toleranceFor(rules, lane, caseId, metric, unit);
  const rule = rules.ab.lanes[lane]?.find((t) => globMatch(t.metric, metric) && globMatch(t.cases, caseId));
  const severity = rule?.severity ?? base.severity;
  const control =
    base.control !== undefined
      ? { control: base.control, ...(base.controlMoves ? { controlMoves: base.controlMoves } : {}) }
      : {};
  if (rule && (rule.tolerancePct !== undefined || rule.toleranceAbs !== undefined)) {
    return { pct: rule.tolerancePct, abs: rule.toleranceAbs, severity, ...control };
  }
  if (isPercentUnit(unit)) return { abs: rules.ab.toleranceAbs, severity, ...control };
  return { pct: rules.ab.tolerancePct, severity, ...control };
}

export function gatesFor(rules: Rules, lane: string): GateRule[] {
  return rules.lanes[lane]?.gates ?? [];
}
