// Case ids, metric names, CPU names and error messages are user-controlled: in a PR comment
// they must not break the table, render HTML, open code spans or notify anyone.
import { describe, expect, it } from 'vitest';
import { codeBlock, escapeMarkdown, plainText } from '../src/report/escape.js';

describe('escapeMarkdown', () => {
  it('escapes every pipe, so a cell cannot split', () => {
    expect(escapeMarkdown('a|b||c')).toBe('a&#124;b&#124;&#124;c');
    // a backslash in the input cannot re-enable the pipe
    expect(escapeMarkdown('a\\|b')).toBe('a&#92;&#124;b');
  });

  it('neutralises backticks, HTML and links', () => {
    expect(escapeMarkdown('`rm -rf`')).toBe('&#96;rm -rf&#96;');
    expect(escapeMarkdown('<img src=x onerror=alert(1)>')).toBe('&lt;img src=x onerror=alert(1)&gt;');
    expect(escapeMarkdown('[click](https://evil.example)')).toBe('&#91;click&#93;(https://evil.example)');
    expect(escapeMarkdown('a & b')).toBe('a &amp; b');
    expect(escapeMarkdown('&lt;')).toBe('&amp;lt;');
  });

  it('breaks @mentions without hiding them', () => {
    const out = escapeMarkdown('ping @org/team and @user');
    expect(out).toBe('ping @\u200dorg/team and @\u200duser');
    expect(out).not.toMatch(/@[A-Za-z]/);
    expect(escapeMarkdown('a@b.c')).toBe('a@\u200db.c');
    expect(escapeMarkdown('50 @ 3 GHz')).toBe('50 @ 3 GHz');
  });

  it('keeps a cell on one line and drops control characters', () => {
    expect(escapeMarkdown('line1\nline2\r\nline3\tx')).toBe('line1 line2 line3 x');
    expect(escapeMarkdown('red\u001b[31m')).toBe('red&#91;31m');
  });

  it('escapes emphasis but leaves intraword underscores and ordinary ids alone', () => {
    expect(escapeMarkdown('base_gflops')).toBe('base_gflops');
    expect(escapeMarkdown('decode/M1/H4096/r16')).toBe('decode/M1/H4096/r16');
    expect(escapeMarkdown('_x_ **y** ~~z~~')).toBe(
      '&#95;x&#95; &#42;&#42;y&#42;&#42; &#126;&#126;z&#126;&#126;',
    );
  });
});

describe('codeBlock', () => {
  it('uses a fence longer than any backtick run in the text', () => {
    const block = codeBlock('a ``` b\n````\nc');
    expect(block.startsWith('`````text\n')).toBe(true);
    expect(block.endsWith('\n`````')).toBe(true);
  });

  it('keeps lines but not control characters', () => {
    expect(codeBlock('x\r\ny\u001b[0m')).toBe('```text\nx\ny[0m\n```');
  });
});

describe('plainText', () => {
  it('strips terminal escape sequences and newlines', () => {
    expect(plainText('ok\u001b]0;title\u0007\nnext')).toBe('ok]0;title next');
  });
});
