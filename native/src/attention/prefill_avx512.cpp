// Tiled prefill, AVX-512: a 6-row × 64-column register tile (24 zmm accumulators, 4 B vectors,
// A as broadcasts), the shape of the GEMM lane's microkernels scaled to attention's 64-wide
// tiles. Narrow heads (head_dim 8) use the masked last vector.
#include <immintrin.h>

#include <algorithm>

#include "attention/prefill_kernels.h"

namespace infeng::attn::detail {
namespace {

template <int MR, int NV>
void tile(int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc, bool accumulate,
          __mmask16 last) {
  __m512 acc[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) {
      const __mmask16 mk = v == NV - 1 ? last : __mmask16(0xFFFF);
      acc[r][v] = accumulate ? _mm512_maskz_loadu_ps(mk, c + r * ldc + 16 * v) : _mm512_setzero_ps();
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
             bool accumulate, __mmask16 last) {
  constexpr int kMr = NV >= 3 ? 6 : 8;
  int r = 0;
  for (; r + kMr <= rows; r += kMr) tile<kMr, NV>(k, a + r * lda, lda, b, ldb, c + r * ldc, ldc, accumulate, last);
  for (; r < rows; ++r) tile<1, NV>(k, a + r * lda, lda, b, ldb, c + r * ldc, ldc, accumulate, last);
}

void gemm(int rows, int n, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc,
          bool accumulate) {
  const __mmask16 last = n % 16 ? __mmask16(0x00FF) : __mmask16(0xFFFF);
  switch ((n + 15) / 16) {
    case 1: rows_of<1>(rows, k, a, lda, b, ldb, c, ldc, accumulate, last); break;
    case 2: rows_of<2>(rows, k, a, lda, b, ldb, c, ldc, accumulate, last); break;
    case 3: rows_of<3>(rows, k, a, lda, b, ldb, c, ldc, accumulate, last); break;
    default: rows_of<4>(rows, k, a, lda, b, ldb, c, ldc, accumulate, last); break;
  }
}

}  // namespace

const PrefillKernels& prefill_kernels_avx512() {
  static const PrefillKernels k{Path::Avx512, 6, gemm};
  return k;
}

}  // namespace infeng::attn::detail
