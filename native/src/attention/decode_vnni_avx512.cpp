// Decode attention, AVX-512 VNNI: the int8 q·K scores with vpdpwssd against a one-level int16
// query, with the group's exact outlier channels added before the scores are stored.
//
// Why int16 and not two int8 levels with vpdpbusd (this path's first form, still AMX's):
//  - The query is prepared once per 64-token K group for all G heads. Two int8 levels cost a
//    second rounding pass, its clamps and a second level sum; on a Zen 5 core that preparation
//    took 80 % of the score kernel's own time, and int8 decode ran slower than FP16 from cache.
//  - The score kernel issues fewer instructions per 64 K bytes and G heads: 2 widenings
//    (vpmovzxbw, shared by the heads), then per head one 8-byte broadcast and 2 vpdpwssd
//    (32 products each), where the two levels took 2 broadcasts and 2 vpdpbusd.
//  - The int16 level's step is max|q'|/32767, finer than the two levels' max|q'|/(127·254).
// The query is the AVX2 path's (decode_avx2.cpp, prepare_query_i16): the same q16, s_hi and
// b_hi bits, computed here 8 heads at a time (one vector for their maxima, scales and sums).
//
// The outlier channels of a group (at most kMaxFusedCols, the same for all its tokens) are
// de-interleaved once per 16 tokens and added with one FMA per channel and head to the score
// vector still in registers; the separate correction pass re-read and re-wrote every score.
//
// Measurements: docs/MEASUREMENTS.md ("Decode attention, AVX-512 VNNI").
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "attention/decode_kernels.h"
#include "attention/decode_prep_avx512.h"

namespace infeng::attn::detail {
namespace {

// 4 consecutive int16 channels as one 64-bit broadcast operand.
inline long long load8(const std::int16_t* p) {
  long long v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// The largest |q16| that keeps every score's integer sum exact in int32 (the AVX2 definition).
inline int level_limit(int D) {
  return static_cast<int>(std::min<long long>(32767, 2147483647LL / (255LL * D)));
}

// ---- query preparation: q16 = round((q·ks)·inv), inv = 1/s16, s16 = max|q·ks| / L.

// NC > 0: D = 16·NC, fully unrolled (the common head widths; a loop over a run-time width left
// each head's short max and sum chains serial); NC = 0: any D, with masked tails.
template <bool Levels, int NC>
void prepare_heads_i16(const float* qs, const float* ks, const float* mid, int G, int D, const QueryBuffers& out) {
  if constexpr (NC > 0) D = 16 * NC;
  const int L = level_limit(D);
  const int full = D & ~15;
  const __mmask16 tail = lanes16(D - full);
  for (int h0 = 0; h0 < G; h0 += 8) {
    const int gh = std::min(8, G - h0);
    __m512 amax[16], z[16];
    for (int i = 0; i < 16; ++i) amax[i] = z[i] = _mm512_setzero_ps();
    for (int h = 0; h < gh; ++h) {
      const float* q = qs + (h0 + h) * D;
      // Two chains each for the sum and the max.
      __m512 am[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()}, zz[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
      auto step = [&](int c, int j, __mmask16 m) {
        const __m512 qv = _mm512_maskz_loadu_ps(m, q + c);
        zz[j] = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, mid + c), zz[j]);
        if constexpr (Levels) am[j] = _mm512_range_ps(am[j], _mm512_mul_ps(qv, _mm512_maskz_loadu_ps(m, ks + c)), 0x0B);
      };
      if constexpr (NC > 0) {
        for (int i = 0; i < NC; ++i) step(16 * i, i & 1, 0xFFFF);
      } else {
        for (int c = 0; c < D; c += 16) step(c, (c >> 4) & 1, c < full ? __mmask16(0xFFFF) : tail);
      }
      amax[h] = _mm512_max_ps(am[0], am[1]);
      z[h] = _mm512_add_ps(zz[0], zz[1]);
    }
    const __mmask8 head_lanes = static_cast<__mmask8>((1u << gh) - 1u);
    _mm256_mask_storeu_ps(out.zq + h0, head_lanes,
                          _mm512_castps512_ps256(lane_totals(z, [](__m512 a, __m512 b) { return _mm512_add_ps(a, b); })));
    if constexpr (!Levels) continue;
    const __m256 at =
        _mm512_castps512_ps256(lane_totals(amax, [](__m512 a, __m512 b) { return _mm512_max_ps(a, b); }));
    const __m256 s16 = _mm256_div_ps(at, _mm256_set1_ps(static_cast<float>(L)));
    const __m256 inv =
        _mm256_maskz_div_ps(_mm256_cmp_ps_mask(s16, _mm256_setzero_ps(), _CMP_GT_OQ), _mm256_set1_ps(1.0f), s16);
    _mm256_mask_storeu_ps(out.s_hi + h0, head_lanes, s16);
    alignas(32) float invs[8];
    _mm256_store_ps(invs, inv);
    __m512 sums[16];
    for (int i = 0; i < 16; ++i) sums[i] = _mm512_setzero_ps();
    auto* q16 = reinterpret_cast<std::int16_t*>(out.hi);
    for (int h = 0; h < gh; ++h) {
      const float* q = qs + (h0 + h) * D;
      std::int16_t* o = q16 + (h0 + h) * D;
      const __m512 vinv = _mm512_set1_ps(invs[h]);
      __m512i sum[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
      auto step = [&](int c, int j, __mmask16 m) {
        // (q·ks)·inv as the AVX2 code rounds it; |·| ≤ L, so the narrowing never saturates.
        const __m512 f = _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, q + c), _mm512_maskz_loadu_ps(m, ks + c)), vinv);
        const __m512i i = _mm512_cvtps_epi32(f);
        sum[j] = _mm512_add_epi32(sum[j], i);
        if (m == 0xFFFF) {
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + c), _mm512_cvtsepi32_epi16(i));
        } else {
          _mm256_mask_storeu_epi16(o + c, m, _mm512_cvtsepi32_epi16(i));
        }
      };
      if constexpr (NC > 0) {
        for (int i = 0; i < NC; ++i) step(16 * i, i & 1, 0xFFFF);
      } else {
        for (int c = 0; c < D; c += 16) step(c, (c >> 4) & 1, c < full ? __mmask16(0xFFFF) : tail);
      }
      // |Σ| ≤ D·L < 2^24: exact as a float in any order.
      sums[h] = _mm512_cvtepi32_ps(_mm512_add_epi32(sum[0], sum[1]));
    }
    const __m256i b = _mm256_slli_epi32(
        _mm256_cvttps_epi32(_mm512_castps512_ps256(lane_totals(sums, [](__m512 a, __m512 c) { return _mm512_add_ps(a, c); }))), 7);
    _mm256_mask_storeu_epi32(out.b_hi + h0, head_lanes, b);
  }
}

void prepare_query_i16(const float* qs, const float* ks, const float* mid, int G, int D, bool int_levels,
                       const QueryBuffers& out) {
  auto run = [&](auto levels) {
    constexpr bool kLevels = decltype(levels)::value;
    switch (D) {
      case 64: prepare_heads_i16<kLevels, 4>(qs, ks, mid, G, D, out); break;
      case 128: prepare_heads_i16<kLevels, 8>(qs, ks, mid, G, D, out); break;
      default: prepare_heads_i16<kLevels, 0>(qs, ks, mid, G, D, out); break;
    }
  };
  if (int_levels) {
    run(std::true_type{});
  } else {
    run(std::false_type{});
  }
}

// ---- scores.

// The NF outlier columns of 16 tokens (token-major, NF per token) as one vector per column.
template <int NF>
inline void outlier_columns(const float* v, __m512 (&cv)[kMaxFusedCols]) {
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  __m512 x[NF];
  for (int k = 0; k < NF; ++k) x[k] = _mm512_loadu_ps(v + 16 * k);
  for (int i = 0; i < NF; ++i) {
    if constexpr (NF == 1) {
      cv[i] = x[0];
    } else {
      // Entry t·NF + i: positions below 32 come from x[0..1], the rest from x[2..3].
      const __m512i idx = _mm512_add_epi32(_mm512_mullo_epi32(iota, _mm512_set1_epi32(NF)), _mm512_set1_epi32(i));
      cv[i] = _mm512_permutex2var_ps(x[0], idx, x[1]);
      if constexpr (NF > 2) {
        const __mmask16 upper = _mm512_cmpge_epi32_mask(idx, _mm512_set1_epi32(32));
        const __m512 y = _mm512_permutex2var_ps(x[2], _mm512_sub_epi32(idx, _mm512_set1_epi32(32)),
                                                NF > 3 ? x[NF - 1] : x[2]);
        cv[i] = _mm512_mask_blend_ps(upper, cv[i], y);
      }
    }
  }
}

// NB 16-token sub-blocks × NH heads. A 64-byte K load holds 16 tokens × 4 channels; its two
// halves widen to 8 tokens' 4 channels as int16, and vpdpwssd with the head's 4 channels
// broadcast leaves each token's two channel-pair sums in adjacent lanes.
template <int NH, int NB, int NF>
void scores_block(const std::uint8_t* k, int D, const QuantQuery& q, int token0, float* s, int lds,
                  std::ptrdiff_t pf) {
  const auto* q16 = reinterpret_cast<const std::int16_t*>(q.hi);
  __m512i a[NB][2][NH];
  for (int b = 0; b < NB; ++b)
    for (int h = 0; h < NH; ++h) a[b][0][h] = a[b][1][h] = _mm512_setzero_si512();
  for (int c4 = 0; c4 < D / 4; ++c4) {
    __m512i x[NB][2];
    for (int b = 0; b < NB; ++b) {
      const std::uint8_t* at = k + static_cast<std::size_t>(b) * D * kKvSub + c4 * kKvSub * 4;
      if (pf) _mm_prefetch(reinterpret_cast<const char*>(at) + pf, _MM_HINT_T1);
      x[b][0] = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(at)));
      x[b][1] = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(at + 32)));
    }
    for (int h = 0; h < NH; ++h) {
      const __m512i qb = _mm512_set1_epi64(load8(q16 + h * D + 4 * c4));
      for (int b = 0; b < NB; ++b) {
        a[b][0][h] = _mm512_dpwssd_epi32(a[b][0][h], x[b][0], qb);
        a[b][1][h] = _mm512_dpwssd_epi32(a[b][1][h], x[b][1], qb);
      }
    }
  }
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  for (int b = 0; b < NB; ++b) {
    __m512 cv[kMaxFusedCols];
    if constexpr (NF > 0) outlier_columns<NF>(q.oval + (token0 + b * kKvSub) * NF, cv);
    for (int h = 0; h < NH; ++h) {
      const __m512i pairs = _mm512_add_epi32(_mm512_permutex2var_epi32(a[b][0][h], even, a[b][1][h]),
                                             _mm512_permutex2var_epi32(a[b][0][h], odd, a[b][1][h]));
      const __m512 r = _mm512_cvtepi32_ps(_mm512_sub_epi32(pairs, _mm512_set1_epi32(q.b_hi[h])));
      __m512 sc = _mm512_fmadd_ps(r, _mm512_set1_ps(q.s_hi[h]), _mm512_set1_ps(q.zq[h]));
      for (int i = 0; i < NF; ++i) sc = _mm512_fmadd_ps(_mm512_set1_ps(q.oq[h * kMaxFusedCols + i]), cv[i], sc);
      _mm512_storeu_ps(s + h * lds + b * kKvSub, sc);
    }
  }
}

template <int NH, int NF>
void scores_heads(const std::uint8_t* k, int D, int nsub, const QuantQuery& q, float* s, int lds, std::ptrdiff_t pf) {
  // vpdpwssd's latency: below 8 heads, take two sub-blocks per pass (2·NH·NB accumulators).
  int b = 0;
  if constexpr (NH <= 4) {
    for (; b + 2 <= nsub; b += 2)
      scores_block<NH, 2, NF>(k + static_cast<std::size_t>(b) * D * kKvSub, D, q, b * kKvSub, s + b * kKvSub, lds, pf);
  }
  for (; b < nsub; ++b)
    scores_block<NH, 1, NF>(k + static_cast<std::size_t>(b) * D * kKvSub, D, q, b * kKvSub, s + b * kKvSub, lds, pf);
}

template <int NF>
void scores_nf(const std::uint8_t* k, int D, int nsub, const QuantQuery& q, int G, float* s, int lds,
               std::ptrdiff_t pf) {
  for (int h0 = 0; h0 < G; h0 += 8) {
    if (h0 > 0) pf = 0;
    const QuantQuery qh = q.heads_from(h0, D, true);
    float* sh = s + h0 * lds;
    switch (std::min(8, G - h0)) {
      case 1: scores_heads<1, NF>(k, D, nsub, qh, sh, lds, pf); break;
      case 2: scores_heads<2, NF>(k, D, nsub, qh, sh, lds, pf); break;
      case 3: scores_heads<3, NF>(k, D, nsub, qh, sh, lds, pf); break;
      case 4: scores_heads<4, NF>(k, D, nsub, qh, sh, lds, pf); break;
      case 5: scores_heads<5, NF>(k, D, nsub, qh, sh, lds, pf); break;
      case 6: scores_heads<6, NF>(k, D, nsub, qh, sh, lds, pf); break;
      case 7: scores_heads<7, NF>(k, D, nsub, qh, sh, lds, pf); break;
      default: scores_heads<8, NF>(k, D, nsub, qh, sh, lds, pf); break;
    }
  }
}

void scores_i8_vnni(const std::uint8_t* k, int D, int nsub, const QuantQuery& q, int G, float* s, int lds,
                    std::ptrdiff_t pf) {
  switch (q.nf) {
    case 0: scores_nf<0>(k, D, nsub, q, G, s, lds, pf); break;
    case 1: scores_nf<1>(k, D, nsub, q, G, s, lds, pf); break;
    case 2: scores_nf<2>(k, D, nsub, q, G, s, lds, pf); break;
    case 3: scores_nf<3>(k, D, nsub, q, G, s, lds, pf); break;
    default: scores_nf<4>(k, D, nsub, q, G, s, lds, pf); break;
  }
}

}  // namespace

const DecodeKernels& decode_kernels_vnni_avx512() {
  static const DecodeKernels k = [] {
    DecodeKernels t = decode_kernels_avx512();
    t.vnni = true;
    t.int_query = true;
    t.fused_outliers = true;
    t.scores_i8 = scores_i8_vnni;
    t.prepare_query = prepare_query_i16;
    t.accum_v_i8 = accum_v_i8_vnni;
    return t;
  }();
  return k;
}

}  // namespace infeng::attn::detail
