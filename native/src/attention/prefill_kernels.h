// The per-ISA piece of tiled prefill: a register-tile matrix product used for both halves of
// a tile step, S = Q·Kᵀ (K packed transposed) and O += P·V (V read in place). The online
// softmax between them is decode's softmax_tile (decode_kernels.h), row = query.
#pragma once
#include "attention/decode_kernels.h"

namespace infeng::attn::detail {

struct PrefillKernels {
  Path path = Path::Scalar;
  int mr = 1;  // rows per register tile
  // C[rows][n] = (accumulate ? scale[r]·C : 0) + A[rows][k]·B[k][n] (no scaling when scale
  // is null); n ≤ 64 and a multiple of 8; row-major with leading dimensions lda, ldb, ldc.
  // The scale is the online softmax's correction of O, applied as C is loaded instead of in
  // a pass of its own over O.
  void (*gemm)(int rows, int n, int k, const float* a, int lda, const float* b, int ldb, float* c,
               int ldc, bool accumulate, const float* scale);
  // The online softmax over the rows of a score tile, with decode's softmax_tile's contract
  // (row = query); null: use the path's softmax_tile.
  void (*softmax)(float* s, int lds, int rows, int T, float* m, float* l, float* corr) = nullptr;
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
