// AVX2+FMA microkernels. Main tile 6×16: 12 ymm accumulators, 2 for the B row and 1 for the
// broadcast A value = 15 of the 16 ymm registers; 12 independent FMAs per k cover the
// 2 ports × 4-5 cycles FMA latency.
#include <immintrin.h>

#include <utility>

#include "gemm/microkernels.h"

namespace infeng::gemm::detail {
namespace {

constexpr int kVw = kGeomAvx2.vw;
constexpr int kMr = kGeomAvx2.mr;
constexpr int kNv = kGeomAvx2.nr / kGeomAvx2.vw;
constexpr int kStreamAheadFloats = 768;  // 3 KiB ahead, see the AVX-512 file

enum : int { kPlain, kStream, kAhead };

template <int M, int NV, int MODE>
[[gnu::always_inline]] inline void run_k(__m256 (&acc)[M][NV], int kc, const float* a,
                                         const float* b, int ldb, const char* pf = nullptr,
                                         int pf_step = 0) {
#pragma clang loop unroll_count(2)
  for (int k = 0; k < kc; ++k) {
    if constexpr (MODE == kAhead) {
      _mm_prefetch(pf + static_cast<std::ptrdiff_t>(k) * pf_step, _MM_HINT_T0);
    }
    if constexpr (MODE == kStream) {
      // one 64-byte line per 16-float row; every other k for an 8-wide panel (re-prefetching
      // a line already on its way is cheap)
      _mm_prefetch(reinterpret_cast<const char*>(b + kStreamAheadFloats), _MM_HINT_T0);
    }
    __m256 bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = _mm256_loadu_ps(b + v * kVw);
    for (int i = 0; i < M; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
    }
    a += M;
    b += ldb;
  }
}

template <int M, int NV, int MODE>
void uk(const UkArgs& p) {
  __m256 acc[M][NV];
  for (int i = 0; i < M; ++i)
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_setzero_ps();
  run_k<M, NV, MODE>(acc, p.kc, p.a, p.b, p.ldb, p.pf, p.pf_step);
  if (p.kc2 > 0) run_k<M, NV, kPlain>(acc, p.kc2, p.a2, p.b2, p.ldb);

  float* c = p.c;
  const std::ptrdiff_t ldc = p.ldc;
  if (p.n == NV * kVw) {
    if (p.accumulate) {
      for (int i = 0; i < M; ++i)
        for (int v = 0; v < NV; ++v)
          _mm256_storeu_ps(c + i * ldc + v * kVw,
                           _mm256_add_ps(acc[i][v], _mm256_loadu_ps(c + i * ldc + v * kVw)));
    } else {
      for (int i = 0; i < M; ++i)
        for (int v = 0; v < NV; ++v) _mm256_storeu_ps(c + i * ldc + v * kVw, acc[i][v]);
    }
    return;
  }
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int v = 0; v < NV; ++v) {
    const int valid = p.n - v * kVw;
    if (valid <= 0) break;
    const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), lanes);
    for (int i = 0; i < M; ++i) {
      float* ci = c + i * ldc + v * kVw;
      __m256 r = acc[i][v];
      if (p.accumulate) r = _mm256_add_ps(r, _mm256_maskload_ps(ci, m));
      _mm256_maskstore_ps(ci, m, r);
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

void ukernel_avx2_6x16(const UkArgs& p) { uk<kMr, kNv, kPlain>(p); }

const KernelSet& kernels_avx2() {
  static const KernelSet s = [] {
    KernelSet k;
    k.path = Path::Avx2;
    k.g = kGeomAvx2;
    fill(k, std::make_integer_sequence<int, kMr>{});
    return k;
  }();
  return s;
}

}  // namespace infeng::gemm::detail
