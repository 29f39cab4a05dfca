// What the two attention lanes (attn-decode, attn-prefill) share: running a lane binary with
// its profile's arguments, turning a failed run into an error result, and mapping the bench's
// counters to metrics. Each lane keeps its own grid, metric table and report files.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { median } from 'simple-statistics';
import type { LaneContext } from './lane.js';
import type { LaneName } from '../model/lanes.js';
import type { Better, LaneResult, Metric, MetricKind } from '../model/results.js';
import type { GbenchCase } from '../results/gbench.js';
import { describeFailure, runProcess } from './spawn.js';

export interface MetricSpec {
  unit: string;
  better: Better;
  kind: MetricKind;
}

/** The counters in `specs` that a case reported, as metrics with every repetition's sample. */
export function metricsFromCounters(c: GbenchCase, specs: Record<string, MetricSpec>): Metric[] {
  const out: Metric[] = [];
  for (const [name, spec] of Object.entries(specs)) {
    if (!c.runs.some((r) => name in r.counters)) continue;
    const samples = c.runs.map((r) => r.counters[name] ?? Number.NaN);
    const finite = samples.filter(Number.isFinite);
    out.push({
      name,
      ...spec,
      samples,
      value: finite.length === samples.length && finite.length > 0 ? median(finite) : Number.NaN,
    });
  }
  return out;
}

/** Context keys worth keeping as lane info. */
export function contextInfo(
  context: Record<string, string | number | boolean>,
  keys: string[],
): LaneResult['info'] {
  const info: LaneResult['info'] = {};
  for (const key of keys) {
    const v = context[key];
    if (typeof v === 'string' || typeof v === 'number') info[key] = v;
  }
  return info;
}

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
  parse: (text: string) => Omit<LaneResult, 'durationS' | 'artifacts'>,
  write: (result: LaneResult, reportsDir: string) => string[],
): Promise<LaneResult> {
  const rawDir = path.join(ctx.reportsDir, 'raw');
  mkdirSync(rawDir, { recursive: true });
  const outFile = path.join(rawDir, `${bin.replace(/^infeng_/, '')}.json`);
  writeFileSync(outFile, '');
  const outcome = await runProcess(
    path.join(ctx.buildDir, 'bench', bin),
    [...args, `--benchmark_out=${outFile}`, '--benchmark_out_format=json', '--benchmark_format=console'],
    { timeoutMs: ctx.timeoutMs, onLine: (l) => ctx.log(`${lane}: ${l}`) },
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

/** Planned ids the bench did not report become case errors, so a silent gap is visible. */
export function addMissing(cases: LaneResult['cases'], planned: string[]): void {
  const seen = new Set(cases.map((c) => c.id));
  for (const id of planned) {
    if (!seen.has(id))
      cases.push({ id, params: {}, metrics: [], error: 'the bench did not report this case' });
  }
}
