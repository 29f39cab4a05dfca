// A machine class: the facts that decide whether two measurements of the same code can be
// compared at all — CPU model, core count, the ISA path that ran and the compiler major.
// Baselines are kept one folder per class (baselines/<class>/<lane>.json), so a run is only
// ever judged against measurements from its own class. GitHub's hosted runners change CPU
// model from run to run on one label: each model is its own class.
import type { Machine } from './machine.js';
import type { BaselineMeta } from './baselines.js';

export interface MachineClass {
  cpuModel: string;
  cores: number;
  /** the ISA path the lane ran (scalar | avx2 | avx512) */
  path: string;
  /** compiler id, e.g. "clang" */
  compiler: string;
  compilerMajor: number;
}

/** "Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz" → "intel-xeon-platinum-8370c" */
export function cpuSlug(model: string): string {
  const slug = model
    .toLowerCase()
    .replace(/\((r|tm|c)\)/g, ' ')
    .replace(/@.*$/, ' ')
    .replace(/\bcpu\b/g, ' ')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return slug === '' ? 'unknown-cpu' : slug;
}

/** The folder name of a class: readable, and safe as one path segment. */
export function classKey(c: MachineClass): string {
  const compiler = (c.compiler.toLowerCase().replace(/[^a-z0-9]+/g, '') || 'cc') + String(c.compilerMajor);
  const path = c.path.replace(/[^a-z0-9]+/gi, '') || 'nopath';
  return `${cpuSlug(c.cpuModel)}_${c.cores}c_${path}_${compiler}`;
}

export function classOfRun(machine: Machine, path: string): MachineClass {
  return {
    cpuModel: machine.cpuModel,
    cores: machine.cores,
    path,
    compiler: machine.compiler.id,
    compilerMajor: machine.compiler.major,
  };
}

export function classOfBaseline(meta: BaselineMeta): MachineClass {
  return {
    cpuModel: meta.hardware,
    cores: meta.cores,
    path: meta.path,
    // "_meta.compiler" is "<id> <version>"
    compiler: meta.compiler.split(' ')[0] ?? '',
    compilerMajor: meta.compilerMajor,
  };
}

/** One line for people: "AMD EPYC 7763, 2 cores, avx2, clang 17". */
export function describeClass(c: MachineClass): string {
  return `${c.cpuModel}, ${c.cores} cores, ${c.path || 'no path'}, ${c.compiler} ${c.compilerMajor}`;
}
