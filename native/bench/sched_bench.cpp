// The scheduler lane: multi-adapter serving under a seeded Zipf trace, on the engine's real
// kernels and its real scheduler.
//
// Two cores cannot run 6 decode + 4 adapter threads honestly, so (as Vidur and LLMServingSim
// do) each repetition of a sweep point
//   1. probes the real kernels at real shapes (decode steps by tokens, distinct adapters and
//      rank; prefill; adapter read and unpack; decode slowed by an unpack beside it),
//   2. runs the real scheduler in virtual time on those costs, every policy on the same trace,
//      with the threads as modelled lanes of the target machine, and searches each policy's
//      capacity at the p95 and queue-wait targets.
// The probe is the only timed part, so the repetitions' spread is the kernels' own; the
// policies of one repetition share one probe, so their ratios are exact same-run figures.
// sched/calibration checks the simulation against a short real-thread run of the same
// configuration (1 decode + 1 adapter thread) and reports sim_error_pct.
//
// Benchmark names are a contract with the lane's parser (src/lanes/sched/lane.ts):
// sched/<popularity>/N<adapters>/r<rank>/m<mean adapters>, counters <policy>.<metric>; and
// sched/calibration.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

#include "bench_flags.h"
#include "infeng/dispatch.h"
#include "infeng/scheduler.h"
#include "sched_costs.h"
#include "sched_engine.h"
#include "sched_options.h"

namespace {

namespace sc = infeng::sched;
namespace lane = infeng::sched::lane;

lane::LaneOptions g_opt;

void print_lane_flags() {
  std::printf(
      "scheduler lane flags (either _ or - in the names):\n"
      "  --seed=N --num_requests=N (0: by duration) --duration_s=S --load_rps=R\n"
      "  --zipf_alpha=LIST (numbers, <= 0 round-robin, or 'uniform') --include_base=BOOL\n"
      "  --adapters=LIST --rank=LIST --mean_adapters=LIST --sweep=grid|star (every combination,\n"
      "    or the first values as the centre and one knob varied at a time)\n"
      "  --arrivals=poisson|gamma --gamma_cv=X --max_new_tokens=N --prompt_median=N\n"
      "  --max_adapters_per_req=N --policies=fcfs_lru,affinity_prefetch,cost_aware\n"
      "  --cache_adapters=N --max_batch=N --max_adapters_per_batch=N --max_wait_steps=N\n"
      "  --decode_threads=N --adapter_threads=N --pin_cores=BOOL --serial_fraction=X\n"
      "  --hidden=H --layers=L --q_heads=N --kv_heads=N --ffn=F --probe_layers=N --probe_repeats=N\n"
      "  --adapter_store=storage|page_cache --storage_lanes=N --p95_target_ms=X --queue_target_ms=X\n"
      "  --capacity_requests=N (requests per capacity probe)\n"
      "  --calibrate=BOOL --calib_requests=N --force_path=auto|scalar|avx2|avx512\n\n");
}

// The rate full base-model batches on the modelled decode lanes could serve (prefill of the
// median prompt plus a batch share of every output token): no policy serves more, so the
// capacity search tops out at twice it and saturation is measured there.
double ideal_rps(const sc::CostModel& cost, const lane::LaneOptions& o) {
  const double out_mean = 0.5 * (std::max(1, o.max_new_tokens / 8) + o.max_new_tokens);
  const double step = cost.decode_step_s(sc::StepShape{o.max_batch, 0, 0, o.decode_threads});
  const double per_req = cost.prefill_s(o.prompt_median, o.decode_threads) + out_mean * step / o.max_batch;
  return 1.0 / per_req;
}

void set(benchmark::State& st, const std::string& name, double v) { st.counters[name] = v; }

// One repetition of a sweep point: a fresh probe, then every policy on the same trace.
void run_point(benchmark::State& state, const lane::SweepPoint& point, const sc::Trace& trace,
               const sc::TraceOptions& topt, lane::Kernels& kernels) {
  // kernels.adapter_bytes() is of the last rank set_adapters saw: this point's, once probed.
  const auto& o = g_opt;
  lane::ProbeGrid grid;
  grid.ranks = {point.rank};
  grid.repeats = o.probe_repeats;
  sc::SimConfig sim;
  sim.decode_threads = o.decode_threads;
  sim.adapter_threads = o.adapter_threads;
  sim.storage_lanes = o.storage_lanes;
  sim.lora_tax = false;
  const sc::CapacityTargets targets{o.p95_target_ms, o.queue_target_ms};

  const lane::CostTable table = lane::probe_costs(kernels, grid);
  const sc::CostModel cost = lane::cost_model_from(table, o.serial_fraction);
  set(state, "probe.step_ms_t1", table.step(0, 0, 0) * 1e3);
  set(state, "probe.step_ms_t16_a1", cost.decode_step_s(sc::StepShape{16, 1, point.rank, 1}) * 1e3);
  set(state, "probe.prefill_ms_p128", cost.prefill_s(128, 1) * 1e3);
  set(state, "probe.load_ms", cost.load_s(point.rank) * 1e3);
  set(state, "probe.unpack_slowdown", table.unpack_slowdown);
  set(state, "probe.load_slowdown", table.load_slowdown);
  set(state, "probe.step_ms_t16_a8", cost.decode_step_s(sc::StepShape{16, 8, point.rank, 1}) * 1e3);
  set(state, "probe.attn_ms_ctx256", cost.attention_s(sc::StepShape{1, 0, 0, 1, 256}) * 1e3);
  set(state, "probe.read_ms", table.read_s.front() * 1e3);
  set(state, "probe.read_warm_ms", table.read_warm_s.front() * 1e3);
  set(state, "probe.unpack_ms", table.unpack_s.front() * 1e3);
  set(state, "probe.adapter_mb", static_cast<double>(kernels.adapter_bytes()) / (1 << 20));

  sc::CapacityOptions cap;
  cap.max_rps = 2.0 * ideal_rps(cost, o);
  cap.min_rps = cap.max_rps / 1000.0;
  cap.max_probes = 12;
  cap.rel_tolerance = 0.02;
  sc::TraceOptions cap_trace = topt;
  cap_trace.num_requests = o.capacity_requests;
  cap_trace.duration_s = 0;
  // The reload p95 is judged in decode steps of a full batch with one adapter, attention
  // included at the trace's typical context (the median prompt plus half the mean output):
  // a step is its GEMMs and its attention.
  const int out_mean = (std::max(1, o.max_new_tokens / 8) + o.max_new_tokens) / 2;
  const std::int64_t contexts = static_cast<std::int64_t>(o.max_batch) * (o.prompt_median + out_mean / 2);
  const double step_s = cost.decode_step_s(sc::StepShape{o.max_batch, 1, point.rank, o.decode_threads, contexts});
  for (sc::Policy p : o.policies) {
    const std::string k = std::string(sc::policy_name(p)) + ".";
    const sc::SchedulerConfig cfg = lane::scheduler_config(o, p);
    const sc::SimResult r = sc::simulate(trace, cfg, cost, sim);
    set(state, k + "p50_ms", r.p50_ms);
    set(state, k + "p95_ms", r.p95_ms);
    set(state, k + "base_p95_ms", r.base_p95_ms);
    set(state, k + "hot_reload_ms_p95", r.hot_reload_ms_p95);
    set(state, k + "load_ms_p95", r.load_ms_p95);
    set(state, k + "tokens_per_s", r.tokens_per_s);
    set(state, k + "queue_ms_p95", r.queue_wait_p95_ms);
    set(state, k + "decode_util", r.decode_utilisation);
    set(state, k + "adapter_util", r.adapter_utilisation);
    set(state, k + "overlap_ratio", r.overlap_ratio);
    set(state, k + "cache_hit_rate", r.cache_hit_rate);
    set(state, k + "loads_per_s", r.loads_per_s);
    set(state, k + "worst_wait_ms", r.worst_wait_ms);
    set(state, k + "jain_fairness", r.jain_fairness);
    set(state, k + "reload_vs_step", r.hot_reload_ms_p95 * 1e-3 / step_s);
    // Below capacity the throughput is the arrivals' and the LoRA tax is zero by construction:
    // both are measured at saturation, the same requests offered at twice the ideal rate, with
    // the same trace on the base model beside it.
    sc::TraceOptions sat_trace = cap_trace;
    sat_trace.load_rps = cap.max_rps;
    sc::SimConfig with_tax = sim;
    with_tax.lora_tax = true;
    const sc::SimResult sat = sc::simulate(sc::generate_trace(sat_trace), cfg, cost, with_tax);
    set(state, k + "max_tokens_per_s", sat.tokens_per_s);
    set(state, k + "lora_tax_pct", sat.lora_tax_pct);
    const sc::CapacityResult c = sc::find_capacity(cap_trace, cfg, cost, sim, targets, cap);
    set(state, k + "capacity_rps", c.rps);
    set(state, k + "capacity_at_max", c.at_max ? 1 : 0);
    // At the capacity rate decode is not always busy, so less adapter work can hide behind it
    // than at an overloaded fixed rate: the overlap there, beside the CSV's.
    set(state, k + "overlap_at_capacity", c.at_rps.overlap_ratio);
    set(state, k + "decode_util_at_capacity", c.at_rps.decode_utilisation);
  }
  // What residency can buy at most: fcfs_lru with every adapter load free. No policy that only
  // hides or avoids loads can beat it, so its ratio to fcfs_lru bounds the capacity targets.
  sc::CostModel free_loads = cost;
  free_loads.load_read = [](int) { return 0.0; };
  free_loads.load_unpack = [](int) { return 0.0; };
  const sc::CapacityResult bound =
      sc::find_capacity(cap_trace, lane::scheduler_config(o, sc::Policy::FcfsLru), free_loads, sim, targets, cap);
  set(state, "bound.free_loads_capacity_rps", bound.rps);
}

void bm_point(benchmark::State& state, lane::SweepPoint point) {
  const auto& o = g_opt;
  const sc::TraceOptions topt = lane::trace_options(o, point, o.load_rps);
  const sc::Trace trace = sc::generate_trace(topt);
  const sc::TraceStats ts = sc::trace_stats(trace);
  lane::KernelLimits lim;
  lim.max_tokens = std::max(16, o.max_batch);
  lim.max_prompt = 384;
  lim.max_context = 1024;
  lim.kv_slots = lim.max_tokens;
  lim.step_layers = o.probe_layers;
  lane::Kernels kernels(lane::ModelShape{o.hidden, o.layers, o.q_heads, o.kv_heads, o.ffn}, lim, o.adapter_store);
  for (auto _ : state) {
    // A failure (a cost the simulator refuses, a scheduler that cannot finish) is this case's
    // error, reported by name; the other cases still run.
    try {
      run_point(state, point, trace, topt, kernels);
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
      return;
    }
  }
  set(state, "offered_rps", ts.offered_rps);
  set(state, "requests", ts.requests);
  set(state, "trace_duration_s", ts.duration_s);
  set(state, "top1_share", ts.top1_share);
  set(state, "top10pct_share", ts.top10pct_share);
  set(state, "base_share", ts.base_share);
  set(state, "observed_mean_adapters", ts.mean_adapters_per_req);
  // 64 bits do not survive a double: two exact 32-bit halves.
  set(state, "trace_hash_hi", static_cast<double>(ts.hash >> 32));
  set(state, "trace_hash_lo", static_cast<double>(ts.hash & 0xFFFFFFFFu));
}

void bm_calibration(benchmark::State& state) {
  lane::CalibrationOptions c;
  c.pin_cores = g_opt.pin_cores;
  c.store = g_opt.adapter_store;
  c.requests = g_opt.calib_requests;
  c.seed = g_opt.seed;
  for (auto _ : state) {
    lane::CalibrationResult r;
    try {
      r = lane::run_calibration(c);
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
      return;
    }
    set(state, "requests", r.requests);
    set(state, "load_rps", r.load_rps);
    set(state, "wall_s", r.wall_s);
    set(state, "pinned", r.pinned ? 1 : 0);
    set(state, "real_p50_ms", r.real_p50_ms);
    set(state, "real_p95_ms", r.real_p95_ms);
    set(state, "real_tokens_per_s", r.real_tokens_per_s);
    set(state, "sim_p50_ms", r.sim_p50_ms);
    set(state, "sim_p95_ms", r.sim_p95_ms);
    set(state, "sim_tokens_per_s", r.sim_tokens_per_s);
    set(state, "sim_error_pct", r.sim_error_pct);
    set(state, "step_real_vs_model", r.step_real_vs_model);
    set(state, "prefill_real_vs_model", r.prefill_real_vs_model);
    set(state, "load_real_vs_model", r.load_real_vs_model);
    set(state, "cold_real_vs_model", r.cold_real_vs_model);
    set(state, "warm_real_vs_model", r.warm_real_vs_model);
    set(state, "real_steps", r.real_steps);
    set(state, "probe_drift", r.probe_drift);
    set(state, "load_slowdown", r.load_slowdown);
    set(state, "sim_steps", r.sim_steps);
    set(state, "real_loads", r.real_loads);
    set(state, "sim_loads", r.sim_loads);
  }
}

void parse_flags(int& argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--help") == 0) print_lane_flags();
  try {
    g_opt = lane::parse_lane_options(argc, argv, std::thread::hardware_concurrency());
  } catch (const std::invalid_argument& e) {
    infeng::bench::usage_error(e.what());
  }
  const auto path = infeng::bench::take_flag(argc, argv, "force_path");
  try {
    if (path) infeng::force_path(*path);
    else (void)infeng::active_path();
  } catch (const std::exception& e) {
    infeng::bench::usage_error(path ? std::string("--force_path: ") + e.what() : std::string(e.what()));
  }
}

std::string join_policies() {
  std::string s;
  for (sc::Policy p : g_opt.policies) s += (s.empty() ? "" : ",") + std::string(sc::policy_name(p));
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  parse_flags(argc, argv);
  const auto& o = g_opt;
  benchmark::AddCustomContext("path", infeng::path_name(infeng::active_path()));
  benchmark::AddCustomContext("isa_flags", infeng::isa_flags());
  benchmark::AddCustomContext("compiler", __VERSION__);
  benchmark::AddCustomContext("machine_cores", std::to_string(o.machine_cores));
  benchmark::AddCustomContext("threads_note", o.threads_note());
  benchmark::AddCustomContext("decode_threads", std::to_string(o.decode_threads));
  benchmark::AddCustomContext("adapter_threads", std::to_string(o.adapter_threads));
  benchmark::AddCustomContext("pin_cores", o.pin_cores ? "true" : "false");
  benchmark::AddCustomContext("seed", std::to_string(o.seed));
  benchmark::AddCustomContext("num_requests", std::to_string(o.num_requests));
  benchmark::AddCustomContext("duration_s", std::to_string(o.duration_s));
  benchmark::AddCustomContext("load_rps", std::to_string(o.load_rps));
  benchmark::AddCustomContext("include_base", o.include_base ? "true" : "false");
  benchmark::AddCustomContext("arrivals", o.gamma_arrivals ? "gamma" : "poisson");
  benchmark::AddCustomContext("max_new_tokens", std::to_string(o.max_new_tokens));
  benchmark::AddCustomContext("prompt_median", std::to_string(o.prompt_median));
  benchmark::AddCustomContext("policies", join_policies());
  benchmark::AddCustomContext("sweep", o.star ? "star" : "grid");
  benchmark::AddCustomContext("cache_adapters", std::to_string(o.cache_adapters));
  benchmark::AddCustomContext("max_batch", std::to_string(o.max_batch));
  benchmark::AddCustomContext("max_adapters_per_batch", std::to_string(o.max_adapters_per_batch));
  benchmark::AddCustomContext("max_wait_steps", std::to_string(o.max_wait_steps));
  benchmark::AddCustomContext("serial_fraction", std::to_string(o.serial_fraction));
  benchmark::AddCustomContext("hidden", std::to_string(o.hidden));
  benchmark::AddCustomContext("layers", std::to_string(o.layers));
  benchmark::AddCustomContext("q_heads", std::to_string(o.q_heads));
  benchmark::AddCustomContext("kv_heads", std::to_string(o.kv_heads));
  benchmark::AddCustomContext("ffn", std::to_string(o.ffn));
  benchmark::AddCustomContext("probe_layers", std::to_string(o.probe_layers));
  benchmark::AddCustomContext("adapter_store", o.adapter_store == lane::AdapterStore::Storage ? "storage" : "page_cache");
  benchmark::AddCustomContext("storage_lanes", std::to_string(o.storage_lanes));
  benchmark::AddCustomContext("p95_target_ms", std::to_string(o.p95_target_ms));
  benchmark::AddCustomContext("queue_target_ms", std::to_string(o.queue_target_ms));
  benchmark::AddCustomContext("capacity_requests", std::to_string(o.capacity_requests));

  for (const auto& p : o.sweep()) {
    benchmark::RegisterBenchmark(("sched/" + p.name()).c_str(), bm_point, p)
        ->Iterations(1)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  if (o.calibrate) {
    benchmark::RegisterBenchmark("sched/calibration", bm_calibration)
        ->Iterations(1)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return infeng::bench::kUsageExit;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
