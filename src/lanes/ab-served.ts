// A/B rounds with serving benches (native/bench/serve.h). Started once per round, a bench spent
// most of each round setting its cases up; here each side's bench starts once and is asked for
// one case at a time, all of that case's rounds in ABBA order on both sides before the next
// case, so a case is set up once per side and pass. A round of a case is still one short run on
// each side, back to back; round r of every case together makes round r of the lane, and the
// lane's rounds are judged as in one-process-per-round mode (src/lanes/ab-runner.ts). Extra
// rounds come in passes over every case, while the verdict stays inconclusive.
//
// Off unless rules.yml `ab.serve` turns it on: a process keeps its speed for life, and on the
// VMs measured (docs/MEASUREMENTS.md) one of two identical decode benches ran 5-11 % faster in
// every round, which the paired test reads as a change between the sides.
//
// Anything that goes wrong (a base bench from before serve mode, a crash, a hang, output that
// does not parse) returns undefined, and the caller runs the lane one process per round, whose
// failure handling then reports it.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { LaneResult } from '../model/results.js';
import type { AbRound } from '../results/pair-rounds.js';
import { gbenchDocument } from '../results/gbench.js';
import { mergeAbRounds } from '../results/pair-rounds.js';
import { extraRounds, firstInRound, sidesInRound, type AbSide } from './ab-order.js';
import { exactFilter, exceptFilter } from './bench-filter.js';
import { benchOutFile, benchResult, outputArgs, type BenchSpec } from './bench-lane.js';
import { BenchServer } from './bench-server.js';
import type { Lane, LaneContext } from './lane.js';
import { benchEnv } from './spawn.js';

type Side = AbSide;

export interface ServedPlan {
  rounds: number;
  maxRounds: number;
  laneBudgetMs: number;
}

/**
 * Several runs' JSON documents of one bench as one document, as if one run had done them all:
 * the first run's context, every run's benchmarks. A run that selected nothing may leave an
 * empty file; it adds nothing.
 */
export function mergeBenchJson(texts: string[]): string {
  const docs = texts
    .filter((t) => t.trim() !== '')
    .map((t) => gbenchDocument(t) as { context?: unknown; benchmarks?: unknown[] });
  return JSON.stringify({
    context: docs[0]?.context ?? {},
    benchmarks: docs.flatMap((d) => d.benchmarks ?? []),
  });
}

class Failed extends Error {}

/**
 * Runs the lane's rounds on serving benches; undefined when that cannot be done (the caller then
 * runs one process per round). `ctxFor` gives a side's context for a round, as in the caller.
 */
export async function servedRounds(
  adapter: Lane,
  ctxFor: (side: Side, round: number) => LaneContext,
  plan: ServedPlan,
  needsMore: (merged: LaneResult) => boolean,
  log: (line: string) => void,
  now: () => number = Date.now,
): Promise<AbRound[] | undefined> {
  if (!adapter.benchSpec) return undefined;
  const ctx = { base: ctxFor('base', 0), head: ctxFor('head', 0) };
  const spec: Record<Side, BenchSpec> = {
    base: adapter.benchSpec(ctx.base),
    head: adapter.benchSpec(ctx.head),
  };
  const benchmarkOf = spec.head.benchmarkOf;
  if (!benchmarkOf) return undefined;
  const name = adapter.name;
  const outFile = {
    base: benchOutFile(ctx.base.reportsDir, spec.base.bin),
    head: benchOutFile(ctx.head.reportsDir, spec.head.bin),
  };

  const servers: Partial<Record<Side, BenchServer>> = {};
  const closeAll = async () => {
    await Promise.all(Object.values(servers).map((s) => s.close()));
  };
  try {
    for (const side of ['base', 'head'] as const) {
      const s = await BenchServer.start(
        path.join(ctx[side].buildDir, 'bench', spec[side].bin),
        [...spec[side].args, ...outputArgs(outFile[side])],
        {
          env: benchEnv(process.env),
          onLine: (l) => ctx[side].log(`${name}: ${l}`),
          readyTimeoutMs: Math.min(ctx[side].timeoutMs, 120_000),
          what: `the ${side}'s ${spec[side].bin}`,
        },
      );
      if (typeof s === 'string') throw new Failed(s);
      servers[side] = s;
    }

    const names = spec.head.planned.map(benchmarkOf);
    const texts: Record<Side, string[][]> = { base: [], head: [] };
    const seconds: Record<Side, number[]> = { base: [], head: [] };
    const runOne = async (side: Side, filter: string, round: number): Promise<string> => {
      writeFileSync(outFile[side], '');
      const r = await servers[side]!.run(filter, round > 0, ctx[side].timeoutMs);
      if (r.failure) throw new Failed(r.failure);
      seconds[side][round] = (seconds[side][round] ?? 0) + r.durationS;
      return readFileSync(outFile[side], 'utf8');
    };

    // What is not a case (a bandwidth probe that only informs) runs once per side; every
    // round's document carries it.
    const rest: Record<Side, string> = { base: '', head: '' };
    for (const side of sidesInRound(0)) rest[side] = await runOne(side, exceptFilter(names), 0);

    const rounds: AbRound[] = [];
    const start = now();
    let done = 0;
    let target = plan.rounds;
    for (;;) {
      log(`lane ${name}: A/B rounds ${done + 1}-${target}, one case at a time on serving benches`);
      for (const bench of names) {
        const filter = exactFilter(bench);
        for (let r = done; r < target; r++) {
          for (const side of sidesInRound(r)) {
            const text = await runOne(side, filter, r);
            (texts[side][r] ??= []).push(text);
          }
        }
      }
      for (let r = done; r < target; r++) {
        const result = (side: Side) => {
          const merged = mergeBenchJson([...texts[side][r]!, rest[side]]);
          writeFileSync(outFile[side], merged);
          return benchResult(spec[side], merged, outFile[side], seconds[side][r] ?? 0, ctx[side].reportsDir);
        };
        const round: AbRound = { first: firstInRound(r), base: result('base'), head: result('head') };
        for (const side of ['base', 'head'] as const) {
          const e = round[side]!.error;
          if (e) throw new Failed(`the ${side} side, round ${r + 1}: ${e.step}: ${e.message}`);
        }
        rounds.push(round);
      }
      done = target;
      if (done >= plan.maxRounds) break;
      if (now() - start > plan.laneBudgetMs) {
        log(`lane ${name}: A/B time budget reached after ${done} rounds`);
        break;
      }
      if (!needsMore(mergeAbRounds(rounds))) break;
      target = done + extraRounds(plan, done);
      log(`lane ${name}: inconclusive after ${done} rounds, ${target - done} more`);
    }
    return rounds;
  } catch (e) {
    if (!(e instanceof Failed)) throw e;
    log(`lane ${name}: serving benches stopped (${e.message.split('\n')[0]}); one process per round instead`);
    return undefined;
  } finally {
    await closeAll();
  }
}
