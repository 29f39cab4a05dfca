// Interpolation of the probed cost table (see sched_costs.h).
#include "sched_costs.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>

namespace infeng::sched::lane {

namespace {

[[noreturn]] void bad(const std::string& field, const std::string& why) {
  throw std::invalid_argument("cost table " + field + ": " + why);
}

void check_axis(const std::vector<int>& axis, const char* name, int min) {
  if (axis.empty()) bad(name, "is empty");
  if (axis.front() < min) bad(name, "starts below " + std::to_string(min));
  for (std::size_t i = 1; i < axis.size(); ++i)
    if (axis[i] <= axis[i - 1]) bad(name, "must be strictly ascending");
}

void check_times(const std::vector<double>& v, std::size_t n, const char* name) {
  if (v.size() != n) bad(name, "has " + std::to_string(v.size()) + " values, expected " + std::to_string(n));
  for (double x : v)
    if (!(x > 0) || !std::isfinite(x)) bad(name, "holds a time that is not positive and finite");
}

// Position of x on a sorted axis: the segment [i, i+1] to interpolate on (the last segment
// beyond the end, the first below the start) and the weight of i+1. A one-point axis is flat.
struct Segment {
  std::size_t i = 0;
  double w = 0;
};
Segment locate(const std::vector<int>& axis, double x) {
  if (axis.size() == 1) return {0, 0};
  std::size_t i = 0;
  while (i + 2 < axis.size() && x > axis[i + 1]) ++i;
  const double x0 = axis[i], x1 = axis[i + 1];
  return {i, (x - x0) / (x1 - x0)};
}

// Interpolates f over an axis; beyond the last point the line continues but never drops below
// the last value (a cost does not shrink with more work), below the first it is clamped.
template <class F>
double along(const std::vector<int>& axis, double x, F&& f) {
  if (x <= axis.front()) return f(0);
  const Segment s = locate(axis, x);
  if (axis.size() == 1) return f(0);
  const double a = f(s.i), b = f(s.i + 1);
  const double v = a + (b - a) * s.w;
  if (x > axis.back()) return std::max(v, b);
  return v;
}

double amdahl(double one_thread_s, int threads, double serial) {
  const double t = std::max(1, threads);
  return one_thread_s * (1.0 + serial * (t - 1.0)) / t;
}

}  // namespace

double& CostTable::step(int ri, int ai, int ti) {
  return step_s[(static_cast<std::size_t>(ri) * adapters.size() + ai) * tokens.size() + ti];
}
double CostTable::step(int ri, int ai, int ti) const {
  return step_s[(static_cast<std::size_t>(ri) * adapters.size() + ai) * tokens.size() + ti];
}

void validate(const CostTable& t) {
  if (t.hidden < 1) bad("hidden", "must be >= 1");
  if (t.layers < 1) bad("layers", "must be >= 1");
  check_axis(t.tokens, "tokens", 1);
  check_axis(t.adapters, "adapters", 0);
  if (t.adapters.front() != 0) bad("adapters", "must start at 0 (the base model's step)");
  check_axis(t.ranks, "ranks", 1);
  check_axis(t.prompts, "prompts", 1);
  check_axis(t.contexts, "contexts", 1);
  check_times(t.step_s, t.ranks.size() * t.adapters.size() * t.tokens.size(), "step_s");
  check_times(t.prefill_s, t.prompts.size(), "prefill_s");
  check_times(t.attn_s, t.contexts.size(), "attn_s");
  check_times(t.read_s, t.ranks.size(), "read_s");
  if (!t.read_warm_s.empty()) check_times(t.read_warm_s, t.ranks.size(), "read_warm_s");
  check_times(t.unpack_s, t.ranks.size(), "unpack_s");
  if (!(t.unpack_slowdown >= 1) || !std::isfinite(t.unpack_slowdown))
    bad("unpack_slowdown", "must be a finite factor >= 1");
  if (!(t.load_slowdown >= 1) || !std::isfinite(t.load_slowdown)) bad("load_slowdown", "must be a finite factor >= 1");
}

CostModel cost_model_from(const CostTable& table, double serial_fraction) {
  validate(table);
  if (!(serial_fraction >= 0 && serial_fraction <= 1))
    throw std::invalid_argument("serial_fraction: must be in [0, 1]");
  CostModel c;
  c.serial_fraction = serial_fraction;
  c.unpack_slowdown = table.unpack_slowdown;
  c.load_slowdown = table.load_slowdown;
  // The functions own a copy: the model outlives the probe that made the table.
  const auto t = std::make_shared<const CostTable>(table);
  c.decode_step = [t, serial_fraction](const StepShape& s) {
    // Zero adapters is the base model at every rank: read it from the first rank's table.
    const double rank = s.adapters == 0 ? t->ranks.front() : std::max(1, s.rank);
    const double one = along(t->ranks, rank, [&](std::size_t ri) {
      return along(t->adapters, s.adapters, [&](std::size_t ai) {
        return along(t->tokens, std::max(1, s.tokens), [&](std::size_t ti) {
          return t->step(static_cast<int>(ri), static_cast<int>(ai), static_cast<int>(ti));
        });
      });
    });
    return amdahl(one, s.threads, serial_fraction);
  };
  c.prefill = [t, serial_fraction](int prompt, int threads) {
    if (prompt <= 0) return 0.0;
    // Below the first probed length prefill scales down in proportion (per-token work).
    const double one = prompt < t->prompts.front()
                           ? t->prefill_s.front() * prompt / t->prompts.front()
                           : along(t->prompts, prompt, [&](std::size_t i) { return t->prefill_s[i]; });
    return amdahl(one, threads, serial_fraction);
  };
  c.attention = [t, serial_fraction](double mean_context, int threads) {
    if (mean_context <= 0) return 0.0;
    // Below the first probed context attention scales down in proportion.
    const double one = mean_context < t->contexts.front()
                           ? t->attn_s.front() * mean_context / t->contexts.front()
                           : along(t->contexts, mean_context, [&](std::size_t i) { return t->attn_s[i]; });
    return amdahl(one, threads, serial_fraction);
  };
  c.load_read = [t](int rank) {
    return along(t->ranks, rank, [&](std::size_t i) { return t->read_s[i]; });
  };
  c.load_unpack = [t](int rank) {
    return along(t->ranks, rank, [&](std::size_t i) { return t->unpack_s[i]; });
  };
  return c;
}

}  // namespace infeng::sched::lane
