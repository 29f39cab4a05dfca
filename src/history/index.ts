// The history's public surface: the store (files per machine class), the data branch it is kept
// on, and the change-point and drift analysis of its series. The store and the branch do I/O; the
// analysis is pure and is what the report uses.
export {
  recordsFromResults,
  appendHistory,
  readHistory,
  parseHistory,
  historyFile,
  formatRecords,
  appendRecordsToText,
  validateHistoryRecord,
  historyRecordSchema,
  type ReadHistoryOptions,
  type HistoryRead,
} from './store.js';
export {
  publishHistory,
  readHistoryFromBranch,
  fetchHistoryBranch,
  isRejectedPush,
  runGit,
  gitRunner,
  tokenAuthEnv,
  readStoreFiles,
  GitCommandError,
  DEFAULT_HISTORY_BRANCH,
  DEFAULT_MAX_ATTEMPTS,
  type GitRunner,
  type BranchOptions,
  type PublishOptions,
  type PublishResult,
} from './git-branch.js';
export {
  analyseSeries,
  detectChangePoints,
  detectDrift,
  eDivisive,
  seriesOf,
  mannKendall,
  theilSen,
  mulberry32,
  type ChangePoint,
  type ChangePointOptions,
  type Drift,
  type DriftOptions,
  type SeriesAnalysis,
} from './changepoints.js';
