// Measured costs → the simulator's CostModel.
//
// The probe (sched_engine.h) times the engine's real kernels at a grid of shapes; this turns
// that table into the CostModel's functions by interpolation, so the simulation's step times
// are the kernels' own, not a formula's. Pure (no timing, no threads): tested on made-up tables.
#pragma once
#include <vector>

#include "infeng/scheduler.h"

namespace infeng::sched::lane {

struct CostTable {
  int hidden = 0, layers = 0;
  std::vector<int> tokens;    // decode batch sizes probed, ascending, the first >= 1
  std::vector<int> adapters;  // distinct adapters probed, ascending, starting at 0
  std::vector<int> ranks;     // ascending
  // One decode step of the whole model on one thread, seconds: [rank][adapters][tokens].
  std::vector<double> step_s;
  std::vector<int> prompts;         // prompt lengths probed, ascending
  std::vector<double> prefill_s;    // per prompt length, one thread: GEMMs and tiled attention
  // Decode attention of one request (int8 KV, every layer) by its context, one thread.
  std::vector<int> contexts;        // ascending, the first >= 1
  std::vector<double> attn_s;       // per context
  std::vector<double> read_s;       // per rank: reading one adapter (every layer's A and B)
  std::vector<double> read_warm_s;  // per rank: the same read from the page cache (reported)
  std::vector<double> unpack_s;     // per rank: unpacking it into the kernels' layouts
  double unpack_slowdown = 1.0;     // decode step time with an unpack beside it / alone
  double load_slowdown = 1.0;       // load (read + unpack) time with decode beside it / alone

  double& step(int ri, int ai, int ti);
  double step(int ri, int ai, int ti) const;
};

// Throws std::invalid_argument naming the table field that is malformed (empty grid,
// unsorted axis, wrong size, a non-positive or non-finite time).
void validate(const CostTable& t);

// The CostModel that answers from the table: piecewise-linear in tokens, adapters, rank and
// prompt length between probed points, linear extrapolation from the last two points beyond
// them (never below the last probed value); decode and prefill spread over `threads` with
// Amdahl's law at serial_fraction. A step's attention is its tokens × the attention of their
// mean context (exact where attention is linear in the context, as it is between probed
// points). Values are never negative.
CostModel cost_model_from(const CostTable& t, double serial_fraction);

}  // namespace infeng::sched::lane
