// Decode attention, AVX2 + FMA + F16C: 8 tokens' scores per ymm; a 16-token K sub-block is
// two vectors per channel, so 4 heads × 2 halves = 8 accumulators per pass. Same operand
// layouts and integer arithmetic as the scalar and AVX-512 paths.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "attention/decode_kernels.h"
#include "attention/decode_query_prep.h"
#include "attention/decode_weights.h"

namespace infeng::attn::detail {
namespace {

inline float hmax(__m256 v) {
  __m128 x = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_max_ps(x, _mm_movehl_ps(x, x));
  x = _mm_max_ss(x, _mm_movehdup_ps(x));
  return _mm_cvtss_f32(x);
}
inline float hsum(__m256 v) {
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  x = _mm_add_ss(x, _mm_movehdup_ps(x));
  return _mm_cvtss_f32(x);
}

// e^x for softmax arguments (x ≤ 0): as exp512 in decode_avx512_parts.h, with 2^n built in
// the exponent field (n ≥ −126 after the clamp, so no subnormal handling is needed).
inline __m256 exp256(__m256 x) {
  const __m256 keep = _mm256_cmp_ps(x, _mm256_set1_ps(-87.0f), _CMP_GE_OQ);
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 720.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_and_ps(keep, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

template <int NH>
void scores_f16_block(const std::uint16_t* k, int D, const float* q, float* s, int lds, std::ptrdiff_t pf) {
  __m256 a0[NH], a1[NH];
  for (int h = 0; h < NH; ++h) a0[h] = a1[h] = _mm256_setzero_ps();
  for (int c = 0; c < D; ++c) {
    if (pf && (c & 1) == 0) _mm_prefetch(reinterpret_cast<const char*>(k) + pf + c * 32, _MM_HINT_T1);
    const __m256 k0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + c * kKvSub)));
    const __m256 k1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + c * kKvSub + 8)));
    for (int h = 0; h < NH; ++h) {
      const __m256 qb = _mm256_broadcast_ss(q + h * D + c);
      a0[h] = _mm256_fmadd_ps(qb, k0, a0[h]);
      a1[h] = _mm256_fmadd_ps(qb, k1, a1[h]);
    }
  }
  for (int h = 0; h < NH; ++h) {
    _mm256_storeu_ps(s + h * lds, a0[h]);
    _mm256_storeu_ps(s + h * lds + 8, a1[h]);
  }
}

void scores_f16(const std::uint16_t* k, int D, int nsub, const float* q, int G, float* s, int lds,
                std::ptrdiff_t pf) {
  for (int b = 0; b < nsub; ++b) {
    const std::uint16_t* kb = k + static_cast<std::size_t>(b) * D * kKvSub;
    for (int h0 = 0; h0 < G; h0 += 4) {
      const float* qh = q + h0 * D;
      float* sh = s + h0 * lds + b * kKvSub;
      switch (std::min(4, G - h0)) {
        case 1: scores_f16_block<1>(kb, D, qh, sh, lds, h0 == 0 ? pf : 0); break;
        case 2: scores_f16_block<2>(kb, D, qh, sh, lds, h0 == 0 ? pf : 0); break;
        case 3: scores_f16_block<3>(kb, D, qh, sh, lds, h0 == 0 ? pf : 0); break;
        default: scores_f16_block<4>(kb, D, qh, sh, lds, h0 == 0 ? pf : 0); break;
      }
    }
  }
}

// int8 K: each 32-bit lane holds 4 channels of one token (see decode_avx512.cpp).
template <int NH>
void scores_i8_block(const std::uint8_t* k, int D, const QuantQuery& q, float* s, int lds, std::ptrdiff_t pf) {
  const float* qs = q.qs;
  __m256 a0[NH], a1[NH];
  for (int h = 0; h < NH; ++h) a0[h] = a1[h] = _mm256_setzero_ps();
  const __m256i lo = _mm256_set1_epi32(0xFF);
  for (int c4 = 0; c4 < D / 4; ++c4) {
    if (pf) _mm_prefetch(reinterpret_cast<const char*>(k) + pf + c4 * 64, _MM_HINT_T1);
    const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(k + c4 * kKvSub * 4));
    const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(k + c4 * kKvSub * 4 + 32));
    for (int j = 0; j < 4; ++j) {
      // k = ks_c·(ku − 128), once per channel vector for all heads.
      const __m256 ks = _mm256_broadcast_ss(q.ks + c4 * 4 + j);
      const __m256 kz = _mm256_mul_ps(ks, _mm256_set1_ps(-128.0f));
      const __m256 k0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(x0, 8 * j), lo)), ks, kz);
      const __m256 k1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(x1, 8 * j), lo)), ks, kz);
      for (int h = 0; h < NH; ++h) {
        const __m256 qb = _mm256_broadcast_ss(qs + h * D + c4 * 4 + j);
        a0[h] = _mm256_fmadd_ps(qb, k0, a0[h]);
        a1[h] = _mm256_fmadd_ps(qb, k1, a1[h]);
      }
    }
  }
  for (int h = 0; h < NH; ++h) {
    const __m256 zq = _mm256_set1_ps(q.zq[h]);
    _mm256_storeu_ps(s + h * lds, _mm256_add_ps(a0[h], zq));
    _mm256_storeu_ps(s + h * lds + 8, _mm256_add_ps(a1[h], zq));
  }
}

void scores_i8(const std::uint8_t* k, int D, int nsub, const QuantQuery& q, int G, float* s, int lds,
               std::ptrdiff_t pf) {
  for (int b = 0; b < nsub; ++b) {
    const std::uint8_t* kb = k + static_cast<std::size_t>(b) * D * kKvSub;
    for (int h0 = 0; h0 < G; h0 += 4) {
      const QuantQuery qh = q.heads_from(h0, D);
      float* sh = s + h0 * lds + b * kKvSub;
      switch (std::min(4, G - h0)) {
        case 1: scores_i8_block<1>(kb, D, qh, sh, lds, h0 == 0 ? pf : 0); break;
        case 2: scores_i8_block<2>(kb, D, qh, sh, lds, h0 == 0 ? pf : 0); break;
        case 3: scores_i8_block<3>(kb, D, qh, sh, lds, h0 == 0 ? pf : 0); break;
        default: scores_i8_block<4>(kb, D, qh, sh, lds, h0 == 0 ? pf : 0); break;
      }
    }
  }
}

void softmax_tile(float* s, int lds, int G, int T, float* m, float* l, float* corr) {
  const int Tv = T / 8 * 8;
  for (int h = 0; h < G; ++h) {
    float* row = s + h * lds;
    __m256 vmax = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
    for (int t = 0; t < Tv; t += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(row + t));
    float mt = hmax(vmax);
    for (int t = Tv; t < T; ++t) mt = std::max(mt, row[t]);
    const float mn = std::max(m[h], mt);
    corr[h] = m[h] == -std::numeric_limits<float>::infinity() ? 0.0f : std::exp(m[h] - mn);
    const __m256 vm = _mm256_set1_ps(mn);
    __m256 vsum = _mm256_setzero_ps();
    for (int t = 0; t < Tv; t += 8) {
      const __m256 p = exp256(_mm256_sub_ps(_mm256_loadu_ps(row + t), vm));
      _mm256_storeu_ps(row + t, p);
      vsum = _mm256_add_ps(vsum, p);
    }
    float sum = hsum(vsum);
    for (int t = Tv; t < T; ++t) {
      row[t] = std::exp(row[t] - mn);
      sum += row[t];
    }
    l[h] = l[h] * corr[h] + sum;
    m[h] = mn;
  }
}

// P·V: NH heads × NV vectors of 8 floats in registers across the tile (D is a multiple of 8).
template <typename Load, int NH, int NV>
void accum_chunk(Load load_v, int D, int d0, int T, const float* p, int lds, const float* corr,
                 float* acc, const char* pf, int row_bytes) {
  __m256 a[NH][NV];
  for (int h = 0; h < NH; ++h) {
    const __m256 cr = _mm256_set1_ps(corr[h]);
    for (int v = 0; v < NV; ++v) a[h][v] = _mm256_mul_ps(cr, _mm256_loadu_ps(acc + h * D + d0 + 8 * v));
  }
  for (int t = 0; t < T; ++t) {
    if (pf) prefetch_l2(pf + static_cast<std::ptrdiff_t>(t) * row_bytes, row_bytes);
    __m256 x[NV];
    for (int v = 0; v < NV; ++v) x[v] = load_v(t, d0 + 8 * v);
    for (int h = 0; h < NH; ++h) {
      const __m256 pb = _mm256_broadcast_ss(p + h * lds + t);
      for (int v = 0; v < NV; ++v) a[h][v] = _mm256_fmadd_ps(pb, x[v], a[h][v]);
    }
  }
  for (int h = 0; h < NH; ++h)
    for (int v = 0; v < NV; ++v) _mm256_storeu_ps(acc + h * D + d0 + 8 * v, a[h][v]);
}

template <typename Load, int NV>
void accum_heads(Load load_v, int D, int d0, int T, const float* p, int lds, int G, const float* corr,
                 float* acc, const char* pf, int row_bytes) {
  for (int h0 = 0; h0 < G; h0 += 3) {
    if (h0 > 0) pf = nullptr;
    const float* ph = p + h0 * lds;
    float* ah = acc + h0 * D;
    switch (std::min(3, G - h0)) {
      case 1: accum_chunk<Load, 1, NV>(load_v, D, d0, T, ph, lds, corr + h0, ah, pf, row_bytes); break;
      case 2: accum_chunk<Load, 2, NV>(load_v, D, d0, T, ph, lds, corr + h0, ah, pf, row_bytes); break;
      default: accum_chunk<Load, 3, NV>(load_v, D, d0, T, ph, lds, corr + h0, ah, pf, row_bytes); break;
    }
  }
}

template <typename Load>
void accum_v(Load load_v, int D, int T, const float* p, int lds, int G, const float* corr, float* acc,
             const char* pf, int row_bytes) {
  for (int d0 = 0; d0 < D; d0 += 32) {
    if (d0 > 0) pf = nullptr;
    switch (std::min(32, D - d0) / 8) {
      case 1: accum_heads<Load, 1>(load_v, D, d0, T, p, lds, G, corr, acc, pf, row_bytes); break;
      case 2: accum_heads<Load, 2>(load_v, D, d0, T, p, lds, G, corr, acc, pf, row_bytes); break;
      case 3: accum_heads<Load, 3>(load_v, D, d0, T, p, lds, G, corr, acc, pf, row_bytes); break;
      default: accum_heads<Load, 4>(load_v, D, d0, T, p, lds, G, corr, acc, pf, row_bytes); break;
    }
  }
}

void accum_v_f16(const std::uint16_t* v, int D, int T, const float* p, int lds, int G,
                 const float* corr, float* acc, std::ptrdiff_t pf) {
  auto load = [v, D](int t, int d) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + static_cast<std::size_t>(t) * D + d)));
  };
  accum_v(load, D, T, p, lds, G, corr, acc, pf ? reinterpret_cast<const char*>(v) + pf : nullptr, 2 * D);
}

// int8 V in token quads ([t/4][D][4]): a ymm holds 2 channels × 4 tokens, so a head's
// accumulator keeps 4 token partials per channel, summed when the tile is done. NH heads × 4
// channels per pass.
template <int NH>
void accum_i8_chunk(const std::int8_t* v, int D, int d0, int T, const float* w, int lds, const float* corr,
                    float* acc, const char* pf) {
  __m256 a[NH][2];
  for (int h = 0; h < NH; ++h) a[h][0] = a[h][1] = _mm256_setzero_ps();
  for (int q = 0; q < T / 4; ++q) {
    const std::int8_t* vq = v + (static_cast<std::size_t>(q) * D + d0) * 4;
    if (pf) prefetch_l2(pf + static_cast<std::ptrdiff_t>(q) * D * 4, D * 4);
    const __m256 x0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(vq))));
    const __m256 x1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(vq + 8))));
    for (int h = 0; h < NH; ++h) {
      const __m256 wq = _mm256_broadcast_ps(reinterpret_cast<const __m128*>(w + h * lds + 4 * q));
      a[h][0] = _mm256_fmadd_ps(wq, x0, a[h][0]);
      a[h][1] = _mm256_fmadd_ps(wq, x1, a[h][1]);
    }
  }
  for (int h = 0; h < NH; ++h) {
    // [c0 × 4 tokens, c1 × 4] and [c2, c3] → the four channel sums.
    __m256 s = _mm256_hadd_ps(a[h][0], a[h][1]);
    s = _mm256_hadd_ps(s, s);
    const __m128 sum = _mm_unpacklo_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    float* out = acc + h * D + d0;
    _mm_storeu_ps(out, _mm_fmadd_ps(_mm_set1_ps(corr[h]), _mm_loadu_ps(out), sum));
  }
}

void accum_v_i8(const std::int8_t* v, const float* vs, int D, int T, float* p, int lds, int G,
                const float* corr, float* acc, std::ptrdiff_t pf) {
  for (int h = 0; h < G; ++h) quantise_weights_f32(p + h * lds, vs, T);
  const char* next = pf ? reinterpret_cast<const char*>(v) + pf : nullptr;
  for (int h0 = 0; h0 < G; h0 += 4) {
    for (int d0 = 0; d0 < D; d0 += 4) {
      const char* f = h0 == 0 && d0 == 0 ? next : nullptr;  // one pass prefetches the next tile
      const float* w = p + h0 * lds;
      float* a = acc + h0 * D;
      switch (std::min(4, G - h0)) {
        case 1: accum_i8_chunk<1>(v, D, d0, T, w, lds, corr + h0, a, f); break;
        case 2: accum_i8_chunk<2>(v, D, d0, T, w, lds, corr + h0, a, f); break;
        case 3: accum_i8_chunk<3>(v, D, d0, T, w, lds, corr + h0, a, f); break;
        default: accum_i8_chunk<4>(v, D, d0, T, w, lds, corr + h0, a, f); break;
      }
    }
  }
}

}  // namespace

const DecodeKernels& decode_kernels_avx2() {
  static const DecodeKernels k{Path::Avx2, false,        8,           scores_f16, scores_i8,
                               softmax_tile, accum_v_f16, accum_v_i8, prepare_query_impl, apply_outliers_impl};
  return k;
}

}  // namespace infeng::attn::detail
