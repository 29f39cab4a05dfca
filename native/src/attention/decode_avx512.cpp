// Decode attention, AVX-512 (F/BW/VL/DQ + F16C): 16 tokens' scores per zmm, G query heads
// accumulated from each K vector load, V tiles read from L1 once per chunk of 4 heads.
// Built with the AVX-512 flags only; called only after the dispatcher checked the CPU.
// decode_vnni_avx512.cpp reuses this table and swaps in the vpdpbusd score kernel.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "attention/decode_avx512_parts.h"
#include "attention/decode_kernels.h"
#include "attention/decode_prep_avx512.h"
#include "attention/decode_query_prep.h"
#include "attention/decode_weights.h"

namespace infeng::attn::detail {
namespace {

// ---- scores, FP16 K: per channel one 16-token vector, broadcast q, NH×NB accumulators.
template <int NH, int NB>
void scores_f16_block(const std::uint16_t* k, int D, const float* q, float* s, int lds, std::ptrdiff_t pf) {
  __m512 acc[NB][NH];
  for (int b = 0; b < NB; ++b)
    for (int h = 0; h < NH; ++h) acc[b][h] = _mm512_setzero_ps();
  for (int c = 0; c < D; ++c) {
    // A sub-block is D·32 bytes: one line of the next tile's every second channel.
    if (pf && (c & 1) == 0) {
      for (int b = 0; b < NB; ++b)
        _mm_prefetch(reinterpret_cast<const char*>(k + static_cast<std::size_t>(b) * D * kKvSub) + pf + c * 32, _MM_HINT_T1);
    }
    __m512 kv[NB];
    for (int b = 0; b < NB; ++b) {
      kv[b] = _mm512_cvtph_ps(_mm256_loadu_si256(
          reinterpret_cast<const __m256i*>(k + static_cast<std::size_t>(b) * D * kKvSub + c * kKvSub)));
    }
    for (int h = 0; h < NH; ++h) {
      const __m512 qb = _mm512_set1_ps(q[h * D + c]);
      for (int b = 0; b < NB; ++b) acc[b][h] = _mm512_fmadd_ps(qb, kv[b], acc[b][h]);
    }
  }
  for (int b = 0; b < NB; ++b)
    for (int h = 0; h < NH; ++h) _mm512_storeu_ps(s + h * lds + b * kKvSub, acc[b][h]);
}

template <int NH>
void scores_f16_heads(const std::uint16_t* k, int D, int nsub, const float* q, float* s, int lds, std::ptrdiff_t pf) {
  // Fewer than 8 heads leave FMA latency exposed: take two sub-blocks per pass then.
  int b = 0;
  if constexpr (NH <= 4) {
    for (; b + 2 <= nsub; b += 2)
      scores_f16_block<NH, 2>(k + static_cast<std::size_t>(b) * D * kKvSub, D, q, s + b * kKvSub, lds, pf);
  }
  for (; b < nsub; ++b)
    scores_f16_block<NH, 1>(k + static_cast<std::size_t>(b) * D * kKvSub, D, q, s + b * kKvSub, lds, pf);
}

void scores_f16(const std::uint16_t* k, int D, int nsub, const float* q, int G, float* s, int lds,
                std::ptrdiff_t pf) {
  for (int h0 = 0; h0 < G; h0 += 8) {
    if (h0 > 0) pf = 0;  // the first head chunk prefetched the next tile already
    const float* qh = q + h0 * D;
    float* sh = s + h0 * lds;
    switch (std::min(8, G - h0)) {
      case 1: scores_f16_heads<1>(k, D, nsub, qh, sh, lds, pf); break;
      case 2: scores_f16_heads<2>(k, D, nsub, qh, sh, lds, pf); break;
      case 3: scores_f16_heads<3>(k, D, nsub, qh, sh, lds, pf); break;
      case 4: scores_f16_heads<4>(k, D, nsub, qh, sh, lds, pf); break;
      case 5: scores_f16_heads<5>(k, D, nsub, qh, sh, lds, pf); break;
      case 6: scores_f16_heads<6>(k, D, nsub, qh, sh, lds, pf); break;
      case 7: scores_f16_heads<7>(k, D, nsub, qh, sh, lds, pf); break;
      default: scores_f16_heads<8>(k, D, nsub, qh, sh, lds, pf); break;
    }
  }
}

// ---- scores, int8 K without VNNI: each 32-bit lane holds 4 channels of one token; shift and
// mask out channel j, convert, scale to ks_c·(ku − 128), FMA with the FP32 query.
template <int NH>
void scores_i8_block(const std::uint8_t* k, int D, const QuantQuery& q, float* s, int lds, std::ptrdiff_t pf) {
  const float* qs = q.qs;
  __m512 acc[NH];
  for (int h = 0; h < NH; ++h) acc[h] = _mm512_setzero_ps();
  const __m512i lo = _mm512_set1_epi32(0xFF);
  for (int c4 = 0; c4 < D / 4; ++c4) {
    if (pf) _mm_prefetch(reinterpret_cast<const char*>(k) + pf + c4 * 64, _MM_HINT_T1);
    const __m512i x = _mm512_loadu_si512(k + c4 * kKvSub * 4);
    for (int j = 0; j < 4; ++j) {
      // k = ks_c·(ku − 128), once per channel vector for all heads.
      const float ksc = q.ks[c4 * 4 + j];
      const __m512 kj = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(x, 8 * j), lo)),
                                        _mm512_set1_ps(ksc), _mm512_set1_ps(-128.0f * ksc));
      for (int h = 0; h < NH; ++h) acc[h] = _mm512_fmadd_ps(_mm512_set1_ps(qs[h * D + c4 * 4 + j]), kj, acc[h]);
    }
  }
  for (int h = 0; h < NH; ++h) {
    _mm512_storeu_ps(s + h * lds, _mm512_add_ps(acc[h], _mm512_set1_ps(q.zq[h])));
  }
}

void scores_i8(const std::uint8_t* k, int D, int nsub, const QuantQuery& q, int G, float* s, int lds,
               std::ptrdiff_t pf) {
  for (int h0 = 0; h0 < G; h0 += 8) {
    if (h0 > 0) pf = 0;
    const QuantQuery qh = q.heads_from(h0, D);
    for (int b = 0; b < nsub; ++b) {
      const std::uint8_t* kb = k + static_cast<std::size_t>(b) * D * kKvSub;
      float* sb = s + h0 * lds + b * kKvSub;
      switch (std::min(8, G - h0)) {
        case 1: scores_i8_block<1>(kb, D, qh, sb, lds, pf); break;
        case 2: scores_i8_block<2>(kb, D, qh, sb, lds, pf); break;
        case 3: scores_i8_block<3>(kb, D, qh, sb, lds, pf); break;
        case 4: scores_i8_block<4>(kb, D, qh, sb, lds, pf); break;
        case 5: scores_i8_block<5>(kb, D, qh, sb, lds, pf); break;
        case 6: scores_i8_block<6>(kb, D, qh, sb, lds, pf); break;
        case 7: scores_i8_block<7>(kb, D, qh, sb, lds, pf); break;
        default: scores_i8_block<8>(kb, D, qh, sb, lds, pf); break;
      }
    }
  }
}

// ---- online softmax over one tile.
void softmax_tile(float* s, int lds, int G, int T, float* m, float* l, float* corr) {
  const int Tv = T / 16 * 16;
  for (int h = 0; h < G; ++h) {
    float* row = s + h * lds;
    __m512 vmax = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
    for (int t = 0; t < Tv; t += 16) vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(row + t));
    float mt = _mm512_reduce_max_ps(vmax);
    for (int t = Tv; t < T; ++t) mt = std::max(mt, row[t]);
    const float mn = std::max(m[h], mt);
    corr[h] = m[h] == -std::numeric_limits<float>::infinity() ? 0.0f : std::exp(m[h] - mn);
    const __m512 vm = _mm512_set1_ps(mn);
    __m512 vsum = _mm512_setzero_ps();
    for (int t = 0; t < Tv; t += 16) {
      const __m512 p = exp512(_mm512_sub_ps(_mm512_loadu_ps(row + t), vm));
      _mm512_storeu_ps(row + t, p);
      vsum = _mm512_add_ps(vsum, p);
    }
    float sum = _mm512_reduce_add_ps(vsum);
    for (int t = Tv; t < T; ++t) {
      row[t] = std::exp(row[t] - mn);
      sum += row[t];
    }
    l[h] = l[h] * corr[h] + sum;
    m[h] = mn;
  }
}

// ---- P·V: a chunk of NH heads × NV vectors (the last one masked to D's 8-float granule)
// lives in registers across the tile's tokens; each V row chunk is read once per head chunk.
// The prefetch of the next tile's V rows rides on the first chunk's pass only, so with D > 32
// only the first 32 channels' pass issues it (it covers whole rows).
template <typename Load, int NH, int NV>
void accum_chunk(Load load_v, int D, int d0, __mmask16 last, int T, const float* p, int lds,
                 const float* corr, float* acc, const char* pf, int row_bytes) {
  __m512 a[NH][NV];
  for (int h = 0; h < NH; ++h) {
    const __m512 cr = _mm512_set1_ps(corr[h]);
    for (int v = 0; v < NV; ++v) {
      const __mmask16 mk = v == NV - 1 ? last : __mmask16(0xFFFF);
      a[h][v] = _mm512_mul_ps(cr, _mm512_maskz_loadu_ps(mk, acc + h * D + d0 + 16 * v));
    }
  }
  for (int t = 0; t < T; ++t) {
    if (pf) prefetch_l2(pf + static_cast<std::ptrdiff_t>(t) * row_bytes, row_bytes);
    __m512 x[NV];
    for (int v = 0; v < NV; ++v) x[v] = load_v(t, d0 + 16 * v, v == NV - 1 ? last : __mmask16(0xFFFF));
    for (int h = 0; h < NH; ++h) {
      const __m512 pb = _mm512_set1_ps(p[h * lds + t]);
      for (int v = 0; v < NV; ++v) a[h][v] = _mm512_fmadd_ps(pb, x[v], a[h][v]);
    }
  }
  for (int h = 0; h < NH; ++h)
    for (int v = 0; v < NV; ++v)
      _mm512_mask_storeu_ps(acc + h * D + d0 + 16 * v, v == NV - 1 ? last : __mmask16(0xFFFF), a[h][v]);
}

template <typename Load, int NV>
void accum_heads(Load load_v, int D, int d0, __mmask16 last, int T, const float* p, int lds, int G,
                 const float* corr, float* acc, const char* pf, int row_bytes) {
  for (int h0 = 0; h0 < G; h0 += 8) {
    if (h0 > 0) pf = nullptr;  // only the first pass over the tile prefetches the next
    const float* ph = p + h0 * lds;
    float* ah = acc + h0 * D;
    switch (std::min(8, G - h0)) {
      case 1: accum_chunk<Load, 1, NV>(load_v, D, d0, last, T, ph, lds, corr + h0, ah, pf, row_bytes); break;
      case 2: accum_chunk<Load, 2, NV>(load_v, D, d0, last, T, ph, lds, corr + h0, ah, pf, row_bytes); break;
      case 3: accum_chunk<Load, 3, NV>(load_v, D, d0, last, T, ph, lds, corr + h0, ah, pf, row_bytes); break;
      case 4: accum_chunk<Load, 4, NV>(load_v, D, d0, last, T, ph, lds, corr + h0, ah, pf, row_bytes); break;
      case 5: accum_chunk<Load, 5, NV>(load_v, D, d0, last, T, ph, lds, corr + h0, ah, pf, row_bytes); break;
      case 6: accum_chunk<Load, 6, NV>(load_v, D, d0, last, T, ph, lds, corr + h0, ah, pf, row_bytes); break;
      case 7: accum_chunk<Load, 7, NV>(load_v, D, d0, last, T, ph, lds, corr + h0, ah, pf, row_bytes); break;
      default: accum_chunk<Load, 8, NV>(load_v, D, d0, last, T, ph, lds, corr + h0, ah, pf, row_bytes); break;
    }
  }
}

// Chunks of 8 heads × 32 channels (16 accumulators): each V element is loaded and converted
// once per tile (with 4 heads × 64 channels it was converted once per 4 heads).
template <typename Load>
void accum_v(Load load_v, int D, int T, const float* p, int lds, int G, const float* corr, float* acc,
             const char* pf, int row_bytes) {
  for (int d0 = 0; d0 < D; d0 += 32) {
    if (d0 > 0) pf = nullptr;
    const int width = std::min(32, D - d0);  // a multiple of 8
    const __mmask16 last = width % 16 ? __mmask16(0x00FF) : __mmask16(0xFFFF);
    if (width > 16) {
      accum_heads<Load, 2>(load_v, D, d0, last, T, p, lds, G, corr, acc, pf, row_bytes);
    } else {
      accum_heads<Load, 1>(load_v, D, d0, last, T, p, lds, G, corr, acc, pf, row_bytes);
    }
  }
}

void accum_v_f16(const std::uint16_t* v, int D, int T, const float* p, int lds, int G,
                 const float* corr, float* acc, std::ptrdiff_t pf) {
  auto load = [v, D](int t, int d, __mmask16 mk) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mk, v + static_cast<std::size_t>(t) * D + d));
  };
  accum_v(load, D, T, p, lds, G, corr, acc, pf ? reinterpret_cast<const char*>(v) + pf : nullptr, 2 * D);
}

// int8 V in token quads ([t/4][D][4]) without VNNI: the quantised weights in FP32 (one
// 4-token broadcast per head and quad), V converted once per pass and shared by NH heads; a
// zmm holds 4 channels × 4 tokens, so each channel keeps 4 token partials until the tile ends.
// NH heads × 8 channels per pass: the same converts per FMA as the token-major FP16 kernel.
template <int NH>
void accum_i8_chunk(const std::int8_t* v, int D, int d0, int T, const float* w, int lds, const float* corr,
                    float* acc, const char* pf) {
  __m512 a[NH][2];
  for (int h = 0; h < NH; ++h) a[h][0] = a[h][1] = _mm512_setzero_ps();
  for (int q = 0; q < T / 4; ++q) {
    const std::int8_t* vq = v + (static_cast<std::size_t>(q) * D + d0) * 4;
    if (pf) prefetch_l2(pf + static_cast<std::ptrdiff_t>(q) * D * 4, D * 4);
    const __m512 x0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(vq))));
    const __m512 x1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(vq + 16))));
    for (int h = 0; h < NH; ++h) {
      const __m512 wq = _mm512_broadcast_f32x4(_mm_loadu_ps(w + h * lds + 4 * q));
      a[h][0] = _mm512_fmadd_ps(wq, x0, a[h][0]);
      a[h][1] = _mm512_fmadd_ps(wq, x1, a[h][1]);
    }
  }
  for (int h = 0; h < NH; ++h) {
    __m128 sums[2];
    for (int i = 0; i < 2; ++i) {
      // Sum each channel's 4 token lanes into its first lane, then gather lanes 0, 4, 8, 12.
      __m512 r = _mm512_add_ps(a[h][i], _mm512_permute_ps(a[h][i], _MM_SHUFFLE(2, 3, 0, 1)));
      r = _mm512_add_ps(r, _mm512_permute_ps(r, _MM_SHUFFLE(1, 0, 3, 2)));
      sums[i] = _mm512_castps512_ps128(_mm512_maskz_compress_ps(0x1111, r));
    }
    float* out = acc + h * D + d0;
    const __m256 sum = _mm256_set_m128(sums[1], sums[0]);
    _mm256_storeu_ps(out, _mm256_fmadd_ps(_mm256_set1_ps(corr[h]), _mm256_loadu_ps(out), sum));
  }
}

void accum_v_i8(const std::int8_t* v, const float* vs, int D, int T, float* p, int lds, int G,
                const float* corr, float* acc, std::ptrdiff_t pf) {
  for (int h = 0; h < G; ++h) quantise_weights_f32(p + h * lds, vs, T);
  const char* next = pf ? reinterpret_cast<const char*>(v) + pf : nullptr;
  for (int h0 = 0; h0 < G; h0 += 8) {
    for (int d0 = 0; d0 < D; d0 += 8) {
      const char* f = h0 == 0 && d0 == 0 ? next : nullptr;  // one pass prefetches the next tile
      const float* w = p + h0 * lds;
      float* a = acc + h0 * D;
      switch (std::min(8, G - h0)) {
        case 1: accum_i8_chunk<1>(v, D, d0, T, w, lds, corr + h0, a, f); break;
        case 2: accum_i8_chunk<2>(v, D, d0, T, w, lds, corr + h0, a, f); break;
        case 3: accum_i8_chunk<3>(v, D, d0, T, w, lds, corr + h0, a, f); break;
        case 4: accum_i8_chunk<4>(v, D, d0, T, w, lds, corr + h0, a, f); break;
        case 5: accum_i8_chunk<5>(v, D, d0, T, w, lds, corr + h0, a, f); break;
        case 6: accum_i8_chunk<6>(v, D, d0, T, w, lds, corr + h0, a, f); break;
        case 7: accum_i8_chunk<7>(v, D, d0, T, w, lds, corr + h0, a, f); break;
        default: accum_i8_chunk<8>(v, D, d0, T, w, lds, corr + h0, a, f); break;
      }
    }
  }
}

}  // namespace

const DecodeKernels& decode_kernels_avx512() {
  static const DecodeKernels k{Path::Avx512, false,        16,          scores_f16, scores_i8,
                               softmax_tile, accum_v_f16, accum_v_i8, prepare_query_avx512, apply_outliers_avx512};
  return k;
}

}  // namespace infeng::attn::detail
