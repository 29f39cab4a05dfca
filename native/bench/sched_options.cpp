// Strict parsing of the scheduler lane's flags (see sched_options.h).
#include "sched_options.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string_view>

namespace infeng::sched::lane {

namespace {

[[noreturn]] void bad(std::string_view flag, const std::string& why) {
  throw std::invalid_argument("--" + std::string(flag) + ": " + why);
}

// Removes every --<name>=v and --<alt>=v from argv; the last one wins. A bare --<name> is an
// error (it would otherwise reach Google Benchmark as an unknown flag).
std::optional<std::string> take(int& argc, char** argv, const std::string& name) {
  std::string alt = name;
  std::replace(alt.begin(), alt.end(), '_', '-');
  std::optional<std::string> value;
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    bool matched = false;
    for (const std::string& n : {name, alt}) {
      const std::string bare = "--" + n;
      if (arg == bare) bad(name, "needs a value: write " + bare + "=<value>");
      if (arg.substr(0, bare.size() + 1) == bare + "=") {
        value = std::string(arg.substr(bare.size() + 1));
        matched = true;
        break;
      }
    }
    if (!matched) argv[out++] = argv[i];
  }
  argc = out;
  argv[argc] = nullptr;
  return value;
}

double to_double(std::string_view flag, const std::string& text) {
  double v = 0;
  const auto* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || p != end || text.empty()) bad(flag, "'" + text + "' is not a number");
  if (!std::isfinite(v)) bad(flag, "'" + text + "' is not a finite number");
  return v;
}

std::int64_t to_int(std::string_view flag, const std::string& text, std::int64_t lo, std::int64_t hi) {
  std::int64_t v = 0;
  const auto* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || p != end || text.empty()) bad(flag, "'" + text + "' is not an integer");
  if (v < lo || v > hi)
    bad(flag, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "] (got " + text + ")");
  return v;
}

double positive(std::string_view flag, const std::string& text) {
  const double v = to_double(flag, text);
  if (!(v > 0)) bad(flag, "must be a positive number (got " + text + ")");
  return v;
}

bool to_bool(std::string_view flag, const std::string& text) {
  if (text == "true" || text == "1") return true;
  if (text == "false" || text == "0") return false;
  bad(flag, "expected true or false (got '" + text + "')");
}

std::vector<std::string> split(std::string_view flag, const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = text.find(',', start);
    out.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (out.back().empty()) bad(flag, "empty item in '" + text + "'");
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string fmt(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  // Trailing zeros go, one decimal stays: 1.0, 1.25, 0.8.
  while (s.size() > 1 && s.back() == '0' && s[s.size() - 2] != '.') s.pop_back();
  return s;
}

}  // namespace

std::string Popularity::label() const { return uniform ? "uniform" : "zipf" + fmt(alpha, 2); }

std::string SweepPoint::name() const {
  return popularity.label() + "/N" + std::to_string(adapters) + "/r" + std::to_string(rank) + "/m" +
         fmt(mean_adapters, 1);
}

std::vector<SweepPoint> LaneOptions::sweep() const {
  std::vector<SweepPoint> out;
  if (star) {
    const SweepPoint c{popularity.front(), adapters.front(), ranks.front(), mean_adapters.front()};
    out.push_back(c);
    for (std::size_t i = 1; i < popularity.size(); ++i) out.push_back({popularity[i], c.adapters, c.rank, c.mean_adapters});
    for (std::size_t i = 1; i < adapters.size(); ++i) out.push_back({c.popularity, adapters[i], c.rank, c.mean_adapters});
    for (std::size_t i = 1; i < ranks.size(); ++i) out.push_back({c.popularity, c.adapters, ranks[i], c.mean_adapters});
    for (std::size_t i = 1; i < mean_adapters.size(); ++i) out.push_back({c.popularity, c.adapters, c.rank, mean_adapters[i]});
    return out;
  }
  for (const auto& pop : popularity)
    for (int n : adapters)
      for (int r : ranks)
        for (double m : mean_adapters) out.push_back(SweepPoint{pop, n, r, m});
  return out;
}

std::string LaneOptions::threads_note() const {
  std::string s = "modelled " + std::to_string(decode_threads) + " decode + " +
                  std::to_string(adapter_threads) + " adapter threads in virtual time";
  if (machine_cores > 0) {
    s += " on a " + std::to_string(machine_cores) + "-core machine";
    if (static_cast<unsigned>(decode_threads + adapter_threads) > machine_cores)
      s += " (more threads than cores: allowed, the threads are lanes of the modelled target)";
  }
  return s;
}

LaneOptions parse_lane_options(int& argc, char** argv, unsigned machine_cores) {
  LaneOptions o;
  o.machine_cores = machine_cores;
  constexpr std::int64_t kBig = 1'000'000;
  if (auto v = take(argc, argv, "seed")) o.seed = static_cast<std::uint64_t>(to_int("seed", *v, 0, INT64_MAX));
  if (auto v = take(argc, argv, "num_requests")) o.num_requests = static_cast<int>(to_int("num_requests", *v, 0, kBig));
  if (auto v = take(argc, argv, "duration_s")) o.duration_s = positive("duration_s", *v);
  if (auto v = take(argc, argv, "load_rps")) o.load_rps = positive("load_rps", *v);
  if (auto v = take(argc, argv, "include_base")) o.include_base = to_bool("include_base", *v);
  if (auto v = take(argc, argv, "arrivals")) {
    if (*v == "poisson") o.gamma_arrivals = false;
    else if (*v == "gamma") o.gamma_arrivals = true;
    else bad("arrivals", "expected poisson or gamma (got '" + *v + "')");
  }
  if (auto v = take(argc, argv, "gamma_cv")) o.gamma_cv = positive("gamma_cv", *v);
  if (auto v = take(argc, argv, "max_new_tokens")) o.max_new_tokens = static_cast<int>(to_int("max_new_tokens", *v, 1, 65536));
  if (auto v = take(argc, argv, "prompt_median")) o.prompt_median = static_cast<int>(to_int("prompt_median", *v, 8, 1024));
  if (auto v = take(argc, argv, "max_adapters_per_req"))
    o.max_adapters_per_req = static_cast<int>(to_int("max_adapters_per_req", *v, 1, 64));

  // Sweep lists. --zipf_alpha takes numbers and the word "uniform"; NaN is refused by name.
  if (auto v = take(argc, argv, "zipf_alpha")) {
    o.popularity.clear();
    for (const auto& item : split("zipf_alpha", *v)) {
      if (item == "uniform") o.popularity.push_back({true, 0});
      else o.popularity.push_back({false, to_double("zipf_alpha", item)});
    }
  }
  if (auto v = take(argc, argv, "adapters")) {
    o.adapters.clear();
    for (const auto& item : split("adapters", *v)) {
      const auto n = to_int("adapters", item, 0, 100000);
      if (n < 1) bad("adapters", "needs at least one adapter (got " + item + ")");
      o.adapters.push_back(static_cast<int>(n));
    }
  }
  if (auto v = take(argc, argv, "rank")) {
    o.ranks.clear();
    for (const auto& item : split("rank", *v)) {
      const auto r = to_int("rank", item, 0, 1024);
      if (r < 1) bad("rank", "a LoRA rank must be >= 1 (got " + item + ")");
      o.ranks.push_back(static_cast<int>(r));
    }
  }
  if (auto v = take(argc, argv, "mean_adapters")) {
    o.mean_adapters.clear();
    for (const auto& item : split("mean_adapters", *v)) {
      const double m = to_double("mean_adapters", item);
      if (!(m >= 1)) bad("mean_adapters", "a request uses at least one adapter on average (got " + item + ")");
      o.mean_adapters.push_back(m);
    }
  }

  if (auto v = take(argc, argv, "sweep")) {
    if (*v == "grid") o.star = false;
    else if (*v == "star") o.star = true;
    else bad("sweep", "expected grid or star (got '" + *v + "')");
  }
  if (auto v = take(argc, argv, "policies")) {
    o.policies.clear();
    for (const auto& item : split("policies", *v)) {
      try {
        o.policies.push_back(policy_from_name(item));
      } catch (const std::invalid_argument&) {
        bad("policies", "unknown policy '" + item + "' (known: fcfs_lru, affinity_prefetch, cost_aware)");
      }
    }
  }
  if (auto v = take(argc, argv, "cache_adapters")) {
    const auto n = to_int("cache_adapters", *v, 0, 100000);
    if (n < 1) bad("cache_adapters", "the cache must hold at least one adapter (got " + *v + ")");
    o.cache_adapters = static_cast<int>(n);
  }
  if (auto v = take(argc, argv, "max_batch")) o.max_batch = static_cast<int>(to_int("max_batch", *v, 1, 4096));
  if (auto v = take(argc, argv, "max_adapters_per_batch"))
    o.max_adapters_per_batch = static_cast<int>(to_int("max_adapters_per_batch", *v, 1, 4096));
  if (auto v = take(argc, argv, "max_wait_steps")) o.max_wait_steps = static_cast<int>(to_int("max_wait_steps", *v, 1, kBig));

  if (auto v = take(argc, argv, "decode_threads")) o.decode_threads = static_cast<int>(to_int("decode_threads", *v, 1, 1024));
  if (auto v = take(argc, argv, "adapter_threads")) o.adapter_threads = static_cast<int>(to_int("adapter_threads", *v, 1, 1024));
  if (auto v = take(argc, argv, "pin_cores")) o.pin_cores = to_bool("pin_cores", *v);
  if (auto v = take(argc, argv, "serial_fraction")) {
    o.serial_fraction = to_double("serial_fraction", *v);
    if (!(o.serial_fraction >= 0 && o.serial_fraction <= 1)) bad("serial_fraction", "must be in [0, 1] (got " + *v + ")");
  }
  if (auto v = take(argc, argv, "hidden")) o.hidden = static_cast<int>(to_int("hidden", *v, 64, 16384));
  if (auto v = take(argc, argv, "layers")) o.layers = static_cast<int>(to_int("layers", *v, 1, 256));
  if (auto v = take(argc, argv, "q_heads")) o.q_heads = static_cast<int>(to_int("q_heads", *v, 1, 1024));
  if (auto v = take(argc, argv, "kv_heads")) o.kv_heads = static_cast<int>(to_int("kv_heads", *v, 1, 1024));
  if (auto v = take(argc, argv, "ffn")) o.ffn = static_cast<int>(to_int("ffn", *v, 0, 65536));
  if (auto v = take(argc, argv, "probe_layers")) o.probe_layers = static_cast<int>(to_int("probe_layers", *v, 0, 256));
  if (auto v = take(argc, argv, "adapter_store")) {
    if (*v == "storage") o.adapter_store = AdapterStore::Storage;
    else if (*v == "page_cache") o.adapter_store = AdapterStore::PageCache;
    else bad("adapter_store", "expected storage or page_cache (got '" + *v + "')");
  }
  if (auto v = take(argc, argv, "storage_lanes")) o.storage_lanes = static_cast<int>(to_int("storage_lanes", *v, 0, 1024));
  if (auto v = take(argc, argv, "probe_repeats")) o.probe_repeats = static_cast<int>(to_int("probe_repeats", *v, 1, 100));
  if (auto v = take(argc, argv, "p95_target_ms")) o.p95_target_ms = positive("p95_target_ms", *v);
  if (auto v = take(argc, argv, "queue_target_ms")) o.queue_target_ms = positive("queue_target_ms", *v);
  if (auto v = take(argc, argv, "capacity_requests"))
    o.capacity_requests = static_cast<int>(to_int("capacity_requests", *v, 50, kBig));
  if (auto v = take(argc, argv, "calibrate")) o.calibrate = to_bool("calibrate", *v);
  if (auto v = take(argc, argv, "calib_requests")) o.calib_requests = static_cast<int>(to_int("calib_requests", *v, 8, 10000));

  // Cross-flag checks, each naming the flag a user would change.
  if (o.hidden % o.q_heads != 0 || (o.hidden / o.q_heads) % 8 != 0 || o.hidden / o.q_heads > 256)
    bad("q_heads", "hidden / q_heads must be a head size that is a multiple of 8, at most 256 (--hidden=" +
                       std::to_string(o.hidden) + ", --q_heads=" + std::to_string(o.q_heads) + ")");
  if (o.q_heads % o.kv_heads != 0)
    bad("kv_heads", "must divide --q_heads=" + std::to_string(o.q_heads) + " (got " + std::to_string(o.kv_heads) + ")");
  for (int r : o.ranks)
    if (r > o.hidden)
      bad("rank", "rank " + std::to_string(r) + " exceeds --hidden=" + std::to_string(o.hidden));
  if (o.max_adapters_per_req > o.max_adapters_per_batch)
    bad("max_adapters_per_req", "a request's " + std::to_string(o.max_adapters_per_req) +
                                    " adapters must fit one step (--max_adapters_per_batch=" +
                                    std::to_string(o.max_adapters_per_batch) + ")");
  if (o.max_adapters_per_req > o.cache_adapters)
    bad("cache_adapters", "must hold a request's " + std::to_string(o.max_adapters_per_req) +
                              " adapters (--max_adapters_per_req)");
  // Every sweep point's trace must be valid; the generator's own message names its option.
  for (const auto& p : o.sweep()) {
    try {
      validate(trace_options(o, p, o.load_rps));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("sweep point " + p.name() + ": " + e.what());
    }
  }
  return o;
}

TraceOptions trace_options(const LaneOptions& o, const SweepPoint& p, double load_rps) {
  TraceOptions t;
  t.seed = o.seed;
  t.num_adapters = p.adapters;
  t.popularity = p.popularity.uniform ? infeng::sched::Popularity::Uniform : infeng::sched::Popularity::Zipf;
  t.zipf_alpha = p.popularity.alpha;
  t.include_base = o.include_base;
  t.adapter_ranks = {p.rank};
  if (o.num_requests > 0) {
    t.num_requests = o.num_requests;
    t.duration_s = 0;
  } else {
    t.duration_s = o.duration_s;
  }
  t.load_rps = load_rps;
  t.arrivals = o.gamma_arrivals ? Arrivals::Gamma : Arrivals::Poisson;
  t.gamma_shape = 1.0 / (o.gamma_cv * o.gamma_cv);
  t.prompt = LengthSpec{LengthKind::Lognormal, 0, 8, 1024, static_cast<double>(o.prompt_median), 0.5};
  t.output = LengthSpec{LengthKind::Uniform, 0, std::max(1, o.max_new_tokens / 8), o.max_new_tokens, 0, 0};
  t.mean_adapters_per_req = p.mean_adapters;
  t.max_adapters_per_req = o.max_adapters_per_req;
  return t;
}

SchedulerConfig scheduler_config(const LaneOptions& o, Policy p) {
  SchedulerConfig c;
  c.policy = p;
  c.cache_capacity = o.cache_adapters;
  c.max_batch_size = o.max_batch;
  c.max_adapters_per_batch = o.max_adapters_per_batch;
  c.max_wait_steps = o.max_wait_steps;
  return c;
}

}  // namespace infeng::sched::lane
