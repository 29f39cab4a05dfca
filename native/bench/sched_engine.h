// The engine's real work for the scheduler lane, on the project's own kernels:
//   - Kernels: a model of `layers` H×H projections with LoRA adapters, whose decode step,
//     prefill and adapter load (read + unpack into the GEMM's packed layouts) run the real
//     GEMM code;
//   - probe_costs: times those at a grid of shapes into a CostTable (sched_costs.h);
//   - run_calibration: a short real-thread run (1 decode + 1 adapter thread) of the real
//     scheduler on a small trace, compared with the simulation of the same configuration.
// This file reads the wall clock on purpose; the simulator never does.
#pragma once
#include <memory>
#include <vector>

#include "infeng/gemm.h"
#include "infeng/scheduler.h"
#include "sched_costs.h"

namespace infeng::sched::lane {

struct ModelShape {
  int hidden = 1024;
  int layers = 8;
};

// One decode step: every token goes through every layer's base projection (W streams once per
// step); with one adapter in the step the fused LoRA kernel runs; with several, the base GEMM
// runs over all tokens and each adapter's low-rank product x·A·B is added on its own rows (the
// kernels have no multi-adapter fused form, so this is what the engine would run). Prefill is
// the prefill-schedule GEMM over the prompt's rows. One thread per call (the simulator models
// more with Amdahl's law). Not thread-safe except load_read/load_unpack of an adapter that no
// running step uses, which is the scheduler's guarantee.
class Kernels {
 public:
  Kernels(ModelShape shape, int max_tokens, int max_prompt);
  ~Kernels();
  Kernels(const Kernels&) = delete;
  Kernels& operator=(const Kernels&) = delete;

  // Adapter storage: n adapters of this rank, their raw A and B for every layer ("on disk",
  // here host memory), deterministic values. Replaces the previous set.
  void set_adapters(int n, int rank);
  int adapters() const;

  void load_read(int adapter);    // raw A, B → the staging copy the unpack reads
  void load_unpack(int adapter);  // staging → the fused and segmented packed layouts
  void decode_step(int tokens, const std::vector<int>& adapters);
  void prefill(int prompt_tokens);

  const ModelShape& shape() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

struct ProbeGrid {
  std::vector<int> tokens = {1, 2, 4, 8, 16};
  std::vector<int> adapters = {0, 1, 2, 4, 8};
  std::vector<int> ranks = {16};
  std::vector<int> prompts = {32, 128};
  int repeats = 3;  // timed calls per shape; their mean is kept
};

// Times the real kernels at every grid shape. Allocates the adapters it needs.
CostTable probe_costs(Kernels& k, const ProbeGrid& g);

struct CalibrationOptions {
  ModelShape shape{1024, 8};
  int rank = 16;
  int adapters = 6;
  int requests = 48;
  double zipf_alpha = 1.0;
  std::uint64_t seed = 7;
  bool pin_cores = true;
  // Offered load as a share of the probed one-request-at-a-time service rate.
  double load_share = 0.3;
  Policy policy = Policy::AffinityPrefetch;
};

struct CalibrationResult {
  int requests = 0;
  double load_rps = 0;
  double wall_s = 0;
  bool pinned = false;
  double real_p50_ms = 0, real_p95_ms = 0, real_tokens_per_s = 0;
  double sim_p50_ms = 0, sim_p95_ms = 0, sim_tokens_per_s = 0;
  // The largest of the three relative errors |sim − real| / real, in percent.
  double sim_error_pct = 0;
};

// The relative errors of a simulation against a real run, in percent, the largest of the
// three; pure, tested.
double sim_error_pct(double real_p50, double real_p95, double real_tps, double sim_p50,
                     double sim_p95, double sim_tps);

CalibrationResult run_calibration(const CalibrationOptions& o);

}  // namespace infeng::sched::lane
