// Serve mode: one bench process answers every A/B round of a lane.
//
// An A/B lane alternates the base's bench and the head's, round after round. Started afresh for
// each round, a bench spends most of its time on setup (packing a GiB of weights, faulting in a
// GiB of KV copies, checking outputs) rather than on the timed calls the verdicts use. Given
// --infeng_serve, a bench starts, says it is ready, and then runs whatever benchmarks the runner
// names, as often as asked. The runner asks for one case at a time on both sides (ABBA). It
// does so only when rules.yml `ab.serve` asks: src/lanes/ab-served.ts says why that is off.
//
// The protocol is lines on stdin and stdout:
//   bench:  "@@infeng-serve ready"
//   runner: "run <0|1> <filter>"   (1: an A/B round after the first, INFENG_BENCH_AB_ROUND=1;
//                                    filter: a --benchmark_filter value)
//   bench:  Google Benchmark's console output, then "@@infeng-serve done <benchmarks run>";
//           the JSON of the run is in the --benchmark_out file, rewritten by each run
//   runner: "quit", or closes stdin
// A base bench from before serve mode rejects the flag as unrecognized, and the runner then
// starts one process per round instead.
#pragma once

namespace infeng::bench {

// What a bench drops before every served run: its cached case. Each run then sets its case up
// afresh, as a process started for the round would: the placement of a case's buffers in memory
// moves its speed by several percent, and a setup shared by every round would turn one lucky
// placement into a difference between the sides instead of noise between rounds. What costs a
// fresh process most (starting, first-touch page faults, peer libraries' pools) is still paid
// once.
void set_serve_reset(void (*reset)());

// Removes "--infeng_serve" from argv; true when it was there.
bool take_serve_flag(int& argc, char** argv);

// Runs the registered benchmarks once (serve = false), or serves runs until told to quit.
// Returns the process's exit status.
int run_benchmarks(bool serve);

// Whether this run is an A/B round after the first (INFENG_BENCH_AB_ROUND=1). Read per call:
// in serve mode each run command sets it.
bool later_ab_round();

}  // namespace infeng::bench
