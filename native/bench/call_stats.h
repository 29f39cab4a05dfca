// Summaries of one repetition's timed calls, shared by the benches that time several variants
// round-robin.
//
// On a 2-vCPU VM, a descheduled thread stalls a 2-thread kernel at its barrier and can triple
// that one call. A repetition's time summed over its calls carries the stall into the
// repetition; a median over its calls does not. A ratio of two variants is taken iteration by
// iteration, where the two were timed next to each other, and the median of those is kept.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace infeng::bench {

// Fewest timed calls per variant in one repetition, so that its medians have a majority to
// stand on: a large case fills the minimum time in one or two iterations.
inline constexpr int kMinCallsPerRepetition = 5;

// How many times one benchmark iteration runs the variant rotation, given the iterations the
// run plans (benchmark::State::max_iterations): enough for kMinCallsPerRepetition calls.
inline int rotations_per_iteration(long long planned_iterations) {
  if (planned_iterations >= kMinCallsPerRepetition) return 1;
  const long long n = planned_iterations < 1 ? 1 : planned_iterations;
  return static_cast<int>((kMinCallsPerRepetition + n - 1) / n);
}

// The median of xs (NaN when empty). Takes a copy: the caller keeps its call order.
inline double median_of(std::vector<double> xs) {
  if (xs.empty()) return std::nan("");
  const std::size_t h = xs.size() / 2;
  std::nth_element(xs.begin(), xs.begin() + static_cast<std::ptrdiff_t>(h), xs.end());
  const double hi = xs[h];
  if (xs.size() % 2 == 1) return hi;
  return 0.5 * (hi + *std::max_element(xs.begin(), xs.begin() + static_cast<std::ptrdiff_t>(h)));
}

// The median over iterations i of num[i] / den[i]: the two variants' calls of one iteration.
inline double median_ratio(const std::vector<double>& num, const std::vector<double>& den) {
  const std::size_t n = std::min(num.size(), den.size());
  std::vector<double> r;
  r.reserve(n);
  for (std::size_t i = 0; i < n; ++i) r.push_back(num[i] / den[i]);
  return median_of(std::move(r));
}

}  // namespace infeng::bench
