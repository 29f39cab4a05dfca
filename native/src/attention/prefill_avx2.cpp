// Tiled prefill, AVX2 + FMA: a 6-row × 16-column register tile (12 ymm accumulators), run over
// the tile's columns 16 (or a last 8) at a time, and the online softmax 8 rows at a time (the
// AVX-512 file's structure on 8-wide vectors: one transposing reduction gives 8 rows' maxima or
// sums, and the 8 corrections are one vector exp, where decode's per-row softmax_tile pays two
// horizontal reductions and a scalar exp per row of 64 scores).
#include <immintrin.h>

#include <algorithm>
#include <limits>

#include "attention/prefill_kernels.h"

namespace infeng::attn::detail {
namespace {

template <int MR, int NV>
void tile(int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc, bool accumulate,
          const float* scale) {
  __m256 acc[MR][NV];
  for (int r = 0; r < MR; ++r) {
    const __m256 sr = _mm256_set1_ps(scale ? scale[r] : 1.0f);
    for (int v = 0; v < NV; ++v)
      acc[r][v] = accumulate ? _mm256_mul_ps(sr, _mm256_loadu_ps(c + r * ldc + 8 * v)) : _mm256_setzero_ps();
  }
  for (int x = 0; x < k; ++x) {
    __m256 bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = _mm256_loadu_ps(b + static_cast<long>(x) * ldb + 8 * v);
    for (int r = 0; r < MR; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r * lda + x);
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) _mm256_storeu_ps(c + r * ldc + 8 * v, acc[r][v]);
}

template <int NV>
void rows_of(int rows, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc,
             bool accumulate, const float* scale) {
  int r = 0;
  for (; r + 6 <= rows; r += 6)
    tile<6, NV>(k, a + r * lda, lda, b, ldb, c + r * ldc, ldc, accumulate, scale ? scale + r : nullptr);
  for (; r < rows; ++r)
    tile<1, NV>(k, a + r * lda, lda, b, ldb, c + r * ldc, ldc, accumulate, scale ? scale + r : nullptr);
}

void gemm(int rows, int n, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc,
          bool accumulate, const float* scale) {
  int j = 0;
  for (; j + 16 <= n; j += 16) rows_of<2>(rows, k, a, lda, b + j, ldb, c + j, ldc, accumulate, scale);
  if (j < n) rows_of<1>(rows, k, a, lda, b + j, ldb, c + j, ldc, accumulate, scale);
}

// e^x for x ≤ 0 (and −∞, NaN from −∞ − (−∞) → 0): decode_avx2.cpp's exp256, the same
// polynomial, so prefill and decode round alike.
inline __m256 exp8(__m256 x) {
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

// Lane i of the result is op over the 8 lanes of v[i]: pairs, then quads, then halves, in
// 7 shuffles and ops where 8 separate reductions take 24.
template <class Op>
inline __m256 lane_totals8(const __m256 (&v)[8], Op op) {
  __m256 x[4], y[2];
  for (int i = 0; i < 4; ++i) x[i] = op(_mm256_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm256_unpackhi_ps(v[2 * i], v[2 * i + 1]));
  for (int i = 0; i < 2; ++i)
    y[i] = op(_mm256_shuffle_ps(x[2 * i], x[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
              _mm256_shuffle_ps(x[2 * i], x[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  return op(_mm256_permute2f128_ps(y[0], y[1], 0x20), _mm256_permute2f128_ps(y[0], y[1], 0x31));
}

// Columns [t, t + 8) of a row, −∞ past T.
inline __m256 load_scores(const float* row, int t, int T) {
  if (t + 8 <= T) return _mm256_loadu_ps(row + t);
  const __m256i idx = _mm256_add_epi32(_mm256_set1_epi32(t), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(T), idx);
  return _mm256_blendv_ps(_mm256_set1_ps(-std::numeric_limits<float>::infinity()), _mm256_maskload_ps(row + t, m),
                          _mm256_castsi256_ps(m));
}

// softmax_tile's contract for any rows and T (see prefill_avx512.cpp's softmax_rows).
void softmax_rows(float* s, int lds, int rows, int T, float* m, float* l, float* corr) {
  const __m256 ninf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  for (int r0 = 0; r0 < rows; r0 += 8) {
    const int nr = std::min(8, rows - r0);
    __m256 part[8];
    for (int i = 0; i < 8; ++i) {
      __m256 v = ninf;
      if (i < nr) {
        const float* row = s + static_cast<std::size_t>(r0 + i) * lds;
        for (int t = 0; t < T; t += 8) v = _mm256_max_ps(v, load_scores(row, t, T));
      }
      part[i] = v;
    }
    alignas(32) float mold_a[8], l_a[8];
    for (int i = 0; i < 8; ++i) {
      mold_a[i] = i < nr ? m[r0 + i] : -std::numeric_limits<float>::infinity();
      l_a[i] = i < nr ? l[r0 + i] : 0.0f;
    }
    const __m256 mt = lane_totals8(part, [](__m256 a, __m256 b) { return _mm256_max_ps(a, b); });
    const __m256 mold = _mm256_load_ps(mold_a);
    const __m256 mnew = _mm256_max_ps(mold, mt);
    const __m256 cr = exp8(_mm256_sub_ps(mold, mnew));
    alignas(32) float mrow[8];
    _mm256_store_ps(mrow, mnew);
    for (int i = 0; i < 8; ++i) {
      __m256 acc = _mm256_setzero_ps();
      if (i < nr) {
        float* row = s + static_cast<std::size_t>(r0 + i) * lds;
        const __m256 vm = _mm256_set1_ps(mrow[i]);
        int t = 0;
        for (; t + 8 <= T; t += 8) {
          const __m256 p = exp8(_mm256_sub_ps(_mm256_loadu_ps(row + t), vm));
          _mm256_storeu_ps(row + t, p);
          acc = _mm256_add_ps(acc, p);
        }
        if (t < T) {
          const __m256i idx = _mm256_add_epi32(_mm256_set1_epi32(t), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
          const __m256i mk = _mm256_cmpgt_epi32(_mm256_set1_epi32(T), idx);
          const __m256 p = exp8(_mm256_sub_ps(load_scores(row, t, T), vm));
          _mm256_maskstore_ps(row + t, mk, p);
          acc = _mm256_add_ps(acc, p);
        }
      }
      part[i] = acc;
    }
    const __m256 sum = lane_totals8(part, [](__m256 a, __m256 b) { return _mm256_add_ps(a, b); });
    alignas(32) float cr_a[8], m_a[8], ln_a[8];
    _mm256_store_ps(cr_a, cr);
    _mm256_store_ps(m_a, mnew);
    _mm256_store_ps(ln_a, _mm256_fmadd_ps(_mm256_load_ps(l_a), cr, sum));
    for (int i = 0; i < nr; ++i) {
      corr[r0 + i] = cr_a[i];
      m[r0 + i] = m_a[i];
      l[r0 + i] = ln_a[i];
    }
  }
}

}  // namespace

const PrefillKernels& prefill_kernels_avx2() {
  static const PrefillKernels k{Path::Avx2, 6, gemm, softmax_rows};
  return k;
}

}  // namespace infeng::attn::detail
