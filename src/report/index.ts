// The report stage's public surface: rendering for the sinks and the terminal.
export {
  renderMarkdown,
  renderTerminal,
  REPORT_MARKER,
  DEFAULT_MAX_CHARS,
  type RenderOptions,
} from './render.js';
export { escapeMarkdown, codeBlock, plainText } from './escape.js';
