// Finds the clang to build with. The version is a setting (default 17); when that major is
// not installed and the user did not insist on it, the compiler scripts/setup.sh chose (the
// nearest packaged major) is used and the fallback is recorded in every result.
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { BuildError } from './errors.js';

export interface Toolchain {
  major: number;
  requestedMajor: number;
  cc: string;
  cxx: string;
  /** why this compiler and not the requested one, when they differ */
  note?: string;
}

function which(cmd: string): string | undefined {
  try {
    return (
      execFileSync('sh', ['-c', `command -v ${cmd}`], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}

export function parseToolchainEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

export function resolveToolchain(requested: number, explicit: boolean, toolchainEnvFile: string): Toolchain {
  const cxx = which(`clang++-${requested}`);
  const cc = which(`clang-${requested}`);
  if (cxx && cc) return { major: requested, requestedMajor: requested, cc, cxx };
  if (explicit) {
    throw new BuildError(
      'toolchain',
      `clang-${requested} was requested but is not installed; run INFENG_CLANG_VERSION=${requested} scripts/setup.sh, or choose an installed major`,
    );
  }
  if (existsSync(toolchainEnvFile)) {
    const env = parseToolchainEnv(readFileSync(toolchainEnvFile, 'utf8'));
    const major = Number(env.INFENG_CLANG_VERSION);
    if (env.CXX && env.CC && existsSync(env.CXX) && Number.isInteger(major)) {
      return {
        major,
        requestedMajor: requested,
        cc: env.CC,
        cxx: env.CXX,
        note: `clang-${requested} is not installed; using clang-${major}, chosen by scripts/setup.sh`,
      };
    }
  }
  for (const d of [1, 2, 3, 4]) {
    for (const v of [requested - d, requested + d]) {
      const fxx = which(`clang++-${v}`);
      const fc = which(`clang-${v}`);
      if (fxx && fc) {
        return {
          major: v,
          requestedMajor: requested,
          cc: fc,
          cxx: fxx,
          note: `clang-${requested} is not installed; using the nearest installed major, clang-${v}`,
        };
      }
    }
  }
  throw new BuildError(
    'toolchain',
    `clang-${requested} is not installed and no nearby major was found; run scripts/setup.sh`,
  );
}
