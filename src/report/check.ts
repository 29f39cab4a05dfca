// Check run text for one lane: the same Markdown as the PR comment, narrowed to that lane, so
// a reviewer who opens `gemm-perf` sees its changes, gates and notes and nothing else.
// Pure, like the rest of the report stage; it reuses renderMarkdown rather than a second
// renderer so both places escape and budget text the same way.
import { emptyCounts, isFailing } from '../model/verdicts.js';
import type { LaneVerdicts, VerdictReport } from '../model/verdicts.js';
import { REPORT_MARKER, renderMarkdown } from './render.js';
import { clipUtf8 } from './bytes.js';
import { escapeMarkdown, plainText } from './escape.js';

/** GitHub's limit for `output.summary` (and `output.text`): 65,535 bytes of UTF-8. */
export const CHECK_SUMMARY_MAX = 65_535;
/** Room under the limit for what is said around a reason: the check's name and a sentence. */
const REASON_MAX_BYTES = CHECK_SUMMARY_MAX - 1_000;
/** Titles show in one line of the checks list; longer ones are cut. */
const TITLE_MAX = 200;

export interface CheckText {
  title: string;
  summary: string;
}

/** The report as if only this lane had run. */
export function laneReport(report: VerdictReport, lane: LaneVerdicts): VerdictReport {
  const counts = emptyCounts();
  for (const v of lane.verdicts) counts[v.state]++;
  return {
    ...report,
    lanes: [lane],
    counts,
    conclusion: lane.verdicts.some(isFailing) ? 'failure' : 'success',
    // compare prefixes its notes with the lane they are about; a configuration problem
    // without a lane (a baselines directory that does not exist) is every lane's
    notes: report.notes.filter((n) => n.startsWith(`${lane.lane}:`) || n.startsWith('configuration:')),
  };
}

export function renderLaneCheck(
  report: VerdictReport,
  lane: LaneVerdicts,
  options: { fullReportHint?: string } = {},
): CheckText {
  const markdown = renderMarkdown(laneReport(report, lane), {
    maxBytes: CHECK_SUMMARY_MAX - 100,
    ...(options.fullReportHint ? { fullReportHint: options.fullReportHint } : {}),
  });
  return { title: checkTitle(lane.summary), summary: withoutMarker(markdown) };
}

/** The whole report as one check (check-runs: single). */
export function renderReportCheck(
  report: VerdictReport,
  options: { fullReportHint?: string } = {},
): CheckText {
  const markdown = renderMarkdown(report, {
    maxBytes: CHECK_SUMMARY_MAX - 100,
    ...(options.fullReportHint ? { fullReportHint: options.fullReportHint } : {}),
  });
  const failing = report.lanes.flatMap((l) => l.verdicts).filter(isFailing).length;
  const title =
    report.conclusion === 'failure'
      ? `${failing} failing across ${report.lanes.length} lanes`
      : `${report.lanes.length} lanes pass`;
  return { title: checkTitle(title), summary: withoutMarker(markdown) };
}

/** A lane that has no verdicts in this report: its check completes neutral with the reason. */
export function renderNotRunCheck(check: string, reason: string): CheckText {
  return {
    title: checkTitle(`not run: ${reason}`),
    summary: `**${escapeMarkdown(check)}** did not run: ${clipUtf8(escapeMarkdown(reason), REASON_MAX_BYTES)}.\n\nA check that is required in branch protection completes as neutral so it never stays pending.`,
  };
}

/**
 * A check the report step could not complete the usual way (its renderer threw, or posting
 * failed through the retries): it completes anyway, saying why, so it never stays pending.
 */
export function renderUnfinishedCheck(check: string, reason: string): CheckText {
  return {
    title: checkTitle(reason),
    summary: `**${escapeMarkdown(check)}**: ${clipUtf8(escapeMarkdown(reason), REASON_MAX_BYTES)}.\n\nThe job summary and the report artifact of the run have whatever report it produced.`,
  };
}

function checkTitle(text: string): string {
  const line = plainText(text);
  return line.length > TITLE_MAX ? `${line.slice(0, TITLE_MAX - 1)}…` : line;
}

/** The comment marker finds the sticky comment; in a check run it is only noise. */
function withoutMarker(markdown: string): string {
  return markdown.startsWith(`${REPORT_MARKER}\n`) ? markdown.slice(REPORT_MARKER.length + 1) : markdown;
}
