// Register-tile microkernels, one family per ISA, and the tables the driver picks them from.
// Each ISA lives in its own translation unit compiled with that ISA's flags; nothing here
// may be inlined into code compiled without them.
//
// Operand layouts (owned by pack.cpp / the driver):
//  - A (activations), packed per row block of m rows: a[k*m + i], k = 0..kc-1, i = 0..m-1.
//  - B (weights), packed per column panel of width w (a multiple of the vector width, ≤ NR):
//    b[k*ldb + j], with ldb = w, zero in the columns past N.
//  - C: row-major, leading dimension ldc; only the first n columns of the tile are touched.
#pragma once
#include <cstddef>

#include "infeng/dispatch.h"

namespace infeng::gemm::detail {

inline constexpr int kMaxMr = 16;  // rows of the largest tile over all ISAs
inline constexpr int kMaxNv = 4;   // vectors per row of the widest tile

// Tile geometry per ISA, known without touching ISA code (packing for a path must work, and
// its errors must be reportable, on a CPU that cannot run that path).
struct Geometry {
  int mr;  // rows of the main tile
  int nr;  // columns of the main tile = packed panel width
  int vw;  // floats per vector; panel widths are multiples of it
  int kc;  // K block depth for prefill: a kc×nr B sliver stays in L1 across the row blocks
};
inline constexpr Geometry kGeomScalar{4, 16, 8, 256};
inline constexpr Geometry kGeomAvx2{6, 16, 8, 256};
inline constexpr Geometry kGeomAvx512{14, 32, 16, 256};
Geometry geometry(Path p);

struct UkArgs {
  int kc = 0;
  const float* a = nullptr;
  const float* b = nullptr;
  int ldb = 0;
  // Optional second product accumulated into the same registers before the store: the LoRA
  // epilogue (scale·T)·B_lora. kc2 = 0 disables it. a2 has the A layout with m rows, b2 the
  // B layout with the same ldb.
  int kc2 = 0;
  const float* a2 = nullptr;
  const float* b2 = nullptr;
  float* c = nullptr;
  std::ptrdiff_t ldc = 0;
  int n = 0;            // valid columns, 1..nv*vw
  bool accumulate = false;  // C += A·B, else C = A·B
  // uk_ahead only: prefetch (into L1) the line at pf + k*pf_step at step k. The driver points
  // it at the B sliver the next call(s) will need, split across the calls of this sliver.
  const char* pf = nullptr;
  int pf_step = 0;
};

using Ukernel = void (*)(const UkArgs&);

struct KernelSet {
  Path path = Path::Scalar;
  Geometry g{};
  // uk[m][nv]: tile of m rows × nv vectors, for every m ≤ mr and nv ≤ nr/vw. uk_stream
  // prefetches its own B a fixed distance ahead (B read once from memory: decode, one row
  // block); uk_ahead prefetches the range UkArgs::pf names (the next sliver).
  Ukernel uk[kMaxMr + 1][kMaxNv + 1] = {};
  Ukernel uk_stream[kMaxMr + 1][kMaxNv + 1] = {};
  Ukernel uk_ahead[kMaxMr + 1][kMaxNv + 1] = {};
};

const KernelSet& kernels_scalar();
void ukernel_scalar_4x16(const UkArgs&);
#if INFENG_HAVE_AVX2
const KernelSet& kernels_avx2();
void ukernel_avx2_6x16(const UkArgs&);
#endif
#if INFENG_HAVE_AVX512
const KernelSet& kernels_avx512();
void ukernel_avx512_14x32(const UkArgs&);
#endif

// The set for a path; throws unless the path is compiled in and supported here (the sets
// are built by code of that ISA).
const KernelSet& kernels_for(Path p);

}  // namespace infeng::gemm::detail
