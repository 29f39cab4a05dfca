// Tiled prefill, portable C++: the fallback register tile (4 rows) for both matrix products.
#include "attention/prefill_kernels.h"

namespace infeng::attn::detail {
namespace {

void gemm(int rows, int n, int k, const float* a, int lda, const float* b, int ldb, float* c,
          int ldc, bool accumulate, const float* scale) {
  for (int r = 0; r < rows; ++r) {
    float acc[64];
    const float sr = scale ? scale[r] : 1.0f;
    for (int j = 0; j < n; ++j) acc[j] = accumulate ? sr * c[r * ldc + j] : 0.0f;
    for (int x = 0; x < k; ++x) {
      const float av = a[r * lda + x];
      const float* br = b + static_cast<long>(x) * ldb;
      for (int j = 0; j < n; ++j) acc[j] += av * br[j];
    }
    for (int j = 0; j < n; ++j) c[r * ldc + j] = acc[j];
  }
}

}  // namespace

const PrefillKernels& prefill_kernels_scalar() {
  static const PrefillKernels k{Path::Scalar, 1, gemm};
  return k;
}

}  // namespace infeng::attn::detail
