// The oracle: straightforward loops on unpacked operands with double accumulation, so its
// own rounding error is negligible next to the float kernels it checks.
#include <cstddef>
#include <vector>

#include "infeng/gemm.h"

namespace infeng::gemm {

void reference_matmul(const float* x, int M, int ldx, const float* W, int ldw, int K, int N,
                      float* y, int ldy) {
  std::vector<double> row(static_cast<std::size_t>(N > 0 ? N : 0));
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < N; ++j) row[j] = 0.0;
    const float* xi = x + static_cast<std::size_t>(i) * ldx;
    for (int k = 0; k < K; ++k) {
      const double a = xi[k];
      const float* wk = W + static_cast<std::size_t>(k) * ldw;
      for (int j = 0; j < N; ++j) row[j] += a * wk[j];
    }
    float* yi = y + static_cast<std::size_t>(i) * ldy;
    for (int j = 0; j < N; ++j) yi[j] = static_cast<float>(row[j]);
  }
}

void reference_lora(const float* x, int M, int ldx, const float* W, int ldw, const float* A,
                    int lda, const float* B, int ldb, int K, int N, int rank, float scale, float* y,
                    int ldy) {
  std::vector<double> row(static_cast<std::size_t>(N > 0 ? N : 0));
  std::vector<double> t(static_cast<std::size_t>(rank > 0 ? rank : 0));
  for (int i = 0; i < M; ++i) {
    const float* xi = x + static_cast<std::size_t>(i) * ldx;
    for (int j = 0; j < N; ++j) row[j] = 0.0;
    for (int q = 0; q < rank; ++q) t[q] = 0.0;
    for (int k = 0; k < K; ++k) {
      const double a = xi[k];
      const float* wk = W + static_cast<std::size_t>(k) * ldw;
      for (int j = 0; j < N; ++j) row[j] += a * wk[j];
      const float* ak = A + static_cast<std::size_t>(k) * lda;
      for (int q = 0; q < rank; ++q) t[q] += a * ak[q];
    }
    for (int q = 0; q < rank; ++q) {
      const double s = static_cast<double>(scale) * t[q];
      const float* bq = B + static_cast<std::size_t>(q) * ldb;
      for (int j = 0; j < N; ++j) row[j] += s * bq[j];
    }
    float* yi = y + static_cast<std::size_t>(i) * ldy;
    for (int j = 0; j < N; ++j) yi[j] = static_cast<float>(row[j]);
  }
}

}  // namespace infeng::gemm
