// Which lane names this build can run. Every contract name is known (the check names are
// stable); a lane whose adapter is not in this build reports `skipped` with the reason, so its
// required check still completes instead of hanging.
import type { LaneName } from '../model/lanes.js';
import type { Lane } from './lane.js';
import { gemmLane } from './gemm/lane.js';
import { tokenizerLane } from './tokenizer/lane.js';
import { attnDecodeLane } from './attn-decode/lane.js';
import { attnPrefillLane } from './attn-prefill/lane.js';
import { schedLane } from './sched/lane.js';

export const AVAILABLE_LANES: Partial<Record<LaneName, Lane>> = {
  tokenizer: tokenizerLane,
  gemm: gemmLane,
  'attn-prefill': attnPrefillLane,
  'attn-decode': attnDecodeLane,
  sched: schedLane,
};

export function laneAdapter(name: LaneName): Lane | undefined {
  return AVAILABLE_LANES[name];
}

export function defaultLanes(): LaneName[] {
  return Object.keys(AVAILABLE_LANES) as LaneName[];
}
