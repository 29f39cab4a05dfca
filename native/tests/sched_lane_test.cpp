// The scheduler lane's deterministic parts: its flags (every bad value names its flag), the
// cost table's interpolation into a CostModel, the simulation-error figure, and the kernels'
// contract (an adapter is unpacked before a step uses it). Timings themselves are benchmarks,
// not tests: the probe is only checked to produce a table the model accepts.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "sched_costs.h"
#include "sched_engine.h"
#include "sched_options.h"

namespace {

namespace sc = infeng::sched;
namespace lane = infeng::sched::lane;

// argv for the parser; keeps the strings alive.
struct Args {
  std::vector<std::string> s;
  std::vector<char*> p;
  int argc = 0;
  explicit Args(std::vector<std::string> a) : s(std::move(a)) {
    s.insert(s.begin(), "infeng_sched_bench");
    for (auto& x : s) p.push_back(x.data());
    p.push_back(nullptr);
    argc = static_cast<int>(s.size());
  }
  lane::LaneOptions parse(unsigned cores = 2) { return lane::parse_lane_options(argc, p.data(), cores); }
};

void expect_flag_error(std::vector<std::string> args, const std::string& flag) {
  Args a(std::move(args));
  try {
    a.parse();
    ADD_FAILURE() << "no error for " << flag;
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(flag), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------------- flags

TEST(SchedLaneOptions, SeedKnobsInBothSpellingsAndTheRestLeftForBenchmark) {
  Args a({"--load_rps=24", "--duration_s=90", "--mean-adapters=4", "--decode_threads=6",
          "--adapter_threads=4", "--pin_cores=true", "--zipf-alpha=0.5,uniform,1.5", "--include-base=true",
          "--seed=9", "--num-requests=300", "--max-new-tokens=64", "--benchmark_repetitions=5"});
  const auto o = a.parse();
  EXPECT_DOUBLE_EQ(o.load_rps, 24);
  EXPECT_DOUBLE_EQ(o.duration_s, 90);
  EXPECT_EQ(o.mean_adapters, std::vector<double>{4.0});
  EXPECT_EQ(o.decode_threads, 6);
  EXPECT_EQ(o.adapter_threads, 4);
  EXPECT_TRUE(o.pin_cores);
  EXPECT_TRUE(o.include_base);
  EXPECT_EQ(o.seed, 9u);
  EXPECT_EQ(o.num_requests, 300);
  EXPECT_EQ(o.max_new_tokens, 64);
  ASSERT_EQ(o.popularity.size(), 3u);
  EXPECT_TRUE(o.popularity[1].uniform);
  EXPECT_DOUBLE_EQ(o.popularity[2].alpha, 1.5);
  // Only Google Benchmark's flag is left.
  ASSERT_EQ(a.argc, 2);
  EXPECT_STREQ(a.p[1], "--benchmark_repetitions=5");
  EXPECT_EQ(a.p[2], nullptr);
}

TEST(SchedLaneOptions, SweepIsEveryCombinationWithStableNames) {
  Args a({"--zipf_alpha=1,uniform", "--adapters=10,1000", "--rank=8,64", "--mean_adapters=1,4",
          "--cache_adapters=16"});
  const auto o = a.parse();
  const auto pts = o.sweep();
  ASSERT_EQ(pts.size(), 16u);
  EXPECT_EQ(pts.front().name(), "zipf1.0/N10/r8/m1.0");
  EXPECT_EQ(pts.back().name(), "uniform/N1000/r64/m4.0");
  EXPECT_EQ((lane::Popularity{false, 0.25}).label(), "zipf0.25");
}

TEST(SchedLaneOptions, StarSweepVariesOneKnobAtATime) {
  Args a({"--sweep=star", "--zipf_alpha=1,uniform,1.5", "--adapters=100,10,1000", "--rank=16,64",
          "--mean_adapters=1,4", "--cache_adapters=16"});
  const auto pts = a.parse().sweep();
  std::vector<std::string> names;
  for (const auto& p : pts) names.push_back(p.name());
  EXPECT_EQ(names, (std::vector<std::string>{"zipf1.0/N100/r16/m1.0", "uniform/N100/r16/m1.0",
                                             "zipf1.5/N100/r16/m1.0", "zipf1.0/N10/r16/m1.0",
                                             "zipf1.0/N1000/r16/m1.0", "zipf1.0/N100/r64/m1.0",
                                             "zipf1.0/N100/r16/m4.0"}));
  expect_flag_error({"--sweep=diagonal"}, "--sweep");
}

TEST(SchedLaneOptions, TraceAndSchedulerFollowTheFlags) {
  Args a({"--num_requests=0", "--duration_s=30", "--arrivals=gamma", "--gamma_cv=2", "--max_new_tokens=80"});
  const auto o = a.parse();
  const auto p = o.sweep().front();
  const sc::TraceOptions t = lane::trace_options(o, p, 12);
  EXPECT_DOUBLE_EQ(t.load_rps, 12);
  EXPECT_DOUBLE_EQ(t.duration_s, 30);
  EXPECT_EQ(t.arrivals, sc::Arrivals::Gamma);
  EXPECT_DOUBLE_EQ(t.gamma_shape, 0.25);  // cv² = 1/shape
  EXPECT_EQ(t.output.min, 10);
  EXPECT_EQ(t.output.max, 80);
  const sc::SchedulerConfig c = lane::scheduler_config(o, sc::Policy::CostAware);
  EXPECT_EQ(c.policy, sc::Policy::CostAware);
  EXPECT_EQ(c.cache_capacity, o.cache_adapters);
}

TEST(SchedLaneOptions, BadInputNamesTheFlag) {
  expect_flag_error({"--zipf_alpha=nan"}, "--zipf_alpha");
  expect_flag_error({"--zipf-alpha=1,,2"}, "--zipf_alpha");
  expect_flag_error({"--adapters=0"}, "--adapters");
  expect_flag_error({"--cache_adapters=0"}, "--cache_adapters");
  // A cache too small for one request's adapters.
  expect_flag_error({"--cache_adapters=2", "--max_adapters_per_req=4"}, "--cache_adapters");
  expect_flag_error({"--rank=0"}, "--rank");
  expect_flag_error({"--rank=2048", "--hidden=1024"}, "--rank");
  expect_flag_error({"--load_rps=0"}, "--load_rps");
  expect_flag_error({"--load_rps=-3"}, "--load_rps");
  expect_flag_error({"--policies=fcfs_lru,round_robin"}, "--policies");
  expect_flag_error({"--decode_threads=0"}, "--decode_threads");
  expect_flag_error({"--pin_cores=maybe"}, "--pin_cores");
  expect_flag_error({"--duration_s"}, "--duration_s");
  expect_flag_error({"--mean_adapters=0.5"}, "--mean_adapters");
  expect_flag_error({"--arrivals=bursty"}, "--arrivals");
}

TEST(SchedLaneOptions, MoreThreadsThanCoresIsAllowedAndStated) {
  Args a({"--decode_threads=6", "--adapter_threads=4"});
  const auto o = a.parse(2);
  EXPECT_NE(o.threads_note().find("6 decode + 4 adapter threads"), std::string::npos);
  EXPECT_NE(o.threads_note().find("2-core"), std::string::npos);
  EXPECT_NE(o.threads_note().find("more threads than cores"), std::string::npos);
  Args b({"--decode_threads=1", "--adapter_threads=1"});
  EXPECT_EQ(b.parse(4).threads_note().find("more threads than cores"), std::string::npos);
}

// ----------------------------------------------------------------------------- cost model

// A table whose values follow a known formula, so interpolation has exact answers:
// step = 1 ms + 0.1 ms/token + 0.01 ms × adapters × rank; prefill 0.05 ms/token.
lane::CostTable linear_table() {
  lane::CostTable t;
  t.hidden = 256;
  t.layers = 2;
  t.tokens = {1, 4, 16};
  t.adapters = {0, 1, 4};
  t.ranks = {8, 32};
  t.prompts = {32, 128};
  t.contexts = {64, 256};
  t.attn_s = {64e-6, 256e-6};  // 1 µs per KV position
  for (int r : t.ranks)
    for (int a : t.adapters)
      for (int k : t.tokens) t.step_s.push_back(1e-3 + 1e-4 * k + 1e-5 * a * (a == 0 ? 0 : r));
  for (int p : t.prompts) t.prefill_s.push_back(5e-5 * p);
  t.read_s = {1e-4, 4e-4};
  t.unpack_s = {2e-4, 8e-4};
  t.unpack_slowdown = 1.2;
  t.load_slowdown = 1.3;
  return t;
}

double step(const sc::CostModel& c, int tokens, int adapters, int rank, int threads = 1) {
  return c.decode_step_s(sc::StepShape{tokens, adapters, rank, threads});
}

TEST(SchedLaneCosts, ExactAtProbedPointsAndLinearBetween) {
  const auto c = lane::cost_model_from(linear_table(), 0.0);
  EXPECT_NEAR(step(c, 4, 1, 8), 1e-3 + 4e-4 + 8e-5, 1e-12);
  EXPECT_NEAR(step(c, 16, 4, 32), 1e-3 + 16e-4 + 4 * 32e-5, 1e-12);
  // Between probed points the formula is linear in each axis, so interpolation is exact.
  EXPECT_NEAR(step(c, 10, 2, 20), 1e-3 + 10e-4 + 2 * 20e-5, 1e-12);
  EXPECT_NEAR(c.prefill_s(80, 1), 5e-5 * 80, 1e-12);
  EXPECT_NEAR(c.load_s(20), 2.5e-4 + 5e-4, 1e-12);
  EXPECT_DOUBLE_EQ(c.unpack_slowdown, 1.2);
  EXPECT_DOUBLE_EQ(c.load_slowdown, 1.3);
}

TEST(SchedLaneCosts, BaseModelStepIgnoresTheRankAndExtrapolationNeverShrinks) {
  const auto c = lane::cost_model_from(linear_table(), 0.0);
  EXPECT_DOUBLE_EQ(step(c, 4, 0, 0), step(c, 4, 0, 64));
  // Beyond the grid: the line continues (linear data stays exact) ...
  EXPECT_NEAR(step(c, 32, 8, 32), 1e-3 + 32e-4 + 8 * 32e-5, 1e-12);
  EXPECT_NEAR(c.prefill_s(512, 1), 5e-5 * 512, 1e-12);
  // ... and a short prompt costs its share of the first probed length.
  EXPECT_NEAR(c.prefill_s(8, 1), 5e-5 * 8, 1e-12);
  // A table whose last segment falls does not extrapolate below its last value.
  auto t = linear_table();
  for (std::size_t i = 0; i < t.step_s.size(); i += 3) t.step_s[i + 2] = t.step_s[i + 1] * 0.9;
  const auto d = lane::cost_model_from(t, 0.0);
  EXPECT_GE(step(d, 64, 1, 8), t.step(0, 1, 2));
}

TEST(SchedLaneCosts, AttentionGrowsWithTheBatchsContexts) {
  const auto c = lane::cost_model_from(linear_table(), 0.0);
  const double bare = step(c, 4, 1, 8);
  // Four requests at contexts summing to 640: 4 × attention at the mean context 160.
  EXPECT_NEAR(c.decode_step_s(sc::StepShape{4, 1, 8, 1, 640}), bare + 640e-6, 1e-12);
  EXPECT_NEAR(c.attention_s(sc::StepShape{4, 1, 8, 1, 640}), 640e-6, 1e-12);
  // Below the first probed context: in proportion; none: nothing.
  EXPECT_NEAR(c.attention_s(sc::StepShape{2, 0, 0, 1, 32}), 32e-6, 1e-12);
  EXPECT_EQ(c.attention_s(sc::StepShape{2, 0, 0, 1, 0}), 0.0);
  EXPECT_GT(c.decode_step_s(sc::StepShape{16, 1, 8, 1, 16 * 1024}), c.decode_step_s(sc::StepShape{16, 1, 8, 1, 16 * 256}));
}

TEST(SchedLaneCosts, MeanOfTwoProbes) {
  auto a = linear_table(), b = linear_table();
  for (double& x : b.step_s) x *= 3;
  b.read_s = {3e-4, 12e-4};
  b.load_slowdown = 1.7;
  const auto m = lane::mean_table(a, b);
  EXPECT_DOUBLE_EQ(m.step(1, 2, 2), 2 * a.step(1, 2, 2));
  EXPECT_DOUBLE_EQ(m.read_s[1], 8e-4);
  EXPECT_DOUBLE_EQ(m.load_slowdown, 1.5);
  b.contexts = {64, 512};
  EXPECT_THROW(lane::mean_table(a, b), std::invalid_argument);
}

TEST(SchedLaneCosts, ThreadsFollowAmdahl) {
  const auto c = lane::cost_model_from(linear_table(), 0.1);
  const double one = step(c, 4, 1, 8, 1);
  EXPECT_NEAR(step(c, 4, 1, 8, 6), one * (1 + 0.1 * 5) / 6, 1e-12);
  EXPECT_NEAR(c.prefill_s(128, 2), 5e-5 * 128 * 1.1 / 2, 1e-12);
}

TEST(SchedLaneCosts, MalformedTableNamesTheField) {
  auto expect_field = [](lane::CostTable t, const std::string& field) {
    try {
      lane::validate(t);
      ADD_FAILURE() << "no error for " << field;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  auto t = linear_table();
  t.tokens = {4, 1, 16};
  expect_field(t, "tokens");
  t = linear_table();
  t.adapters = {1, 2, 4};
  expect_field(t, "adapters");
  t = linear_table();
  t.step_s.pop_back();
  expect_field(t, "step_s");
  t = linear_table();
  t.read_s[0] = std::numeric_limits<double>::quiet_NaN();
  expect_field(t, "read_s");
  t = linear_table();
  t.unpack_slowdown = 0.5;
  expect_field(t, "unpack_slowdown");
  t = linear_table();
  t.load_slowdown = std::numeric_limits<double>::infinity();
  expect_field(t, "load_slowdown");
  t = linear_table();
  t.contexts = {256, 64};
  expect_field(t, "contexts");
  t = linear_table();
  t.attn_s.pop_back();
  expect_field(t, "attn_s");
}

TEST(SchedLaneCosts, TheSimulatorRunsOnATableModel) {
  sc::TraceOptions o;
  o.num_requests = 200;
  o.num_adapters = 20;
  o.adapter_ranks = {8};
  o.load_rps = 50;
  const auto trace = sc::generate_trace(o);
  const auto cost = lane::cost_model_from(linear_table(), 0.1);
  sc::SimConfig sim;
  const auto a = sc::simulate(trace, sc::SchedulerConfig{}, cost, sim);
  const auto b = sc::simulate(trace, sc::SchedulerConfig{}, cost, sim);
  EXPECT_EQ(a.p95_ms, b.p95_ms);
  EXPECT_GT(a.tokens_per_s, 0);
}

// ------------------------------------------------------------------------- simulation error

TEST(SchedLaneCalibration, SimErrorIsTheLargestRelativeError) {
  EXPECT_DOUBLE_EQ(lane::sim_error_pct(100, 200, 50, 110, 190, 50), 10.0);
  EXPECT_DOUBLE_EQ(lane::sim_error_pct(100, 200, 50, 100, 200, 40), 20.0);
  EXPECT_DOUBLE_EQ(lane::sim_error_pct(10, 20, 5, 10, 20, 5), 0.0);
  EXPECT_TRUE(std::isnan(lane::sim_error_pct(0, 200, 50, 1, 200, 50)));
  EXPECT_TRUE(std::isnan(lane::sim_error_pct(100, 200, 50, 100, std::nan(""), 50)));
}

// ----------------------------------------------------------------------------- kernels

// A tiny llama-like model: head_dim 8, 2 KV heads, a small MLP.
lane::ModelShape tiny_model(int layers = 1) { return lane::ModelShape{64, layers, 8, 2, 96}; }
lane::KernelLimits tiny_limits() {
  lane::KernelLimits l;
  l.max_tokens = 4;
  l.max_prompt = 32;
  l.max_context = 48;
  l.kv_slots = 2;
  return l;
}

TEST(SchedLaneKernels, AnAdapterIsUnpackedBeforeAStepUsesIt) {
  lane::Kernels k(tiny_model(), tiny_limits());
  k.set_adapters(2, 8);
  EXPECT_THROW(k.decode_step({16, 16}, {0}), std::logic_error);
  k.load_read(0);
  k.load_unpack(0);
  EXPECT_NO_THROW(k.decode_step({16, 16}, {0}));
  EXPECT_THROW(k.decode_step({16, 16}, {0, 1}), std::logic_error);
  k.load_read(1);
  k.load_unpack(1);
  EXPECT_NO_THROW(k.decode_step({16, 40, 8}, {0, 1}));
  EXPECT_NO_THROW(k.decode_step({100}, {0, 1}));  // more adapters than rows; context clamped
  EXPECT_THROW(k.set_adapters(1, 0), std::invalid_argument);
}

TEST(SchedLaneKernels, AnAdapterIsItsRealSizeAndReadFromItsFile) {
  const auto m = tiny_model(3);
  // Per layer: q and o are 64×r + r×64, k and v 64×r + r×16 (2 KV heads of 8).
  EXPECT_EQ(m.adapter_floats(8), 3u * (2 * (64 * 8 + 8 * 64) + 2 * (64 * 8 + 8 * 16)));
  for (auto store : {lane::AdapterStore::Storage, lane::AdapterStore::PageCache}) {
    lane::Kernels k(m, tiny_limits(), store);
    k.set_adapters(3, 8);
    EXPECT_EQ(k.adapter_bytes(), m.adapter_floats(8) * sizeof(float));
    EXPECT_THROW(k.load_read(3), std::out_of_range);
    k.load_read(2);
    k.load_unpack(2);
    EXPECT_NO_THROW(k.decode_step({8}, {2}));
  }
}

TEST(SchedLaneKernels, BadModelShapeNamesTheField) {
  auto expect_field = [](lane::ModelShape m, const std::string& field) {
    try {
      lane::validate(m);
      ADD_FAILURE() << "no error for " << field;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  expect_field(lane::ModelShape{64, 1, 7, 1, 0}, "q_heads");
  expect_field(lane::ModelShape{64, 1, 8, 3, 0}, "kv_heads");
  expect_field(lane::ModelShape{64, 1, 16, 2, 0}, "head_dim");  // head_dim 4
  expect_field(lane::ModelShape{64, 1, 8, 2, -1}, "ffn");
  EXPECT_NO_THROW(lane::validate(tiny_model()));
}

TEST(SchedLaneKernels, TheProbeFillsAValidTable) {
  auto lim = tiny_limits();
  lim.step_layers = 1;
  lane::Kernels k(tiny_model(2), lim);
  EXPECT_DOUBLE_EQ(k.layer_scale(), 2.0);
  lane::ProbeGrid g;
  g.tokens = {1, 4};
  g.adapters = {0, 1, 2};
  g.ranks = {4, 8};
  g.prompts = {8, 32};
  g.contexts = {8, 48};
  g.repeats = 1;
  const auto t = lane::probe_costs(k, g);
  EXPECT_NO_THROW(lane::validate(t));
  EXPECT_EQ(t.step_s.size(), 2u * 3u * 2u);
  EXPECT_EQ(t.attn_s.size(), 2u);
  EXPECT_EQ(t.read_warm_s.size(), 2u);
  // The base model's step is measured once and shared by every rank.
  EXPECT_EQ(t.step(0, 0, 1), t.step(1, 0, 1));
  EXPECT_GE(t.unpack_slowdown, 1.0);
  EXPECT_GE(t.load_slowdown, 1.0);
}

}  // namespace
