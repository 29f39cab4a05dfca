// Facts about the machine a run happens on. They go into every result and every baseline's
// _meta, because an absolute number means nothing without them.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Compiler, Machine } from '../model/machine.js';

/** Flags that change which kernel paths can run; the rest of /proc/cpuinfo is noise here. */
const KERNEL_FLAGS = [
  'avx',
  'avx2',
  'fma',
  'f16c',
  'avx512f',
  'avx512bw',
  'avx512vl',
  'avx512dq',
  'avx512_vnni',
  'avx512_bf16',
  'avx_vnni',
  'amx_tile',
];

export function cpuInfo(text?: string): { model: string; isa: string[] } {
  let cpuinfo = text;
  if (cpuinfo === undefined) {
    try {
      cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      cpuinfo = '';
    }
  }
  const name = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  const flags = new Set((/^flags\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? '').split(/\s+/));
  return { model: withFamily(name, cpuinfo), isa: KERNEL_FLAGS.filter((f) => flags.has(f)).sort() };
}

/**
 * Hypervisors often mask the model name to a bare "AMD EPYC" or "Intel(R) Xeon(R) Processor":
 * a Zen 4 and a Zen 5 guest then read alike, though their same-run ratios differ (a 512-bit FMA
 * is one µop on Zen 5 and two on Zen 4). A name without a model number gets the CPUID family and
 * model, so each microarchitecture is its own machine class.
 */
export function withFamily(name: string, cpuinfo: string): string {
  if (/\d/.test(name)) return name;
  const family = /^cpu family\s*:\s*(\d+)\s*$/m.exec(cpuinfo)?.[1];
  const model = /^model\s*:\s*(\d+)\s*$/m.exec(cpuinfo)?.[1];
  return family !== undefined && model !== undefined ? `${name} (family ${family}, model ${model})` : name;
}

export function gitCommit(cwd: string): string {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return process.env.GITHUB_SHA?.slice(0, 12) ?? 'unknown';
  }
}

export function osName(): string {
  try {
    const rel = readFileSync('/etc/os-release', 'utf8');
    const pretty = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(rel)?.[1];
    if (pretty) return `${pretty} (${os.release()})`;
  } catch {
    // not Linux, or a minimal container
  }
  return `${os.type()} ${os.release()}`;
}

export function probeCompiler(path: string, requestedMajor: number): Compiler {
  let text = '';
  try {
    text = execFileSync(path, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return { id: 'unknown', version: 'unknown', major: 0, requestedMajor, path };
  }
  const m = /(clang|gcc|g\+\+)[^\d]*(\d+)\.(\d+)\.(\d+)/i.exec(text);
  const id = m?.[1]?.toLowerCase().startsWith('clang') ? 'clang' : m ? 'gcc' : 'unknown';
  return {
    id,
    version: m ? `${m[2]}.${m[3]}.${m[4]}` : 'unknown',
    major: m ? Number(m[2]) : 0,
    requestedMajor,
    path,
  };
}

export function describeMachine(cwd: string, compiler: Compiler, now = new Date()): Machine {
  const { model, isa } = cpuInfo();
  return {
    cpuModel: model,
    cores: os.availableParallelism(),
    isa,
    compiler,
    os: osName(),
    commit: gitCommit(cwd),
    time: now.toISOString(),
  };
}
