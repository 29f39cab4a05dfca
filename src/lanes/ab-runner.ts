// A/B: each lane runs the base's binaries and the head's alternately, in rounds, the order
// flipping every round (src/lanes/ab-order.ts). Each round is a short run of every case. After
// the planned rounds, a lane whose verdict is still inconclusive gets more rounds, up to a
// maximum and a time budget (asv's `continuous`, Pinpoint's re-sampling). Each side and round is
// a process of its own; with rules.yml `ab.serve`, a lane that is one Google Benchmark binary
// runs on serving benches instead, one case at a time (src/lanes/ab-served.ts).
//
// The lanes are the head's adapters in both sides: only the binaries differ. A base whose bench
// does not take a flag the head passes fails its side, and the head is still measured. A lane
// whose base build is byte-identical to the head's (binaries and data, src/lanes/lane-inputs.ts)
// would be an A/A run: it gets no rounds, only the head's one run for its gates, unless the plan
// asks to measure it anyway (the gate's own A/A proof).
import path from 'node:path';
import type { LaneName } from '../model/lanes.js';
import type { LaneResult } from '../model/results.js';
import { mergeAbRounds, type AbRound } from '../results/pair-rounds.js';
import type { Lane, LaneContext } from './lane.js';
import { laneAdapter } from './registry.js';
import { emptyResult } from './runner.js';
import { laneStartLine, withHeartbeat } from './progress.js';
import { firstInRound } from './ab-order.js';
import { servedRounds } from './ab-served.js';
import { inputsDigest } from './lane-inputs.js';

export interface AbPlan {
  /** rounds every lane runs */
  rounds: number;
  /** rounds a lane may grow to while `needsMore` says so */
  maxRounds: number;
  /** repetitions per side per round */
  repetitions: number;
  /** past the planned rounds, no extra round starts once a lane has run this long */
  laneBudgetMs: number;
  /** true: a lane whose bench can serve runs on serving benches (rules.yml `ab.serve`) */
  serve?: boolean;
  /** true: run the rounds even for a lane whose base build is identical to the head's */
  measureIdentical?: boolean;
}

export interface AbSides {
  head: LaneContext;
  /** the base's build; undefined when there is none (each lane then reports the reason) */
  base?: LaneContext;
  /** why there is no base build for a lane */
  baseUnbuilt: Partial<Record<LaneName, string>>;
  headUnbuilt: Partial<Record<LaneName, string>>;
}

async function runSide(adapter: Lane, ctx: LaneContext): Promise<LaneResult> {
  try {
    return await adapter.run(ctx);
  } catch (e) {
    return emptyResult(adapter.name, 'error', 'run', e instanceof Error ? e.message : String(e));
  }
}

/** The digest both builds share for the lane, or undefined when they differ or cannot be read. */
export function identicalBuilds(adapter: Lane, headBuild: string, baseBuild: string): string | undefined {
  if (!adapter.inputs) return undefined;
  const head = inputsDigest(adapter.inputs(headBuild));
  return head !== undefined && head === inputsDigest(adapter.inputs(baseBuild)) ? head : undefined;
}

/** Base and head run the same bytes: the head's one plain run, the base marked identical. */
async function identicalRun(
  adapter: Lane,
  head: LaneContext,
  digest: string,
  now: () => number,
): Promise<LaneResult> {
  head.log(
    `lane ${adapter.name}: the base's build of this lane is byte-identical to the head's (sha-256 ${digest.slice(0, 12)}); no A/B rounds, the head runs once for its gates`,
  );
  const start = now();
  const result = await runSide(adapter, head);
  return {
    ...result,
    base: { status: 'ok', path: result.path, cases: [], durationS: 0, info: {}, identical: digest },
    durationS: (now() - start) / 1000,
    info: { ...result.info, ab_rounds: 0 },
  };
}

/**
 * Runs one lane in A/B rounds and returns the head's result with the base's beside it.
 * `needsMore` looks at the rounds so far (merged) and says whether another round could still
 * turn an inconclusive verdict into a conclusive one.
 */
export async function runLaneAb(
  adapter: Lane,
  sides: AbSides,
  plan: AbPlan,
  needsMore: (merged: LaneResult) => boolean,
  now: () => number = Date.now,
): Promise<LaneResult> {
  const { head } = sides;
  const log = head.log;
  const name = adapter.name;
  const baseCtx = sides.base;
  const baseMissing = !baseCtx
    ? 'no base build'
    : sides.baseUnbuilt[name] !== undefined
      ? `the base did not build: ${sides.baseUnbuilt[name]}`
      : undefined;
  const ctxFor = (side: 'base' | 'head', round: number): LaneContext => {
    const from = side === 'head' ? head : baseCtx!;
    return {
      ...from,
      repetitions: plan.repetitions,
      // The first round measures everything on both sides; later rounds skip what only the
      // head's gates or a deterministic check need (attn-prefill's timed naive reference, the
      // attention lanes' perplexity, the scheduler's real-thread calibration, the tokenizer's
      // parity pass and oversubscribed thread counts). Both sides alike: a head that timed the
      // reference beside its kernel while the base did not would differ by that alone.
      abRound: round > 0,
      reportsDir: path.join(head.reportsDir, 'ab', side),
      log: (l) => log(`${side}: ${l}`),
    };
  };

  if (!baseMissing && plan.measureIdentical !== true) {
    const digest = identicalBuilds(adapter, head.buildDir, baseCtx!.buildDir);
    if (digest) return identicalRun(adapter, head, digest, now);
  }

  const start = now();
  const rounds =
    (!baseMissing && plan.serve === true
      ? await servedRounds(adapter, ctxFor, plan, needsMore, log, now)
      : undefined) ??
    (await processRounds(adapter, ctxFor, plan, needsMore, baseMissing !== undefined, log, now));

  // A base that could not run at all: the head still needs its full measurement for the gates.
  const merged = mergeAbRounds(rounds);
  if (baseMissing) {
    merged.base = {
      status: 'error',
      error: { step: 'build', message: baseMissing },
      path: '',
      cases: [],
      durationS: 0,
      info: {},
    };
  }
  if (merged.status === 'ok') merged.artifacts = adapter.writeReports(merged, head.reportsDir);
  merged.durationS = (now() - start) / 1000;
  merged.info = { ...merged.info, ab_rounds: rounds.length };
  return merged;
}

/** One process per side and round: every lane can run this way, whatever its benches. */
async function processRounds(
  adapter: Lane,
  ctxFor: (side: 'base' | 'head', round: number) => LaneContext,
  plan: AbPlan,
  needsMore: (merged: LaneResult) => boolean,
  baseMissing: boolean,
  log: (line: string) => void,
  now: () => number,
): Promise<AbRound[]> {
  const name = adapter.name;
  const rounds: AbRound[] = [];
  const start = now();
  for (let r = 0; r < plan.maxRounds; r++) {
    const first = baseMissing ? 'head' : firstInRound(r);
    const order: ('base' | 'head')[] = baseMissing
      ? ['head']
      : first === 'base'
        ? ['base', 'head']
        : ['head', 'base'];
    log(`lane ${name}: A/B round ${r + 1} (${order.join(' then ')})`);
    const round: Partial<AbRound> = { first };
    for (const side of order) round[side] = await runSide(adapter, ctxFor(side, r));
    rounds.push(round as AbRound);
    if (round.head!.status !== 'ok') break; // the head's failure is the lane's result
    if (round.base && round.base.status !== 'ok') {
      log(
        `lane ${name}: the base side failed (${round.base.error?.message.split('\n')[0] ?? round.base.status}); the head goes on alone`,
      );
      break;
    }
    if (r + 1 < plan.rounds) continue;
    if (now() - start > plan.laneBudgetMs) {
      log(`lane ${name}: A/B time budget reached after ${r + 1} rounds`);
      break;
    }
    if (r + 1 < plan.maxRounds && needsMore(mergeAbRounds(rounds))) {
      log(`lane ${name}: inconclusive after ${r + 1} rounds, one more`);
      continue;
    }
    break;
  }

  return rounds;
}

/** Every selected lane in A/B rounds, one after the other; one result per lane, always. */
export async function runLanesAb(
  lanes: LaneName[],
  sides: AbSides,
  plan: AbPlan,
  needsMore: (merged: LaneResult) => boolean,
  lookup: (name: LaneName) => Lane | undefined = laneAdapter,
): Promise<LaneResult[]> {
  const results: LaneResult[] = [];
  for (const [i, name] of lanes.entries()) {
    const adapter = lookup(name);
    if (!adapter) {
      results.push(emptyResult(name, 'skipped', 'select', `the ${name} lane is not part of this build`));
      continue;
    }
    const unbuilt = sides.headUnbuilt[name];
    if (unbuilt) {
      results.push(emptyResult(name, 'error', 'build', unbuilt));
      continue;
    }
    sides.head.log(
      `${laneStartLine(i + 1, lanes.length, name, adapter.plannedCases(sides.head.profile).length, sides.head)}; A/B, ${plan.rounds}-${plan.maxRounds} rounds`,
    );
    const r = await withHeartbeat(sides.head, `lane ${name}`, (head) =>
      runLaneAb(adapter, { ...sides, head }, plan, needsMore),
    );
    sides.head.log(
      `lane ${name}: ${r.status} in ${r.durationS.toFixed(1)} s, ${r.info.ab_rounds} A/B rounds`,
    );
    results.push(r);
  }
  return results;
}
