// Runs the per-ISA FMA bursts on every thread and sums their rates (see fma_peak.h).
#include "fma_peak.h"

#include <chrono>
#include <thread>
#include <vector>

namespace infeng::bench {

double fma_peak_gflops(Path p, int threads) {
  double (*burst)(double) = nullptr;
#if INFENG_HAVE_AVX512
  if (p == Path::Avx512) burst = detail::fma_burst_avx512;
#endif
#if INFENG_HAVE_AVX2
  if (p == Path::Avx2) burst = detail::fma_burst_avx2;
#endif
  if (burst == nullptr) return 0.0;
  constexpr double kSeconds = 0.05;
  burst(0.01);  // raise the clock and the vector unit's power state first
  std::vector<double> flops(threads);
  std::vector<std::thread> pool;
  const auto t0 = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] { flops[t] = burst(kSeconds); });
  for (auto& th : pool) th.join();
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double total = 0;
  for (double f : flops) total += f;
  return total / sec * 1e-9;
}

}  // namespace infeng::bench
