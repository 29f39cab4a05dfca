// Text from outside this program on its way into the job log: an artifact's or a results
// file's strings, a JSON parser's echo of such a file, GitHub's error messages.
//
// The runner reads every line of a step's stdout and stderr for workflow commands: a line that
// starts with `::` (after leading spaces) is one (`::add-mask::`, `::error::`,
// `::stop-commands::`), and the older `##[command]` form is found anywhere in a line. A
// terminal also obeys escape sequences (ESC, and the C1 CSI): they can rewrite what the log
// shows. So such text becomes one line, without control characters, and neither command form
// survives: a zero-width space goes between the two characters that start one.

const ZWSP = '\u200b';

export function sanitizeForLog(text: string): string {
  return (
    text
      .replace(/\r\n|[\r\n\v\f\u0085\u2028\u2029]/g, ' ')
      // C0 but tab, DEL, C1 (ESC, CSI, OSC, …): nothing a log line needs
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g, '')
      .replace(/^(\s*):(?=:)/, `$1:${ZWSP}`)
      .replace(/##\[/g, `#${ZWSP}#[`)
  );
}
