// Escaping of user-controlled text (case ids, metric names, error messages, CPU names) before
// it enters the Markdown of a PR comment, check run or job summary.
//
// The threats: a `|` splits a table cell and shifts every column after it; backticks open code
// spans that swallow the rest of the row; HTML (`<img src=…>`, `<details>`) renders or breaks
// the layout; `[text](url)` and emphasis change what is shown; `@org/team` notifies people;
// a newline ends the table row. Characters are replaced with HTML entities rather than
// backslash escapes, because entities are decoded only after the table is split into cells
// and cannot be undone by a preceding backslash in the input.

import { sanitizeForLog } from '../io/log-safe.js';

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '|': '&#124;',
  '`': '&#96;',
  '\\': '&#92;',
  '[': '&#91;',
  ']': '&#93;',
  '*': '&#42;',
  '~': '&#126;',
};

/** U+200D: keeps "@org/team" readable while GitHub no longer sees a mention. */
const ZWJ = '\u200d';

/** Text safe inside a Markdown table cell or a line of prose; always a single line. */
export function escapeMarkdown(text: string): string {
  return (
    text
      .replace(/\r\n|[\r\n\t\v\f\u2028\u2029]/g, ' ')
      // other control characters (including ESC) carry nothing worth showing
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u001f\u007f]/g, '')
      .replace(/[&<>|`\\[\]*~]/g, (ch) => ENTITIES[ch] ?? ch)
      // underscores emphasise only at word edges (GFM); intraword ones, as in base_gflops, stay
      .replace(/(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])/g, '&#95;')
      .replace(/@(?=[A-Za-z0-9_-])/g, `@${ZWJ}`)
  );
}

/**
 * A fenced code block for multi-line text such as a lane's stderr: inside it nothing renders
 * (no HTML, no mentions), and the fence is longer than any backtick run in the text, so the
 * text cannot close it.
 */
export function codeBlock(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  // eslint-disable-next-line no-control-regex
  const body = text.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '');
  return `${fence}text\n${body}\n${fence}`;
}

/**
 * Text for a terminal and the job log: one line, no control characters (no escape sequences
 * from the input), no workflow command (see io/log-safe.ts); tabs become spaces.
 */
export function plainText(text: string): string {
  return sanitizeForLog(text.replace(/\t/g, ' '));
}
