// Portable microkernels: plain loops over a 4×16 tile, the fallback on any x86-64 (and the
// path the other ISAs are tested against in the driver's layout). The compiler may use SSE2.
#include <utility>

#include "gemm/microkernels.h"

namespace infeng::gemm::detail {
namespace {

constexpr int kVw = kGeomScalar.vw;
constexpr int kMr = kGeomScalar.mr;
constexpr int kNv = kGeomScalar.nr / kGeomScalar.vw;

template <int M, int NV>
void uk(const UkArgs& p) {
  constexpr int W = NV * kVw;
  float acc[M][W] = {};
  auto run = [&](int kc, const float* a, const float* b) {
    for (int k = 0; k < kc; ++k) {
      for (int i = 0; i < M; ++i) {
        const float ai = a[k * M + i];
        for (int j = 0; j < W; ++j) acc[i][j] += ai * b[j];
      }
      b += p.ldb;
    }
  };
  run(p.kc, p.a, p.b);
  if (p.kc2 > 0) run(p.kc2, p.a2, p.b2);
  for (int i = 0; i < M; ++i) {
    float* c = p.c + i * p.ldc;
    if (p.accumulate) {
      for (int j = 0; j < p.n; ++j) c[j] += acc[i][j];
    } else {
      for (int j = 0; j < p.n; ++j) c[j] = acc[i][j];
    }
  }
}

template <int M, int NV>
void fill_row(KernelSet& s) {
  s.uk[M][NV] = &uk<M, NV>;
  s.uk_stream[M][NV] = &uk<M, NV>;
  s.uk_ahead[M][NV] = &uk<M, NV>;
}

template <int... Ms>
void fill(KernelSet& s, std::integer_sequence<int, Ms...>) {
  (fill_row<Ms + 1, 1>(s), ...);
  (fill_row<Ms + 1, 2>(s), ...);
}

}  // namespace

void ukernel_scalar_4x16(const UkArgs& p) { uk<kMr, kNv>(p); }

const KernelSet& kernels_scalar() {
  static const KernelSet s = [] {
    KernelSet k;
    k.path = Path::Scalar;
    k.g = kGeomScalar;
    fill(k, std::make_integer_sequence<int, kMr>{});
    return k;
  }();
  return s;
}

}  // namespace infeng::gemm::detail
