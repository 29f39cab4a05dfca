// The per-ISA piece of tiled prefill: a register-tile matrix product used for both halves of
// a tile step, S = Q·Kᵀ (K packed transposed) and O += P·V (V read in place). The online
// softmax between them is decode's softmax_tile (decode_kernels.h), row = query.
#pragma once
#include "attention/decode_kernels.h"

namespace infeng::attn::detail {

struct PrefillKernels {
  Path path = Path::Scalar;
  int mr = 1;  // rows per register tile
  // C[rows][n] = (accumulate ? C : 0) + A[rows][k]·B[k][n]; rows ≤ 64, n ≤ 64 and a multiple
  // of 8; row-major with leading dimensions lda, ldb, ldc.
  void (*gemm)(int rows, int n, int k, const float* a, int lda, const float* b, int ldb, float* c,
               int ldc, bool accumulate);
};

const PrefillKernels& prefill_kernels_scalar();
#if INFENG_HAVE_AVX2
const PrefillKernels& prefill_kernels_avx2();
#endif
#if INFENG_HAVE_AVX512
const PrefillKernels& prefill_kernels_avx512();
#endif

const DecodeKernels& decode_kernels_for(Path p, bool want_vnni);

}  // namespace infeng::attn::detail
