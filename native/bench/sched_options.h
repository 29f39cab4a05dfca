// The scheduler lane's knobs: command-line flags → the trace, scheduler, simulator and probe
// settings of one run, and the sweep points the run covers.
//
// Kept apart from the bench binary (and from Google Benchmark) so that every bad value is
// tested: parse_lane_options throws std::invalid_argument naming the flag, and the binary turns
// that into a usage error (exit 2). Both spellings of a flag are accepted, --zipf_alpha and
// --zipf-alpha, because the seed's command line mixes them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "infeng/scheduler.h"

namespace infeng::sched::lane {

// Where an adapter outside the cache lives. Storage: in a file whose pages are dropped from
// the page cache before each read (posix_fadvise DONTNEED), so a load reads the device, as it
// does when the host-memory cache holds fewer adapters than the set. PageCache: the same file
// read with its pages resident (host memory to host memory).
enum class AdapterStore { Storage, PageCache };

// One point of the popularity sweep: Zipf with an exponent (<= 0: round-robin), or uniform
// random (round-robin is LRU's pathological case; uniform is the fair flat trace).
struct Popularity {
  bool uniform = false;
  double alpha = 1.0;
  std::string label() const;  // "uniform" or "zipf<alpha>" (alpha with up to 2 decimals)
};

struct SweepPoint {
  Popularity popularity;
  int adapters = 100;
  int rank = 16;
  double mean_adapters = 1.0;
  // The case name the TypeScript lane parses: <popularity>/N<adapters>/r<rank>/m<mean>.
  std::string name() const;
};

struct LaneOptions {
  // The trace (same seed for every point and policy).
  std::uint64_t seed = 1;
  int num_requests = 0;       // > 0: this many requests; 0: every arrival before duration_s
  double duration_s = 90;
  double load_rps = 24;
  bool include_base = false;
  bool gamma_arrivals = false;
  double gamma_cv = 1.0;      // coefficient of variation of the gaps (gamma arrivals)
  int max_new_tokens = 128;   // output lengths uniform in [max/8, max]
  int prompt_median = 128;    // prompt lengths lognormal (sigma 0.5) in [8, 1024]
  int max_adapters_per_req = 4;

  // The sweep: every combination of these (grid), or (star) the first value of every list as
  // the centre point plus one point per other value, varying one knob at a time.
  bool star = false;
  std::vector<Popularity> popularity = {{false, 1.0}};
  std::vector<int> adapters = {100};
  std::vector<int> ranks = {16};
  std::vector<double> mean_adapters = {1.0};

  // The scheduler.
  std::vector<Policy> policies = {Policy::FcfsLru, Policy::AffinityPrefetch, Policy::CostAware};
  int cache_adapters = 16;
  int max_batch = 16;
  int max_adapters_per_batch = 8;
  int max_wait_steps = 64;

  // The modelled target machine (virtual time).
  int decode_threads = 6;
  int adapter_threads = 4;
  bool pin_cores = false;          // the calibration run pins its two threads
  double serial_fraction = 0.1;    // decode scaling across decode_threads (Amdahl)
  unsigned machine_cores = 0;      // cores of the machine running the bench (for the note)

  // The model the probe times (sched_engine.h ModelShape): llama-like layers, LoRA on q/k/v/o.
  int hidden = 1024;
  int layers = 8;
  int q_heads = 16;
  int kv_heads = 4;
  int ffn = 2816;
  // Layers the probe runs (0: all): every layer costs the same, so a few are timed and the
  // step and prefill times scaled to `layers`; adapters are loaded at their full size.
  int probe_layers = 2;
  // Where adapters outside the cache live (sched_engine.h), and how many loads may read the
  // device at full speed at once (the simulator's storage_lanes).
  AdapterStore adapter_store = AdapterStore::Storage;
  int storage_lanes = 1;
  int probe_repeats = 3;           // timed calls per probe shape (the median is kept)

  // Capacity search targets.
  double p95_target_ms = 5000;
  double queue_target_ms = 200;
  // Each capacity probe is a trace of this many requests at the probed rate (same seed), so a
  // probe far above capacity costs no more than one near it.
  int capacity_requests = 600;

  // The real-thread calibration (1 decode + 1 adapter thread, small shapes).
  bool calibrate = true;
  int calib_requests = 48;

  std::vector<SweepPoint> sweep() const;
  // Facts for the summary: e.g. "modelled 6 decode + 4 adapter threads on a 2-core machine".
  std::string threads_note() const;
};

// Takes the lane's flags out of argv (the rest is left for Google Benchmark). Throws
// std::invalid_argument naming the flag for a bad value.
LaneOptions parse_lane_options(int& argc, char** argv, unsigned machine_cores);

// The trace of a sweep point (load_rps given: the capacity search varies it).
TraceOptions trace_options(const LaneOptions& o, const SweepPoint& p, double load_rps);
SchedulerConfig scheduler_config(const LaneOptions& o, Policy p);

}  // namespace infeng::sched::lane
