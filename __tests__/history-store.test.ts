// The history store: records from a run, appends that keep what was there, and reads that
// survive a damaged line or a missing file.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  appendHistory,
  appendRecordsToText,
  historyFile,
  parseHistory,
  readHistory,
  recordsFromResults,
  validateHistoryRecord,
} from '../src/history/store.js';
import { classKey, classOfRun } from '../src/model/machine-class.js';
import type { HistoryRecord } from '../src/model/history.js';
import { gemmCase, lane, machine, metric, run } from './fixtures/compare/build.js';

function tmp(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'infeng-history-'));
}

function record(
  commit: string,
  lane = 'gemm',
  key = 'amd-epyc-7763-64-core-processor_4c_avx2_clang17',
): HistoryRecord {
  return {
    schemaVersion: 1,
    commit,
    time: '2025-03-20T12:00:00Z',
    classKey: key,
    lane,
    profile: 'quick',
    path: 'avx2',
    cases: {
      'decode/M1/H4096/r16': {
        gflops: { unit: 'GFLOP/s', better: 'higher', median: 100, spread: 0.01, n: 10 },
      },
    },
  };
}

describe('recordsFromResults', () => {
  it('gives one record per lane that ran, keyed by the class of the machine and the lane path', () => {
    const results = run([
      lane('gemm', [
        gemmCase('decode/M1/H4096/r16', [metric('gflops', [10, 11, 12, 13]), metric('broken', [1, NaN])]),
        gemmCase('decode/M1/H4096/r32', [metric('gflops', [1])], 'crashed'),
      ]),
      lane('tokenizer', [], { status: 'error', error: { step: 'run', message: 'boom' } }),
      lane(
        'attn-decode',
        [gemmCase('decode/M1/H64/r1', [metric('us', [5, 5, 5], { unit: 'us', better: 'lower' })])],
        {
          path: 'avx512',
        },
      ),
    ]);
    const records = recordsFromResults(results);
    expect(records.map((r) => r.lane)).toEqual(['gemm', 'attn-decode']);
    const [gemm, attn] = records as [HistoryRecord, HistoryRecord];
    expect(gemm.classKey).toBe(classKey(classOfRun(machine(), 'avx2')));
    expect(attn.classKey).toBe(classKey(classOfRun(machine(), 'avx512')));
    expect(gemm.commit).toBe('c0ffee0');
    expect(gemm.profile).toBe('quick');
    expect(Object.keys(gemm.cases)).toEqual(['decode/M1/H4096/r16']);
    expect(gemm.cases['decode/M1/H4096/r16']).toEqual({
      gflops: { unit: 'GFLOP/s', better: 'higher', median: 11.5, spread: 1.5 / 11.5, n: 4 },
    });
    expect(attn.cases['decode/M1/H64/r1']?.us).toMatchObject({ better: 'lower', median: 5, spread: 0, n: 3 });
    for (const r of records) expect(validateHistoryRecord(r, 'x')).toBe(r);
  });

  it('gives nothing for a lane whose every case failed', () => {
    const results = run([
      lane('gemm', [gemmCase('decode/M1/H4096/r16', [metric('gflops', [1])], 'crashed')]),
    ]);
    expect(recordsFromResults(results)).toEqual([]);
  });
});

describe('appendHistory', () => {
  it('writes <dir>/<classKey>.jsonl, one line per record, and appends to what is there', () => {
    const dir = tmp();
    const files = appendHistory(dir, [record('a1'), record('a2', 'tokenizer')]);
    expect(files).toEqual([historyFile(dir, record('x').classKey)]);
    appendHistory(dir, [record('a3')]);
    const lines = readFileSync(files[0] as string, 'utf8')
      .trimEnd()
      .split('\n');
    expect(lines.map((l) => (JSON.parse(l) as HistoryRecord).commit)).toEqual(['a1', 'a2', 'a3']);
    expect(readdirSync(dir)).toEqual([path.basename(files[0] as string)]); // no temporary file left
  });

  it('keeps one file per machine class', () => {
    const dir = tmp();
    const files = appendHistory(dir, [record('a1', 'gemm', 'k2'), record('a1', 'gemm', 'k1')]);
    expect(files.map((f) => path.basename(f))).toEqual(['k1.jsonl', 'k2.jsonl']);
  });

  it('refuses a malformed record and writes nothing', () => {
    const dir = tmp();
    const bad = { ...record('a1'), classKey: '../escape' };
    expect(() => appendHistory(dir, [record('a0'), bad])).toThrow(/classKey/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('puts a hand-edited last line without its newline on a line of its own', () => {
    expect(appendRecordsToText('{"x":1}', [record('a1')]).split('\n')[0]).toBe('{"x":1}');
    expect(appendRecordsToText('', [record('a1')])).toBe(`${JSON.stringify(record('a1'))}\n`);
  });
});

describe('readHistory', () => {
  it('reads the lane oldest first and keeps the last N', () => {
    const dir = tmp();
    appendHistory(
      dir,
      ['a', 'b', 'c', 'd'].map((c) => record(c)),
    );
    appendHistory(dir, [record('t1', 'tokenizer')]);
    const key = record('x').classKey;
    expect(readHistory(dir, key, 'gemm').records.map((r) => r.commit)).toEqual(['a', 'b', 'c', 'd']);
    expect(readHistory(dir, key, 'gemm', { last: 2 }).records.map((r) => r.commit)).toEqual(['c', 'd']);
    expect(readHistory(dir, key, 'gemm', { last: 0 }).records).toEqual([]);
    expect(readHistory(dir, key, 'tokenizer').records.map((r) => r.commit)).toEqual(['t1']);
    expect(readHistory(dir, key, 'gemm').notes).toEqual([]);
  });

  it('filters by profile when asked', () => {
    const dir = tmp();
    appendHistory(dir, [record('a'), { ...record('b'), profile: 'full' }]);
    const got = readHistory(dir, record('x').classKey, 'gemm', { profile: 'full' });
    expect(got.records.map((r) => r.commit)).toEqual(['b']);
  });

  it('skips a damaged line and names the file and the line', () => {
    const dir = tmp();
    const key = record('x').classKey;
    const file = historyFile(dir, key);
    const broken = { ...record('c'), cases: { x: { gflops: { median: 'fast' } } } };
    writeFileSync(
      file,
      [
        JSON.stringify(record('a')),
        '{"schemaVersion":1,"commit":"b", trunc',
        '',
        JSON.stringify(broken),
        JSON.stringify(record('d', 'gemm', 'other')),
        JSON.stringify(record('e')),
      ].join('\n'),
    );
    const got = readHistory(dir, key, 'gemm');
    expect(got.records.map((r) => r.commit)).toEqual(['a', 'e']);
    expect(got.notes).toHaveLength(3);
    expect(got.notes[0]).toBe(`${file} line 2: not JSON, skipped`);
    expect(got.notes[1]).toContain(`${file} line 4: `);
    expect(got.notes[1]).toContain('cases.x.gflops');
    expect(got.notes[2]).toContain(`${file} line 5: a record of class "other"`);
  });

  it('is empty with a note when the class has no history yet', () => {
    const dir = tmp();
    const got = readHistory(dir, 'nobody_1c_avx2_clang17', 'gemm');
    expect(got.records).toEqual([]);
    expect(got.notes).toEqual([
      `${historyFile(dir, 'nobody_1c_avx2_clang17')}: no history yet for nobody_1c_avx2_clang17`,
    ]);
  });

  it('parses text from elsewhere (a branch) the same way', () => {
    const text = `${JSON.stringify(record('a'))}\nnot json\n`;
    const got = parseHistory(text, 'k.jsonl', record('x').classKey, 'gemm');
    expect(got.records).toHaveLength(1);
    expect(got.notes).toEqual(['k.jsonl line 2: not JSON, skipped']);
  });
});
