// AVX-512 versions of the per-group query preparation and the CSR outlier correction of int8
// decode (the generic ones are in decode_query_prep.h). Auto-vectorised, those two cost more
// than the VNNI score kernel they serve: per head an 8-lane pass, three serial divisions and
// horizontal reductions, the levels staged through int32 arrays; the outlier correction's
// density check and de-interleaving were element by element. Here the 8 heads of a group share
// one vector for their scales, divisions and reductions, the levels are narrowed straight from
// the rounding's float bits, and the outlier columns are de-interleaved with permutes.
//
// Same results: the prepared query is bit-identical to the generic code built with the same
// flags (same FMA contractions, the same 8-lane order for zq, the one sum whose order matters),
// and the dense outlier path does the generic FMAs in the generic order.
//
// Measured effect: docs/MEASUREMENTS.md ("Decode query preparation, AVX-512").
//
// Include only from translation units compiled with the AVX-512 flags; internal linkage for
// the same reason as decode_query_prep.h.
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "attention/decode_kernels.h"
#include "attention/decode_query_prep.h"

namespace infeng::attn::detail {
namespace {

// First k lanes (k clamped to 0..16).
inline __mmask16 lanes16(int k) {
  return static_cast<__mmask16>((1u << std::clamp(k, 0, 16)) - 1u);
}

inline __mmask32 lanes32(int k) {
  return static_cast<__mmask32>(k >= 32 ? 0xFFFFFFFFu : (1u << std::max(k, 0)) - 1u);
}

// Lane i of the result is op over the 16 lanes of v[i]. A transposing tree (halves of pairs of
// vectors, then quarters, ...) does 16 reductions in 46 shuffles and ops, where one
// reduction per vector takes 8. Used for max and for sums of integers (exact in any order).
template <class Op>
inline __m512 lane_totals(const __m512 (&v)[16], Op op) {
  __m512 w[8], x[4], y[2];
  for (int i = 0; i < 8; ++i)
    w[i] = op(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44), _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xEE));
  for (int i = 0; i < 4; ++i)
    x[i] = op(_mm512_shuffle_f32x4(w[2 * i], w[2 * i + 1], 0x88), _mm512_shuffle_f32x4(w[2 * i], w[2 * i + 1], 0xDD));
  // Block k of x[i] now reduces v[4i + k] to 4 lanes.
  for (int i = 0; i < 2; ++i)
    y[i] = op(_mm512_shuffle_ps(x[2 * i], x[2 * i + 1], 0x44), _mm512_shuffle_ps(x[2 * i], x[2 * i + 1], 0xEE));
  const __m512 t = op(_mm512_shuffle_ps(y[0], y[1], 0x88), _mm512_shuffle_ps(y[0], y[1], 0xDD));
  // Lane 4k + m of t holds v[4m + k].
  return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), t);
}

// The two int8 levels of one head from f = q·ks (D values, zero up to the next 16), and the
// levels' per-lane sums. round(x) is x + 1.5·2^23 − 1.5·2^23 as in round_even; the low byte
// of x + 1.5·2^23 is round(x) as int8, so the narrowing store takes the level straight from
// the float's bits. Clamping before rounding equals the generic clamp after it (rounding is
// monotonic and ±127 are integers).
template <bool Clamp>
inline void query_levels(const float* f, int D, float s_hi, float inv_hi, float inv_lo, std::int8_t* hi,
                         std::int8_t* lo, __m512& sum_a, __m512& sum_b) {
  const __m512 magic = _mm512_set1_ps(12582912.0f);  // 1.5 · 2^23, as round_even
  const __m512 lim = _mm512_set1_ps(127.0f), nlim = _mm512_set1_ps(-127.0f);
  const __m512 vs_hi = _mm512_set1_ps(s_hi), vinv_hi = _mm512_set1_ps(inv_hi), vinv_lo = _mm512_set1_ps(inv_lo);
  __m512 sa = _mm512_setzero_ps(), sb = _mm512_setzero_ps();
  // The last chunk of a width that is not a multiple of 16 has 8 lanes (f is zero past D).
  auto chunk = [&](int c, __mmask16 m) {
    const __m512 fv = _mm512_load_ps(f + c);
    __m512 x = _mm512_mul_ps(fv, vinv_hi);
    if constexpr (Clamp) x = _mm512_min_ps(_mm512_max_ps(x, nlim), lim);
    const __m512 ya = _mm512_add_ps(x, magic);
    const __m512 a = _mm512_sub_ps(ya, magic);
    // f − s_hi·a in one rounding, as the contracted generic expression.
    __m512 y = _mm512_mul_ps(_mm512_fnmadd_ps(vs_hi, a, fv), vinv_lo);
    if constexpr (Clamp) y = _mm512_min_ps(_mm512_max_ps(y, nlim), lim);
    const __m512 yb = _mm512_add_ps(y, magic);
    const __m512 b = _mm512_sub_ps(yb, magic);
    _mm512_mask_cvtepi32_storeu_epi8(hi + c, m, _mm512_castps_si512(ya));
    _mm512_mask_cvtepi32_storeu_epi8(lo + c, m, _mm512_castps_si512(yb));
    // Integer-valued partial sums below 2^24: exact, the generic sums in any order. Masked:
    // with the clamps kept, a zero lane past D can still give a nonzero level (0·inf).
    sa = _mm512_mask_add_ps(sa, m, sa, a);
    sb = _mm512_mask_add_ps(sb, m, sb, b);
  };
  const int full = D & ~15;
  for (int c = 0; c < full; c += 16) chunk(c, 0xFFFF);
  if (full < D) chunk(full, 0x00FF);
  sum_a = sa;
  sum_b = sb;
}

// Pass 1 over one head: the 8 lanes of zq (returned) and max|q·ks| (amax), f = q·ks kept in
// fbuf (zero up to the next 16) for pass 2. zq is summed exactly as the generic code does: 8
// lanes, each one FMA chain over the channel chunks of 8 in order, then lanes 0..7 left to
// right (a tree would change the last bit); the max is exact in any order. Accumulators are
// locals so they stay in registers (an array indexed by the head went through memory).
template <bool Levels>
inline __m256 query_pass1(const float* q, const float* ks, const float* mid, int D, __m512& amax, float* fbuf) {
  __m256 z = _mm256_setzero_ps();
  __m512 am = _mm512_setzero_ps();
  auto chunk = [&](int c, bool whole) {
    const __m512 qv = _mm512_maskz_loadu_ps(whole ? 0xFFFF : 0x00FF, q + c);
    z = _mm256_fmadd_ps(_mm512_castps512_ps256(qv), _mm256_loadu_ps(mid + c), z);
    if (whole) z = _mm256_fmadd_ps(_mm256_loadu_ps(q + c + 8), _mm256_loadu_ps(mid + c + 8), z);
    if constexpr (Levels) {
      const __m512 f = _mm512_mul_ps(qv, _mm512_maskz_loadu_ps(whole ? 0xFFFF : 0x00FF, ks + c));
      am = _mm512_range_ps(am, f, 0x0B);  // max(|a|, |b|)
      _mm512_store_ps(fbuf + c, f);
    }
  };
  const int full = D & ~15;
  for (int c = 0; c < full; c += 16) chunk(c, true);
  if (full < D) chunk(full, false);
  amax = am;
  return z;
}

// Heads are prepared 8 at a time: the per-head scalars (max, scales, reciprocals, level sums)
// of 8 heads fit one vector, so the divisions and horizontal reductions are done once per
// 8 heads instead of once per head (serial divisions and reductions were most of the time).
constexpr int kPrepHeads = 8;

template <bool Levels>
void prepare_query_heads(const float* qs, const float* ks, const float* mid, int G, int D, const QueryBuffers& out) {
  // q·ks of the 8 heads, kept between the passes (tail lanes zero); validate() caps D at 256.
  alignas(64) float fbuf[kPrepHeads * 256];
  const int Dp = (D + 15) / 16 * 16;
  for (int h0 = 0; h0 < G; h0 += kPrepHeads) {
    const int gh = std::min(kPrepHeads, G - h0);
    __m512 amax[16];
    for (int i = 0; i < 16; ++i) amax[i] = _mm512_setzero_ps();
    for (int hp = 0; hp < gh; hp += 2) {
      const __m256 z0 = query_pass1<Levels>(qs + (h0 + hp) * D, ks, mid, D, amax[hp], fbuf + hp * Dp);
      const __m256 z1 = hp + 1 < gh ? query_pass1<Levels>(qs + (h0 + hp + 1) * D, ks, mid, D, amax[hp + 1],
                                                          fbuf + (hp + 1) * Dp)
                                    : _mm256_setzero_ps();
      // Two heads per vector for the lane sum: 0 + z0 + z1 + ... + z7, left to right; the
      // permutes do not depend on the chain.
      const __m512 zp = _mm512_insertf32x8(_mm512_castps256_ps512(z0), z1, 1);
      __m512 t = _mm512_add_ps(_mm512_setzero_ps(), zp);
      const __m512i half = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 8, 8, 8, 8, 8, 8, 8, 8);
      for (int j = 1; j < 8; ++j)
        t = _mm512_add_ps(t, _mm512_permutexvar_ps(_mm512_add_epi32(_mm512_set1_epi32(j), half), zp));
      out.zq[h0 + hp] = _mm512_cvtss_f32(t);
      if (hp + 1 < gh) out.zq[h0 + hp + 1] = _mm_cvtss_f32(_mm512_extractf32x4_ps(t, 2));
    }
    if constexpr (!Levels) continue;
    // The scales of the 8 heads in one 256-bit vector (shorter division latency than 512-bit:
    // the three chained divisions are on the critical path); divisions as in the generic code,
    // not reciprocal multiplies, so the same bits.
    const __m256 at =
        _mm512_castps512_ps256(lane_totals(amax, [](__m512 a, __m512 b) { return _mm512_max_ps(a, b); }));
    const __m256 s_hi = _mm256_div_ps(at, _mm256_set1_ps(127.0f));
    const __m256 s_lo = _mm256_div_ps(s_hi, _mm256_set1_ps(254.0f));
    const __m256 one = _mm256_set1_ps(1.0f), zero8 = _mm256_setzero_ps();
    const __m256 inv_hi = _mm256_maskz_div_ps(_mm256_cmp_ps_mask(s_hi, zero8, _CMP_GT_OQ), one, s_hi);
    const __m256 inv_lo = _mm256_maskz_div_ps(_mm256_cmp_ps_mask(s_lo, zero8, _CMP_GT_OQ), one, s_lo);
    const __mmask8 head_lanes = static_cast<__mmask8>((1u << gh) - 1u);
    _mm256_mask_storeu_ps(out.s_hi + h0, head_lanes, s_hi);
    _mm256_mask_storeu_ps(out.s_lo + h0, head_lanes, s_lo);
    alignas(32) float sc[3][kPrepHeads];
    _mm256_store_ps(sc[0], s_hi);
    _mm256_store_ps(sc[1], inv_hi);
    _mm256_store_ps(sc[2], inv_lo);
    // With both scales normal (max|q·ks| zero or in [1e-30, 3e38]), |f·inv_hi| and the
    // residual's |r·inv_lo| stay below 127.01, so the generic clamp to ±127 never acts and is
    // left out; otherwise (subnormal scales, inf, NaN) it is kept.
    const __mmask8 normal = _mm256_cmp_ps_mask(at, zero8, _CMP_EQ_OQ) |
                            (_mm256_cmp_ps_mask(at, _mm256_set1_ps(1e-30f), _CMP_GE_OQ) &
                             _mm256_cmp_ps_mask(at, _mm256_set1_ps(3e38f), _CMP_LE_OQ));
    const bool clamp = (normal & head_lanes) != head_lanes;
    const __m512 zero = _mm512_setzero_ps();
    __m512 sums[16];
    for (int i = 0; i < 16; ++i) sums[i] = zero;
    for (int h = 0; h < gh; ++h) {
      const float* f = fbuf + h * Dp;
      std::int8_t* hi = out.hi + (h0 + h) * D;
      std::int8_t* lo = out.lo + (h0 + h) * D;
      if (clamp) {
        query_levels<true>(f, D, sc[0][h], sc[1][h], sc[2][h], hi, lo, sums[h], sums[kPrepHeads + h]);
      } else {
        query_levels<false>(f, D, sc[0][h], sc[1][h], sc[2][h], hi, lo, sums[h], sums[kPrepHeads + h]);
      }
    }
    const __m512i tot = _mm512_slli_epi32(
        _mm512_cvttps_epi32(lane_totals(sums, [](__m512 a, __m512 b) { return _mm512_add_ps(a, b); })), 7);
    _mm256_mask_storeu_epi32(out.b_hi + h0, head_lanes, _mm512_castsi512_si256(tot));
    _mm256_mask_storeu_epi32(out.b_lo + h0, head_lanes, _mm512_extracti32x8_epi32(tot, 1));
  }
}

[[maybe_unused]] void prepare_query_avx512(const float* qs, const float* ks, const float* mid, int G, int D,
                                           bool int_levels, const QueryBuffers& out) {
  if (int_levels) {
    prepare_query_heads<true>(qs, ks, mid, G, D, out);
  } else {
    prepare_query_heads<false>(qs, ks, mid, G, D, out);
  }
}

// The generic code's dense-block test, vectorised: tokens [t0, t1) have nf entries each at
// consecutive CSR positions (row_ptr an arithmetic run from f0), and the column list repeats
// with period nf (col[x + nf] == col[x] over the block, i.e. every token has the first token's
// columns in the same order).
inline bool outliers_dense(const std::int32_t* row_ptr, const std::uint16_t* col, int t0, int n, int f0, int nf) {
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  __mmask16 bad = 0;
  for (int k = 0; k <= n; k += 16) {
    const __m512i want =
        _mm512_add_epi32(_mm512_set1_epi32(f0 + nf * k), _mm512_mullo_epi32(iota, _mm512_set1_epi32(nf)));
    const __mmask16 m = lanes16(n + 1 - k);
    bad |= _mm512_mask_cmpneq_epi32_mask(m, _mm512_maskz_loadu_epi32(m, row_ptr + t0 + k), want);
  }
  __mmask32 badc = 0;
  const int span = nf * (n - 1);
  const std::uint16_t* c0 = col + f0;
  for (int x = 0; x < span; x += 32) {
    const __mmask32 m = lanes32(span - x);
    badc |= _mm512_mask_cmpneq_epi16_mask(m, _mm512_maskz_loadu_epi16(m, c0 + x),
                                          _mm512_maskz_loadu_epi16(m, c0 + x + nf));
  }
  return bad == 0 && badc == 0;
}

// The dense case (every token of the group has the same ≤ 4 outlier channels, as the quantiser
// writes them): 16 tokens' values (token-major, nf per token) are loaded as nf vectors and
// de-interleaved in registers into one vector per column (entry t·nf + i: a two-source permute
// covers positions < 32, a second one and a blend the rest for nf > 2), then each head's score
// row gets one FMA per column with the broadcast query channel, in the generic code's order.
// Anything else goes to the generic entry-by-entry path.
[[maybe_unused]] void apply_outliers_avx512(const std::int32_t* row_ptr, const std::uint16_t* col, const float* val,
                                            int t0, int t1, const float* qs, int G, int D, float* s, int lds) {
  constexpr int kMaxCols = 4;
  const int f0 = row_ptr[t0];
  const int n = t1 - t0;
  // The driver's next call takes the next tokens of this head, whose CSR rows follow these in
  // the same arrays: fetch as much of them into L2 now. Unprefetched, these side tables come
  // from DRAM once per group and the stalls on them were a third of this function's time.
  {
    const int f1 = row_ptr[t1], fn = std::max(f1 - f0, n);
    prefetch_span_l2(row_ptr + t1, static_cast<std::size_t>(n + 1) * sizeof(std::int32_t));
    prefetch_span_l2(col + f1, static_cast<std::size_t>(fn) * sizeof(std::uint16_t));
    prefetch_span_l2(val + f1, static_cast<std::size_t>(fn) * sizeof(float));
  }
  if (f0 == row_ptr[t1]) return;
  const int nf = row_ptr[t0 + 1] - f0;
  if (!(nf > 0 && nf <= kMaxCols && n <= kKvGroup && row_ptr[t1] - f0 == nf * n) ||
      !outliers_dense(row_ptr, col, t0, n, f0, nf)) {
    apply_outliers_impl(row_ptr, col, val, t0, t1, qs, G, D, s, lds);
    return;
  }
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  __m512i idx[kMaxCols];
  __mmask16 upper[kMaxCols];
  int cidx[kMaxCols];
  for (int i = 0; i < nf; ++i) {
    idx[i] = _mm512_add_epi32(_mm512_mullo_epi32(iota, _mm512_set1_epi32(nf)), _mm512_set1_epi32(i));
    upper[i] = _mm512_cmpge_epi32_mask(idx[i], _mm512_set1_epi32(32));
    cidx[i] = col[f0 + i];
  }
  const float* v = val + f0;
  for (int r0 = 0; r0 < n; r0 += kKvSub) {
    const int m = std::min(kKvSub, n - r0), cnt = nf * m;
    const float* vr = v + r0 * nf;
    __m512 x[kMaxCols];
    for (int k = 0; k < kMaxCols; ++k)
      x[k] = 16 * k < cnt ? _mm512_maskz_loadu_ps(lanes16(cnt - 16 * k), vr + 16 * k) : _mm512_setzero_ps();
    __m512 cv[kMaxCols];
    for (int i = 0; i < nf; ++i) {
      cv[i] = _mm512_permutex2var_ps(x[0], idx[i], x[1]);
      if (nf > 2) cv[i] = _mm512_mask_blend_ps(upper[i], cv[i], _mm512_permutex2var_ps(x[2], idx[i], x[3]));
    }
    const __mmask16 tm = lanes16(m);
    for (int h = 0; h < G; ++h) {
      float* sh = s + h * lds + r0;
      const float* qh = qs + h * D;
      __m512 acc = _mm512_maskz_loadu_ps(tm, sh);
      for (int i = 0; i < nf; ++i) acc = _mm512_fmadd_ps(_mm512_set1_ps(qh[cidx[i]]), cv[i], acc);
      _mm512_mask_storeu_ps(sh, tm, acc);
    }
  }
}

}  // namespace
}  // namespace infeng::attn::detail
