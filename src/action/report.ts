// The report step: from verdicts.json to every place a team looks. Order matters only for
// the job summary, which is written last so it can say what happened to the other sinks.
//
// mode: gate    this run measured; it posts what its token allows and records what it could
//               not in github.json, which travels in the report artifact.
// mode: report  a workflow_run workflow with a write token; reportsDir is the downloaded
//               artifact. It trusts only data from it: the commit comes from the event, and
//               the PR number the artifact claims is used only when that PR's head is the
//               event's head commit, so a fork cannot aim the comment at another pull request.
//
// Whatever happens here (a renderer that throws on a crafted file, a call that failed through
// its retries), the `finally` completes every check this step did not: the ones the lanes step
// started in_progress and every stable check name, so no required check is left pending.
import path from 'node:path';
import type { Config } from '../config.js';
import type { VerdictReport } from '../model/verdicts.js';
import { renderMarkdown } from '../report/render.js';
import { escapeMarkdown } from '../report/escape.js';
import { REPORT_FILE, TREND_HISTORY_FILE } from '../pipeline.js';
import { validateTrendHistory } from '../history/store.js';
import { resolveContext, type RunContext } from '../github/context.js';
import { clientTimings, createClient, type GitHubClient } from '../github/client.js';
import { describeApiError } from '../github/errors.js';
import { checkNames, planChecks, type CheckPlan } from '../sinks/check-plan.js';
import { renderUnfinishedCheck } from '../report/check.js';
import { CHECK_NAMES, LANES } from '../model/lanes.js';
import { atomicWrite } from '../io/atomic-write.js';
import { sanitizeForLog } from '../io/log-safe.js';
import { completeCheck } from '../sinks/checks.js';
import { ACTIONS_BOT, hasNews, stickyBody, upsertComment } from '../sinks/comment.js';
import { fileLocator } from '../sinks/locate.js';
import { runSink } from '../sinks/policy.js';
import {
  fullReport,
  jobSummary,
  summaryReport,
  writeJobSummary,
  type ReportView,
  type SinkLine,
} from '../sinks/summary.js';
import { actionOutputs } from '../sinks/outputs.js';
import type { ActionInputs } from './inputs.js';
import type { ActionIO } from './phases.js';
import {
  CHECKS_STATE,
  GITHUB_STATE,
  readCurrentVerdicts,
  readEvent,
  readGitHubState,
  readState,
  readVerdicts,
  writeState,
  type ChecksState,
  type GitHubState,
} from './state.js';

export const FULL_REPORT_FILE = 'report-full.md';

/** What became of each check in this step: the `finally` completes whatever is left. */
interface CheckLedger {
  /** check name → id of the run the lanes step started in_progress on this commit */
  started: Record<string, number>;
  /** names completed by this step */
  completed: Set<string>;
  /** each check's plan, once rendered */
  plans: Map<string, CheckPlan>;
  /** the token may not create check runs: only the started ones are worth a try */
  forbidden: boolean;
  /** the checks are not this step's to post (none wanted, no token, posted by the measuring run) */
  skip: boolean;
}

export async function reportPhase(inputs: ActionInputs, config: Config, io: ActionIO): Promise<number> {
  const ctx = resolveContext(io.env, readEvent(io.env));
  const client = inputs.token
    ? createClient({
        token: inputs.token,
        apiUrl: io.env.GITHUB_API_URL,
        warn: io.warn,
        ...clientTimings(io.env),
      })
    : undefined;
  const started = inputs.mode === 'gate' ? readStartedChecks(config.reportsDir, io) : undefined;
  const ledger: CheckLedger = {
    // ids from another commit (a re-run on a new push reusing the directory) are not ours
    started: started && started.headSha === ctx.headSha ? { ...started.ids } : {},
    completed: new Set(),
    plans: new Map(),
    forbidden: started?.forbidden === true,
    skip: !client || inputs.checkRuns === 'none',
  };
  let failure: string | undefined;
  try {
    return await report(inputs, config, io, ctx, client, ledger);
  } catch (e) {
    failure = `the report step failed: ${sanitizeForLog(e instanceof Error ? `${e.name}: ${e.message}` : String(e))}`;
    throw e;
  } finally {
    if (client) await completeUnfinished(client, ctx, ledger, inputs, config, io, failure);
  }
}

/** checks.json of the lanes step; unreadable is the same as absent (this step must go on). */
function readStartedChecks(dir: string, io: ActionIO): ChecksState | undefined {
  try {
    const s = readState<ChecksState>(dir, CHECKS_STATE);
    if (!s || typeof s !== 'object' || typeof s.ids !== 'object' || s.ids === null) return undefined;
    const ids = Object.fromEntries(
      Object.entries(s.ids).filter(([, id]) => typeof id === 'number' && Number.isInteger(id)),
    );
    return { headSha: String(s.headSha), ids, forbidden: s.forbidden === true };
  } catch (e) {
    io.warn(`check runs: ${CHECKS_STATE} is unreadable: ${sanitizeForLog((e as Error).message)}`);
    return undefined;
  }
}

async function report(
  inputs: ActionInputs,
  config: Config,
  io: ActionIO,
  ctx: RunContext,
  client: GitHubClient | undefined,
  ledger: CheckLedger,
): Promise<number> {
  const dir = config.reportsDir;
  const report = loadReport(dir, inputs, io);
  const view: ReportView = {
    ...(report ? loadTrendHistory(dir, io) : {}),
    charts: config.charts,
    showIncomparable: config.showIncomparable,
  };
  // a github.json that is not one (`{}`, cut short) is refused naming the file; the finally
  // still completes every check
  const claims = inputs.mode === 'report' ? readGitHubState(dir) : undefined;
  const hint = ctx.runUrl
    ? `The full report is in the job summary and the report artifact of ${ctx.runUrl}.`
    : undefined;
  const sinks: SinkLine[] = [];
  if (!client) sinks.push({ sink: 'GitHub', text: 'no github-token: no comment and no check runs' });

  // check runs
  let checksPosted = false;
  if (client && inputs.checkRuns !== 'none') {
    if (claims?.posted.checks) {
      sinks.push({ sink: 'check runs', text: 'already posted by the measuring run' });
      checksPosted = true;
      ledger.skip = true;
    } else {
      checksPosted = await postChecks(client, ctx, report, inputs, config, io, sinks, hint, ledger);
    }
  }

  // the sticky comment
  let commentUrl: string | undefined;
  let commentPosted = false;
  if (client && report && inputs.comment !== 'never') {
    const pr = claims?.posted.comment ? undefined : await pullRequestNumber(client, ctx, claims, io);
    if (claims?.posted.comment) {
      sinks.push({ sink: 'comment', text: 'already posted by the measuring run' });
      commentPosted = true;
    } else if (pr === undefined) {
      sinks.push({ sink: 'comment', text: 'no pull request for this run' });
    } else {
      const body = stickyBody(
        renderMarkdown(report, { ...view, ...(hint ? { fullReportHint: hint } : {}) }),
        ctx.workflow,
      );
      const authors = await commentAuthors(client, io);
      const r = await runSink(
        'comment',
        () =>
          upsertComment(client, { owner: ctx.owner, repo: ctx.repo, issue: pr }, body, {
            mode: inputs.comment,
            news: hasNews(report),
            workflow: ctx.workflow,
            authors,
          }),
        io.warn,
      );
      if (r.ok) {
        commentUrl = r.value.url;
        commentPosted = r.value.action !== 'skipped';
        sinks.push({
          sink: 'comment',
          text: r.value.reason ? `${r.value.action} (${r.value.reason})` : r.value.action,
          ...(r.value.url ? { url: r.value.url } : {}),
        });
        io.info(sanitizeForLog(`comment: ${r.value.action}${r.value.url ? ` ${r.value.url}` : ''}`));
      } else {
        sinks.push({ sink: 'comment', text: `not posted: ${r.reason}` });
      }
    }
  }

  // the job summary, always
  const summary = report
    ? summaryReport(report, view)
    : `### infeng perf\n\nNo report: ${escapeMarkdown(noReportReason(ctx))}.\n`;
  writeJobSummary(io.env.GITHUB_STEP_SUMMARY, jobSummary(summary, sinks));
  // report.md is budgeted for a comment and the summary for 1 MiB; this copy travels in the
  // artifact whole, however large
  if (report) atomicWrite(path.join(dir, FULL_REPORT_FILE), fullReport(report, view));

  const reportPath = path.join(dir, REPORT_FILE);
  for (const [name, value] of Object.entries(actionOutputs(report, reportPath, commentUrl))) {
    io.setOutput(name, value);
  }
  if (inputs.mode === 'gate') {
    const state: GitHubState = {
      schemaVersion: 1,
      repository: `${ctx.owner}/${ctx.repo}`,
      workflow: ctx.workflow,
      headSha: ctx.headSha,
      ...(ctx.pr ? { pr: ctx.pr.number } : {}),
      ...(io.env.GITHUB_RUN_ID ? { runId: io.env.GITHUB_RUN_ID } : {}),
      posted: { comment: commentPosted, checks: checksPosted },
    };
    writeState(dir, GITHUB_STATE, state);
  }
  return 0;
}

/**
 * In report mode the verdicts come from an artifact another workflow wrote: unreadable ones
 * mean "no report" (the checks then say so) rather than a crashed step that leaves them pending.
 */
function loadReport(dir: string, inputs: ActionInputs, io: ActionIO): VerdictReport | undefined {
  if (inputs.mode !== 'report') {
    // a verdicts.json an earlier run left behind must not be reported as this run's
    const { report, stale } = readCurrentVerdicts(dir, io.env);
    if (stale) io.warn(`report: ${stale}; reporting no verdicts`);
    return report;
  }
  try {
    return readVerdicts(dir);
  } catch (e) {
    io.warn(`report: the artifact's verdicts are unusable: ${sanitizeForLog((e as Error).message)}`);
    return undefined;
  }
}

/**
 * The history the compare step drew its charts from (trend-history.json), so the comment and
 * the summary carry the same charts. In report mode it comes from another run's artifact:
 * checked against its schema, and a file that fails is a warning and a report without charts.
 */
function loadTrendHistory(dir: string, io: ActionIO): Pick<ReportView, 'history'> {
  try {
    const data = readState<unknown>(dir, TREND_HISTORY_FILE);
    if (data === undefined) return {};
    const file = validateTrendHistory(data, path.join(dir, TREND_HISTORY_FILE));
    return { history: new Map(Object.entries(file.lanes)) };
  } catch (e) {
    io.warn(`report: no trend charts: ${sanitizeForLog((e as Error).message)}`);
    return {};
  }
}

function noReportReason(ctx: RunContext): string {
  const run = ctx.triggeringRun;
  return run
    ? `the ${run.name} run ended ${run.conclusion ?? 'without a conclusion'} and left no verdicts`
    : 'the compare step left no verdicts (an earlier step failed)';
}

async function postChecks(
  client: GitHubClient,
  ctx: RunContext,
  report: VerdictReport | undefined,
  inputs: ActionInputs,
  config: Config,
  io: ActionIO,
  sinks: SinkLine[],
  hint: string | undefined,
  ledger: CheckLedger,
): Promise<boolean> {
  const ids = ledger.started;
  if (ledger.forbidden && Object.keys(ids).length === 0) {
    sinks.push({ sink: 'check runs', text: 'not posted: the token cannot create check runs' });
    return false;
  }
  const selected = new Set(config.lanes);
  const plans = planChecks(report, {
    mode: inputs.checkRuns,
    notRun: report
      ? `not selected in this workflow (lanes: ${[...selected].join(', ')})`
      : noReportReason(ctx),
    locate: fileLocator(config.baselinesDir, config.root, report),
    ...(hint ? { fullReportHint: hint } : {}),
  });
  if (!report) {
    // without a report the gate could not judge: a required check must not pass silently
    for (const p of plans) p.conclusion = 'failure';
  }
  const target = {
    owner: ctx.owner,
    repo: ctx.repo,
    headSha: ctx.headSha,
    ...(ctx.runUrl ? { detailsUrl: ctx.runUrl } : {}),
  };
  for (const plan of plans) ledger.plans.set(plan.name, plan);
  let posted = 0;
  for (const plan of plans) {
    // a started check is completed in place even when the token cannot create new ones
    if (ledger.forbidden && ids[plan.name] === undefined) continue;
    const r = await runSink(
      `check ${plan.name}`,
      () => completeCheck(client, target, plan, ids[plan.name], io.now()),
      io.warn,
    );
    if (r.ok) {
      posted++;
      ledger.completed.add(plan.name);
    } else if (r.forbidden) {
      ledger.forbidden = true; // the next new ones would be refused the same way
    }
  }
  sinks.push({
    sink: 'check runs',
    text: `${posted} of ${plans.length} completed on ${ctx.headSha.slice(0, 12)}`,
  });
  io.info(`check runs: ${posted} of ${plans.length} completed on ${ctx.headSha}`);
  return posted === plans.length;
}

/**
 * The PR to comment on. Under pull_request it is the event's; under workflow_run GitHub lists
 * it for same-repository PRs only, so for a fork the artifact's claim is checked against the
 * API: the PR's head must be the commit the run measured.
 */
async function pullRequestNumber(
  client: GitHubClient,
  ctx: RunContext,
  claims: GitHubState | undefined,
  io: ActionIO,
): Promise<number | undefined> {
  if (ctx.pr) return ctx.pr.number;
  const run = ctx.triggeringRun;
  if (!run) return undefined;
  if (run.prNumbers[0] !== undefined) return run.prNumbers[0];
  const claimed = claims?.pr;
  if (typeof claimed !== 'number' || !Number.isInteger(claimed) || claimed <= 0) return undefined;
  try {
    const { data } = await client.rest.pulls.get({ owner: ctx.owner, repo: ctx.repo, pull_number: claimed });
    if (data.head.sha === run.headSha) return claimed;
    io.warn(
      sanitizeForLog(
        `comment: the report artifact names pull request #${claimed}, whose head ${data.head.sha.slice(0, 12)} is not the measured commit ${run.headSha.slice(0, 12)}; not commenting`,
      ),
    );
  } catch (e) {
    io.warn(`comment: cannot read pull request #${claimed}: ${describeApiError(e)}`);
  }
  return undefined;
}

/**
 * Whose comments count as ours: the token's own login. GraphQL's `viewer` answers for every
 * kind of token: GITHUB_TOKEN, a GitHub App's installation token (which comments as
 * "<app-slug>[bot]", and, like GITHUB_TOKEN, may not read REST /user) and a personal token.
 * github-actions[bot] always counts, so a run whose lookup fails still finds the comment a
 * GITHUB_TOKEN run wrote.
 */
async function commentAuthors(client: GitHubClient, io: ActionIO): Promise<string[]> {
  try {
    const { viewer } = await client.graphql<{ viewer: { login: string } }>('query { viewer { login } }');
    if (viewer.login && viewer.login !== ACTIONS_BOT) return [viewer.login, ACTIONS_BOT];
  } catch (e) {
    io.warn(`comment: cannot look up the token's login, assuming ${ACTIONS_BOT}: ${describeApiError(e)}`);
  }
  return [ACTIONS_BOT];
}

/**
 * The last word on the checks: every check this step was to complete and did not (the renderer
 * threw, a call failed through its retries) is completed now. With its plan when there is one,
 * without annotations (the likeliest reason for a refusal); else as a failure with the reason
 * when the lane was started or selected (the gate could not vouch for it) and as neutral when
 * it was not selected. Never throws: it runs in a `finally`.
 */
async function completeUnfinished(
  client: GitHubClient,
  ctx: RunContext,
  ledger: CheckLedger,
  inputs: ActionInputs,
  config: Config,
  io: ActionIO,
  failure: string | undefined,
): Promise<void> {
  const names = new Set([
    ...(ledger.skip ? [] : checkNames(inputs.checkRuns)),
    ...Object.keys(ledger.started),
  ]);
  const target = {
    owner: ctx.owner,
    repo: ctx.repo,
    headSha: ctx.headSha,
    ...(ctx.runUrl ? { detailsUrl: ctx.runUrl } : {}),
  };
  const selected = new Set<string>(config.lanes.map((l) => CHECK_NAMES[l]));
  for (const name of names) {
    if (ledger.completed.has(name)) continue;
    const id = ledger.started[name];
    if (ledger.forbidden && id === undefined) continue;
    const planned = ledger.plans.get(name);
    const plan: CheckPlan = planned
      ? { ...planned, annotations: [] }
      : fallbackPlan(name, inputs, id !== undefined || selected.has(name) || !isLaneCheck(name), failure);
    try {
      await completeCheck(client, target, plan, id, io.now());
      ledger.completed.add(name);
    } catch (e) {
      io.warn(`check ${name}: still not completed: ${describeApiError(e)}`);
    }
  }
}

function isLaneCheck(name: string): boolean {
  return LANES.some((l) => CHECK_NAMES[l] === name);
}

function fallbackPlan(
  name: string,
  inputs: ActionInputs,
  ranOrSelected: boolean,
  failure: string | undefined,
): CheckPlan {
  const reason = failure ?? 'the report step could not post this check';
  // report mode cannot tell which lanes the measuring run selected: it fails them all
  if (ranOrSelected || inputs.mode === 'report') {
    return { name, conclusion: 'failure', ...renderUnfinishedCheck(name, reason), annotations: [] };
  }
  return {
    name,
    conclusion: 'neutral',
    ...renderUnfinishedCheck(name, `not run: not selected in this workflow; ${reason}`),
    annotations: [],
  };
}
