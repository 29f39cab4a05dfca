// Serving many LoRA adapters on one CPU engine: which queued requests join the running batch
// at each decode step, which adapters stay resident in the host-memory adapter cache, and when
// an adapter is loaded (read + unpacked into the GEMM's packed layout, gemm::pack_lora).
//
// Three parts, usable on their own:
//   - a trace generator, deterministic from a seed on the project's own PRNG, so a trace (and
//     its hash) is the same on every standard library;
//   - the scheduler, with its policies behind one interface. It knows nothing of time: it works
//     in decode steps, so the same code runs under an engine's loop or the simulator;
//   - a virtual-time simulator that drives the scheduler with a cost model of the target
//     machine (decode and adapter threads as lanes) and a capacity search on top of it. It
//     never reads the wall clock: its only time is a VirtualClock it advances itself.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace infeng::sched {

// ---------------------------------------------------------------------------------------------
// PRNG

// xoshiro256** seeded through splitmix64. Every random draw of the trace goes through this one
// generator, and every distribution on top of it is written here, because the standard
// library's distributions give different sequences on different implementations.
class Rng {
 public:
  // Independent streams of one seed: the trace draws arrivals and contents from separate
  // streams, so changing the rate rescales the arrival times and leaves the contents alone.
  explicit Rng(std::uint64_t seed, std::uint64_t stream = 0);
  std::uint64_t next();
  double uniform();                        // [0, 1), 53 bits
  std::uint64_t below(std::uint64_t n);    // [0, n), n > 0
  double normal();                         // standard normal (Box–Muller)
  double exponential(double mean);
  double gamma(double shape, double scale);  // Marsaglia–Tsang

 private:
  std::uint64_t s_[4];
};

// ---------------------------------------------------------------------------------------------
// Trace

// The request targets no adapter: it runs on the base model alone.
inline constexpr int kBaseModel = -1;

struct Request {
  int id = 0;
  std::int64_t arrival_ns = 0;  // whole nanoseconds: the hash does not see libm's last bits
  int prompt_tokens = 1;
  int output_tokens = 1;
  std::vector<int> adapters;    // sorted, distinct; empty for the base model
  bool base() const { return adapters.empty(); }
};

enum class Popularity { Zipf, Uniform };
enum class Arrivals { Poisson, Gamma };
enum class LengthKind { Fixed, Uniform, Lognormal };

struct LengthSpec {
  LengthKind kind = LengthKind::Fixed;
  int value = 128;           // Fixed
  int min = 1, max = 4096;   // Uniform range; Lognormal clamp
  double median = 128;       // Lognormal: exp(mu) of the underlying normal
  double sigma = 0.5;        // Lognormal
};

struct TraceOptions {
  std::uint64_t seed = 1;
  int num_adapters = 16;
  Popularity popularity = Popularity::Zipf;
  // Weight of popularity rank i ∝ 1/(i+1)^alpha; alpha <= 0 cycles through the ranks in order.
  double zipf_alpha = 1.0;
  // The base model as one more entry of the popularity ranking, at this rank.
  bool include_base = false;
  int base_popularity_rank = 0;
  // Adapter i has rank adapter_ranks[i % size].
  std::vector<int> adapter_ranks = {16};
  // Request count, or (duration_s > 0) every arrival before duration_s.
  int num_requests = 1000;
  double duration_s = 0;
  double load_rps = 10;
  Arrivals arrivals = Arrivals::Poisson;
  double gamma_shape = 1.0;  // Gamma: the gaps' squared coefficient of variation is 1/shape
  LengthSpec prompt{LengthKind::Fixed, 128};
  LengthSpec output{LengthKind::Fixed, 64};
  // Above 1, a request uses a small set of adapters: 1 + Poisson(mean - 1) of them, at most
  // max_adapters_per_req (and num_adapters); a base-model request stays without adapters.
  double mean_adapters_per_req = 1.0;
  int max_adapters_per_req = 4;
};

struct Trace {
  int num_adapters = 0;
  bool include_base = false;
  std::vector<int> adapter_rank;  // per adapter id
  std::vector<Request> requests;  // by arrival; id = index
};

// Throws std::invalid_argument naming the option at fault.
void validate(const TraceOptions& o);
Trace generate_trace(const TraceOptions& o);

struct TraceStats {
  int requests = 0;
  double duration_s = 0;     // last arrival
  double offered_rps = 0;    // requests / duration_s
  // Over adapter uses (a multi-adapter request counts once per adapter; a base-model request
  // once for the base entry when the base is part of the ranking).
  double top1_share = 0;
  double top10pct_share = 0;  // the ceil(10 %) most used entries of the ranking
  double base_share = 0;      // of requests
  double mean_adapters_per_req = 0;
  std::uint64_t hash = 0;
};
TraceStats trace_stats(const Trace& t);
// FNV-1a (64-bit) over the adapter table and every request's fields, little-endian.
std::uint64_t trace_hash(const Trace& t);

// ---------------------------------------------------------------------------------------------
// Scheduler

// fcfs_lru          FCFS admission; a step mixes adapters up to the cap, and a request that
//                   would bring one adapter too many is passed over (later ones still join);
//                   LRU eviction; a request whose adapter is not resident joins and the whole
//                   step waits for the load (loading on the critical path). No prefetch.
// affinity_prefetch FCFS among the requests whose adapters are resident or already in the
//                   step; the others wait while the adapters of the first prefetch_lookahead
//                   queued requests load beside decode, into free slots or in place of adapters
//                   no running or earlier queued request needs (LRU among equals). A request
//                   that has waited max_wait_steps steps goes first and may join before its
//                   adapters are in, the step then waiting for the load.
// cost_aware        shortest request (prompt + output) first, never preempting, within the same
//                   starvation bound; a request joins only once its adapters are resident, so
//                   every load (its unpack included) runs beside decode; eviction by use count
//                   aged per step × reload cost, recency breaking ties.
enum class Policy { FcfsLru, AffinityPrefetch, CostAware };
// "fcfs_lru", "affinity_prefetch", "cost_aware"; anything else throws std::invalid_argument.
Policy policy_from_name(std::string_view name);
const char* policy_name(Policy p);

struct SchedulerConfig {
  Policy policy = Policy::FcfsLru;
  int cache_capacity = 8;          // adapters resident (or loading) at once
  int max_batch_size = 16;         // requests per decode step
  int max_adapters_per_batch = 4;  // distinct adapters per step (at most cache_capacity count)
  // A request that has waited this many steps is considered before any other
  // (affinity_prefetch, cost_aware). The oldest such request that still cannot join reserves a
  // batch position, room under the cap and cache slots for its adapters; when the cap is what
  // keeps it out, the step's adapter that drains soonest takes no new requests.
  int max_wait_steps = 64;
  int prefetch_lookahead = 32;     // queued requests, in policy order, whose adapters prefetch
  double frequency_decay = 0.98;   // cost_aware: use counts age by this factor per step
};
void validate(const SchedulerConfig& c);

struct StepPlan {
  std::int64_t step = -1;       // index of the step this plan runs; -1 when nothing runs
  std::vector<int> batch;       // request ids decoding in it (the admitted ones included)
  std::vector<int> admitted;    // request ids joining in it: their prefill runs in this step
  std::vector<int> adapters;    // distinct adapters of the batch, sorted
  std::vector<int> loads;       // adapters whose load starts now
  std::vector<int> evicted;     // adapters dropped to make room for those loads
  // False: an adapter of the batch is still loading and the step starts once batch_ready().
  bool ready = true;
  bool empty() const { return batch.empty(); }
};

// Drives admission, batching and the adapter cache one step at a time; knows nothing of time.
// The caller's loop: plan_step(); start plan.loads on adapter threads; when batch_ready(), run
// the step (prefill of plan.admitted, one token for every request of plan.batch) and call
// finish_step(); report every finished load with on_load_done(). A plan with an empty batch
// runs no step: plan again after the next submit or finished load. Not thread-safe: one loop
// drives it, adapter threads report back through that loop.
class Scheduler {
 public:
  // reload_cost_s[a]: time to load adapter a again, read by cost_aware; its size is the number
  // of adapters.
  Scheduler(const SchedulerConfig& config, std::vector<double> reload_cost_s);
  ~Scheduler();
  Scheduler(Scheduler&&) noexcept;
  Scheduler& operator=(Scheduler&&) noexcept;

  // Queues a request (copied). Throws std::invalid_argument for an unknown adapter, a reused
  // id, no output token, or more adapters than one step may hold.
  void submit(const Request& r);
  // Warm start: makes an adapter resident without a load. Throws when the cache is full.
  void preload(int adapter);

  StepPlan plan_step();              // only when no planned step is outstanding
  bool batch_ready() const;          // every adapter of the planned step is resident
  void on_load_done(int adapter);
  // The planned step ran. Returns the requests it finished, in batch order.
  std::vector<int> finish_step();

  bool resident(int adapter) const;
  bool loading(int adapter) const;
  int queued() const;
  int running() const;
  std::int64_t steps() const;        // steps planned so far
  int waited_steps(int request_id) const;  // steps it spent queued; -1 once admitted or unknown
  const SchedulerConfig& config() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// ---------------------------------------------------------------------------------------------
// Virtual-time simulator

// Virtual time in whole nanoseconds: the simulator's only clock. It moves when the simulator
// moves it, to the next event, so a result depends on the trace, the configuration and the
// cost model alone, never on how fast or how loaded the machine running it is.
class VirtualClock {
 public:
  std::int64_t now_ns() const { return now_ns_; }
  void advance_to(std::int64_t t_ns);  // throws std::logic_error when t_ns is in the past

 private:
  std::int64_t now_ns_ = 0;
};

struct StepShape {
  int tokens = 0;    // requests in the step, one token each
  int adapters = 0;  // distinct adapters
  int rank = 0;      // the largest rank among them (0 without adapters)
  int threads = 1;   // decode threads
  // KV positions the step's tokens attend to, summed over its requests (prompt + tokens
  // generated before this step): decode attention grows with it.
  std::int64_t context_tokens = 0;
};

// Times on the target machine. The linear model below is the default; a bench that measured
// the kernels sets the std::function members instead (seconds, at the thread count given).
struct CostModel {
  // One decode step on one thread: the weights stream once per step, every token adds its
  // share, every distinct adapter streams its A and B, and the low-rank products grow with
  // tokens × rank.
  double step_fixed_s = 0.030;
  double step_per_token_s = 0.0004;
  double step_per_adapter_rank_s = 2e-5;  // × adapters × rank
  double step_per_token_rank_s = 2e-6;    // × tokens × rank
  // Decode attention per KV position attended (0: attention not modelled).
  double step_per_context_token_s = 0;
  double prefill_per_token_s = 0.0015;    // one thread
  // On t threads a step takes its one-thread time / (t / (1 + serial_fraction·(t − 1))).
  double serial_fraction = 0.1;
  // One load on one adapter thread: read, then unpack into the GEMM's packed layout.
  double load_fixed_s = 0.0005;
  double load_read_per_rank_s = 0.0001;
  double load_unpack_per_rank_s = 0.0002;
  // Decode runs this many times slower per unpack running beside it (1 + (f − 1)·unpacks):
  // the unpack takes cores, cache and memory bandwidth the decode step would use.
  double unpack_slowdown = 1.15;
  // A load (read and unpack) that starts while a decode step runs takes this many times its
  // time alone: both stream memory, and the step takes the bandwidth the load would use.
  double load_slowdown = 1.0;

  // The step without its attention; attention(mean context, threads) is one token's.
  std::function<double(const StepShape&)> decode_step;
  std::function<double(double mean_context, int threads)> attention;
  std::function<double(int prompt_tokens, int threads)> prefill;
  std::function<double(int rank)> load_read;
  std::function<double(int rank)> load_unpack;

  // The whole step: decode_step (or the linear model) plus attention_s.
  double decode_step_s(const StepShape& s) const;
  double attention_s(const StepShape& s) const;
  double prefill_s(int prompt_tokens, int threads) const;
  double load_read_s(int rank) const;
  double load_unpack_s(int rank) const;
  double load_s(int rank) const { return load_read_s(rank) + load_unpack_s(rank); }
};
void validate(const CostModel& c);

struct SimConfig {
  int decode_threads = 6;   // one step at a time uses all of them
  int adapter_threads = 4;  // one load per thread; further loads queue
  // Loads whose reads run at full speed at once: the reads share the storage device, so with
  // 1 the read of a load starts when the previous read ends (its unpack still runs on its own
  // adapter thread). 0: every read at full speed.
  int storage_lanes = 1;
  // Also run the trace with every request on the base model, for lora_tax_pct.
  bool lora_tax = true;
};
void validate(const SimConfig& c);

enum class SimEventKind { Arrival, LoadStart, LoadDone, StepStart, StepDone };
struct SimEvent {
  SimEventKind kind;
  std::int64_t t_ns;
  int id;  // request (Arrival), adapter (Load*), step index (Step*)
};
// Observers only: whatever a hook does (log, sleep) cannot change the result.
struct SimHooks {
  std::function<void(const SimEvent&)> on_event;
};

struct RequestTiming {
  std::int64_t arrival_ns = 0;
  std::int64_t start_ns = -1;   // start of the step it joined
  std::int64_t finish_ns = -1;  // end of the step of its last token
  std::int64_t admit_step = -1;
};

struct SimResult {
  int requests = 0;
  std::int64_t steps = 0;
  double makespan_s = 0;            // first arrival to last token
  double p50_ms = 0, p95_ms = 0;    // latency, arrival to last token
  double base_p95_ms = 0;           // the base model's requests (NaN without any)
  int base_requests = 0;
  double tokens_per_s = 0;          // output tokens / makespan
  double queue_wait_p95_ms = 0;     // arrival to the start of the step it joined
  double hot_reload_ms_p95 = 0;     // loads of an adapter evicted before: issue to resident
  double load_ms_p95 = 0;           // every load: issue to resident
  double decode_utilisation = 0;    // share of the makespan with a step running
  double adapter_utilisation = 0;   // busy share of the adapter threads
  double overlap_ratio = 0;         // share of adapter-thread busy time with a step running
  double cache_hit_rate = 0;        // 1 − loads / adapter uses by admitted requests
  double loads_per_s = 0;
  std::int64_t loads = 0, reloads = 0, evictions = 0;
  std::vector<double> adapter_worst_wait_ms;  // per adapter id; 0 for an unused one
  double base_worst_wait_ms = 0;
  double worst_wait_ms = 0;
  double jain_fairness = 1;         // over mean latency per adapter (the base model as one)
  double base_tokens_per_s = 0;     // the same trace on the base model (NaN when not run)
  double lora_tax_pct = 0;          // (1 − tokens_per_s / base_tokens_per_s) · 100 (NaN: not run)
  std::vector<RequestTiming> timings;  // by request id
};

// Runs the trace (request ids 0..n-1 in arrival order, as generate_trace makes them) through
// the scheduler on the cost model. Deterministic.
SimResult simulate(const Trace& trace, const SchedulerConfig& sched, const CostModel& cost,
                   const SimConfig& sim = {}, const SimHooks& hooks = {});

// ---------------------------------------------------------------------------------------------
// Capacity search

struct CapacityTargets {
  double p95_ms = 5000;
  double queue_wait_p95_ms = 1000;
};
bool meets_targets(const SimResult& r, const CapacityTargets& t);

struct CapacityOptions {
  double min_rps = 0.1;
  double max_rps = 100;
  int max_probes = 20;         // simulations, the two ends included
  double rel_tolerance = 0.01; // stop when the bracket is this narrow relative to its low end
};

struct CapacityResult {
  bool found = false;    // false: even min_rps misses the targets (rps = 0)
  bool at_max = false;   // max_rps still meets them: the capacity is at least rps
  double rps = 0;
  SimResult at_rps;
  std::vector<std::pair<double, bool>> probes;  // rps, met, in the order simulated
};

// The highest load_rps whose p95 latency and queue-wait p95 stay within the targets, by
// bisection between min_rps and max_rps, each probe a fresh trace from `trace` at that rate
// (same seed: arrivals rescale, contents stay). Assumes the targets are met below some rate
// and missed above it.
CapacityResult find_capacity(const TraceOptions& trace, const SchedulerConfig& sched,
                             const CostModel& cost, const SimConfig& sim,
                             const CapacityTargets& targets, const CapacityOptions& opt = {});

}  // namespace infeng::sched
