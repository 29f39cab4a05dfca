// The job summary: written on every run, whatever the token may do, so the report is always
// one click from the run, fork or not. A footer says where else the report went, or why not.
//
// GitHub takes up to 1 MiB (1,048,576 bytes) of summary per step and shows none of a larger
// one, so the report is budgeted in UTF-8 bytes with room left for the footer, whose lines are
// capped. report-full.md, in the artifact, is the report with no budget at all.
import { appendFileSync } from 'node:fs';
import type { VerdictReport } from '../model/verdicts.js';
import { clipUtf8 } from '../report/bytes.js';
import { escapeMarkdown } from '../report/escape.js';
import { renderMarkdown, type RenderOptions } from '../report/render.js';

/** What shapes the report besides its verdicts: the history for the charts, charts on or off. */
export type ReportView = Pick<RenderOptions, 'history' | 'charts' | 'showIncomparable'>;

/** GitHub's limit on one step's summary. */
export const JOB_SUMMARY_MAX_BYTES = 1_048_576;
/** Each footer line's text at most; a few sinks, so the footer stays well within its room. */
const SINK_TEXT_MAX_BYTES = 2_000;
const FOOTER_ROOM_BYTES = 32_768;

/** The report as the job summary shows it: within 1 MiB with its footer. */
export function summaryReport(report: VerdictReport, view: ReportView = {}): string {
  return renderMarkdown(report, { ...view, maxBytes: JOB_SUMMARY_MAX_BYTES - FOOTER_ROOM_BYTES });
}

/** report-full.md: every row, never shortened. */
export function fullReport(report: VerdictReport, view: ReportView = {}): string {
  return renderMarkdown(report, { ...view, maxChars: Infinity });
}

export interface SinkLine {
  sink: string;
  /** what happened, e.g. "created", "updated", or the warning */
  text: string;
  url?: string;
}

/** Pure: the report plus one line per sink. */
export function jobSummary(markdown: string, sinks: readonly SinkLine[]): string {
  if (sinks.length === 0) return markdown;
  const lines = sinks.map(
    (s) =>
      `- ${escapeMarkdown(s.sink)}: ${clipUtf8(escapeMarkdown(s.text), SINK_TEXT_MAX_BYTES)}${s.url ? ` ([link](${clipUtf8(linkTarget(s.url), SINK_TEXT_MAX_BYTES, '')}))` : ''}`,
  );
  return `${markdown.trimEnd()}\n\n<sub>Reporting</sub>\n\n${lines.join('\n')}\n`;
}

/** A URL as a link target: percent-encoded, parentheses too, so it cannot end the link early. */
function linkTarget(url: string): string {
  return encodeURI(url).replace(/\(/g, '%28').replace(/\)/g, '%29');
}

/** Appends to GITHUB_STEP_SUMMARY; false when there is none (a local run). */
export function writeJobSummary(file: string | undefined, text: string): boolean {
  if (!file) return false;
  appendFileSync(file, text.endsWith('\n') ? text : `${text}\n`);
  return true;
}
