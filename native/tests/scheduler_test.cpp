// The multi-adapter scheduler: trace generator statistics against closed forms, each policy on
// small hand-made traces whose schedule is known step by step, the simulator's determinism and
// its independence from wall time, the capacity search, and bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "infeng/scheduler.h"

namespace {

namespace sc = infeng::sched;

// Runs f and expects std::invalid_argument whose message names `option`.
template <class F>
void expect_invalid(F&& f, const std::string& option) {
  try {
    f();
    ADD_FAILURE() << "no exception for " << option;
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(option), std::string::npos)
        << "message does not name " << option << ": " << e.what();
  }
}

// ----------------------------------------------------------------------------------- trace

TEST(SchedulerTrace, SameSeedSameTraceAndHash) {
  sc::TraceOptions o;
  o.seed = 42;
  o.num_requests = 500;
  o.prompt = {sc::LengthKind::Lognormal, 0, 4, 2048, 200, 0.8};
  o.output = {sc::LengthKind::Uniform, 0, 8, 256};
  o.mean_adapters_per_req = 1.5;
  o.include_base = true;
  const auto a = sc::generate_trace(o);
  const auto b = sc::generate_trace(o);
  ASSERT_EQ(a.requests.size(), b.requests.size());
  for (std::size_t i = 0; i < a.requests.size(); ++i) {
    EXPECT_EQ(a.requests[i].arrival_ns, b.requests[i].arrival_ns);
    EXPECT_EQ(a.requests[i].prompt_tokens, b.requests[i].prompt_tokens);
    EXPECT_EQ(a.requests[i].output_tokens, b.requests[i].output_tokens);
    EXPECT_EQ(a.requests[i].adapters, b.requests[i].adapters);
  }
  EXPECT_EQ(sc::trace_hash(a), sc::trace_hash(b));
  EXPECT_EQ(sc::trace_stats(a).hash, sc::trace_hash(a));
}

TEST(SchedulerTrace, DifferentSeedDifferentTrace) {
  sc::TraceOptions o;
  o.num_requests = 200;
  o.seed = 1;
  const auto a = sc::generate_trace(o);
  o.seed = 2;
  const auto b = sc::generate_trace(o);
  EXPECT_NE(sc::trace_hash(a), sc::trace_hash(b));
  int same_arrival = 0;
  for (std::size_t i = 0; i < a.requests.size(); ++i)
    same_arrival += a.requests[i].arrival_ns == b.requests[i].arrival_ns;
  EXPECT_EQ(same_arrival, 0);
}

TEST(SchedulerTrace, RateRescalesArrivalsOnly) {
  // Arrivals and contents come from separate streams: doubling the rate halves every arrival
  // time and leaves the requests' contents alone (what makes the capacity search monotone).
  sc::TraceOptions o;
  o.num_requests = 300;
  o.load_rps = 5;
  const auto a = sc::generate_trace(o);
  o.load_rps = 10;
  const auto b = sc::generate_trace(o);
  for (std::size_t i = 0; i < a.requests.size(); ++i) {
    EXPECT_EQ(a.requests[i].adapters, b.requests[i].adapters);
    EXPECT_NEAR(static_cast<double>(a.requests[i].arrival_ns) / 2.0,
                static_cast<double>(b.requests[i].arrival_ns), 2.0);
  }
}

TEST(SchedulerTrace, ZipfTop1ShareMatchesClosedForm) {
  sc::TraceOptions o;
  o.num_adapters = 100;
  o.zipf_alpha = 1.0;
  o.num_requests = 200000;
  o.seed = 7;
  const auto s = sc::trace_stats(sc::generate_trace(o));
  double h100 = 0, h10 = 0;
  for (int i = 1; i <= 100; ++i) h100 += 1.0 / i;
  for (int i = 1; i <= 10; ++i) h10 += 1.0 / i;
  // The sampling error of a share p over n draws is sqrt(p(1-p)/n) ≈ 0.0009 here.
  EXPECT_NEAR(s.top1_share, 1.0 / h100, 0.005);
  EXPECT_NEAR(s.top10pct_share, h10 / h100, 0.006);
}

TEST(SchedulerTrace, LargerAlphaMoreSkew) {
  sc::TraceOptions o;
  o.num_adapters = 50;
  o.num_requests = 20000;
  double last = 0;
  for (double alpha : {0.5, 1.0, 1.5, 2.0}) {
    o.zipf_alpha = alpha;
    const auto s = sc::trace_stats(sc::generate_trace(o));
    EXPECT_GT(s.top1_share, last) << "alpha " << alpha;
    last = s.top1_share;
  }
}

TEST(SchedulerTrace, UniformPopularityIsFlat) {
  sc::TraceOptions o;
  o.num_adapters = 10;
  o.popularity = sc::Popularity::Uniform;
  o.num_requests = 100000;
  const auto t = sc::generate_trace(o);
  std::vector<int> n(10, 0);
  for (const auto& r : t.requests) ++n[r.adapters.at(0)];
  for (int c : n) EXPECT_NEAR(c / 100000.0, 0.1, 0.006);
}

TEST(SchedulerTrace, NonPositiveAlphaIsRoundRobin) {
  for (double alpha : {0.0, -1.0}) {
    sc::TraceOptions o;
    o.num_adapters = 3;
    o.zipf_alpha = alpha;
    o.include_base = true;
    o.base_popularity_rank = 3;  // last
    o.num_requests = 8;
    const auto t = sc::generate_trace(o);
    const std::vector<int> want = {0, 1, 2, sc::kBaseModel, 0, 1, 2, sc::kBaseModel};
    for (int i = 0; i < 8; ++i) {
      const auto& r = t.requests[i];
      EXPECT_EQ(r.base() ? sc::kBaseModel : r.adapters[0], want[i]) << "request " << i;
    }
    const auto s = sc::trace_stats(t);
    EXPECT_DOUBLE_EQ(s.top1_share, 0.25);
  }
}

TEST(SchedulerTrace, BaseModelIsOneMoreEntry) {
  sc::TraceOptions o;
  o.num_adapters = 9;
  o.include_base = true;
  o.popularity = sc::Popularity::Uniform;
  o.num_requests = 50000;
  const auto s = sc::trace_stats(sc::generate_trace(o));
  EXPECT_NEAR(s.base_share, 0.1, 0.006);
  o.include_base = false;
  EXPECT_EQ(sc::trace_stats(sc::generate_trace(o)).base_share, 0.0);
}

TEST(SchedulerTrace, PoissonAndGammaArrivals) {
  sc::TraceOptions o;
  o.num_requests = 40000;
  o.load_rps = 50;
  for (auto kind : {sc::Arrivals::Poisson, sc::Arrivals::Gamma}) {
    o.arrivals = kind;
    o.gamma_shape = 0.25;  // bursty: gaps' CV² = 4
    const auto t = sc::generate_trace(o);
    double sum = 0, sq = 0, prev = 0;
    for (const auto& r : t.requests) {
      const double gap = r.arrival_ns * 1e-9 - prev;
      prev = r.arrival_ns * 1e-9;
      sum += gap;
      sq += gap * gap;
    }
    const double n = static_cast<double>(t.requests.size());
    const double mean = sum / n;
    const double cv2 = (sq / n - mean * mean) / (mean * mean);
    EXPECT_NEAR(mean, 1.0 / 50, 0.001);
    EXPECT_NEAR(cv2, kind == sc::Arrivals::Poisson ? 1.0 : 4.0, kind == sc::Arrivals::Poisson ? 0.05 : 0.4);
  }
  // Duration mode: every arrival before the end.
  o.arrivals = sc::Arrivals::Poisson;
  o.duration_s = 100;
  const auto t = sc::generate_trace(o);
  EXPECT_NEAR(static_cast<double>(t.requests.size()), 5000.0, 300.0);
  EXPECT_LT(t.requests.back().arrival_ns, 100'000'000'000);
}

TEST(SchedulerTrace, LengthDistributions) {
  sc::TraceOptions o;
  o.num_requests = 20000;
  o.prompt = {sc::LengthKind::Uniform, 0, 10, 20};
  o.output = {sc::LengthKind::Lognormal, 0, 1, 100000, 100, 0.5};
  const auto t = sc::generate_trace(o);
  std::vector<int> out;
  std::set<int> prompts;
  for (const auto& r : t.requests) {
    EXPECT_GE(r.prompt_tokens, 10);
    EXPECT_LE(r.prompt_tokens, 20);
    prompts.insert(r.prompt_tokens);
    out.push_back(r.output_tokens);
  }
  EXPECT_EQ(prompts.size(), 11u);
  std::sort(out.begin(), out.end());
  EXPECT_NEAR(out[out.size() / 2], 100, 3);
  // exp(0.5 · 1.2816) ≈ 1.898: the 90th percentile of the lognormal over its median.
  EXPECT_NEAR(out[out.size() * 9 / 10] / 100.0, 1.898, 0.06);
}

TEST(SchedulerTrace, MultiAdapterRequests) {
  sc::TraceOptions o;
  o.num_adapters = 20;
  o.num_requests = 20000;
  o.mean_adapters_per_req = 1.8;
  o.max_adapters_per_req = 6;
  const auto t = sc::generate_trace(o);
  for (const auto& r : t.requests) {
    ASSERT_FALSE(r.adapters.empty());
    ASSERT_LE(r.adapters.size(), 6u);
    EXPECT_TRUE(std::is_sorted(r.adapters.begin(), r.adapters.end()));
    EXPECT_EQ(std::set<int>(r.adapters.begin(), r.adapters.end()).size(), r.adapters.size());
  }
  // 1 + Poisson(0.8) truncated at 6: the truncation removes well under 0.1 %.
  EXPECT_NEAR(sc::trace_stats(t).mean_adapters_per_req, 1.8, 0.03);
}

TEST(SchedulerTrace, RngUniformInRangeAndStreamsDiffer) {
  sc::Rng a(5, 0), b(5, 1);
  int equal = 0;
  for (int i = 0; i < 1000; ++i) {
    const double u = a.uniform();
    EXPECT_GE(u, 0.0);
    EXPECT_LT(u, 1.0);
    equal += a.next() == b.next();
    EXPECT_LT(a.below(7), 7u);
  }
  EXPECT_EQ(equal, 0);
}

TEST(SchedulerTrace, BadOptionsNameTheOption) {
  auto gen = [](auto mutate) {
    return [mutate] {
      sc::TraceOptions o;
      mutate(o);
      sc::generate_trace(o);
    };
  };
  expect_invalid(gen([](sc::TraceOptions& o) { o.zipf_alpha = std::numeric_limits<double>::quiet_NaN(); }),
                 "zipf_alpha");
  expect_invalid(gen([](sc::TraceOptions& o) { o.num_adapters = 0; }), "num_adapters");
  expect_invalid(gen([](sc::TraceOptions& o) { o.adapter_ranks = {16, 0}; }), "rank");
  expect_invalid(gen([](sc::TraceOptions& o) { o.load_rps = 0; }), "load_rps");
  expect_invalid(gen([](sc::TraceOptions& o) { o.gamma_shape = -1; o.arrivals = sc::Arrivals::Gamma; }),
                 "gamma_shape");
  expect_invalid(gen([](sc::TraceOptions& o) { o.mean_adapters_per_req = 0.5; }), "mean_adapters_per_req");
  expect_invalid(gen([](sc::TraceOptions& o) { o.prompt = {sc::LengthKind::Uniform, 0, 10, 5}; }), "prompt");
  expect_invalid(gen([](sc::TraceOptions& o) { o.num_requests = 0; }), "num_requests");
}

// ------------------------------------------------------------------------------ scheduler

sc::Request req(int id, std::vector<int> adapters, int output = 1, int prompt = 10) {
  sc::Request r;
  r.id = id;
  r.adapters = std::move(adapters);
  r.output_tokens = output;
  r.prompt_tokens = prompt;
  return r;
}

sc::SchedulerConfig config(sc::Policy p, int capacity, int batch, int cap, int max_wait = 64) {
  sc::SchedulerConfig c;
  c.policy = p;
  c.cache_capacity = capacity;
  c.max_batch_size = batch;
  c.max_adapters_per_batch = cap;
  c.max_wait_steps = max_wait;
  return c;
}

// Runs the scheduler to idle with loads that finish as soon as they are issued (before the
// step they were issued with), recording every plan that ran a step and every eviction.
struct Driver {
  sc::Scheduler s;
  std::vector<sc::StepPlan> plans;
  std::vector<int> evicted;
  std::vector<int> admitted;  // in admission order

  Driver(const sc::SchedulerConfig& c, std::vector<double> costs) : s(c, std::move(costs)) {}
  void run(int max_plans = 10000) {
    for (int i = 0; i < max_plans; ++i) {
      auto p = s.plan_step();
      evicted.insert(evicted.end(), p.evicted.begin(), p.evicted.end());
      for (int a : p.loads) s.on_load_done(a);
      if (p.empty()) {
        if (p.loads.empty()) return;
        continue;
      }
      admitted.insert(admitted.end(), p.admitted.begin(), p.admitted.end());
      s.finish_step();
      plans.push_back(std::move(p));
    }
    FAIL() << "did not go idle";
  }
};

TEST(SchedulerPolicy, FcfsLruEvictsLeastRecentlyUsed) {
  Driver d(config(sc::Policy::FcfsLru, 2, 1, 2), {1, 1, 1, 1});
  // A B A C D, one step each: C evicts B (A was used after it), D then evicts A.
  for (int i = 0; auto a : {0, 1, 0, 2, 3}) d.s.submit(req(i++, {a}));
  d.run();
  EXPECT_EQ(d.admitted, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(d.evicted, (std::vector<int>{1, 0}));
}

TEST(SchedulerPolicy, FcfsLruCapsDistinctAdaptersPerStep) {
  Driver d(config(sc::Policy::FcfsLru, 8, 8, 2), std::vector<double>(4, 1.0));
  for (int i = 0; i < 4; ++i) d.s.submit(req(i, {i}, 3));
  d.s.submit(req(4, {0}, 3));
  d.s.submit(req(5, {}, 3));  // the base model takes no adapter slot
  d.run();
  ASSERT_FALSE(d.plans.empty());
  // Requests 2 and 3 would bring a third adapter: they are passed over, later ones are not.
  EXPECT_EQ(d.plans[0].admitted, (std::vector<int>{0, 1, 4, 5}));
  EXPECT_EQ(d.plans[0].adapters, (std::vector<int>{0, 1}));
  for (const auto& p : d.plans) EXPECT_LE(p.adapters.size(), 2u);
  EXPECT_EQ(d.admitted.size(), 6u);
}

TEST(SchedulerPolicy, FcfsLruLoadsOnTheCriticalPath) {
  sc::Scheduler s(config(sc::Policy::FcfsLru, 2, 4, 2), {1, 1});
  s.submit(req(0, {1}, 2));
  auto p = s.plan_step();
  EXPECT_EQ(p.admitted, std::vector<int>{0});
  EXPECT_EQ(p.loads, std::vector<int>{1});
  EXPECT_FALSE(p.ready);
  EXPECT_FALSE(s.batch_ready());
  EXPECT_THROW(s.finish_step(), std::logic_error);
  s.on_load_done(1);
  EXPECT_TRUE(s.batch_ready());
  EXPECT_TRUE(s.finish_step().empty());
  p = s.plan_step();
  EXPECT_TRUE(p.ready);
  EXPECT_EQ(s.finish_step(), std::vector<int>{0});
}

TEST(SchedulerPolicy, AffinityPrefersResidentAndPrefetches) {
  for (auto policy : {sc::Policy::FcfsLru, sc::Policy::AffinityPrefetch}) {
    sc::Scheduler s(config(policy, 2, 1, 1), {1, 1});
    s.preload(0);
    s.submit(req(0, {1}));  // first, but its adapter is not resident
    s.submit(req(1, {0}));
    const auto p = s.plan_step();
    if (policy == sc::Policy::FcfsLru) {
      EXPECT_EQ(p.admitted, std::vector<int>{0});
      EXPECT_FALSE(p.ready);
    } else {
      EXPECT_EQ(p.admitted, std::vector<int>{1});
      EXPECT_TRUE(p.ready);
      EXPECT_EQ(p.loads, std::vector<int>{1});  // prefetched into the free slot
      EXPECT_TRUE(p.evicted.empty());
    }
  }
}

TEST(SchedulerPolicy, AffinityPrefetchEvictsOnlyWhatNobodyWants) {
  sc::Scheduler s(config(sc::Policy::AffinityPrefetch, 3, 1, 1), {1, 1, 1, 1});
  s.preload(0);
  s.preload(1);
  s.preload(2);
  s.submit(req(0, {0}, 4));
  s.submit(req(1, {3}));
  s.submit(req(2, {1}));
  const auto p = s.plan_step();
  EXPECT_EQ(p.admitted, std::vector<int>{0});
  // Adapter 3 replaces 2: 0 runs and 1 is wanted by a queued request.
  EXPECT_EQ(p.loads, std::vector<int>{3});
  EXPECT_EQ(p.evicted, std::vector<int>{2});
}

TEST(SchedulerPolicy, AffinityStarvationBoundIsExact) {
  for (int bound : {5, 3, 1000}) {
    // One slot, held by a stream of requests for adapter 0; the request for adapter 1 is
    // never resident, and nothing can be prefetched while adapter 0 is pinned.
    Driver d(config(sc::Policy::AffinityPrefetch, 1, 1, 1, bound), {1, 1});
    d.s.preload(0);
    d.s.submit(req(0, {0}));
    d.s.submit(req(1, {1}));
    for (int i = 2; i < 20; ++i) d.s.submit(req(i, {0}));
    d.run();
    std::int64_t step = -1;
    for (const auto& p : d.plans)
      if (std::find(p.admitted.begin(), p.admitted.end(), 1) != p.admitted.end()) step = p.step;
    EXPECT_EQ(step, bound == 1000 ? 19 : bound) << "max_wait_steps " << bound;
    if (bound != 1000) {
      // It joined on the critical path: the step waited for its load.
      EXPECT_FALSE(d.plans[bound].ready);
    }
  }
}

TEST(SchedulerPolicy, CostAwareKeepsTheExpensiveAdapter) {
  for (auto policy : {sc::Policy::FcfsLru, sc::Policy::CostAware}) {
    // Adapter 0 costs ten times more to reload than adapter 1; both are used once, adapter 0
    // less recently. A third adapter needs a slot.
    Driver d(config(policy, 2, 2, 2), {10, 1, 1});
    d.s.submit(req(0, {0}, 1));
    d.s.submit(req(1, {1}, 2));
    d.run();
    d.s.submit(req(2, {2}));
    d.run();
    EXPECT_EQ(d.evicted, std::vector<int>{policy == sc::Policy::FcfsLru ? 0 : 1})
        << sc::policy_name(policy);
  }
}

TEST(SchedulerPolicy, CostAwareShortFirstWithinTheBound) {
  for (int bound : {100, 3}) {
    Driver d(config(sc::Policy::CostAware, 2, 1, 1, bound), {1});
    d.s.preload(0);
    d.s.submit(req(0, {0}, 50));
    d.s.submit(req(1, {0}, 5));
    d.s.submit(req(2, {0}, 20));
    d.run();
    // Shortest first; with a bound of 3 steps, request 0 has starved by the time request 1
    // finishes and goes before request 2.
    EXPECT_EQ(d.admitted, bound == 100 ? (std::vector<int>{1, 2, 0}) : (std::vector<int>{1, 0, 2}));
  }
}

TEST(SchedulerPolicy, CostAwareNeverWaitsForALoad) {
  Driver d(config(sc::Policy::CostAware, 4, 4, 4), {1, 1, 1});
  for (int i = 0; i < 6; ++i) d.s.submit(req(i, {i % 3}, 3));
  d.run();
  EXPECT_EQ(d.admitted.size(), 6u);
  for (const auto& p : d.plans) EXPECT_TRUE(p.ready);
}

TEST(SchedulerPolicy, MultiAdapterRequestsPinEveryAdapter) {
  Driver d(config(sc::Policy::AffinityPrefetch, 3, 4, 3), {1, 1, 1, 1});
  d.s.submit(req(0, {0, 1}, 5));
  d.s.submit(req(1, {2, 3}, 1));  // cannot join while 0 and 1 are in: cap 3
  d.run();
  ASSERT_GE(d.plans.size(), 6u);
  for (const auto& p : d.plans) EXPECT_LE(p.adapters.size(), 3u);
  EXPECT_EQ(d.admitted, (std::vector<int>{0, 1}));
  // Adapters 0 and 1 stay pinned through request 0's five steps: nothing evicts them early.
  for (int a : d.evicted) EXPECT_TRUE(a == 0 || a == 1);
}

TEST(SchedulerPolicy, BadInputNamesTheOption) {
  expect_invalid([] { sc::Scheduler s(config(sc::Policy::FcfsLru, 0, 4, 2), {1}); }, "cache_capacity");
  expect_invalid([] { sc::Scheduler s(config(sc::Policy::FcfsLru, 2, 0, 2), {1}); }, "max_batch_size");
  expect_invalid([] { sc::Scheduler s(config(sc::Policy::FcfsLru, 2, 2, 0), {1}); }, "max_adapters_per_batch");
  expect_invalid([] { sc::policy_from_name("random"); }, "policy");
  expect_invalid([] { sc::Scheduler s(config(sc::Policy::FcfsLru, 2, 2, 2), {}); }, "reload_cost_s");
  EXPECT_EQ(sc::policy_from_name("cost_aware"), sc::Policy::CostAware);
  sc::Scheduler s(config(sc::Policy::FcfsLru, 2, 2, 2), {1, 1, 1});
  s.submit(req(0, {0}));
  expect_invalid([&] { s.submit(req(0, {1})); }, "request id 0");
  expect_invalid([&] { s.submit(req(1, {3})); }, "adapter 3");
  expect_invalid([&] { s.submit(req(2, {0, 1, 2})); }, "max_adapters_per_batch");
  expect_invalid([&] { s.submit(req(3, {0}, 0)); }, "output");
}

}  // namespace
