// The compare stage's public surface, for the orchestrator and the calibration command.
export { compare, isFailing, isWarning, emptyCounts, boundText, type BaselineInput } from './compare.js';
export {
  loadBaseline,
  loadBaselines,
  parseBaseline,
  summarizeLane,
  writeBaseline,
  formatBaseline,
  baselineFile,
  comparable,
  type Comparability,
} from './baselines.js';
export {
  loadRules,
  parseRules,
  DEFAULT_RULES,
  toleranceFor,
  gatesFor,
  globMatch,
  type Tolerance,
} from './rules.js';
export { validateResults, runResultsSchema } from './results-schema.js';
export {
  median,
  quantile,
  relativeSpread,
  summarizeSamples,
  mannWhitneyU,
  type UTestResult,
} from './stats.js';
