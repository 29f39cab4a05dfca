// Text from artifacts, results files and API messages goes into the job log, which the runner
// scans for workflow commands and a terminal renders with its escape sequences.
import { describe, expect, it } from 'vitest';
import { sanitizeForLog } from '../src/io/log-safe.js';

describe('sanitizeForLog', () => {
  it('keeps ordinary text as it is', () => {
    expect(sanitizeForLog('gemm: decode/M1/H4096/r16 base_gflops 12.5 → 11.0 (−12 %)')).toBe(
      'gemm: decode/M1/H4096/r16 base_gflops 12.5 → 11.0 (−12 %)',
    );
    expect(sanitizeForLog('a\tb')).toBe('a\tb');
    expect(sanitizeForLog('std::vector')).toBe('std::vector');
  });

  it('makes one line of any text', () => {
    expect(sanitizeForLog('a\nb\r\nc\rd\u2028e\u0085f')).toBe('a b c d e f');
  });

  it('drops control characters: ESC, BEL, CSI and the rest of C0 and C1', () => {
    expect(sanitizeForLog('\u001b[31mred\u001b[0m \u001b]8;;http://x\u0007link\u009b2J\u0000')).toBe(
      '[31mred[0m ]8;;http://xlink2J',
    );
  });

  it('no workflow command can start, in either form', () => {
    for (const text of [
      '::add-mask::x',
      '  ::error::x',
      '\n::set-output name=a::b',
      '\r::stop-commands::t',
    ]) {
      expect(sanitizeForLog(text)).not.toMatch(/^\s*::/);
    }
    expect(sanitizeForLog('x ##[error]y ##[set-env name=A]b')).not.toContain('##[');
  });
});
