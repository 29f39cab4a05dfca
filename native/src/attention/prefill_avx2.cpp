// Tiled prefill, AVX2 + FMA: a 6-row × 16-column register tile (12 ymm accumulators), run over
// the tile's columns 16 (or a last 8) at a time.
#include <immintrin.h>

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

// The rows past the last full 6 in one tile of their own: one row at a time kept only NV
// independent FMA chains, a quarter of what hides the FMA latency (64 query rows are 10 tiles
// of 6 and 4 left over).
template <int NV>
void rows_of(int rows, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc,
             bool accumulate, const float* scale) {
  int r = 0;
  for (; r + 6 <= rows; r += 6)
    tile<6, NV>(k, a + r * lda, lda, b, ldb, c + r * ldc, ldc, accumulate, scale ? scale + r : nullptr);
  const float* sr = scale ? scale + r : nullptr;
  switch (rows - r) {
    case 5: tile<5, NV>(k, a + r * lda, lda, b, ldb, c + r * ldc, ldc, accumulate, sr); break;
    case 4: tile<4, NV>(k, a + r * lda, lda, b, ldb, c + r * ldc, ldc, accumulate, sr); break;
    case 3: tile<3, NV>(k, a + r * lda, lda, b, ldb, c + r * ldc, ldc, accumulate, sr); break;
    case 2: tile<2, NV>(k, a + r * lda, lda, b, ldb, c + r * ldc, ldc, accumulate, sr); break;
    case 1: tile<1, NV>(k, a + r * lda, lda, b, ldb, c + r * ldc, ldc, accumulate, sr); break;
    default: break;
  }
}

void gemm(int rows, int n, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc,
          bool accumulate, const float* scale) {
  int j = 0;
  for (; j + 16 <= n; j += 16) rows_of<2>(rows, k, a, lda, b + j, ldb, c + j, ldc, accumulate, scale);
  if (j < n) rows_of<1>(rows, k, a, lda, b + j, ldb, c + j, ldc, accumulate, scale);
}

}  // namespace

const PrefillKernels& prefill_kernels_avx2() {
  static const PrefillKernels k{Path::Avx2, 6, gemm};
  return k;
}

}  // namespace infeng::attn::detail
