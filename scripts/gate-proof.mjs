#!/usr/bin/env node
// Measures the A/B gate itself on the machine it runs on:
//   A/A        N runs of `infeng-perf ab` with the base = the head: every failing verdict is a
//              false failure;
//   detection  the fused LoRA GEMM slowed by 3, 5 and 10 % (a spin proportional to the call's
//              own elapsed time, patched into a scratch clone only) measured by `ab` against the
//              unmodified commit: a run detects the slowdown when a verdict on the slowed
//              kernel (fused_gflops, or its same-run ratio fused_vs_unfused) is `regressed`.
// Writes a table (false-failure rate, detection rate per size, wall time) to stdout and to
// reports/gate-proof.md, and the raw outcomes to reports/gate-proof.json.
//
//   node scripts/gate-proof.mjs [--aa 10] [--runs 10] [--sizes 3,5,10] [--profile quick]
//
// Nothing here changes the project's checkout: the clone lives in a temporary folder (removed at
// the end unless --keep), with this checkout's node_modules and toolchain choice linked in.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  mkdirSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import process from 'node:process';
import console from 'node:console';
import { URL } from 'node:url';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { values: opt } = parseArgs({
  options: {
    aa: { type: 'string', default: '10' },
    runs: { type: 'string', default: '10' },
    sizes: { type: 'string', default: '3,5,10' },
    profile: { type: 'string', default: 'quick' },
    keep: { type: 'boolean', default: false },
  },
});
const aaRuns = Number(opt.aa);
const detectRuns = Number(opt.runs);
const sizes = opt.sizes.split(',').filter(Boolean).map(Number);
if (![aaRuns, detectRuns, ...sizes].every((n) => Number.isFinite(n) && n >= 0)) {
  console.error('gate-proof: --aa, --runs and --sizes take non-negative numbers');
  process.exit(2);
}

// The one kernel slowed: the fused LoRA GEMM's driver entry (native/src/gemm/gemm_driver.cpp).
const KERNEL_FILE = 'native/src/gemm/gemm_driver.cpp';
const ANCHOR = '  run(p, opt);  // K = 0 needs no branch: x·A is empty too, and y = 0';
function injectSlowdown(file, pct) {
  const text = readFileSync(file, 'utf8');
  if (!text.includes(ANCHOR)) throw new Error(`${KERNEL_FILE}: the line to patch is gone (${ANCHOR.trim()})`);
  const spin = [
    '  const auto injected_t0 = std::chrono::steady_clock::now();',
    ANCHOR,
    `  // injected by scripts/gate-proof.mjs: ${pct} % of the call's own time, spent spinning`,
    '  const auto injected_until = std::chrono::steady_clock::now() +',
    `      (std::chrono::steady_clock::now() - injected_t0) * ${pct} / 100;`,
    '  while (std::chrono::steady_clock::now() < injected_until) {',
    '  }',
  ].join('\n');
  writeFileSync(file, `#include <chrono>\n${text.replace(ANCHOR, spin)}`);
}

function git(cwd, ...args) {
  return execFileSync(
    'git',
    ['-C', cwd, '-c', 'user.name=gate-proof', '-c', 'user.email=gate-proof@localhost', ...args],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  ).trim();
}

const scratch = mkdtempSync(path.join(os.tmpdir(), 'infeng-gate-proof-'));
const repo = path.join(scratch, 'repo');
execFileSync('git', ['clone', '--quiet', '--no-hardlinks', root, repo]);
symlinkSync(path.join(root, 'node_modules'), path.join(repo, 'node_modules'));
mkdirSync(path.join(repo, 'build'), { recursive: true });
if (existsSync(path.join(root, 'build', 'toolchain.env'))) {
  copyFileSync(path.join(root, 'build', 'toolchain.env'), path.join(repo, 'build', 'toolchain.env'));
}
const cli = path.join(root, 'dist', 'index.js');

/** One `ab` run; its failing verdicts and whether fused_gflops regressed. */
function abRun(label, base) {
  const reports = path.join(scratch, 'reports', label);
  const t0 = Date.now();
  const r = spawnSync(
    process.execPath,
    [
      cli,
      'ab',
      '--root',
      repo,
      '--base',
      base,
      '--lanes',
      'gemm',
      '--profile',
      opt.profile,
      '--reports-dir',
      reports,
      // an A/A run's two builds are byte-identical, which `ab` would otherwise not measure
      '--measure-identical',
    ],
    { encoding: 'utf8', cwd: repo },
  );
  const wallS = (Date.now() - t0) / 1000;
  let verdicts;
  try {
    verdicts = JSON.parse(readFileSync(path.join(reports, 'verdicts.json'), 'utf8'));
  } catch {
    throw new Error(
      `${label}: no verdicts.json (exit ${r.status}):\n${(r.stderr ?? '').split('\n').slice(-15).join('\n')}`,
    );
  }
  if (!verdicts.ab) throw new Error(`${label}: not an A/B run: ${verdicts.abFallback ?? 'no ab section'}`);
  const all = verdicts.lanes.flatMap((l) => l.verdicts);
  const failing = all.filter(
    (v) => v.severity === 'fail' && (v.state === 'regressed' || v.state === 'error'),
  );
  // the slowed kernel's own measures: its throughput, and its same-run ratio over the unfused
  // path (three plain GEMMs, untouched by the patch), timed round-robin in the same process
  const ofKernel = (name) => all.filter((v) => v.source === 'ab' && v.metric === name);
  const fused = ofKernel('fused_gflops');
  const ratio = ofKernel('fused_vs_unfused');
  const detected = [...fused, ...ratio].some((v) => v.state === 'regressed');
  const rounds = verdicts.lanes.map((l) => l.ab?.rounds ?? 0);
  const fusedDelta = fused.map((v) => v.deltaPct).filter((x) => typeof x === 'number');
  const ratioDelta = ratio.map((v) => v.deltaPct).filter((x) => typeof x === 'number');
  const pct = (xs) => xs.map((d) => d.toFixed(1)).join(' / ');
  console.error(
    `${label}: exit ${r.status}, ${failing.length} failing, fused_gflops Δ ${pct(fusedDelta)} %, fused_vs_unfused Δ ${pct(ratioDelta)} %, ${rounds.join('/')} rounds, ${wallS.toFixed(0)} s`,
  );
  return {
    label,
    exit: r.status,
    failing: failing.map((v) => `${v.caseId} ${v.metric} ${v.state}`),
    detected,
    fusedDelta,
    ratioDelta,
    wallS,
  };
}

const outcomes = { machine: os.cpus()[0]?.model ?? 'unknown', profile: opt.profile, aa: [], detect: {} };
try {
  for (let i = 0; i < aaRuns; i++) outcomes.aa.push(abRun(`aa-${i + 1}`, 'HEAD'));
  const head = git(repo, 'rev-parse', 'HEAD');
  for (const pct of sizes) {
    git(repo, 'checkout', '--quiet', '--detach', head);
    injectSlowdown(path.join(repo, KERNEL_FILE), pct);
    git(repo, 'commit', '--quiet', '-am', `slow the fused GEMM by ${pct} %`);
    outcomes.detect[pct] = [];
    for (let i = 0; i < detectRuns; i++) outcomes.detect[pct].push(abRun(`slow${pct}-${i + 1}`, head));
  }
} finally {
  const rate = (xs, f) => (xs.length ? `${xs.filter(f).length} / ${xs.length}` : '—');
  const wall = (xs) =>
    xs.length ? `${(xs.reduce((s, x) => s + x.wallS, 0) / xs.length).toFixed(0)} s` : '—';
  const lines = [
    `# A/B gate proof (${outcomes.machine}, ${os.cpus().length} cores, gemm lane, ${opt.profile} profile)`,
    '',
    '| runs | what counts | rate | mean wall time |',
    '|---|---|---|---|',
    `| A/A (base = head) | a run with any failing verdict | ${rate(outcomes.aa, (o) => o.failing.length > 0)} | ${wall(outcomes.aa)} |`,
    ...Object.entries(outcomes.detect).map(
      ([pct, xs]) =>
        `| fused GEMM ${pct} % slower | fused_gflops or fused_vs_unfused regressed | ${rate(xs, (o) => o.detected)} | ${wall(xs)} |`,
    ),
  ];
  const table = `${lines.join('\n')}\n`;
  process.stdout.write(table);
  mkdirSync(path.join(root, 'reports'), { recursive: true });
  writeFileSync(path.join(root, 'reports', 'gate-proof.md'), table);
  writeFileSync(path.join(root, 'reports', 'gate-proof.json'), `${JSON.stringify(outcomes, null, 2)}\n`);
  if (!opt.keep) rmSync(scratch, { recursive: true, force: true });
  else console.error(`kept ${scratch}`);
}
