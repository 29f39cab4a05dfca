// Lane names and their check names are a public contract: users put the check names in
// branch protection, so they never change.
export const LANES = ['tokenizer', 'gemm', 'attn-prefill', 'attn-decode', 'sched'] as const;
export type LaneName = (typeof LANES)[number];

export const CHECK_NAMES: Record<LaneName, string> = {
  tokenizer: 'tokenizer-perf',
  gemm: 'gemm-perf',
  'attn-prefill': 'attn-prefill-perf',
  'attn-decode': 'attn-decode-perf',
  sched: 'sched-zipf-perf',
};

export function isLaneName(s: string): s is LaneName {
  return (LANES as readonly string[]).includes(s);
}

export const PROFILES = ['smoke', 'quick', 'full'] as const;
export type Profile = (typeof PROFILES)[number];

export const ISA_PATHS = ['auto', 'scalar', 'avx2', 'avx512'] as const;
export type IsaPath = (typeof ISA_PATHS)[number];
