// The multi-adapter scheduler: trace generator statistics against closed forms, each policy on
// small hand-made traces whose schedule is known step by step, the simulator's determinism and
// its independence from wall time, the capacity search, and bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
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

TEST(SchedulerPolicy, StarvingRequestBlockedByTheCapDrainsOneAdapter) {
  // Cap of two adapters: adapter 0 held by a 30-token request, adapter 1 by a stream of 5- to
  // 11-token requests. The request for adapter 2 fits only once one of them leaves the step.
  // Without the bound that is when the long request ends; with it, after max_wait_steps the
  // adapter that drains soonest (1) takes no new requests, and it is free within 11 steps.
  auto admitted_at = [](int bound) {
    Driver d(config(sc::Policy::AffinityPrefetch, 4, 4, 2, bound), {1, 1, 1});
    for (int a = 0; a < 3; ++a) d.s.preload(a);
    d.s.submit(req(0, {0}, 30));
    d.s.submit(req(1, {1}, 8));
    d.s.submit(req(2, {2}, 1));
    for (int i = 3; i < 60; ++i) d.s.submit(req(i, {1}, 5 + (i * 3) % 7));  // staggered ends
    d.run();
    for (const auto& p : d.plans)
      if (std::find(p.admitted.begin(), p.admitted.end(), 2) != p.admitted.end()) return p.step;
    return std::int64_t{-1};
  };
  EXPECT_EQ(admitted_at(1000), 30);
  const auto bounded = admitted_at(3);
  EXPECT_GE(bounded, 3);
  EXPECT_LE(bounded, 3 + 11);
  EXPECT_LT(bounded, 30);
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

// ------------------------------------------------------------------------------ simulator

sc::TraceOptions sim_trace(int n = 400, double rps = 20) {
  sc::TraceOptions o;
  o.seed = 11;
  o.num_adapters = 24;
  o.zipf_alpha = 0.9;
  o.include_base = true;
  o.adapter_ranks = {8, 16, 64};
  o.num_requests = n;
  o.load_rps = rps;
  o.prompt = {sc::LengthKind::Lognormal, 0, 8, 1024, 96, 0.6};
  o.output = {sc::LengthKind::Uniform, 0, 4, 48};
  o.mean_adapters_per_req = 1.2;
  o.max_adapters_per_req = 2;
  return o;
}

sc::SchedulerConfig sim_config(sc::Policy p) {
  auto c = config(p, 6, 16, 4, 32);
  return c;
}

// Every field, bit for bit.
void expect_same(const sc::SimResult& a, const sc::SimResult& b) {
  auto same = [](double x, double y) { return (std::isnan(x) && std::isnan(y)) || x == y; };
  EXPECT_EQ(a.steps, b.steps);
  EXPECT_EQ(a.loads, b.loads);
  EXPECT_EQ(a.reloads, b.reloads);
  EXPECT_EQ(a.evictions, b.evictions);
  for (auto [x, y] : std::vector<std::pair<double, double>>{
           {a.makespan_s, b.makespan_s}, {a.p50_ms, b.p50_ms}, {a.p95_ms, b.p95_ms},
           {a.base_p95_ms, b.base_p95_ms}, {a.tokens_per_s, b.tokens_per_s},
           {a.queue_wait_p95_ms, b.queue_wait_p95_ms}, {a.hot_reload_ms_p95, b.hot_reload_ms_p95},
           {a.decode_utilisation, b.decode_utilisation}, {a.adapter_utilisation, b.adapter_utilisation},
           {a.overlap_ratio, b.overlap_ratio}, {a.cache_hit_rate, b.cache_hit_rate},
           {a.jain_fairness, b.jain_fairness}, {a.lora_tax_pct, b.lora_tax_pct}})
    EXPECT_TRUE(same(x, y)) << x << " vs " << y;
  EXPECT_EQ(a.adapter_worst_wait_ms, b.adapter_worst_wait_ms);
  ASSERT_EQ(a.timings.size(), b.timings.size());
  for (std::size_t i = 0; i < a.timings.size(); ++i) {
    EXPECT_EQ(a.timings[i].start_ns, b.timings[i].start_ns);
    EXPECT_EQ(a.timings[i].finish_ns, b.timings[i].finish_ns);
  }
}

const sc::Policy kPolicies[] = {sc::Policy::FcfsLru, sc::Policy::AffinityPrefetch, sc::Policy::CostAware};

TEST(SchedulerSim, EveryRequestCompletesAndMetricsAreSane) {
  const auto trace = sc::generate_trace(sim_trace());
  for (auto p : kPolicies) {
    const auto r = sc::simulate(trace, sim_config(p), sc::CostModel{});
    SCOPED_TRACE(sc::policy_name(p));
    for (const auto& t : r.timings) {
      EXPECT_GE(t.start_ns, t.arrival_ns);
      EXPECT_GT(t.finish_ns, t.start_ns);
    }
    EXPECT_GT(r.tokens_per_s, 0);
    EXPECT_LE(r.p50_ms, r.p95_ms);
    EXPECT_GT(r.base_requests, 0);
    EXPECT_FALSE(std::isnan(r.base_p95_ms));
    EXPECT_GT(r.decode_utilisation, 0);
    EXPECT_LE(r.decode_utilisation, 1.0);
    EXPECT_LE(r.adapter_utilisation, 1.0);
    EXPECT_GE(r.overlap_ratio, 0.0);
    EXPECT_LE(r.overlap_ratio, 1.0);
    EXPECT_GT(r.loads, 0);
    EXPECT_GT(r.jain_fairness, 0.0);
    EXPECT_LE(r.jain_fairness, 1.0 + 1e-12);
    EXPECT_FALSE(std::isnan(r.lora_tax_pct));
    EXPECT_LE(r.tokens_per_s, r.base_tokens_per_s * (1 + 1e-9));
  }
}

TEST(SchedulerSim, DeterministicAcrossRuns) {
  const auto trace = sc::generate_trace(sim_trace());
  for (auto p : kPolicies) {
    SCOPED_TRACE(sc::policy_name(p));
    expect_same(sc::simulate(trace, sim_config(p), sc::CostModel{}),
                sc::simulate(sc::generate_trace(sim_trace()), sim_config(p), sc::CostModel{}));
  }
}

TEST(SchedulerSim, IndependentOfWallTime) {
  // The same run with the host stalled at every 25th event (about 0.1 s in all): only virtual
  // time may count.
  const auto trace = sc::generate_trace(sim_trace(150));
  for (auto p : kPolicies) {
    SCOPED_TRACE(sc::policy_name(p));
    sc::SimConfig sim;
    sim.lora_tax = false;
    int events = 0;
    sc::SimHooks slow;
    slow.on_event = [&](const sc::SimEvent&) {
      if (++events % 25 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
    };
    const auto stalled = sc::simulate(trace, sim_config(p), sc::CostModel{}, sim, slow);
    EXPECT_GT(events, 100);
    expect_same(stalled, sc::simulate(trace, sim_config(p), sc::CostModel{}, sim));
  }
}

TEST(SchedulerSim, CriticalPathLoadsNeverOverlapDecode) {
  const auto trace = sc::generate_trace(sim_trace(400, 40));
  sc::CostModel cost;
  const auto fcfs = sc::simulate(trace, sim_config(sc::Policy::FcfsLru), cost);
  EXPECT_EQ(fcfs.overlap_ratio, 0.0);
  const auto aware = sc::simulate(trace, sim_config(sc::Policy::CostAware), cost);
  EXPECT_GT(aware.overlap_ratio, 0.0);
  // So the unpack's slowdown of decode reaches only the policy that overlaps: its steps take
  // longer on average (throughput need not fall: slower steps batch more).
  cost.unpack_slowdown = 2.0;
  expect_same(sc::simulate(trace, sim_config(sc::Policy::FcfsLru), cost), fcfs);
  auto mean_step = [](const sc::SimResult& r) { return r.decode_utilisation * r.makespan_s / r.steps; };
  EXPECT_GT(mean_step(sc::simulate(trace, sim_config(sc::Policy::CostAware), cost)), mean_step(aware));
}

// A load that starts with a step (a prefetch issued as the step begins) or during one is
// slowed by load_slowdown; a critical-path load, with decode waiting for it, is not.
TEST(SchedulerSim, LoadSlowdownReachesOnlyLoadsBesideAStep) {
  const auto trace = sc::generate_trace(sim_trace(400, 40));
  sc::CostModel cost;
  const auto fcfs = sc::simulate(trace, sim_config(sc::Policy::FcfsLru), cost);
  const auto aware = sc::simulate(trace, sim_config(sc::Policy::CostAware), cost);
  ASSERT_GT(aware.overlap_ratio, 0.0);
  cost.load_slowdown = 2.0;
  expect_same(sc::simulate(trace, sim_config(sc::Policy::FcfsLru), cost), fcfs);
  EXPECT_GT(sc::simulate(trace, sim_config(sc::Policy::CostAware), cost).load_ms_p95, aware.load_ms_p95);
  cost.load_slowdown = 0.9;
  expect_invalid([&] { sc::simulate(trace, sim_config(sc::Policy::FcfsLru), cost); }, "load_slowdown");
}

// A hand-made trace: request 0 (prompt 10, 3 tokens) at 0, request 1 (prompt 100, 2 tokens)
// while request 0 runs. Each step attends to prompt + tokens generated before it.
TEST(SchedulerSim, StepsAttendToTheirRequestsGrowingContexts) {
  sc::Trace t;
  t.num_adapters = 1;
  t.adapter_rank = {8};
  t.requests = {{0, 0, 10, 3, {}}, {1, 1, 100, 2, {}}};
  sc::CostModel cost;
  std::vector<std::int64_t> contexts;
  cost.decode_step = [&](const sc::StepShape& s) {
    contexts.push_back(s.context_tokens);
    return 0.001;
  };
  cost.prefill = [](int, int) { return 0.0; };
  cost.attention = [](double mean, int) { return 1e-6 * mean; };
  sc::SimConfig sim;
  sim.lora_tax = false;
  const auto r = sc::simulate(t, config(sc::Policy::FcfsLru, 1, 4, 1), cost, sim);
  // Step 0: request 0 alone (10); step 1: 0 at 11 and 1 joining at 100; step 2: 12 + 101.
  EXPECT_EQ(contexts, (std::vector<std::int64_t>{10, 111, 113}));
  // The attention term is in the step's time: 3 steps of 1 ms plus 234 µs of attention.
  EXPECT_NEAR(r.makespan_s, 0.003 + 234e-6, 2e-9);
  // The linear model: step_per_context_token_s × context tokens.
  sc::CostModel lin;
  lin.step_per_context_token_s = 1e-6;
  lin.serial_fraction = 0;
  EXPECT_NEAR(lin.attention_s(sc::StepShape{2, 0, 0, 1, 300}), 300e-6, 1e-15);
}

// Two loads issued together on two adapter threads: with one storage lane the second read
// starts when the first ends; with none they read at once. Unpacks never wait for the device.
TEST(SchedulerSim, ReadsShareTheStorageLanes) {
  sc::Trace t;
  t.num_adapters = 2;
  t.adapter_rank = {8, 8};
  t.requests = {{0, 0, 1, 1, {0}}, {1, 0, 1, 1, {1}}};
  sc::CostModel cost;
  cost.decode_step = [](const sc::StepShape&) { return 0.001; };
  cost.prefill = [](int, int) { return 0.0; };
  cost.load_read = [](int) { return 0.010; };
  cost.load_unpack = [](int) { return 0.002; };
  sc::SimConfig sim;
  sim.adapter_threads = 2;
  sim.lora_tax = false;
  auto run = [&](int lanes) {
    sim.storage_lanes = lanes;
    std::vector<std::pair<sc::SimEventKind, std::int64_t>> loads_done;
    sc::SimHooks h;
    h.on_event = [&](const sc::SimEvent& e) {
      if (e.kind == sc::SimEventKind::LoadDone) loads_done.emplace_back(e.kind, e.t_ns);
    };
    sc::simulate(t, config(sc::Policy::FcfsLru, 2, 4, 2), cost, sim, h);
    std::vector<std::int64_t> at;
    for (const auto& [k, ns] : loads_done) at.push_back(ns);
    return at;
  };
  EXPECT_EQ(run(0), (std::vector<std::int64_t>{12'000'000, 12'000'000}));
  EXPECT_EQ(run(1), (std::vector<std::int64_t>{12'000'000, 22'000'000}));
  EXPECT_EQ(run(2), (std::vector<std::int64_t>{12'000'000, 12'000'000}));
  sim.storage_lanes = -1;
  EXPECT_THROW(sc::simulate(t, config(sc::Policy::FcfsLru, 2, 4, 2), cost, sim), std::invalid_argument);
}

TEST(SchedulerSim, CompletesWithoutPrefetchAndWithOneSlot) {
  // No lookahead: the policies that do not load on admission get adapters in through the
  // starvation bound, and, before any step has run (no base-model request to start with), by
  // serving the head of the queue when nothing else can happen. One slot and one adapter per
  // step: every switch is an eviction.
  auto o = sim_trace(200, 30);
  o.mean_adapters_per_req = 1;
  o.include_base = false;
  const auto trace = sc::generate_trace(o);
  for (auto p : kPolicies) {
    SCOPED_TRACE(sc::policy_name(p));
    for (auto [capacity, lookahead] : {std::pair{6, 0}, std::pair{1, 32}}) {
      auto c = config(p, capacity, 8, 4, 8);
      c.prefetch_lookahead = lookahead;
      const auto r = sc::simulate(trace, c, sc::CostModel{});
      for (const auto& t : r.timings) EXPECT_GT(t.finish_ns, 0);
      if (capacity == 1) EXPECT_GT(r.evictions, 0);
    }
  }
}

TEST(SchedulerSim, RandomConfigurationsAlwaysComplete) {
  // Seeded random configurations and traces: every request finishes, no step exceeds the
  // batch size or the cap on distinct adapters, and critical-path loading never overlaps.
  sc::Rng rng(2024);
  for (int it = 0; it < 150; ++it) {
    auto c = config(static_cast<sc::Policy>(rng.below(3)), 1 + static_cast<int>(rng.below(8)),
                    1 + static_cast<int>(rng.below(16)), 1 + static_cast<int>(rng.below(4)),
                    1 + static_cast<int>(rng.below(64)));
    c.prefetch_lookahead = static_cast<int>(rng.below(33));
    const int cap = std::min(c.cache_capacity, c.max_adapters_per_batch);
    sc::TraceOptions o;
    o.seed = static_cast<std::uint64_t>(it);
    o.num_adapters = 1 + static_cast<int>(rng.below(30));
    o.zipf_alpha = rng.uniform() * 2 - 0.3;
    o.include_base = rng.below(2) == 1;
    o.num_requests = 30 + static_cast<int>(rng.below(120));
    o.load_rps = 1 + rng.uniform() * 100;
    o.arrivals = rng.below(2) ? sc::Arrivals::Gamma : sc::Arrivals::Poisson;
    o.gamma_shape = 0.2 + rng.uniform();
    o.output = {sc::LengthKind::Uniform, 0, 1, 1 + static_cast<int>(rng.below(40))};
    o.mean_adapters_per_req = 1 + rng.uniform();
    o.max_adapters_per_req = 1 + static_cast<int>(rng.below(static_cast<std::uint64_t>(cap)));
    sc::SimConfig sim;
    sim.decode_threads = 1 + static_cast<int>(rng.below(8));
    sim.adapter_threads = 1 + static_cast<int>(rng.below(4));
    sim.lora_tax = false;
    SCOPED_TRACE("iteration " + std::to_string(it) + " " + sc::policy_name(c.policy));
    const auto trace = sc::generate_trace(o);
    const auto r = sc::simulate(trace, c, sc::CostModel{}, sim);
    for (const auto& t : r.timings) ASSERT_GT(t.finish_ns, t.start_ns);
    if (c.policy == sc::Policy::FcfsLru) EXPECT_EQ(r.overlap_ratio, 0.0);

    Driver d(c, std::vector<double>(static_cast<std::size_t>(o.num_adapters), 1.0));
    for (const auto& q : trace.requests) d.s.submit(q);
    d.run();
    EXPECT_EQ(d.admitted.size(), trace.requests.size());
    for (const auto& p : d.plans) {
      EXPECT_LE(static_cast<int>(p.batch.size()), c.max_batch_size);
      EXPECT_LE(static_cast<int>(p.adapters.size()), cap);
    }
  }
}

TEST(SchedulerSim, BaseOnlyTraceHasNoTaxAndNoLoads) {
  auto o = sim_trace();
  o.num_adapters = 1;
  o.include_base = true;
  o.zipf_alpha = 0;  // round robin over {base, adapter 0}
  auto trace = sc::generate_trace(o);
  for (auto& r : trace.requests) r.adapters.clear();
  const auto r = sc::simulate(trace, sim_config(sc::Policy::AffinityPrefetch), sc::CostModel{});
  EXPECT_EQ(r.loads, 0);
  EXPECT_EQ(r.cache_hit_rate, 1.0);
  EXPECT_EQ(r.lora_tax_pct, 0.0);
  EXPECT_EQ(r.base_requests, r.requests);
}

TEST(SchedulerSim, LanesOfTheTargetMachine) {
  // Saturated: more decode threads finish sooner; more adapter threads shorten loads.
  const auto trace = sc::generate_trace(sim_trace(400, 400));
  sc::SimConfig two, six;
  two.decode_threads = 2;
  six.decode_threads = 6;
  two.lora_tax = six.lora_tax = false;
  const auto cfg = sim_config(sc::Policy::AffinityPrefetch);
  EXPECT_GT(sc::simulate(trace, cfg, sc::CostModel{}, six).tokens_per_s,
            sc::simulate(trace, cfg, sc::CostModel{}, two).tokens_per_s);
  sc::SimConfig one_loader = six;
  one_loader.adapter_threads = 1;
  EXPECT_GE(sc::simulate(trace, config(sc::Policy::FcfsLru, 6, 16, 4), sc::CostModel{}, one_loader).load_ms_p95,
            sc::simulate(trace, config(sc::Policy::FcfsLru, 6, 16, 4), sc::CostModel{}, six).load_ms_p95);
}

TEST(SchedulerSim, MeasuredCostFunctionsReplaceTheLinearModel) {
  sc::CostModel cost;
  int calls = 0;
  cost.decode_step = [&](const sc::StepShape& s) {
    ++calls;
    EXPECT_EQ(s.threads, 6);
    return 0.005 + 0.0001 * s.tokens;
  };
  cost.load_read = [](int rank) { return 1e-4 * rank; };
  cost.load_unpack = [](int) { return 0.001; };
  EXPECT_DOUBLE_EQ(cost.load_s(16), 0.0026);
  const auto r = sc::simulate(sc::generate_trace(sim_trace(100)), sim_config(sc::Policy::CostAware), cost);
  EXPECT_GT(calls, 0);
  EXPECT_GT(r.tokens_per_s, 0);
}

TEST(SchedulerSim, CapacitySearchIsMonotone) {
  auto o = sim_trace(250);
  sc::SimConfig sim;
  sim.lora_tax = false;
  const auto cfg = sim_config(sc::Policy::AffinityPrefetch);
  sc::CapacityTargets loose{3000, 1000}, tight{1200, 300};
  sc::CapacityOptions opt;
  opt.min_rps = 1;
  opt.max_rps = 400;
  opt.max_probes = 14;
  const auto a = sc::find_capacity(o, cfg, sc::CostModel{}, sim, loose, opt);
  const auto b = sc::find_capacity(o, cfg, sc::CostModel{}, sim, tight, opt);
  ASSERT_TRUE(a.found);
  ASSERT_TRUE(b.found);
  EXPECT_FALSE(a.at_max);
  EXPECT_GE(a.rps, b.rps);
  EXPECT_TRUE(sc::meets_targets(a.at_rps, loose));
  // Every probe at or below the capacity met the targets, every one above missed them.
  for (auto [rps, met] : a.probes) EXPECT_EQ(met, rps <= a.rps) << rps;
  // Along a grid the targets hold up to a point and fail beyond it.
  bool failed = false;
  for (double rps = 2; rps <= 200; rps *= 1.6) {
    o.load_rps = rps;
    const bool met = sc::meets_targets(sc::simulate(sc::generate_trace(o), cfg, sc::CostModel{}, sim), loose);
    if (failed) EXPECT_FALSE(met) << rps;
    failed = failed || !met;
  }
  // More decode threads: at least as much capacity.
  sim.decode_threads = 12;
  EXPECT_GE(sc::find_capacity(sim_trace(250), cfg, sc::CostModel{}, sim, loose, opt).rps, a.rps);
}

TEST(SchedulerSim, BadInputNamesTheOption) {
  const auto trace = sc::generate_trace(sim_trace(20));
  const auto cfg = sim_config(sc::Policy::FcfsLru);
  sc::SimConfig sim;
  sim.decode_threads = 0;
  expect_invalid([&] { sc::simulate(trace, cfg, sc::CostModel{}, sim); }, "decode_threads");
  sim = {};
  sim.adapter_threads = 0;
  expect_invalid([&] { sc::simulate(trace, cfg, sc::CostModel{}, sim); }, "adapter_threads");
  sc::CostModel cost;
  cost.unpack_slowdown = 0.5;
  expect_invalid([&] { sc::simulate(trace, cfg, cost, {}); }, "unpack_slowdown");
  cost = {};
  cost.step_fixed_s = std::numeric_limits<double>::quiet_NaN();
  expect_invalid([&] { sc::simulate(trace, cfg, cost, {}); }, "step_fixed_s");
  auto small = cfg;
  small.cache_capacity = 0;
  expect_invalid([&] { sc::simulate(trace, small, sc::CostModel{}, {}); }, "cache_capacity");
  auto bad_trace = trace;
  bad_trace.adapter_rank[0] = 0;
  expect_invalid([&] { sc::simulate(bad_trace, cfg, sc::CostModel{}, {}); }, "rank");
  sc::CapacityOptions opt;
  opt.min_rps = 0;
  expect_invalid([&] { sc::find_capacity(sim_trace(20), cfg, sc::CostModel{}, {}, {}, opt); }, "min_rps");
}

}  // namespace
