// FMA burst with 512-bit vectors for the peak probe (fma_peak.h); built with the avx512 flags.
#include <immintrin.h>

#include <chrono>

#include "fma_peak.h"

namespace infeng::bench::detail {

double fma_burst_avx512(double seconds) {
  // 12 independent chains: 2 ports × 4-cycle latency needs 8; 12 leaves slack.
  constexpr int kChains = 12;
  constexpr int kInner = 4096;
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(1.0f + 0.01f * i);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  double flops = 0;
  const auto t0 = std::chrono::steady_clock::now();
  do {
    for (int k = 0; k < kInner; ++k)
      for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    flops += 2.0 * 16 * kChains * kInner;
  } while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < seconds);
  float sink = 0;
  for (int i = 0; i < kChains; ++i) sink += _mm512_cvtss_f32(acc[i]);
  return sink == 12345.0f ? flops + 1 : flops;  // keeps the chains alive
}

}  // namespace infeng::bench::detail
