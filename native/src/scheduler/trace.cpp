// The PRNG and the seeded trace generator.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

#include "infeng/scheduler.h"

namespace infeng::sched {

namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

[[noreturn]] void bad(const std::string& option, const std::string& why) {
  throw std::invalid_argument("trace option " + option + ": " + why);
}

std::string num(double v) {
  if (std::isnan(v)) return "nan";
  std::string s = std::to_string(v);
  return s;
}

void check_length(const LengthSpec& l, const char* name) {
  const std::string n = name;
  switch (l.kind) {
    case LengthKind::Fixed:
      if (l.value < 1) bad(n + ".value", "must be >= 1 (got " + std::to_string(l.value) + ")");
      break;
    case LengthKind::Uniform:
      if (l.min < 1 || l.max < l.min)
        bad(n + ".min/max", "need 1 <= min <= max (got " + std::to_string(l.min) + ", " +
                                std::to_string(l.max) + ")");
      break;
    case LengthKind::Lognormal:
      if (l.min < 1 || l.max < l.min)
        bad(n + ".min/max", "need 1 <= min <= max (got " + std::to_string(l.min) + ", " +
                                std::to_string(l.max) + ")");
      if (!(l.median > 0) || !std::isfinite(l.median))
        bad(n + ".median", "must be a positive number (got " + num(l.median) + ")");
      if (!(l.sigma >= 0) || !std::isfinite(l.sigma))
        bad(n + ".sigma", "must be a non-negative number (got " + num(l.sigma) + ")");
      break;
  }
}

int draw_length(const LengthSpec& l, Rng& rng) {
  switch (l.kind) {
    case LengthKind::Fixed:
      return l.value;
    case LengthKind::Uniform:
      return l.min + static_cast<int>(rng.below(static_cast<std::uint64_t>(l.max - l.min) + 1));
    case LengthKind::Lognormal: {
      const double v = std::exp(std::log(l.median) + l.sigma * rng.normal());
      const double r = std::round(v);
      if (!(r >= l.min)) return l.min;  // also catches NaN
      if (r > l.max) return l.max;
      return static_cast<int>(r);
    }
  }
  return 1;
}

// Poisson count by multiplying uniforms (Knuth): the means used here are small.
int draw_poisson(double mean, Rng& rng) {
  if (mean <= 0) return 0;
  const double limit = std::exp(-mean);
  double p = rng.uniform();
  int k = 0;
  while (p > limit && k < 1000) {
    p *= rng.uniform();
    ++k;
  }
  return k;
}

// Popularity entries: 0..N-1 are adapter ids in rank order, with the base model inserted at
// base_popularity_rank when it takes part. Returns the adapter id (or kBaseModel) of an entry.
struct Ranking {
  int entries = 0;
  int base_rank = -1;
  int adapter_of(int entry) const {
    if (base_rank < 0 || entry < base_rank) return entry;
    if (entry == base_rank) return kBaseModel;
    return entry - 1;
  }
};

void put_u64(std::uint64_t& h, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (8 * i)) & 0xFF;
    h *= 0x100000001B3ull;
  }
}

}  // namespace

Rng::Rng(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
  // A stream number only perturbs the splitmix start, so mix it once more on its own.
  x += splitmix64(stream);
  for (auto& s : s_) s = splitmix64(x);
}

std::uint64_t Rng::next() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1p-53; }

std::uint64_t Rng::below(std::uint64_t n) {
  // Multiply-shift: the bias is below n / 2^64, far under anything a trace can show.
  return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
}

double Rng::normal() {
  const double u1 = 1.0 - uniform();  // (0, 1]: log stays finite
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

double Rng::exponential(double mean) { return -std::log(1.0 - uniform()) * mean; }

double Rng::gamma(double shape, double scale) {
  if (shape < 1.0) {
    // Gamma(k) = Gamma(k + 1) · U^(1/k), which keeps the squeeze of the k >= 1 method.
    const double u = 1.0 - uniform();
    return gamma(shape + 1.0, scale) * std::pow(u, 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x, v;
    do {
      x = normal();
      v = 1.0 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const double u = 1.0 - uniform();
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v * scale;
    if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v * scale;
  }
}

void validate(const TraceOptions& o) {
  if (o.num_adapters < 1)
    bad("num_adapters", "need at least one adapter (got " + std::to_string(o.num_adapters) + ")");
  if (o.popularity == Popularity::Zipf && !std::isfinite(o.zipf_alpha))
    bad("zipf_alpha", "must be a finite number (got " + num(o.zipf_alpha) + ")");
  if (o.include_base && (o.base_popularity_rank < 0 || o.base_popularity_rank > o.num_adapters))
    bad("base_popularity_rank", "must be within 0.." + std::to_string(o.num_adapters) + " (got " +
                                    std::to_string(o.base_popularity_rank) + ")");
  if (o.adapter_ranks.empty()) bad("adapter_ranks", "empty: every adapter needs a rank");
  for (int r : o.adapter_ranks)
    if (r < 1) bad("adapter_ranks", "rank must be >= 1 (got " + std::to_string(r) + ")");
  if (!(o.load_rps > 0) || !std::isfinite(o.load_rps))
    bad("load_rps", "must be a positive rate (got " + num(o.load_rps) + ")");
  if (!std::isfinite(o.duration_s)) bad("duration_s", "must be finite (got " + num(o.duration_s) + ")");
  if (o.duration_s > 0) {
    if (o.duration_s * o.load_rps > 5e7) bad("duration_s", "duration × load_rps above 5e7 requests");
  } else if (o.num_requests < 1) {
    bad("num_requests", "must be >= 1 when no duration_s is given (got " +
                            std::to_string(o.num_requests) + ")");
  }
  if (o.arrivals == Arrivals::Gamma && (!(o.gamma_shape > 0) || !std::isfinite(o.gamma_shape)))
    bad("gamma_shape", "must be a positive number (got " + num(o.gamma_shape) + ")");
  check_length(o.prompt, "prompt");
  check_length(o.output, "output");
  if (!(o.mean_adapters_per_req >= 1) || !std::isfinite(o.mean_adapters_per_req))
    bad("mean_adapters_per_req", "must be a number >= 1 (got " + num(o.mean_adapters_per_req) + ")");
  if (o.max_adapters_per_req < 1)
    bad("max_adapters_per_req", "must be >= 1 (got " + std::to_string(o.max_adapters_per_req) + ")");
}

Trace generate_trace(const TraceOptions& o) {
  validate(o);
  Trace t;
  t.num_adapters = o.num_adapters;
  t.include_base = o.include_base;
  t.adapter_rank.resize(o.num_adapters);
  for (int i = 0; i < o.num_adapters; ++i)
    t.adapter_rank[i] = o.adapter_ranks[static_cast<std::size_t>(i) % o.adapter_ranks.size()];

  Ranking ranking;
  ranking.entries = o.num_adapters + (o.include_base ? 1 : 0);
  ranking.base_rank = o.include_base ? o.base_popularity_rank : -1;

  const bool round_robin = o.popularity == Popularity::Zipf && o.zipf_alpha <= 0;
  std::vector<double> cdf;
  if (o.popularity == Popularity::Zipf && !round_robin) {
    cdf.resize(ranking.entries);
    double sum = 0;
    for (int i = 0; i < ranking.entries; ++i) {
      sum += std::pow(static_cast<double>(i + 1), -o.zipf_alpha);
      cdf[i] = sum;
    }
    for (auto& c : cdf) c /= sum;
    cdf.back() = 1.0;
  }
  auto draw_entry = [&](Rng& rng) -> int {
    if (o.popularity == Popularity::Uniform)
      return static_cast<int>(rng.below(static_cast<std::uint64_t>(ranking.entries)));
    const double u = rng.uniform();
    return static_cast<int>(std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
  };

  Rng arrivals(o.seed, 1);
  Rng contents(o.seed, 2);
  const double mean_gap = 1.0 / o.load_rps;
  double now = 0;
  const int extra_cap = std::min(o.max_adapters_per_req, o.num_adapters) - 1;
  for (int i = 0;; ++i) {
    if (o.duration_s <= 0 && i >= o.num_requests) break;
    const double gap = o.arrivals == Arrivals::Poisson
                           ? arrivals.exponential(mean_gap)
                           : arrivals.gamma(o.gamma_shape, mean_gap / o.gamma_shape);
    now += gap;
    if (o.duration_s > 0 && now >= o.duration_s) break;

    Request r;
    r.id = i;
    r.arrival_ns = std::llround(now * 1e9);
    const int entry = round_robin ? i % ranking.entries : draw_entry(contents);
    const int primary = ranking.adapter_of(entry);
    r.prompt_tokens = draw_length(o.prompt, contents);
    r.output_tokens = draw_length(o.output, contents);
    if (primary != kBaseModel) {
      r.adapters.push_back(primary);
      if (o.mean_adapters_per_req > 1 && extra_cap > 0) {
        const int extra = std::min(draw_poisson(o.mean_adapters_per_req - 1, contents), extra_cap);
        for (int k = 0; k < extra; ++k) {
          int a = -1;
          if (round_robin) {
            a = (primary + 1 + k) % o.num_adapters;
          } else {
            // Redraw until the set gains an adapter; popular sets finish in a few draws, and
            // after the budget the next unused id in rank order keeps the count exact.
            for (int tries = 0; tries < 64 && a < 0; ++tries) {
              const int c = ranking.adapter_of(draw_entry(contents));
              if (c != kBaseModel && std::find(r.adapters.begin(), r.adapters.end(), c) == r.adapters.end())
                a = c;
            }
            for (int c = 0; a < 0 && c < o.num_adapters; ++c)
              if (std::find(r.adapters.begin(), r.adapters.end(), c) == r.adapters.end()) a = c;
          }
          r.adapters.push_back(a);
        }
        std::sort(r.adapters.begin(), r.adapters.end());
      }
    }
    t.requests.push_back(std::move(r));
  }
  return t;
}

std::uint64_t trace_hash(const Trace& t) {
  std::uint64_t h = 0xCBF29CE484222325ull;
  put_u64(h, static_cast<std::uint64_t>(t.num_adapters));
  put_u64(h, t.include_base ? 1 : 0);
  for (int r : t.adapter_rank) put_u64(h, static_cast<std::uint64_t>(r));
  put_u64(h, t.requests.size());
  for (const auto& r : t.requests) {
    put_u64(h, static_cast<std::uint64_t>(r.id));
    put_u64(h, static_cast<std::uint64_t>(r.arrival_ns));
    put_u64(h, static_cast<std::uint64_t>(r.prompt_tokens));
    put_u64(h, static_cast<std::uint64_t>(r.output_tokens));
    put_u64(h, r.adapters.size());
    for (int a : r.adapters) put_u64(h, static_cast<std::uint64_t>(static_cast<std::int64_t>(a)));
  }
  return h;
}

TraceStats trace_stats(const Trace& t) {
  TraceStats s;
  s.requests = static_cast<int>(t.requests.size());
  s.hash = trace_hash(t);
  if (t.requests.empty()) return s;
  s.duration_s = static_cast<double>(t.requests.back().arrival_ns) * 1e-9;
  s.offered_rps = s.duration_s > 0 ? s.requests / s.duration_s : 0;

  // Entry num_adapters counts the base model.
  std::vector<std::int64_t> uses(static_cast<std::size_t>(t.num_adapters) + 1, 0);
  std::int64_t base = 0, adapter_uses = 0;
  for (const auto& r : t.requests) {
    if (r.base()) {
      ++base;
      ++uses[t.num_adapters];
    }
    for (int a : r.adapters) ++uses[a];
    adapter_uses += static_cast<std::int64_t>(r.adapters.size());
  }
  if (!t.include_base) uses.pop_back();
  std::sort(uses.begin(), uses.end(), std::greater<>());
  std::int64_t total = 0;
  for (auto u : uses) total += u;
  const std::size_t top = std::max<std::size_t>(1, (uses.size() + 9) / 10);
  std::int64_t top_sum = 0;
  for (std::size_t i = 0; i < top && i < uses.size(); ++i) top_sum += uses[i];
  if (total > 0) {
    s.top1_share = static_cast<double>(uses[0]) / static_cast<double>(total);
    s.top10pct_share = static_cast<double>(top_sum) / static_cast<double>(total);
  }
  s.base_share = static_cast<double>(base) / s.requests;
  s.mean_adapters_per_req = static_cast<double>(adapter_uses) / s.requests;
  return s;
}

}  // namespace infeng::sched
