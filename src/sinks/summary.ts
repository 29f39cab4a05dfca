// The job summary: written on every run, whatever the token may do, so the report is always
// one click from the run, fork or not. A footer says where else the report went, or why not.
import { appendFileSync } from 'node:fs';
import { escapeMarkdown } from '../report/escape.js';

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
      `- ${escapeMarkdown(s.sink)}: ${escapeMarkdown(s.text)}${s.url ? ` ([link](${linkTarget(s.url)}))` : ''}`,
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
