// The action's two history steps.
//
//   history-read    before anything of the checkout is built or run: fetch the data branch
//                   and copy its store files to build/infeng-history/, where the compare step
//                   reads them for the trend charts (no network and no token there: the compare
//                   step runs after the pull request's code did). It may use the token, since no
//                   pull request code has run yet. history-source.json says where they are, or
//                   why there are none; the report then says so and goes on without trends.
//   history-record  on `push` to the default branch only: append this run's results to the data
//                   branch (publishHistory: one file per machine class, retried when another
//                   run pushed first), then write the history's standing changes of level to the
//                   job summary. Never for a pull request, whatever the inputs say: the history
//                   is what every later run is compared with, and PR code could write anything.
//
// Neither step ever fails the job: a history that cannot be read or written is a warning and
// a note, and the results stay in the report artifact.
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import { RESULTS_FILE, readResults } from '../pipeline.js';
import { validateResults } from '../compare/results-schema.js';
import { atomicWrite } from '../io/atomic-write.js';
import { sanitizeForLog } from '../io/log-safe.js';
import {
  fetchHistoryBranch,
  gitRunner,
  publishHistory,
  readStoreFiles,
  tokenAuthEnv,
  type GitRunner,
} from '../history/git-branch.js';
import { parseHistory, recordsFromResults } from '../history/store.js';
import { escapeMarkdown } from '../report/escape.js';
import { historySummary, type HistorySummaryLane } from '../report/history-notes.js';
import { writeJobSummary } from '../sinks/summary.js';
import type { ActionInputs } from './inputs.js';
import type { ActionIO } from './phases.js';
import { readEvent, readState, removeStale, writeState } from './state.js';

export const HISTORY_SOURCE_STATE = 'history-source.json';

/** history-read → compare: where the store files were copied, and what to say in the report. */
export interface HistorySource {
  branch: string;
  /** the folder holding <classKey>.jsonl; absent when nothing could be read */
  dir?: string;
  /** the data branch's tip that was read */
  tip?: string;
  /** for the report's notes */
  notes: string[];
}

/** Where history-read puts the store files: under build/, so the report artifact stays small. */
export function historyCopyDir(config: Config): string {
  return path.join(config.root, 'build', 'infeng-history');
}

function git(inputs: ActionInputs, io: ActionIO): GitRunner {
  return gitRunner(inputs.token ? tokenAuthEnv(inputs.token, io.env.GITHUB_SERVER_URL) : {});
}

function firstLine(e: unknown): string {
  return sanitizeForLog(((e as Error).message ?? String(e)).split('\n')[0] ?? '');
}

export function historyReadPhase(inputs: ActionInputs, config: Config, io: ActionIO): number {
  removeStale(config.reportsDir, [HISTORY_SOURCE_STATE]);
  const branch = inputs.historyBranch;
  if (branch === '') {
    io.info('history: history-branch is empty, no trends');
    return 0;
  }
  const dir = historyCopyDir(config);
  const source: HistorySource = { branch, notes: [] };
  try {
    rmSync(dir, { recursive: true, force: true });
    const run = git(inputs, io);
    const tip = fetchHistoryBranch(config.root, { branch, git: run });
    mkdirSync(dir, { recursive: true });
    source.dir = dir;
    if (!tip) {
      source.notes.push(
        `history: no data branch ${branch} yet; a push to the default branch records the first point`,
      );
    } else {
      source.tip = tip;
      const files = readStoreFiles(config.root, tip, run);
      for (const f of files) atomicWrite(path.join(dir, f.name), f.text);
      io.info(`history: ${files.length} store file(s) from ${branch} at ${tip.slice(0, 12)}`);
    }
  } catch (e) {
    delete source.dir;
    const why = `history: the data branch ${branch} could not be read (${firstLine(e)}); no trends in this report`;
    source.notes.push(why);
    io.warn(why);
  }
  writeState(config.reportsDir, HISTORY_SOURCE_STATE, source);
  return 0;
}

/** history-source.json, or undefined when there is none or it is not one (then: no trends). */
export function readHistorySource(dir: string, io: ActionIO): HistorySource | undefined {
  try {
    const s = readState<Partial<HistorySource>>(dir, HISTORY_SOURCE_STATE);
    if (!s || typeof s.branch !== 'string' || !Array.isArray(s.notes)) return undefined;
    return {
      branch: s.branch,
      notes: s.notes.filter((n): n is string => typeof n === 'string'),
      ...(typeof s.dir === 'string' ? { dir: s.dir } : {}),
      ...(typeof s.tip === 'string' ? { tip: s.tip } : {}),
    };
  } catch (e) {
    io.warn(`history: ${HISTORY_SOURCE_STATE} is unreadable: ${firstLine(e)}`);
    return undefined;
  }
}

/** Why this run does not record, or undefined when it does: push to the default branch only. */
export function whyNotRecorded(
  inputs: ActionInputs,
  env: NodeJS.ProcessEnv,
  event: unknown,
): string | undefined {
  if (inputs.mode !== 'gate') return `mode is ${inputs.mode}`;
  if (inputs.recordHistory === 'never') return 'record-history is never';
  if (inputs.historyBranch === '') return 'history-branch is empty';
  if (env.GITHUB_EVENT_NAME !== 'push') return `the event is ${env.GITHUB_EVENT_NAME ?? 'unknown'}, not push`;
  const repo = (event as { repository?: { default_branch?: unknown } } | undefined)?.repository;
  const main = typeof repo?.default_branch === 'string' ? repo.default_branch : undefined;
  if (!main) return 'the push event names no default branch';
  if (env.GITHUB_REF !== `refs/heads/${main}`)
    return `${env.GITHUB_REF ?? 'this ref'} is not the default branch ${main}`;
  return undefined;
}

export function historyRecordPhase(inputs: ActionInputs, config: Config, io: ActionIO): number {
  const why = whyNotRecorded(inputs, io.env, readEvent(io.env));
  if (why) {
    io.info(`history: not recorded: ${sanitizeForLog(why)}`);
    return 0;
  }
  const branch = inputs.historyBranch;
  const summary = (text: string) => writeJobSummary(io.env.GITHUB_STEP_SUMMARY, text);
  const fail = (what: string) => {
    io.warn(`history: ${what}`);
    summary(`### infeng perf history\n\nNot recorded: ${escapeMarkdown(what)}.\n`);
    return 0;
  };
  let records;
  try {
    const results = validateResults(readResults(config), path.join(config.reportsDir, RESULTS_FILE));
    records = recordsFromResults(results);
  } catch (e) {
    return fail(`no results to record (${firstLine(e)})`);
  }
  if (records.length === 0) return fail('no lane ran cleanly, nothing to record');
  const run = git(inputs, io);
  let published;
  try {
    published = publishHistory(config.root, records, { branch, git: run });
  } catch (e) {
    const cause = (e as { cause?: unknown }).cause;
    return fail(
      `the push to ${branch} failed: ${firstLine(e)}${cause ? ` (${firstLine(cause)})` : ''}; the results are in the report artifact`,
    );
  }
  const lanes = [...new Set(records.map((r) => r.lane))].sort();
  io.info(
    `history: recorded ${lanes.join(', ')} at ${records[0]?.commit.slice(0, 12)} on ${branch} (${published.commit.slice(0, 12)}, attempt ${published.attempts})`,
  );
  // the histories as pushed, this run included: their standing changes of level
  const views: HistorySummaryLane[] = [];
  for (const r of records) {
    const name = `${r.classKey}.jsonl`;
    try {
      const text = run(['cat-file', 'blob', `${published.commit}:${name}`], config.root);
      const read = parseHistory(text, `${branch}:${name}`, r.classKey, r.lane, {
        last: 100,
        profile: r.profile,
      });
      views.push({ lane: r.lane, classKey: r.classKey, points: read.records });
    } catch (e) {
      io.warn(`history: ${name} not read back: ${firstLine(e)}`);
    }
  }
  const retried = published.attempts > 1 ? `, after ${published.attempts - 1} concurrent push(es)` : '';
  const recorded = `Recorded ${escapeMarkdown(lanes.join(', '))} of \`${escapeMarkdown(records[0]?.commit.slice(0, 12) ?? '')}\` on \`${escapeMarkdown(branch)}\` (${escapeMarkdown(published.files.join(', '))}${retried}).`;
  summary(historySummary(views, recorded));
  return 0;
}
