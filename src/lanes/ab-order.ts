// The order of the two sides in A/B rounds: base-head, head-base, base-head, … (ABBA), so a
// machine that drifts during a lane slows both sides alike and a side is never always first.

export type AbSide = 'base' | 'head';

/** Which side runs first in round r (0-based): base, head, head, base, base, head, … */
export function firstInRound(r: number): AbSide {
  return r % 2 === 0 ? 'base' : 'head';
}

/** Both sides in the order they run in round r. */
export function sidesInRound(r: number): [AbSide, AbSide] {
  return firstInRound(r) === 'base' ? ['base', 'head'] : ['head', 'base'];
}

/** Rounds each extra pass adds: half of the extra rounds allowed, so a verdict can settle early. */
export function extraRounds(plan: { rounds: number; maxRounds: number }, done: number): number {
  return Math.min(plan.maxRounds - done, Math.max(1, Math.ceil((plan.maxRounds - plan.rounds) / 2)));
}
