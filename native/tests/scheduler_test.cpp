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

}  // namespace
