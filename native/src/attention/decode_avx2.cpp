// Decode attention, AVX2 + FMA + F16C: 8 tokens' scores per ymm; a 16-token K sub-block is
// two vectors per channel, so 4 heads × 2 halves = 8 accumulators per pass. Same operand
// layouts and integer arithmetic as the scalar and AVX-512 paths.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
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

// Lane i of the result is op over the 8 lanes of v[i]: a transposing tree, 21 shuffles and ops
// for 8 reductions where one reduction per vector is a chain of 5. For a sum the tree adds in
// hsum's order (the halves, then lanes two apart, then neighbours), so each total has hsum's bits.
template <class Op>
inline __m256 lane_totals8(const __m256 (&v)[8], Op op) {
  __m256 t[4], u[2];
  // t[i] = [v[i]'s 4 partials | v[i + 4]'s 4 partials]
  for (int i = 0; i < 4; ++i)
    t[i] = op(_mm256_permute2f128_ps(v[i], v[i + 4], 0x20), _mm256_permute2f128_ps(v[i], v[i + 4], 0x31));
  // u[0] = [v0: 2, v1: 2 | v4: 2, v5: 2], u[1] the same for v2, v3, v6, v7
  for (int i = 0; i < 2; ++i)
    u[i] = op(_mm256_shuffle_ps(t[2 * i], t[2 * i + 1], 0x44), _mm256_shuffle_ps(t[2 * i], t[2 * i + 1], 0xEE));
  return op(_mm256_shuffle_ps(u[0], u[1], 0x88), _mm256_shuffle_ps(u[0], u[1], 0xDD));
}

// The query of one K group as one int16 level (QuantQuery's hi/s_hi/b_hi fields, the
// buffers VNNI uses for its two int8 levels: G·D int16 take the same 2·G·D bytes): q16_c =
// round(q_c·ks_c / s16), s16 = max|q·ks| / L. L keeps every score's integer sum exact in
// int32: Σ_c |q16|·ku ≤ D·255·L < 2^31 (L = 32767 up to D = 256). The rounding step is
// max|q'|/32767, finer than the two-level int8 query's max|q'|/(127·254).
//
// It runs once per 64-token K group, so per token it costs a tenth of the score kernel's
// arithmetic; one head at a time it cost a quarter of the score kernel's time, each head's
// horizontal max, division and sum a serial chain. Here 8 heads share one vector for their
// reductions, divisions and scales, as in the AVX-512 VNNI preparation, with the same bits.
// NC > 0: D = 8·NC, fully unrolled (the common widths).
template <int NC>
void prepare_heads_i16(const float* qs, const float* ks, const float* mid, int G, int D, bool int_levels,
                       const QueryBuffers& out) {
  if constexpr (NC > 0) D = 8 * NC;
  const int L = static_cast<int>(std::min<long long>(32767, 2147483647LL / (255LL * D)));
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  const auto add = [](__m256 a, __m256 b) { return _mm256_add_ps(a, b); };
  for (int h0 = 0; h0 < G; h0 += 8) {
    const int gh = std::min(8, G - h0);
    __m256 z[8], amax[8];
    for (int h = 0; h < 8; ++h) z[h] = amax[h] = _mm256_setzero_ps();
    for (int h = 0; h < gh; ++h) {
      const float* q = qs + (h0 + h) * D;
      // Two chains each for the sum and the max.
      __m256 zz[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()}, am[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
      auto step = [&](int c, int j) {
        const __m256 qc = _mm256_loadu_ps(q + c);
        zz[j] = _mm256_fmadd_ps(qc, _mm256_loadu_ps(mid + c), zz[j]);
        am[j] = _mm256_max_ps(am[j], _mm256_and_ps(absmask, _mm256_mul_ps(qc, _mm256_loadu_ps(ks + c))));
      };
      if constexpr (NC > 0) {
        for (int i = 0; i < NC; ++i) step(8 * i, i & 1);
      } else {
        for (int c = 0; c < D; c += 8) step(c, (c >> 3) & 1);
      }
      z[h] = _mm256_add_ps(zz[0], zz[1]);
      amax[h] = _mm256_max_ps(am[0], am[1]);
    }
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, lane_totals8(z, add));
    std::memcpy(out.zq + h0, lanes, sizeof(float) * gh);
    if (!int_levels) continue;
    const __m256 at = lane_totals8(amax, [](__m256 a, __m256 b) { return _mm256_max_ps(a, b); });
    const __m256 s16 = _mm256_div_ps(at, _mm256_set1_ps(static_cast<float>(L)));
    // 1/s16, and 0 for a head whose scaled query is all zero
    const __m256 inv = _mm256_and_ps(_mm256_cmp_ps(s16, _mm256_setzero_ps(), _CMP_GT_OQ),
                                     _mm256_div_ps(_mm256_set1_ps(1.0f), s16));
    _mm256_store_ps(lanes, s16);
    std::memcpy(out.s_hi + h0, lanes, sizeof(float) * gh);
    alignas(32) float invs[8];
    _mm256_store_ps(invs, inv);
    __m256 sums[8];
    for (int h = 0; h < 8; ++h) sums[h] = _mm256_setzero_ps();
    for (int h = 0; h < gh; ++h) {
      const float* q = qs + (h0 + h) * D;
      auto* q16 = reinterpret_cast<std::int16_t*>(out.hi) + (h0 + h) * D;
      const __m256 vinv = _mm256_set1_ps(invs[h]);
      __m256i sum[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
      auto step = [&](int c, int j) {
        // |q·ks·inv| ≤ L (up to one rounding), so the int32 → int16 pack never saturates.
        const __m256 f = _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(q + c), _mm256_loadu_ps(ks + c)), vinv);
        const __m256i i = _mm256_cvtps_epi32(f);
        sum[j] = _mm256_add_epi32(sum[j], i);
        const __m128i packed = _mm_packs_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(q16 + c), packed);
      };
      if constexpr (NC > 0) {
        for (int i = 0; i < NC; ++i) step(8 * i, i & 1);
      } else {
        for (int c = 0; c < D; c += 8) step(c, (c >> 3) & 1);
      }
      // |Σ| ≤ D·L < 2^24: exact as a float in any order.
      sums[h] = _mm256_cvtepi32_ps(_mm256_add_epi32(sum[0], sum[1]));
    }
    const __m256i b = _mm256_slli_epi32(_mm256_cvttps_epi32(lane_totals8(sums, add)), 7);
    alignas(32) std::int32_t bl[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(bl), b);
    std::memcpy(out.b_hi + h0, bl, sizeof(std::int32_t) * gh);
  }
}

void prepare_query_i16(const float* qs, const float* ks, const float* mid, int G, int D, bool int_levels,
                       const QueryBuffers& out) {
  switch (D) {
    case 64: prepare_heads_i16<8>(qs, ks, mid, G, D, int_levels, out); break;
    case 128: prepare_heads_i16<16>(qs, ks, mid, G, D, int_levels, out); break;
    default: prepare_heads_i16<0>(qs, ks, mid, G, D, int_levels, out); break;
  }
}

// Eight int32 lanes holding (a, b) partial pairs [x0a x0b x1a x1b | x2a x2b x3a x3b] of two
// vectors → the eight totals x0..x3 of u then x0..x3 of v, in order.
inline __m256i pair_totals(__m256i u, __m256i v) {
  return _mm256_permute4x64_epi64(_mm256_hadd_epi32(u, v), _MM_SHUFFLE(3, 1, 2, 0));
}

// The NF outlier columns of 8 tokens (token-major, NF per token) as one vector per column:
// two shuffles and a lane fix for the usual NF = 2, a gather otherwise.
template <int NF>
inline void outlier_columns8(const float* v, __m256 (&cv)[kMaxFusedCols]) {
  if constexpr (NF == 1) {
    cv[0] = _mm256_loadu_ps(v);
  } else if constexpr (NF == 2) {
    const __m256 x0 = _mm256_loadu_ps(v), x1 = _mm256_loadu_ps(v + 8);
    const auto fix = [](__m256 y) {
      return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(y), _MM_SHUFFLE(3, 1, 2, 0)));
    };
    cv[0] = fix(_mm256_shuffle_ps(x0, x1, _MM_SHUFFLE(2, 0, 2, 0)));
    cv[1] = fix(_mm256_shuffle_ps(x0, x1, _MM_SHUFFLE(3, 1, 3, 1)));
  } else {
    const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(NF));
    for (int i = 0; i < NF; ++i) cv[i] = _mm256_i32gather_ps(v + i, idx, 4);
  }
}

// int8 K ([D/4][16 tokens][4 channels], offset-binary u8) against the int16 query with
// vpmaddwd: 16 bytes (4 tokens × 4 channels) widen to 16 words, and one vpmaddwd with the
// head's 4 channel weights broadcast gives each token's two channel-pair sums: 16 products per
// instruction where the FP32 form needs 2 FMAs per 8 and a convert per channel vector. NG
// token quads × NH heads of int32 accumulators, exact over the group. The segment's NF exact
// outlier channels are added before the scores are stored (token0: the first token's index in
// the segment), instead of in a pass that re-reads and re-writes them.
template <int NH, int NG, int NF>
void scores_i16_block(const std::uint8_t* k, int D, int g0, const QuantQuery& q, int token0, float* s, int lds,
                      std::ptrdiff_t pf) {
  const auto* q16 = reinterpret_cast<const std::int16_t*>(q.hi);
  __m256i a[NG][NH];
  for (int g = 0; g < NG; ++g)
    for (int h = 0; h < NH; ++h) a[g][h] = _mm256_setzero_si256();
  for (int c4 = 0; c4 < D / 4; ++c4) {
    const std::uint8_t* kc = k + c4 * kKvSub * 4 + g0 * 16;
    if (pf) _mm_prefetch(reinterpret_cast<const char*>(k) + pf + c4 * 64, _MM_HINT_T1);
    __m256i x[NG];
    for (int g = 0; g < NG; ++g)
      x[g] = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kc + 16 * g)));
    for (int h = 0; h < NH; ++h) {
      std::int64_t w;
      std::memcpy(&w, q16 + h * D + 4 * c4, sizeof w);
      const __m256i qb = _mm256_set1_epi64x(w);
      for (int g = 0; g < NG; ++g) a[g][h] = _mm256_add_epi32(a[g][h], _mm256_madd_epi16(x[g], qb));
    }
  }
  for (int g = 0; g < NG; g += 2) {
    __m256 cv[kMaxFusedCols];
    if constexpr (NF > 0) outlier_columns8<NF>(q.oval + (token0 + 4 * g) * NF, cv);
    for (int h = 0; h < NH; ++h) {
      const __m256i tot = _mm256_sub_epi32(pair_totals(a[g][h], a[g + 1][h]), _mm256_set1_epi32(q.b_hi[h]));
      __m256 sc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(tot), _mm256_set1_ps(q.s_hi[h]), _mm256_set1_ps(q.zq[h]));
      for (int i = 0; i < NF; ++i) sc = _mm256_fmadd_ps(_mm256_set1_ps(q.oq[h * kMaxFusedCols + i]), cv[i], sc);
      _mm256_storeu_ps(s + h * lds + 4 * (g0 + g), sc);
    }
  }
}

template <int NH, int NF>
void scores_i16_sub(const std::uint8_t* k, int D, const QuantQuery& q, int token0, float* s, int lds,
                    std::ptrdiff_t pf) {
  scores_i16_block<NH, 2, NF>(k, D, 0, q, token0, s, lds, pf);
  scores_i16_block<NH, 2, NF>(k, D, 2, q, token0 + 8, s, lds, 0);
}

template <int NF>
void scores_i8_nf(const std::uint8_t* k, int D, int nsub, const QuantQuery& q, int G, float* s, int lds,
                  std::ptrdiff_t pf) {
  for (int b = 0; b < nsub; ++b) {
    const std::uint8_t* kb = k + static_cast<std::size_t>(b) * D * kKvSub;
    for (int h0 = 0; h0 < G; h0 += 4) {
      const QuantQuery qh = q.heads_from(h0, D, true);
      float* sh = s + h0 * lds + b * kKvSub;
      const std::ptrdiff_t f = h0 == 0 ? pf : 0;
      const int t0 = b * kKvSub;
      switch (std::min(4, G - h0)) {
        case 1: scores_i16_sub<1, NF>(kb, D, qh, t0, sh, lds, f); break;
        case 2: scores_i16_sub<2, NF>(kb, D, qh, t0, sh, lds, f); break;
        case 3: scores_i16_sub<3, NF>(kb, D, qh, t0, sh, lds, f); break;
        default: scores_i16_sub<4, NF>(kb, D, qh, t0, sh, lds, f); break;
      }
    }
  }
}

void scores_i8(const std::uint8_t* k, int D, int nsub, const QuantQuery& q, int G, float* s, int lds,
               std::ptrdiff_t pf) {
  switch (q.nf) {
    case 0: scores_i8_nf<0>(k, D, nsub, q, G, s, lds, pf); break;
    case 1: scores_i8_nf<1>(k, D, nsub, q, G, s, lds, pf); break;
    case 2: scores_i8_nf<2>(k, D, nsub, q, G, s, lds, pf); break;
    case 3: scores_i8_nf<3>(k, D, nsub, q, G, s, lds, pf); break;
    default: scores_i8_nf<4>(k, D, nsub, q, G, s, lds, pf); break;
  }
}

// Four vectors a step: one exp256 is a chain of ~14 dependent operations, and with one vector a
// step the out-of-order window held too few of them to keep the pipes busy (2 cycles a score on
// a Zen 4; docs/MEASUREMENTS.md). The sum still adds the vectors in token order.
void softmax_tile(float* s, int lds, int G, int T, float* m, float* l, float* corr) {
  const int Tv = T / 8 * 8, T4 = T / 32 * 32;
  for (int h = 0; h < G; ++h) {
    float* row = s + h * lds;
    __m256 vmax4[4];
    for (auto& v : vmax4) v = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
    for (int t = 0; t < T4; t += 32)
      for (int j = 0; j < 4; ++j) vmax4[j] = _mm256_max_ps(vmax4[j], _mm256_loadu_ps(row + t + 8 * j));
    __m256 vmax = _mm256_max_ps(_mm256_max_ps(vmax4[0], vmax4[1]), _mm256_max_ps(vmax4[2], vmax4[3]));
    for (int t = T4; t < Tv; t += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(row + t));
    float mt = hmax(vmax);
    for (int t = Tv; t < T; ++t) mt = std::max(mt, row[t]);
    const float mn = std::max(m[h], mt);
    corr[h] = m[h] == -std::numeric_limits<float>::infinity() ? 0.0f : std::exp(m[h] - mn);
    const __m256 vm = _mm256_set1_ps(mn);
    __m256 vsum = _mm256_setzero_ps();
    for (int t = 0; t < T4; t += 32) {
      __m256 p[4];
      for (int j = 0; j < 4; ++j) p[j] = exp256(_mm256_sub_ps(_mm256_loadu_ps(row + t + 8 * j), vm));
      for (int j = 0; j < 4; ++j) {
        _mm256_storeu_ps(row + t + 8 * j, p[j]);
        vsum = _mm256_add_ps(vsum, p[j]);
      }
    }
    for (int t = T4; t < Tv; t += 8) {
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

// Chunks of 4 heads × 16 channels: 8 accumulators, 2 converted V vectors and the broadcast
// weight fit the 16 ymm registers. 3 heads × 32 channels (17 live vectors) spilled, and that
// P·V ran at half this speed (docs/MEASUREMENTS.md, decode attention on AVX2).
template <typename Load, int NV>
void accum_heads(Load load_v, int D, int d0, int T, const float* p, int lds, int G, const float* corr,
                 float* acc, const char* pf, int row_bytes) {
  for (int h0 = 0; h0 < G; h0 += 4) {
    if (h0 > 0) pf = nullptr;
    const float* ph = p + h0 * lds;
    float* ah = acc + h0 * D;
    switch (std::min(4, G - h0)) {
      case 1: accum_chunk<Load, 1, NV>(load_v, D, d0, T, ph, lds, corr + h0, ah, pf, row_bytes); break;
      case 2: accum_chunk<Load, 2, NV>(load_v, D, d0, T, ph, lds, corr + h0, ah, pf, row_bytes); break;
      case 3: accum_chunk<Load, 3, NV>(load_v, D, d0, T, ph, lds, corr + h0, ah, pf, row_bytes); break;
      default: accum_chunk<Load, 4, NV>(load_v, D, d0, T, ph, lds, corr + h0, ah, pf, row_bytes); break;
    }
  }
}

template <typename Load>
void accum_v(Load load_v, int D, int T, const float* p, int lds, int G, const float* corr, float* acc,
             const char* pf, int row_bytes) {
  for (int d0 = 0; d0 < D; d0 += 16) {
    if (d0 > 0) pf = nullptr;
    if (D - d0 >= 16)
      accum_heads<Load, 2>(load_v, D, d0, T, p, lds, G, corr, acc, pf, row_bytes);
    else
      accum_heads<Load, 1>(load_v, D, d0, T, p, lds, G, corr, acc, pf, row_bytes);
  }
}

void accum_v_f16(const std::uint16_t* v, int D, int T, const float* p, int lds, int G,
                 const float* corr, float* acc, std::ptrdiff_t pf) {
  auto load = [v, D](int t, int d) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + static_cast<std::size_t>(t) * D + d)));
  };
  accum_v(load, D, T, p, lds, G, corr, acc, pf ? reinterpret_cast<const char*>(v) + pf : nullptr, 2 * D);
}

// P·V against int8 V in token quads ([t/4][D][4]) with vpmaddwd. The softmax weights are
// decode_weights.h's 16-bit y_t ∈ [0, 65280], stored as y_t − 32768 (a signed word) in place
// over the head's score row; then Σ_t y_t·v_t = Σ_t (y_t − 32768)·v_t + 32768·Σ_t v_t, the
// last term shared by every head. 16 bytes of V (4 channels × 4 tokens) widen to 16 words;
// one vpmaddwd with the head's 4 token weights broadcast adds 16 products. Exact in int32 over
// up to 1024 tokens (256 quads · 2 · 32768 · 127 < 2^31); longer tiles flush in segments.
constexpr int kPvSegmentQuads = 256;

// Row h's weights as y − 32768 int16 (in place, token t at byte 2t); returns Sw/256, the weight
// of one unit of y (0 for an all-zero row). Same y as weight_fixed: cvtps2dq rounds to nearest
// even like nearbyint, after the same product and clamp.
float quantise_weights_i16(float* p, const float* vs, int T) {
  __m256 mx = _mm256_setzero_ps();
  for (int t = 0; t < T; t += 8) mx = _mm256_max_ps(mx, _mm256_mul_ps(_mm256_loadu_ps(p + t), _mm256_loadu_ps(vs + t)));
  const float wmax = hmax(mx);
  const __m256 k = _mm256_set1_ps(wmax > 0.0f ? 65280.0f / wmax : 0.0f);
  const __m256 cap = _mm256_set1_ps(65535.0f);
  const __m256i off = _mm256_set1_epi32(32768);
  auto* out = reinterpret_cast<std::int16_t*>(p);
  for (int t = 0; t < T; t += 16) {
    const __m256 w0 = _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(p + t), _mm256_loadu_ps(vs + t)), k);
    const __m256 w1 = _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(p + t + 8), _mm256_loadu_ps(vs + t + 8)), k);
    const __m256i y0 = _mm256_sub_epi32(_mm256_cvtps_epi32(_mm256_min_ps(w0, cap)), off);
    const __m256i y1 = _mm256_sub_epi32(_mm256_cvtps_epi32(_mm256_min_ps(w1, cap)), off);
    // Bytes [2t, 2t + 32) lie below the floats still to be read ([4t + 64, …)).
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + t),
                        _mm256_permute4x64_epi64(_mm256_packs_epi32(y0, y1), _MM_SHUFFLE(3, 1, 2, 0)));
  }
  return wmax > 0.0f ? wmax / (255.0f * 256.0f) : 0.0f;
}

// NH heads × 8 channels (two widened V vectors) over quads [q0, q1). The first head chunk
// (kSum) also forms Σ_t v_t of its 8 channels into vsum (|Σ| ≤ 127·T), which every chunk's
// result needs, from the vectors it has already widened.
template <int NH, bool kSum>
void accum_i16_chunk(const std::int8_t* v, int D, int d0, int q0, int q1, const std::int16_t* w, int ldw,
                     const float* unit, std::int32_t* vsum, const float* scale, float* acc, const char* pf) {
  __m256i a[NH][2];
  for (int h = 0; h < NH; ++h) a[h][0] = a[h][1] = _mm256_setzero_si256();
  __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
  const __m256i ones = _mm256_set1_epi16(1);
  for (int q = q0; q < q1; ++q) {
    const std::int8_t* vq = v + (static_cast<std::size_t>(q) * D + d0) * 4;
    if (pf) prefetch_l2(pf + static_cast<std::ptrdiff_t>(q) * D * 4, D * 4);
    const __m256i x0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(vq)));
    const __m256i x1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(vq + 16)));
    if constexpr (kSum) {
      s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(x0, ones));
      s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(x1, ones));
    }
    for (int h = 0; h < NH; ++h) {
      std::int64_t wq;
      std::memcpy(&wq, w + static_cast<std::ptrdiff_t>(h) * ldw + 4 * q, sizeof wq);
      const __m256i wb = _mm256_set1_epi64x(wq);
      a[h][0] = _mm256_add_epi32(a[h][0], _mm256_madd_epi16(x0, wb));
      a[h][1] = _mm256_add_epi32(a[h][1], _mm256_madd_epi16(x1, wb));
    }
  }
  if constexpr (kSum) _mm256_storeu_si256(reinterpret_cast<__m256i*>(vsum + d0), pair_totals(s0, s1));
  const __m256 vs32768 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(vsum + d0))),
                                       _mm256_set1_ps(32768.0f));
  for (int h = 0; h < NH; ++h) {
    // Σ y·v = Σ (y − 32768)·v + 32768·Σ v, in FP32 (the integer total can pass 2^31).
    const __m256 tot = _mm256_add_ps(_mm256_cvtepi32_ps(pair_totals(a[h][0], a[h][1])), vs32768);
    float* out = acc + h * D + d0;
    const __m256 c = _mm256_set1_ps(scale ? scale[h] : 1.0f);
    _mm256_storeu_ps(out, _mm256_fmadd_ps(c, _mm256_loadu_ps(out), _mm256_mul_ps(_mm256_set1_ps(unit[h]), tot)));
  }
}

void accum_v_i8(const std::int8_t* v, const float* vs, int D, int T, float* p, int lds, int G,
                const float* corr, float* acc, std::ptrdiff_t pf) {
  thread_local std::vector<float> unit;
  unit.resize(G);
  for (int h = 0; h < G; ++h) unit[h] = quantise_weights_i16(p + h * lds, vs, T);
  alignas(32) std::int32_t vsum[256];
  const auto* w = reinterpret_cast<const std::int16_t*>(p);
  const int ldw = 2 * lds;  // the int16 rows keep the float rows' pitch
  const char* next = pf ? reinterpret_cast<const char*>(v) + pf : nullptr;
  for (int q0 = 0; q0 < T / 4; q0 += kPvSegmentQuads) {
    const int q1 = std::min(T / 4, q0 + kPvSegmentQuads);
    for (int h0 = 0; h0 < G; h0 += 4) {
      // The first segment rescales acc by corr; later ones add to it.
      const float* sc = q0 == 0 ? corr + h0 : nullptr;
      const std::int16_t* wh = w + static_cast<std::ptrdiff_t>(h0) * ldw;
      const float* u = unit.data() + h0;
      float* a = acc + h0 * D;
      for (int d0 = 0; d0 < D; d0 += 8) {
        const char* f = h0 == 0 && q0 == 0 && d0 == 0 ? next : nullptr;  // one pass prefetches the next tile
        const int nh = std::min(4, G - h0);
        if (h0 == 0) {
          switch (nh) {
            case 1: accum_i16_chunk<1, true>(v, D, d0, q0, q1, wh, ldw, u, vsum, sc, a, f); break;
            case 2: accum_i16_chunk<2, true>(v, D, d0, q0, q1, wh, ldw, u, vsum, sc, a, f); break;
            case 3: accum_i16_chunk<3, true>(v, D, d0, q0, q1, wh, ldw, u, vsum, sc, a, f); break;
            default: accum_i16_chunk<4, true>(v, D, d0, q0, q1, wh, ldw, u, vsum, sc, a, f); break;
          }
        } else {
          switch (nh) {
            case 1: accum_i16_chunk<1, false>(v, D, d0, q0, q1, wh, ldw, u, vsum, sc, a, f); break;
            case 2: accum_i16_chunk<2, false>(v, D, d0, q0, q1, wh, ldw, u, vsum, sc, a, f); break;
            case 3: accum_i16_chunk<3, false>(v, D, d0, q0, q1, wh, ldw, u, vsum, sc, a, f); break;
            default: accum_i16_chunk<4, false>(v, D, d0, q0, q1, wh, ldw, u, vsum, sc, a, f); break;
          }
        }
      }
    }
  }
}

// Whether the CSR rows of tokens [t0, t0 + n) form one dense block (every row nf entries,
// the same columns in the same order), 8 row pointers and 16 columns per compare.
bool outliers_dense(const std::int32_t* row_ptr, const std::uint16_t* col, int t0, int n, int f0, int nf) {
  const __m256i step = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(nf));
  __m256i bad = _mm256_setzero_si256();
  int k = 0;
  for (; k + 8 <= n + 1; k += 8) {
    const __m256i want = _mm256_add_epi32(_mm256_set1_epi32(f0 + nf * k), step);
    bad = _mm256_or_si256(bad, _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row_ptr + t0 + k)), want));
  }
  int badi = 0;
  for (; k <= n; ++k) badi |= row_ptr[t0 + k] ^ (f0 + nf * k);
  const int span = nf * (n - 1);
  const std::uint16_t* c0 = col + f0;
  int x = 0;
  for (; x + 16 <= span; x += 16) {
    bad = _mm256_or_si256(bad, _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(c0 + x)),
                                                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c0 + x + nf))));
  }
  for (; x < span; ++x) badi |= c0[x] ^ c0[x + nf];
  return badi == 0 && _mm256_testz_si256(bad, bad);
}

// The dense case (as the quantiser writes every group): 8 tokens' values (token-major, nf per
// token) de-interleaved into one vector per column (two shuffles for the usual nf = 2, a
// gather otherwise), then one FMA per head and column with the broadcast query channel, in
// the generic code's order. Also fetches the next call's side-table rows into L2: they
// follow these in the same arrays, and unprefetched they come from DRAM once per group.
void apply_outliers_avx2(const std::int32_t* row_ptr, const std::uint16_t* col, const float* val, int t0, int t1,
                         const float* qs, int G, int D, float* s, int lds) {
  const int f0 = row_ptr[t0];
  const int n = t1 - t0;
  {
    // col and val are null for a cache without outliers.
    const int f1 = row_ptr[t1], fn = std::max(f1 - f0, n);
    prefetch_span_l2(row_ptr + t1, static_cast<std::size_t>(n + 1) * sizeof(std::int32_t));
    if (col) prefetch_span_l2(col + f1, static_cast<std::size_t>(fn) * sizeof(std::uint16_t));
    if (val) prefetch_span_l2(val + f1, static_cast<std::size_t>(fn) * sizeof(float));
  }
  if (f0 == row_ptr[t1]) return;
  const int nf = row_ptr[t0 + 1] - f0;
  if (!(nf > 0 && nf <= kMaxFusedCols && n <= kKvGroup && n % 8 == 0 && row_ptr[t1] - f0 == nf * n) ||
      !outliers_dense(row_ptr, col, t0, n, f0, nf)) {
    apply_outliers_impl(row_ptr, col, val, t0, t1, qs, G, D, s, lds);
    return;
  }
  int cidx[kMaxFusedCols];
  for (int i = 0; i < nf; ++i) cidx[i] = col[f0 + i];
  const float* v = val + f0;
  for (int r0 = 0; r0 < n; r0 += 8) {
    const float* vr = v + r0 * nf;
    __m256 cv[kMaxFusedCols];
    switch (nf) {
      case 1: outlier_columns8<1>(vr, cv); break;
      case 2: outlier_columns8<2>(vr, cv); break;
      case 3: outlier_columns8<3>(vr, cv); break;
      default: outlier_columns8<4>(vr, cv); break;
    }
    for (int h = 0; h < G; ++h) {
      float* sh = s + h * lds + r0;
      const float* qh = qs + h * D;
      __m256 acc = _mm256_loadu_ps(sh);
      for (int i = 0; i < nf; ++i) acc = _mm256_fmadd_ps(_mm256_set1_ps(qh[cidx[i]]), cv[i], acc);
      _mm256_storeu_ps(sh, acc);
    }
  }
}

}  // namespace

const DecodeKernels& decode_kernels_avx2() {
  static const DecodeKernels k = [] {
    DecodeKernels t{Path::Avx2, false,        8,           scores_f16, scores_i8,
                    softmax_tile, accum_v_f16, accum_v_i8, prepare_query_i16, apply_outliers_avx2};
    t.int_query = true;
    t.fused_outliers = true;
    return t;
  }();
  return k;
}

}  // namespace infeng::attn::detail
