// The real pipeline on the smoke profile: build, run the GEMM bench, write results, compare,
// render. Native code runs here, so this is the slow test of the suite (seconds, not minutes).
import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync, cpSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { baselineFile } from '../src/compare/baselines.js';
import { classKey, classOfRun } from '../src/model/machine-class.js';
import { parse } from 'csv-parse/sync';
import { buildConfig, type Config } from '../src/config.js';
import { calibrateStage, compareStage, runStage } from '../src/pipeline.js';
import type { RunResults } from '../src/model/results.js';
import { GEMM_CSV_COLUMNS } from '../src/lanes/gemm/reports.js';

const root = path.resolve(__dirname, '..');
let config: Config;
let results: RunResults;

beforeAll(async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'infeng-pipeline-'));
  const baselinesDir = path.join(tmp, 'baselines');
  mkdirSync(baselinesDir);
  cpSync(path.join(root, 'baselines', 'rules.yml'), path.join(baselinesDir, 'rules.yml'));
  config = buildConfig({
    root,
    profile: 'smoke',
    lanes: 'gemm',
    reportsDir: path.join(tmp, 'reports'),
    baselinesDir,
  });
  results = await runStage(config, () => {});
}, 600_000);

describe('pipeline on the smoke profile', () => {
  it('runs the GEMM lane and keeps every sample and the machine', () => {
    const lane = results.lanes.find((l) => l.lane === 'gemm');
    expect(lane?.error).toBeUndefined();
    expect(lane?.status).toBe('ok');
    expect(['scalar', 'avx2', 'avx512']).toContain(lane?.path);
    expect(lane?.cases.map((c) => c.id).sort()).toEqual(['decode/M1/H256/r8', 'prefill/M64/H256/r8']);
    for (const c of lane?.cases ?? []) {
      expect(c.error).toBeUndefined();
      const gflops = c.metrics.find((m) => m.name === 'fused_gflops');
      expect(gflops?.samples).toHaveLength(5);
      expect(gflops?.value).toBeGreaterThan(0);
    }
    expect(results.machine.compiler.id).toBe('clang');
    expect(results.machine.compiler.requestedMajor).toBe(17);
    expect(results.machine.cores).toBeGreaterThan(0);
    const onDisk = JSON.parse(
      readFileSync(path.join(config.reportsDir, 'results.json'), 'utf8'),
    ) as RunResults;
    expect(onDisk.lanes[0]?.cases[0]?.metrics[0]?.samples.length).toBe(5);
  });

  it('writes the lane CSV with its columns and the summary', () => {
    const rows = parse(readFileSync(path.join(config.reportsDir, 'gemm_lora.csv'), 'utf8'), {
      columns: true,
    }) as Record<string, string>[];
    expect(Object.keys(rows[0] ?? {})).toEqual([...GEMM_CSV_COLUMNS]);
    expect(rows).toHaveLength(2);
    expect(Number(rows.find((r) => r.phase === 'decode')?.bw_efficiency_pct)).toBeGreaterThan(0);
    expect(existsSync(path.join(config.reportsDir, 'gemm_summary.json'))).toBe(true);
  });

  it('without a baseline every metric is new, and the report is written', async () => {
    const out = await compareStage(config, results);
    const states = new Set(
      out.report.lanes[0]?.verdicts.filter((v) => v.source === 'baseline').map((v) => v.state),
    );
    expect([...states]).toEqual(['new']);
    expect(readFileSync(path.join(config.reportsDir, 'report.md'), 'utf8')).toContain(
      '<!-- infeng-perf-report -->',
    );
    expect(out.terminal).toMatch(/gemm-perf/);
  });

  // the gemm baseline of this run's machine class
  const ownBaselineFile = () =>
    baselineFile(config.baselinesDir, 'gemm', classKey(classOfRun(results.machine, results.lanes[0]!.path)));

  it('against a baseline calibrated from the same samples nothing changed', async () => {
    await calibrateStage(config, [results], () => {});
    const baseline = JSON.parse(readFileSync(ownBaselineFile(), 'utf8'));
    expect(baseline._meta).toMatchObject({
      lane: 'gemm',
      cores: results.machine.cores,
      compilerMajor: results.machine.compiler.major,
    });
    const out = await compareStage(config, results);
    const fromBaseline = out.report.lanes[0]?.verdicts.filter((v) => v.source === 'baseline') ?? [];
    expect(fromBaseline.length).toBeGreaterThan(10);
    expect(fromBaseline.every((v) => v.state === 'pass')).toBe(true);
  });

  it('a malformed baseline is an error that names the file, and the report is still written', async () => {
    mkdirSync(path.dirname(ownBaselineFile()), { recursive: true });
    writeFileSync(ownBaselineFile(), '{"_meta": {"lane": "gemm"}, "cases": 3}');
    const out = await compareStage(config, results);
    expect(out.report.conclusion).toBe('failure');
    expect(JSON.stringify(out.report)).toMatch(/gemm\.json/);
    expect(readFileSync(path.join(config.reportsDir, 'report.md'), 'utf8')).toMatch(/gemm\.json/);
  });
});
