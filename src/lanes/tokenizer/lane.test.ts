// The tokenizer lane end to end on the smoke profile (the real child process, addon and
// reference), its report files, and its parsing of the child's output, including a parity
// failure turning into a case error that the parity gate fails on.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { tokenizerLane, tokenizerResultFromJson, type ChildOutput } from '../../lanes/tokenizer/lane.js';
import { TOKENIZER_HF_CSV_COLUMNS, tokenizerCsvColumns } from '../../lanes/tokenizer/reports.js';
import { tokenizeToJson } from '../../commands/tokenize.js';
import { loadAddon, tokenizerFile } from '../../lanes/tokenizer/setup.js';

const root = path.resolve(__dirname, '..', '..', '..');
const buildDir = path.join(root, 'build', 'native', 'release');

function childOutput(mismatches: number): string {
  const reps = (x: number) => [x, x * 1.01, x * 0.99];
  const out: ChildOutput = {
    context: { host_path: 'avx2', reference: 'tokenizers 0.23.2', cores: 2, threads: '1,2' },
    models: [
      {
        name: 'llama3',
        file: '/x/tokenizer.json',
        family: 'byte-level-bpe',
        texts: 7,
        bytes: 1000,
        tokens: 300,
        batch_texts: 20,
        batch_bytes: 1000,
        batch_tokens: 300,
        parity_mismatches: mismatches,
        parity_first: mismatches ? ['prose.txt'] : [],
        samples: {
          native_mb_s: reps(100),
          hf_mb_s: reps(5),
          native_tokens_s: reps(3e7),
          hf_tokens_s: reps(1.5e6),
          speedup_vs_hf: reps(20),
          hf_batch_mb_s: reps(8),
          batch_speedup_vs_hf: reps(20),
          prefix_speedup: reps(1.5),
          batch_mb_s_t1: reps(100),
          batch_mb_s_t2: reps(195),
          batch_tokens_s_t1: reps(3e7),
          batch_tokens_s_t2: reps(6e7),
          batch_scaling_2t: reps(1.95),
        },
        prefix: { k: 1024, entries: 64, hits: 63, lookups: 64 },
      },
    ],
  };
  return JSON.stringify(out);
}

describe('tokenizer lane output parsing', () => {
  it('turns samples into metrics with medians, the host path and the planned cases', () => {
    const r = tokenizerResultFromJson(childOutput(0), ['llama3', 'qwen3'], [1, 2]);
    expect(r.path).toBe('avx2');
    const c = r.cases.find((x) => x.id === 'llama3')!;
    expect(c.error).toBeUndefined();
    const speedup = c.metrics.find((m) => m.name === 'speedup_vs_hf')!;
    expect(speedup).toMatchObject({ value: 20, kind: 'same-run', better: 'higher', unit: '×' });
    expect(c.metrics.find((m) => m.name === 'prefix_hit_rate_pct')?.value).toBeCloseTo(98.4375);
    expect(c.metrics.find((m) => m.name === 'parity_mismatches')?.value).toBe(0);
    expect(r.cases.find((x) => x.id === 'qwen3')?.error).toMatch(/did not report/);
  });

  it('a parity mismatch is a case error and a metric the parity gate fails on', () => {
    const r = tokenizerResultFromJson(childOutput(2), ['llama3'], [1, 2]);
    expect(r.cases[0]?.error).toMatch(/differ from the reference on 2 check\(s\), first: prose.txt/);
    expect(r.cases[0]?.metrics.find((m) => m.name === 'parity_mismatches')?.value).toBe(2);
  });

  it('malformed output is an error', () => {
    expect(() => tokenizerResultFromJson('{"x":1}', [], [1])).toThrow(/not the tokenizer lane child output/);
  });
});

describe('tokenizer lane on the smoke profile', () => {
  it('measures native against the reference with parity, and writes both CSVs', async () => {
    const reportsDir = mkdtempSync(path.join(os.tmpdir(), 'infeng-tok-reports-'));
    const r = await tokenizerLane.run({
      buildDir,
      reportsDir,
      profile: 'smoke',
      forcePath: 'auto',
      threads: 2,
      timeoutMs: 300_000,
      log: () => {},
    });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe('ok');
    expect(['scalar', 'avx2', 'avx512']).toContain(r.path);
    expect(r.cases.map((c) => c.id)).toEqual(['llama3']);
    const c = r.cases[0]!;
    expect(c.error).toBeUndefined();
    expect(c.metrics.find((m) => m.name === 'parity_mismatches')?.value).toBe(0);
    expect(c.metrics.find((m) => m.name === 'speedup_vs_hf')?.samples).toHaveLength(5);
    expect(c.metrics.find((m) => m.name === 'speedup_vs_hf')?.value).toBeGreaterThan(1);
    const rows = parse(readFileSync(path.join(reportsDir, 'tokenizer.csv'), 'utf8'), {
      columns: true,
    }) as Record<string, string>[];
    expect(Object.keys(rows[0] ?? {})).toEqual(tokenizerCsvColumns([1, 2]));
    const hfRows = parse(readFileSync(path.join(reportsDir, 'tokenizer_hf.csv'), 'utf8'), {
      columns: true,
    }) as Record<string, string>[];
    expect(Object.keys(hfRows[0] ?? {})).toEqual([...TOKENIZER_HF_CSV_COLUMNS]);
    expect(hfRows[0]?.reference).toBe('tokenizers 0.23.2');
    expect(r.artifacts).toEqual(['tokenizer.csv', 'tokenizer_hf.csv', 'tokenizer_summary.json']);
  }, 300_000);
});

describe('tokenizer lane failures', () => {
  it('an unbuilt addon is a setup error naming the build target', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'infeng-tok-empty-'));
    const r = await tokenizerLane.run({
      buildDir: path.join(tmp, 'build', 'native', 'release'),
      reportsDir: path.join(tmp, 'reports'),
      profile: 'smoke',
      forcePath: 'auto',
      threads: 1,
      timeoutMs: 10_000,
      log: () => {},
    });
    expect(r.status).toBe('error');
    expect(r.error?.step).toBe('setup');
    expect(r.error?.message).toMatch(/infeng_tokenizer\.node is not built/);
  });

  it('without the tokenizer packages the error names what to install', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'infeng-tok-nopkg-'));
    const fakeBuild = path.join(tmp, 'build', 'native', 'release');
    mkdirSync(path.join(fakeBuild, 'addon'), { recursive: true });
    for (const f of ['infeng_tokenizer.node', 'tokenizer_lane_child.mjs'])
      writeFileSync(path.join(fakeBuild, 'addon', f), '');
    const r = await tokenizerLane.run({
      buildDir: fakeBuild,
      reportsDir: path.join(tmp, 'reports'),
      profile: 'smoke',
      forcePath: 'auto',
      threads: 1,
      timeoutMs: 10_000,
      log: () => {},
    });
    expect(r.status).toBe('error');
    expect(r.error?.message).toMatch(/@lenml\/tokenizer-llama3 is not installed \(run npm ci/);
  });
});

describe('tokenize command', () => {
  it('prints the ids of the whole file, with the template when asked', () => {
    const file = tokenizerFile(root, 'llama2');
    const input = path.join(root, 'native', 'testdata', 'corpus', 'prose.txt');
    const tok = loadAddon(buildDir).Tokenizer.fromFile(file);
    const text = readFileSync(input, 'utf8');
    expect(JSON.parse(tokenizeToJson({ tokenizer: file, input, root }))).toEqual({
      ids: Array.from(tok.encode(text)),
    });
    const withBos = JSON.parse(tokenizeToJson({ tokenizer: file, input, root, addSpecialTokens: true })) as {
      ids: number[];
    };
    expect(withBos.ids[0]).toBe(1);
  });

  it('names a missing input or tokenizer file', () => {
    expect(() => tokenizeToJson({ tokenizer: '/nope.json', input: '/nope.txt', root })).toThrow(
      /--tokenizer/,
    );
  });
});
