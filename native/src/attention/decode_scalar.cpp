// Decode attention, portable C++: the fallback path and the readable statement of what every
// vector kernel computes (same operand layouts, same integer arithmetic for int8 K, so the
// vector paths' scores match these bit for bit; the same two-level u8 softmax weights for
// int8 V, decode_weights.h).
#include <algorithm>
#include <cmath>
#include <limits>

#include "attention/decode_kernels.h"
#include "attention/decode_query_prep.h"
#include "attention/decode_weights.h"

namespace infeng::attn::detail {
namespace {

void scores_f16(const std::uint16_t* k, int D, int nsub, const float* q, int G, float* s, int lds,
                std::ptrdiff_t) {
  for (int b = 0; b < nsub; ++b) {
    const std::uint16_t* blk = k + static_cast<std::size_t>(b) * D * kKvSub;
    for (int h = 0; h < G; ++h) {
      float acc[kKvSub] = {};
      for (int c = 0; c < D; ++c) {
        const float qc = q[h * D + c];
        for (int j = 0; j < kKvSub; ++j) acc[j] += qc * f16_to_f32(blk[c * kKvSub + j]);
      }
      for (int j = 0; j < kKvSub; ++j) s[h * lds + b * kKvSub + j] = acc[j];
    }
  }
}

void scores_i8(const std::uint8_t* k, int D, int nsub, const QuantQuery& q, int G, float* s,
               int lds, std::ptrdiff_t) {
  for (int b = 0; b < nsub; ++b) {
    const std::uint8_t* blk = k + static_cast<std::size_t>(b) * D * kKvSub;
    for (int h = 0; h < G; ++h) {
      const float* qs = q.qs + h * D;
      for (int j = 0; j < kKvSub; ++j) {
        float acc = q.zq[h];
        for (int c = 0; c < D; ++c) {
          const int ku = blk[(c / 4) * (kKvSub * 4) + j * 4 + c % 4];
          acc += qs[c] * (q.ks[c] * static_cast<float>(ku - 128));
        }
        s[h * lds + b * kKvSub + j] = acc;
      }
    }
  }
}

void accum_v_f16(const std::uint16_t* v, int D, int T, const float* p, int lds, int G,
                 const float* corr, float* acc, std::ptrdiff_t) {
  for (int h = 0; h < G; ++h) {
    float* a = acc + h * D;
    for (int d = 0; d < D; ++d) a[d] *= corr[h];
    for (int t = 0; t < T; ++t) {
      const float pt = p[h * lds + t];
      const std::uint16_t* vr = v + static_cast<std::size_t>(t) * D;
      for (int d = 0; d < D; ++d) a[d] += pt * f16_to_f32(vr[d]);
    }
  }
}

void accum_v_i8(const std::int8_t* v, const float* vs, int D, int T, float* p, int lds, int G,
                const float* corr, float* acc, std::ptrdiff_t) {
  for (int h = 0; h < G; ++h) {
    float* a = acc + h * D;
    float* w = p + h * lds;
    quantise_weights_f32(w, vs, T);
    for (int d = 0; d < D; ++d) a[d] *= corr[h];
    // V in token quads: element (t, d) at ((t/4)·D + d)·4 + t%4.
    for (int t = 0; t < T; ++t) {
      const std::int8_t* vq = v + static_cast<std::size_t>(t / 4) * D * 4 + t % 4;
      for (int d = 0; d < D; ++d) a[d] += w[t] * static_cast<float>(vq[d * 4]);
    }
  }
}

}  // namespace

void softmax_tile_scalar(float* s, int lds, int G, int T, float* m, float* l, float* corr) {
  for (int h = 0; h < G; ++h) {
    float* row = s + h * lds;
    float mt = -std::numeric_limits<float>::infinity();
    for (int t = 0; t < T; ++t) mt = std::max(mt, row[t]);
    const float mn = std::max(m[h], mt);
    corr[h] = m[h] == -std::numeric_limits<float>::infinity() ? 0.0f : std::exp(m[h] - mn);
    float sum = 0.0f;
    for (int t = 0; t < T; ++t) {
      row[t] = std::exp(row[t] - mn);
      sum += row[t];
    }
    l[h] = l[h] * corr[h] + sum;
    m[h] = mn;
  }
}

const DecodeKernels& decode_kernels_scalar() {
  static const DecodeKernels k{Path::Scalar, false,     1,          scores_f16, scores_i8,
                               softmax_tile_scalar, accum_v_f16, accum_v_i8, prepare_query_impl, apply_outliers_impl};
  return k;
}

}  // namespace infeng::attn::detail
