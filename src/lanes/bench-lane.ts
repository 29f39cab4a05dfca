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

/**
 * Runs `bin` (in <buildDir>/bench) writing JSON to reports/raw/<stem>.json; parses it with
 * `parse` and writes the lane's report files with `write`. A crash, timeout or unparsable
 * output becomes an error result naming the step, never an exception.
 */
export async function runBenchLane(
  ctx: LaneContext,
  lane: LaneName,
  bin: string,
  args: string[],
  planned: string[],
  parse: (text: string) => ParsedResult,
  write: (result: LaneResult, reportsDir: string) => string[],
): Promise<LaneResult> {
  const rawDir = path.join(ctx.reportsDir, 'raw');
  mkdirSync(rawDir, { recursive: true });
  const outFile = path.join(rawDir, `${bin.replace(/^infeng_/, '')}.json`);
  writeFileSync(outFile, '');
  const outcome = await runProcess(
    path.join(ctx.buildDir, 'bench', bin),
    [...args, `--benchmark_out=${outFile}`, '--benchmark_out_format=json', '--benchmark_format=console'],
    {
      timeoutMs: ctx.timeoutMs,
      env: benchEnv(process.env, ctx.abRound),
      onLine: (l) => ctx.log(`${lane}: ${l}`),
    },
  );
  const base = {
    lane,
    planned,
    durationS: outcome.durationS,
    artifacts: [] as string[],
    path: '',
    cases: [],
    info: {},
  };
  const failure = describeFailure(outcome, bin, ctx.timeoutMs);
  if (failure) {
    return {
      ...base,
      status: outcome.timedOut ? 'timeout' : 'error',
      error: { step: outcome.spawnError ? 'spawn' : 'run', message: failure },
    };
  }
  let parsed;
  try {
    parsed = parse(readFileSync(outFile, 'utf8'));
  } catch (e) {
    return {
      ...base,
      status: 'error',
      error: { step: 'parse', message: `${path.relative(process.cwd(), outFile)}: ${(e as Error).message}` },
    };
  }
  const result: LaneResult = { ...parsed, durationS: outcome.durationS, artifacts: [] };
  result.artifacts = write(result, ctx.reportsDir);
  return result;
}
