// Every way in (CLI flags, action inputs through env) ends here: one typed, validated config.
// Bad values are InputErrors naming the flag or input, which exit with code 2.
import os from 'node:os';
import path from 'node:path';
import { InputError } from './errors.js';
import {
  ISA_PATHS,
  LANES,
  PROFILES,
  isLaneName,
  type IsaPath,
  type LaneName,
  type Profile,
} from './model/lanes.js';
import { defaultLanes } from './lanes/registry.js';

export interface Config {
  root: string;
  nativeDir: string;
  buildDir: string;
  baselinesDir: string;
  rulesFile: string;
  reportsDir: string;
  lanes: LaneName[];
  profile: Profile;
  forcePath: IsaPath;
  clangVersion: number;
  /** the user named a version: no fallback to another major */
  clangVersionExplicit: boolean;
  threads: number;
  /** per-lane timeout; profile-dependent when not given */
  timeoutMs: number;
  /** build before running (false: use what build/ holds) */
  build: boolean;
  /** a local history store (<dir>/<machine class>.jsonl) to draw trend charts from */
  historyDir?: string;
  /** the repository's history data branch to draw trend charts from (fetched from origin) */
  historyBranch?: string;
  /** false: no charts in the report */
  charts: boolean;
  /** list incomparable metrics in the lane details (by default they are counted, not listed) */
  showIncomparable: boolean;
  /** A/B: run the rounds even for a lane whose base build is byte-identical to the head's */
  measureIdentical: boolean;
}

export interface RawOptions {
  root?: string;
  nativeDir?: string;
  baselinesDir?: string;
  reportsDir?: string;
  lanes?: string;
  profile?: string;
  forcePath?: string;
  clangVersion?: string;
  threads?: string;
  timeout?: string;
  build?: boolean;
  history?: string;
  historyBranch?: string;
  charts?: boolean;
  showIncomparable?: boolean;
  measureIdentical?: boolean;
}

const DEFAULT_TIMEOUT_S: Record<Profile, number> = { smoke: 300, quick: 1200, full: 5400 };

export function parseLanes(text: string | undefined, flag = '--lanes'): LaneName[] {
  if (text === undefined || text.trim() === '' || text.trim() === 'all') return defaultLanes();
  const names = text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !isLaneName(n));
  if (unknown.length) {
    throw new InputError(
      `unknown lane ${unknown.map((u) => `"${u}"`).join(', ')}; known lanes: ${LANES.join(', ')}`,
      { field: flag },
    );
  }
  return [...new Set(names)] as LaneName[];
}

function oneOf<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  fallback: T,
  flag: string,
): T {
  if (value === undefined || value === '') return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new InputError(`${flag} must be one of ${allowed.join(', ')}, not "${value}"`, { field: flag });
}

function positiveInt(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new InputError(`${flag} must be a positive integer, not "${value}"`, { field: flag });
  return n;
}

export function buildConfig(raw: RawOptions, env: NodeJS.ProcessEnv = process.env): Config {
  const root = path.resolve(raw.root ?? '.');
  const nativeDir = path.resolve(root, raw.nativeDir ?? 'native');
  const baselinesDir = path.resolve(root, raw.baselinesDir ?? 'baselines');
  const profile = oneOf(raw.profile, PROFILES, 'quick', '--profile');
  const clangText = raw.clangVersion ?? env.INFENG_CLANG_VERSION;
  return {
    root,
    nativeDir,
    // matches the binaryDir of the release preset in native/CMakePresets.json
    buildDir: path.resolve(nativeDir, '..', 'build', 'native', 'release'),
    baselinesDir,
    rulesFile: path.join(baselinesDir, 'rules.yml'),
    reportsDir: path.resolve(root, raw.reportsDir ?? 'reports'),
    lanes: parseLanes(raw.lanes),
    profile,
    forcePath: oneOf(raw.forcePath ?? env.INFENG_FORCE_PATH, ISA_PATHS, 'auto', '--force-path'),
    clangVersion: positiveInt(clangText, 17, '--clang-version'),
    clangVersionExplicit: clangText !== undefined && clangText !== '',
    threads: positiveInt(raw.threads, os.availableParallelism(), '--threads'),
    timeoutMs: positiveInt(raw.timeout, DEFAULT_TIMEOUT_S[profile], '--timeout') * 1000,
    build: raw.build ?? true,
    ...(raw.history ? { historyDir: path.resolve(root, raw.history) } : {}),
    ...(raw.historyBranch ? { historyBranch: raw.historyBranch } : {}),
    charts: raw.charts ?? true,
    showIncomparable: raw.showIncomparable ?? false,
    measureIdentical: raw.measureIdentical ?? false,
  };
}
