// GitHub counts most of its size limits in UTF-8 bytes (a check run's summary, the job
// summary), not characters: a case name in CJK is three bytes a character, an emoji four.
// These helpers measure and cut text the way GitHub will count it.
import { Buffer } from 'node:buffer';

export function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/**
 * `text` cut to at most `maxBytes` UTF-8 bytes, never inside a character (a surrogate pair
 * stays whole), ending in `tail` when cut.
 */
export function clipUtf8(text: string, maxBytes: number, tail = '…'): string {
  if (utf8Length(text) <= maxBytes) return text;
  const room = Math.max(0, maxBytes - utf8Length(tail));
  let used = 0;
  let end = 0;
  for (const ch of text) {
    const size = utf8Length(ch);
    if (used + size > room) break;
    used += size;
    end += ch.length;
  }
  return `${text.slice(0, end)}${tail}`;
}
