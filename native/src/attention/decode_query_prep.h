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
// the group's score kernel. q' = q·ks is recomputed in the second pass rather than stored.
[[maybe_unused]] void prepare_query_impl(const float* __restrict qs, const float* __restrict ks,
                                         const float* __restrict mid, int G, int D, bool int_levels,
                                         const QueryBuffers& out) {
  constexpr int L = 8;
  for (int h = 0; h < G; ++h) {
    const float* __restrict q = qs + h * D;
    float z[L] = {}, amax[L] = {};
    for (int c = 0; c < D; c += L) {
      for (int j = 0; j < L; ++j) {
        z[j] += q[c + j] * mid[c + j];
        amax[j] = std::max(amax[j], std::fabs(q[c + j] * ks[c + j]));
      }
    }
    float zt = 0.0f, at = 0.0f;
    for (int j = 0; j < L; ++j) {
      zt += z[j];
      at = std::max(at, amax[j]);
    }
    out.zq[h] = zt;
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
        const float f = q[c + j] * ks[c + j];
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

// s[h][t − t0] += Σ_{entries of token t} q[h][col]·val for t in [t0, t1) (within one K
// group, ≤ kKvGroup tokens). The quantiser gives every token of a group the same outlier
// channels in the same order, so the CSR rows of a group are one small dense block: when that
// holds, each outlier column's values are de-interleaved into a contiguous run over tokens and
// added as vector FMAs over tokens, per head (a per-entry loop over the CSR cost ~30 % of the
// int8 kernel on K with 2 outlier channels per head). Any other row structure (a general CSR)
// takes the entry-by-entry path.
[[maybe_unused]] void apply_outliers_impl(const std::int32_t* __restrict row_ptr, const std::uint16_t* __restrict col,
                                          const float* __restrict val, int t0, int t1, const float* __restrict qs,
                                          int G, int D, float* __restrict s, int lds) {
  if (row_ptr[t0] == row_ptr[t1]) return;
  constexpr int kMaxCols = 4;
  const int n = t1 - t0;
  const int f0 = row_ptr[t0], nf = row_ptr[t0 + 1] - f0;
  bool dense = nf > 0 && nf <= kMaxCols && n <= kKvGroup && row_ptr[t1] - f0 == nf * n;
  // Both checks are branch-free reductions over the group (no early exit), so they vectorise.
  if (dense) {
    int bad = 0;
    for (int t = t0 + 1; t < t1; ++t) bad |= (row_ptr[t] - f0) ^ (nf * (t - t0));
    for (int t = 1; t < n; ++t)
      for (int i = 0; i < nf; ++i) bad |= col[f0 + t * nf + i] ^ col[f0 + i];
    dense = bad == 0;
  }
  if (dense) {
    // 16 tokens at a time: the de-interleaved block stays a few registers' worth.
    constexpr int kRun = 16;
    alignas(64) float colv[kMaxCols][kRun];
    for (int t0r = 0; t0r < n; t0r += kRun) {
      const int m = std::min(kRun, n - t0r);
      for (int t = 0; t < m; ++t)
        for (int i = 0; i < nf; ++i) colv[i][t] = val[f0 + (t0r + t) * nf + i];
      for (int h = 0; h < G; ++h) {
        float* __restrict sh = s + h * lds + t0r;
        for (int i = 0; i < nf; ++i) {
          const float qc = qs[h * D + col[f0 + i]];
          for (int t = 0; t < m; ++t) sh[t] += qc * colv[i][t];
        }
      }
    }
    return;
  }
  for (int t = t0; t < t1; ++t) {
    for (int h = 0; h < G; ++h) {
      float add = 0.0f;
      for (int i = row_ptr[t]; i < row_ptr[t + 1]; ++i) add += qs[h * D + col[i]] * val[i];
      s[h * lds + (t - t0)] += add;
    }
  }
}

}  // namespace
}  // namespace infeng::attn::detail
