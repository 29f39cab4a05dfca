// Tiled prefill, AVX-512: a 6-row × 64-column register tile (24 zmm accumulators, 4 B vectors,
// A as broadcasts), the shape of the GEMM lane's microkernels scaled to attention's 64-wide
// tiles. Narrow heads (head_dim 8) use the masked last vector.
//
// The online softmax runs 16 rows at a time. Decode's softmax_tile does one row (query head)
// at a time, which suits decode: few rows, hundreds of tokens each. A prefill tile is the
// opposite, hundreds of rows of 64 scores, and per row it paid two horizontal reductions and
// a scalar exp for the correction, about as much as the row's 4 vector exps. Here the 16
// rows' maxima and sums come out of one transposing reduction each (lane_totals), and the 16
// corrections are one vector exp.
#include <immintrin.h>

#include <algorithm>
#include <limits>

#include "attention/decode_avx512_parts.h"
#include "attention/decode_prep_avx512.h"
#include "attention/prefill_kernels.h"

namespace infeng::attn::detail {
namespace {

template <int MR, int NV>
void tile(int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc, bool accumulate,
          const float* scale, __mmask16 last) {
  __m512 acc[MR][NV];
  for (int r = 0; r < MR; ++r) {
    const __m512 sr = _mm512_set1_ps(scale ? scale[r] : 1.0f);
    for (int v = 0; v < NV; ++v) {
      const __mmask16 mk = v == NV - 1 ? last : __mmask16(0xFFFF);
      acc[r][v] = accumulate ? _mm512_mul_ps(sr, _mm512_maskz_loadu_ps(mk, c + r * ldc + 16 * v)) : _mm512_setzero_ps();
    }
  }
  for (int x = 0; x < k; ++x) {
    __m512 bv[NV];
    const float* br = b + static_cast<long>(x) * ldb;
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_maskz_loadu_ps(v == NV - 1 ? last : __mmask16(0xFFFF), br + 16 * v);
    for (int r = 0; r < MR; ++r) {
      const __m512 av = _mm512_set1_ps(a[r * lda + x]);
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v)
      _mm512_mask_storeu_ps(c + r * ldc + 16 * v, v == NV - 1 ? last : __mmask16(0xFFFF), acc[r][v]);
}

template <int NV>
void rows_of(int rows, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc,
             bool accumulate, const float* scale, __mmask16 last) {
  constexpr int kMr = NV >= 3 ? 6 : 8;
  int r = 0;
  for (; r + kMr <= rows; r += kMr)
    tile<kMr, NV>(k, a + r * lda, lda, b, ldb, c + r * ldc, ldc, accumulate, scale ? scale + r : nullptr, last);
  for (; r < rows; ++r)
    tile<1, NV>(k, a + r * lda, lda, b, ldb, c + r * ldc, ldc, accumulate, scale ? scale + r : nullptr, last);
}

void gemm(int rows, int n, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc,
          bool accumulate, const float* scale) {
  const __mmask16 last = n % 16 ? __mmask16(0x00FF) : __mmask16(0xFFFF);
  switch ((n + 15) / 16) {
    case 1: rows_of<1>(rows, k, a, lda, b, ldb, c, ldc, accumulate, scale, last); break;
    case 2: rows_of<2>(rows, k, a, lda, b, ldb, c, ldc, accumulate, scale, last); break;
    case 3: rows_of<3>(rows, k, a, lda, b, ldb, c, ldc, accumulate, scale, last); break;
    default: rows_of<4>(rows, k, a, lda, b, ldb, c, ldc, accumulate, scale, last); break;
  }
}

// softmax_tile's contract for any rows and T: s[r][0..T) ← e^(s − m_new), m_new = max(m, row
// max), corr[r] = e^(m − m_new) (0 while m is −∞), l[r] ← l·corr + Σ e^(s − m_new). Loads past
// T (and rows past the last) read as −∞, whose e^x is 0, so tails need no second code path.
void softmax_rows(float* s, int lds, int rows, int T, float* m, float* l, float* corr) {
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  const __m512 zero = _mm512_setzero_ps();
  for (int r0 = 0; r0 < rows; r0 += 16) {
    const int nr = std::min(16, rows - r0);
    __m512 part[16];
    for (int i = 0; i < 16; ++i) {
      __m512 v = ninf;
      if (i < nr) {
        const float* row = s + static_cast<std::size_t>(r0 + i) * lds;
        for (int t = 0; t < T; t += 16) v = _mm512_max_ps(v, _mm512_mask_loadu_ps(ninf, lanes16(T - t), row + t));
      }
      part[i] = v;
    }
    const __mmask16 live = lanes16(nr);
    const __m512 mt = lane_totals(part, [](__m512 a, __m512 b) { return _mm512_max_ps(a, b); });
    const __m512 mold = _mm512_mask_loadu_ps(ninf, live, m + r0);
    const __m512 mnew = _mm512_max_ps(mold, mt);
    // e^(−∞ − m_new) is 0 in exp512 (its cut-off also catches −∞ − (−∞) = NaN).
    const __m512 cr = exp512(_mm512_sub_ps(mold, mnew));
    alignas(64) float mrow[16];
    _mm512_store_ps(mrow, mnew);
    for (int i = 0; i < 16; ++i) {
      __m512 acc = zero;
      if (i < nr) {
        float* row = s + static_cast<std::size_t>(r0 + i) * lds;
        const __m512 vm = _mm512_set1_ps(mrow[i]);
        for (int t = 0; t < T; t += 16) {
          const __mmask16 mk = lanes16(T - t);
          const __m512 p = exp512(_mm512_sub_ps(_mm512_mask_loadu_ps(ninf, mk, row + t), vm));
          _mm512_mask_storeu_ps(row + t, mk, p);
          acc = _mm512_add_ps(acc, p);
        }
      }
      part[i] = acc;
    }
    const __m512 sum = lane_totals(part, [](__m512 a, __m512 b) { return _mm512_add_ps(a, b); });
    _mm512_mask_storeu_ps(corr + r0, live, cr);
    _mm512_mask_storeu_ps(m + r0, live, mnew);
    _mm512_mask_storeu_ps(l + r0, live, _mm512_fmadd_ps(_mm512_maskz_loadu_ps(live, l + r0), cr, sum));
  }
}

}  // namespace

const PrefillKernels& prefill_kernels_avx512() {
  static const PrefillKernels k{Path::Avx512, 6, gemm, softmax_rows};
  return k;
}

}  // namespace infeng::attn::detail
