/** The machine a result was measured on. Baselines carry the same facts in `_meta`. */
export interface Compiler {
  /** e.g. "clang" */
  id: string;
  /** full version string, e.g. "16.0.6" */
  version: string;
  major: number;
  /** the version the configuration asked for (17 by default); differs when a fallback was used */
  requestedMajor: number;
  path: string;
}

export interface Machine {
  cpuModel: string;
  cores: number;
  /** CPU feature flags that matter to the kernels, sorted: avx2, fma, avx512f, avx512bw, avx512vl, avx512_vnni, ... */
  isa: string[];
  compiler: Compiler;
  os: string;
  commit: string;
  /** ISO 8601 */
  time: string;
}
