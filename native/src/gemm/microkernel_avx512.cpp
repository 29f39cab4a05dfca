// AVX-512 microkernels. Main tile 14×32: 28 zmm accumulators + 2 for the B row, the A value
// is an embedded broadcast operand of the FMA, so the tile fits the 32 zmm registers with no
// spills; per k it is 28 FMAs against 2 vector loads + 14 broadcasts, enough independent FMAs
// (28 > 2 ports × 4 cycles latency) to keep both FMA ports busy.
#include <immintrin.h>

#include <utility>

#include "gemm/microkernels.h"

namespace infeng::gemm::detail {
namespace {

constexpr int kVw = kGeomAvx512.vw;
constexpr int kMr = kGeomAvx512.mr;
constexpr int kNv = kGeomAvx512.nr / kGeomAvx512.vw;
// Decode streams B from memory once. Prefetching a fixed number of bytes ahead (not rows:
// a 16-wide LoRA A panel has 64-byte rows, a W panel 128-byte rows) covers the memory
// latency at the rate one core consumes B; 24 rows of a 16-wide panel (1.5 KiB) was too
// short for x·A streamed from DRAM.
constexpr int kStreamAheadFloats = 768;  // 3 KiB

enum : int { kPlain, kStream, kAhead };

template <int M, int NV, int MODE>
[[gnu::always_inline]] inline void run_k(__m512 (&acc)[M][NV], int kc, const float* a,
                                         const float* b, int ldb, const char* pf = nullptr,
                                         int pf_step = 0) {
#pragma clang loop unroll_count(2)
  for (int k = 0; k < kc; ++k) {
    if constexpr (MODE == kAhead) {
      _mm_prefetch(pf + static_cast<std::ptrdiff_t>(k) * pf_step, _MM_HINT_T0);
    }
    if constexpr (MODE == kStream) {
      for (int v = 0; v < NV; ++v) {
        _mm_prefetch(reinterpret_cast<const char*>(b + kStreamAheadFloats + v * kVw),
                     _MM_HINT_T0);
      }
    }
    __m512 bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_loadu_ps(b + v * kVw);
    for (int i = 0; i < M; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
    a += M;
    b += ldb;
  }
}

template <int M, int NV, int MODE>
void uk(const UkArgs& p) {
  __m512 acc[M][NV];
  for (int i = 0; i < M; ++i)
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  run_k<M, NV, MODE>(acc, p.kc, p.a, p.b, p.ldb, p.pf, p.pf_step);
  if (p.kc2 > 0) run_k<M, NV, kPlain>(acc, p.kc2, p.a2, p.b2, p.ldb);

  float* c = p.c;
  const std::ptrdiff_t ldc = p.ldc;
  if (p.n == NV * kVw) {
    if (p.accumulate) {
      for (int i = 0; i < M; ++i)
        for (int v = 0; v < NV; ++v)
          _mm512_storeu_ps(c + i * ldc + v * kVw,
                           _mm512_add_ps(acc[i][v], _mm512_loadu_ps(c + i * ldc + v * kVw)));
    } else {
      for (int i = 0; i < M; ++i)
        for (int v = 0; v < NV; ++v) _mm512_storeu_ps(c + i * ldc + v * kVw, acc[i][v]);
    }
    return;
  }
  // Ragged right edge: the panel is zero-padded, only the stores need masking.
  for (int v = 0; v < NV; ++v) {
    const int valid = p.n - v * kVw;
    if (valid <= 0) break;
    const __mmask16 m = valid >= kVw ? __mmask16(0xffff) : __mmask16((1u << valid) - 1u);
    for (int i = 0; i < M; ++i) {
      float* ci = c + i * ldc + v * kVw;
      __m512 r = acc[i][v];
      if (p.accumulate) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, ci));
      _mm512_mask_storeu_ps(ci, m, r);
    }
  }
}

template <int M>
void fill_row(KernelSet& s) {
  s.uk[M][1] = &uk<M, 1, kPlain>;
  s.uk[M][2] = &uk<M, 2, kPlain>;
  s.uk_stream[M][1] = &uk<M, 1, kStream>;
  s.uk_stream[M][2] = &uk<M, 2, kStream>;
  s.uk_ahead[M][1] = &uk<M, 1, kAhead>;
  s.uk_ahead[M][2] = &uk<M, 2, kAhead>;
}

template <int... Ms>
void fill(KernelSet& s, std::integer_sequence<int, Ms...>) {
  (fill_row<Ms + 1>(s), ...);
}

}  // namespace

void ukernel_avx512_14x32(const UkArgs& p) { uk<kMr, kNv, kPlain>(p); }

const KernelSet& kernels_avx512() {
  static const KernelSet s = [] {
    KernelSet k;
    k.path = Path::Avx512;
    k.g = kGeomAvx512;
    fill(k, std::make_integer_sequence<int, kMr>{});
    return k;
  }();
  return s;
}

}  // namespace infeng::gemm::detail
