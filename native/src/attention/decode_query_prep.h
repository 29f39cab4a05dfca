// Per-group query preparation and the CSR outlier correction of int8 decode: small loops that
// run once per 64-token K group (or per tile), included into each ISA's translation unit so
// the compiler vectorises them with that ISA (built for baseline x86-64 in the driver, they
// cost as much as the score kernel itself). Internal linkage: each TU gets its own copy,
// compiled with its own flags, and no copy can stand in for another at link time.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "attention/decode_kernels.h"

namespace infeng::attn::detail {
namespace {

// Round to nearest even for |x| < 2^22 without a library call.
inline float round_even(float x) {
  constexpr float kMagic = 12582912.0f;  // 1.5 · 2^23
  return (x + kMagic) - kMagic;
}

// The reductions run in 8 independent lanes (D is a multiple of 8): a single FP accumulator
// is a serial chain of adds the compiler may not reorder, which made this loop cost as much as
// the group's score kernel.
[[maybe_unused]] void prepare_query_impl(const float* __restrict qs, const float* __restrict ks,
                                         const float* __restrict mid, int G, int D, bool int_levels,
                                         const QueryBuffers& out) {
  constexpr int L = 8;
  for (int h = 0; h < G; ++h) {
    const float* __restrict q = qs + h * D;
    float* __restrict qf = out.qf + h * D;
    float z[L] = {}, sum[L] = {}, amax[L] = {};
    for (int c = 0; c < D; c += L) {
      for (int j = 0; j < L; ++j) {
        const float f = q[c + j] * ks[c + j];
        qf[c + j] = f;
        z[j] += q[c + j] * mid[c + j];
        sum[j] += f;
        amax[j] = std::max(amax[j], std::fabs(f));
      }
    }
    float zt = 0.0f, st = 0.0f, at = 0.0f;
    for (int j = 0; j < L; ++j) {
      zt += z[j];
      st += sum[j];
      at = std::max(at, amax[j]);
    }
    out.zq[h] = zt;
    out.base[h] = zt - 128.0f * st;
    if (!int_levels) continue;
    // Two int8 levels: hi with step s_hi, then the residual (|r| ≤ s_hi/2) with s_hi/254.
    const float s_hi = at / 127.0f;
    const float s_lo = s_hi / 254.0f;
    const float inv_hi = s_hi > 0.0f ? 1.0f / s_hi : 0.0f;
    const float inv_lo = s_lo > 0.0f ? 1.0f / s_lo : 0.0f;
    std::int8_t* __restrict hi = out.hi + h * D;
    std::int8_t* __restrict lo = out.lo + h * D;
    // Levels as int32 first, narrowed in a second loop: a float → int8 store in one step
    // defeats the vectoriser.
    std::int32_t ihi[256], ilo[256];
    float shi[L] = {}, slo[L] = {};
    for (int c = 0; c < D; c += L) {
      for (int j = 0; j < L; ++j) {
        const float f = qf[c + j];
        const float a = std::clamp(round_even(f * inv_hi), -127.0f, 127.0f);
        const float b = std::clamp(round_even((f - s_hi * a) * inv_lo), -127.0f, 127.0f);
        ihi[c + j] = static_cast<std::int32_t>(a);
        ilo[c + j] = static_cast<std::int32_t>(b);
        shi[j] += a;
        slo[j] += b;
      }
    }
    for (int c = 0; c < D; ++c) {
      hi[c] = static_cast<std::int8_t>(ihi[c]);
      lo[c] = static_cast<std::int8_t>(ilo[c]);
    }
    float th = 0.0f, tl = 0.0f;
    for (int j = 0; j < L; ++j) {
      th += shi[j];
      tl += slo[j];
    }
    out.s_hi[h] = s_hi;
    out.s_lo[h] = s_lo;
    out.b_hi[h] = 128 * static_cast<std::int32_t>(th);  // integer sums, exact in FP32
    out.b_lo[h] = 128 * static_cast<std::int32_t>(tl);
  }
}

// s[h][t − t0] += Σ_{entries of token t} q[h][col]·val for t in [t0, t1). qt is the scaled
// query transposed, D × G, so one entry updates all G heads with contiguous vector math.
template <int kChunk>
void apply_outliers_chunk(const std::int32_t* __restrict row_ptr, const std::uint16_t* __restrict col,
                          const float* __restrict val, int t0, int t1, const float* __restrict qt, int G,
                          int h0, float* __restrict s, int lds) {
  for (int t = t0; t < t1; ++t) {
    const int e0 = row_ptr[t], e1 = row_ptr[t + 1];
    if (e0 == e1) continue;
    float acc[kChunk] = {};
    for (int i = e0; i < e1; ++i) {
      const float* __restrict qc = qt + static_cast<std::size_t>(col[i]) * G + h0;
      const float v = val[i];
      for (int h = 0; h < kChunk; ++h) acc[h] += qc[h] * v;
    }
    for (int h = 0; h < kChunk; ++h) s[(h0 + h) * lds + (t - t0)] += acc[h];
  }
}

[[maybe_unused]] void apply_outliers_impl(const std::int32_t* __restrict row_ptr, const std::uint16_t* __restrict col,
                                          const float* __restrict val, int t0, int t1, const float* __restrict qt,
                                          int G, int D, float* __restrict s, int lds) {
  (void)D;
  if (row_ptr[t0] == row_ptr[t1]) return;
  int h0 = 0;
  for (; h0 + 8 <= G; h0 += 8) apply_outliers_chunk<8>(row_ptr, col, val, t0, t1, qt, G, h0, s, lds);
  for (; h0 < G; ++h0) apply_outliers_chunk<1>(row_ptr, col, val, t0, t1, qt, G, h0, s, lds);
}

}  // namespace
}  // namespace infeng::attn::detail
