// The report step: from verdicts.json to every place a team looks. Order matters only for
// the job summary, which is written last so it can say what happened to the other sinks.
//
// mode: gate    this run measured; it posts what its token allows and records what it could
//               not in github.json, which travels in the report artifact.
// mode: report  a workflow_run workflow with a write token; reportsDir is the downloaded
//               artifact. It trusts only data from it: the commit comes from the event, and
//               the PR number the artifact claims is used only when that PR's head is the
//               event's head commit, so a fork cannot aim the comment at another pull request.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import type { VerdictReport } from '../model/verdicts.js';
import { renderMarkdown } from '../report/render.js';
import { escapeMarkdown } from '../report/escape.js';
import { REPORT_FILE } from '../pipeline.js';
import { resolveContext, type RunContext } from '../github/context.js';
import { createClient, type GitHubClient } from '../github/client.js';
import { describeApiError } from '../github/errors.js';
import { planChecks } from '../sinks/check-plan.js';
import { completeCheck } from '../sinks/checks.js';
import { ACTIONS_BOT, hasNews, stickyBody, upsertComment } from '../sinks/comment.js';
import { fileLocator } from '../sinks/locate.js';
import { runSink } from '../sinks/policy.js';
import { jobSummary, writeJobSummary, type SinkLine } from '../sinks/summary.js';
import { actionOutputs } from '../sinks/outputs.js';
import type { ActionInputs } from './inputs.js';
import type { ActionIO } from './phases.js';
import {
  CHECKS_STATE,
  GITHUB_STATE,
  readEvent,
  readState,
  readVerdicts,
  writeState,
  type ChecksState,
  type GitHubState,
} from './state.js';

export const FULL_REPORT_FILE = 'report-full.md';

/** The step summary takes up to 1 MiB: room for the whole report. */
const SUMMARY_MAX_CHARS = 900_000;

export async function reportPhase(inputs: ActionInputs, config: Config, io: ActionIO): Promise<number> {
  const dir = config.reportsDir;
  const report = loadReport(dir, inputs, io);
  const ctx = resolveContext(io.env, readEvent(io.env));
  const claims = inputs.mode === 'report' ? readState<GitHubState>(dir, GITHUB_STATE) : undefined;
  const hint = ctx.runUrl
    ? `The full report is in the job summary and the report artifact of ${ctx.runUrl}.`
    : undefined;
  const sinks: SinkLine[] = [];
  const client = inputs.token
    ? createClient({ token: inputs.token, apiUrl: io.env.GITHUB_API_URL, warn: io.warn })
    : undefined;
  if (!client) sinks.push({ sink: 'GitHub', text: 'no github-token: no comment and no check runs' });

  // check runs
  let checksPosted = false;
  if (client && inputs.checkRuns !== 'none') {
    if (claims?.posted.checks) {
      sinks.push({ sink: 'check runs', text: 'already posted by the measuring run' });
      checksPosted = true;
    } else {
      checksPosted = await postChecks(client, ctx, report, inputs, config, io, sinks, hint);
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
      const body = stickyBody(renderMarkdown(report, hint ? { fullReportHint: hint } : {}), ctx.workflow);
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
        io.info(`comment: ${r.value.action}${r.value.url ? ` ${r.value.url}` : ''}`);
      } else {
        sinks.push({ sink: 'comment', text: `not posted: ${r.reason}` });
      }
    }
  }

  // the job summary, always
  const summary = report
    ? renderMarkdown(report, { maxChars: SUMMARY_MAX_CHARS })
    : `### infeng perf\n\nNo report: ${escapeMarkdown(noReportReason(ctx))}.\n`;
  writeJobSummary(io.env.GITHUB_STEP_SUMMARY, jobSummary(summary, sinks));
  // report.md is budgeted for a comment; this copy travels in the artifact whole
  if (report) writeFileSync(path.join(dir, FULL_REPORT_FILE), summary);

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
  if (inputs.mode !== 'report') return readVerdicts(dir);
  try {
    return readVerdicts(dir);
  } catch (e) {
    io.warn(`report: the artifact's verdicts are unusable: ${(e as Error).message}`);
    return undefined;
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
): Promise<boolean> {
  const started =
    inputs.mode === 'gate' ? readState<ChecksState>(config.reportsDir, CHECKS_STATE) : undefined;
  if (started?.forbidden) {
    sinks.push({ sink: 'check runs', text: 'not posted: the token cannot create check runs' });
    return false;
  }
  // ids from another commit (a re-run on a new push reusing the directory) are not ours
  const ids = started && started.headSha === ctx.headSha ? started.ids : {};
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
  let posted = 0;
  for (const plan of plans) {
    const r = await runSink(
      `check ${plan.name}`,
      () => completeCheck(client, target, plan, ids[plan.name], io.now()),
      io.warn,
    );
    if (r.ok) posted++;
    else if (r.forbidden) break; // the next ones would be refused the same way
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
      `comment: the report artifact names pull request #${claimed}, whose head ${data.head.sha.slice(0, 12)} is not the measured commit ${run.headSha.slice(0, 12)}; not commenting`,
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
