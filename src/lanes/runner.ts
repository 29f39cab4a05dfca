// Runs the selected lanes one after another (benchmarks sharing two cores would measure each
// other) and guarantees one result per lane: a lane that throws, crashes or hangs becomes an
// error result and the next lane still runs.
import type { LaneName } from '../model/lanes.js';
import type { LaneResult } from '../model/results.js';
import type { Lane, LaneContext } from './lane.js';
import { laneAdapter } from './registry.js';
import { laneStartLine, withHeartbeat } from './progress.js';

/** The result of a lane that produced nothing: it still reports, with the step that stopped it. */
export function emptyResult(
  lane: LaneName,
  status: LaneResult['status'],
  step: string,
  message: string,
): LaneResult {
  return {
    lane,
    status,
    error: { step, message },
    path: '',
    cases: [],
    planned: [],
    durationS: 0,
    artifacts: [],
    info: {},
  };
}

export async function runLanes(
  lanes: LaneName[],
  ctx: LaneContext,
  unbuilt: Partial<Record<LaneName, string>> = {},
  lookup: (name: LaneName) => Lane | undefined = laneAdapter,
  /** seconds each lane took in the previous run of this profile, for the start line */
  estimates: Partial<Record<LaneName, number>> = {},
): Promise<LaneResult[]> {
  const results: LaneResult[] = [];
  for (const [i, name] of lanes.entries()) {
    const adapter = lookup(name);
    if (!adapter) {
      results.push(emptyResult(name, 'skipped', 'select', `the ${name} lane is not part of this build`));
      continue;
    }
    const buildFailure = unbuilt[name];
    if (buildFailure) {
      results.push(emptyResult(name, 'error', 'build', buildFailure));
      continue;
    }
    const cases = adapter.plannedCases(ctx.profile).length;
    ctx.log(laneStartLine(i + 1, lanes.length, name, cases, ctx, estimates[name]));
    const start = Date.now();
    try {
      const runs = cases * adapter.samplesPerMetric(ctx.profile);
      const r = await withHeartbeat(ctx, `lane ${name}`, (c) => adapter.run(c), undefined, runs);
      results.push(r);
      ctx.log(
        `lane ${name}: ${r.status} in ${((Date.now() - start) / 1000).toFixed(1)} s${r.error ? ` (${r.error.message})` : ''}`,
      );
    } catch (e) {
      const r = emptyResult(name, 'error', 'run', e instanceof Error ? e.message : String(e));
      r.durationS = (Date.now() - start) / 1000;
      results.push(r);
      ctx.log(`lane ${name}: error: ${r.error?.message}`);
    }
  }
  return results;
}
