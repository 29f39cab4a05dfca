// The one way a lane runs a Google Benchmark binary: <buildDir>/bench/<bin> with the lane's
// flags, JSON to reports/raw/<bin>.json, parsed by the lane, report files written by the lane.
// A crash, a timeout or unparsable output is an error result naming the step, never an
// exception, so one lane's failure never stops the others.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { LaneContext } from './lane.js';
import type { LaneName } from '../model/lanes.js';
import type { LaneResult } from '../model/results.js';
import { benchEnv, describeFailure, runProcess } from './spawn.js';

/** What a lane's parser makes of the bench's JSON; the runner adds the timing and the files. */
export type ParsedResult = Omit<LaneResult, 'durationS' | 'artifacts'>;

/** Everything a run of a lane's bench needs: the binary, its flags, and what to do with its JSON. */
export interface BenchSpec {
  lane: LaneName;
  bin: string;
  args: string[];
  planned: string[];
  parse: (text: string) => ParsedResult;
  write: (result: LaneResult, reportsDir: string) => string[];
  /**
   * The benchmark name of a planned case. A lane that gives it can be run one case at a time
   * by a serving bench (A/B rounds, src/lanes/ab-served.ts).
   */
  benchmarkOf?: (caseId: string) => string;
}

/** Where a bench's JSON goes: reports/raw/<bin without infeng_>.json. */
export function benchOutFile(reportsDir: string, bin: string): string {
  const rawDir = path.join(reportsDir, 'raw');
  mkdirSync(rawDir, { recursive: true });
  return path.join(rawDir, `${bin.replace(/^infeng_/, '')}.json`);
}

/** The flags every run of a bench gets after the lane's own: JSON to `outFile`, console to stdout. */
export function outputArgs(outFile: string): string[] {
  return [`--benchmark_out=${outFile}`, '--benchmark_out_format=json', '--benchmark_format=console'];
}

/** The bench's JSON text → the lane's result with its report files, or a parse error result. */
export function benchResult(
  spec: BenchSpec,
  text: string,
  outFile: string,
  durationS: number,
  reportsDir: string,
): LaneResult {
  let parsed;
  try {
    parsed = spec.parse(text);
  } catch (e) {
    return {
      ...failedResult(spec, durationS),
      status: 'error',
      error: { step: 'parse', message: `${path.relative(process.cwd(), outFile)}: ${(e as Error).message}` },
    };
  }
  const result: LaneResult = { ...parsed, durationS, artifacts: [] };
  result.artifacts = spec.write(result, reportsDir);
  return result;
}

/** A result with no cases: the base of an error or timeout result. */
export function failedResult(spec: BenchSpec, durationS: number): Omit<LaneResult, 'status'> {
  return { lane: spec.lane, planned: spec.planned, durationS, artifacts: [], path: '', cases: [], info: {} };
}

/**
 * Runs the spec's bench (in <buildDir>/bench) writing JSON to reports/raw/<stem>.json; parses it
 * and writes the lane's report files. A crash, timeout or unparsable output becomes an error
 * result naming the step, never an exception.
 */
export async function runBenchLane(ctx: LaneContext, spec: BenchSpec): Promise<LaneResult> {
  const outFile = benchOutFile(ctx.reportsDir, spec.bin);
  writeFileSync(outFile, '');
  const outcome = await runProcess(
    path.join(ctx.buildDir, 'bench', spec.bin),
    [...spec.args, ...outputArgs(outFile)],
    {
      timeoutMs: ctx.timeoutMs,
      env: benchEnv(process.env, ctx.abRound),
      onLine: (l) => ctx.log(`${spec.lane}: ${l}`),
    },
  );
  const failure = describeFailure(outcome, spec.bin, ctx.timeoutMs);
  if (failure) {
    return {
      ...failedResult(spec, outcome.durationS),
      status: outcome.timedOut ? 'timeout' : 'error',
      error: { step: outcome.spawnError ? 'spawn' : 'run', message: failure },
    };
  }
  return benchResult(spec, readFileSync(outFile, 'utf8'), outFile, outcome.durationS, ctx.reportsDir);
}
