// The engine's real work for the scheduler lane, on the project's own kernels:
//   - Kernels: a llama-like decoder with LoRA adapters whose decode step (GEMMs and int8-KV
//     attention by context), prefill (GEMMs and tiled attention) and adapter load (file read
//     + unpack into the GEMM's packed layouts) run the real GEMM and attention code;
//   - probe_costs: times those at a grid of shapes into a CostTable (sched_costs.h);
//   - run_calibration: a short real-thread run (1 decode + 1 adapter thread) of the real
//     scheduler on a small trace, compared with the simulation of the same configuration.
// This file reads the wall clock on purpose; the simulator never does.
#pragma once
#include <cstddef>
#include <memory>
#include <vector>

#include "infeng/gemm.h"
#include "infeng/scheduler.h"
#include "sched_costs.h"
#include "sched_options.h"

namespace infeng::sched::lane {

// A llama-like decoder: per layer the q, k, v and o projections (LoRA adapters apply to these
// four, the common attention-only LoRA), int8-KV decode attention (grouped-query), and a
// gate/up/down MLP without adapters. head_dim = hidden / q_heads.
struct ModelShape {
  int hidden = 1024;
  int layers = 8;
  int q_heads = 16;
  int kv_heads = 4;
  int ffn = 2816;  // MLP intermediate size (0: no MLP)
  int head_dim() const { return q_heads > 0 ? hidden / q_heads : 0; }
  int kv_dim() const { return kv_heads * head_dim(); }
  // Floats of one adapter of this rank: every layer's A (K×r) and B (r×N) of q, k, v and o.
  std::size_t adapter_floats(int rank) const;
};
// Throws std::invalid_argument naming the field (heads that do not divide, a head_dim the
// attention kernels refuse, a negative ffn).
void validate(const ModelShape& s);

struct KernelLimits {
  int max_tokens = 16;     // decode rows per step
  int max_prompt = 128;    // prefill rows (longer prompts are clamped)
  int max_context = 1024;  // KV positions per request (longer contexts are clamped)
  int kv_slots = 16;       // distinct per-request KV caches a step cycles through
  // Layers whose weights are allocated and run by decode_step / prefill: every layer costs
  // the same, so the probe times a few and scales by layers / step_layers. 0: all layers.
  int step_layers = 0;
};

// The real work, on the project's kernels. A decode step: per layer, the q/k/v projections of
// every token (the fused LoRA kernel with one adapter in the step; with several, the base GEMM
// over all tokens plus each adapter's x·A·B on its own rows, the kernels having no
// multi-adapter fused form), int8-KV decode attention of each token over its request's
// context, the o projection (with LoRA the same way) and the MLP. Prefill: the same GEMMs over
// the prompt's rows and tiled causal attention (the KV append is not timed). An adapter load
// reads its bytes from the adapter file (fp32, A then B per projection and layer) into a
// staging buffer, and unpacks them into the fused and segmented packed layouts. One thread per
// call. Not thread-safe except load_read/load_unpack of an adapter no running step uses, which
// is the scheduler's guarantee.
class Kernels {
 public:
  Kernels(ModelShape shape, KernelLimits limits, AdapterStore store = AdapterStore::Storage);
  ~Kernels();
  Kernels(const Kernels&) = delete;
  Kernels& operator=(const Kernels&) = delete;

  // n adapters of this rank written to a fresh adapter file (unlinked, deterministic values).
  // Replaces the previous set.
  void set_adapters(int n, int rank);
  int adapters() const;
  std::size_t adapter_bytes() const;

  void load_read(int adapter);    // the adapter's file range → its staging copy
  void load_read_cached(int adapter);  // the same, never dropping the pages first
  void load_unpack(int adapter);  // staging → the fused and segmented packed layouts
  // One token per entry of `contexts` (its request's KV length; 0 skips its attention).
  void decode_step(const std::vector<int>& contexts, const std::vector<int>& adapters);
  // Attention of one request over step_layers layers at this context, in KV slot `slot`.
  void attend(int slot, int context);
  void prefill(int prompt_tokens);

  const ModelShape& shape() const;
  const KernelLimits& limits() const;
  // layers / step_layers: what the probe multiplies step and prefill times by.
  double layer_scale() const;
  AdapterStore store() const;

 private:
  void read_adapter(int adapter, bool drop);
  struct State;
  std::unique_ptr<State> s_;
};

struct ProbeGrid {
  std::vector<int> tokens = {1, 2, 4, 8, 16};
  std::vector<int> adapters = {0, 1, 2, 4, 8};
  std::vector<int> ranks = {16};
  std::vector<int> prompts = {32, 128, 384};
  std::vector<int> contexts = {64, 256, 1024};
  int repeats = 3;  // timed calls per shape; their mean is kept
};

// Times the real kernels at every grid shape. Allocates the adapters it needs.
CostTable probe_costs(Kernels& k, const ProbeGrid& g);

struct CalibrationOptions {
  // Small enough that a step and a load are a few milliseconds each on one core.
  ModelShape shape{512, 4, 8, 2, 1408};
  AdapterStore store = AdapterStore::Storage;
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
  // What the real loop measured against the cost model for the same shapes (1 = exact).
  double step_real_vs_model = 0, prefill_real_vs_model = 0, load_real_vs_model = 0;
  // The same over steps and prefills together, apart for the first work after the decode
  // thread waited (cold) and the rest (warm).
  double cold_real_vs_model = 0, warm_real_vs_model = 0;
  int real_steps = 0, sim_steps = 0, real_loads = 0, sim_loads = 0;
  // The probed load_slowdown the simulation used (the mean of the two probes).
  double load_slowdown = 1;
  // A mid-sized decode step probed after the real run / before it: the machine's drift.
  double probe_drift = 1;
};

// Element-wise mean of two probes of the same grid (std::invalid_argument otherwise).
CostTable mean_table(const CostTable& a, const CostTable& b);

// The relative errors of a simulation against a real run, in percent, the largest of the
// three; pure, tested.
double sim_error_pct(double real_p50, double real_p95, double real_tps, double sim_p50,
                     double sim_p95, double sim_tps);

CalibrationResult run_calibration(const CalibrationOptions& o);

}  // namespace infeng::sched::lane
