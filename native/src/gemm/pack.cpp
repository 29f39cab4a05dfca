#include "gemm/pack.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "infeng/gemm.h"

namespace infeng::gemm {

void AlignedDeleter::operator()(float* p) const noexcept { std::free(p); }

AlignedBuffer aligned_floats(std::size_t count) {
  const std::size_t bytes = (count == 0 ? 1 : count) * sizeof(float);
  // Large buffers (packed weights) go on 2 MiB boundaries and ask for huge pages: a decode
  // pass streams the whole buffer, and 4 KiB pages would cost a TLB miss every 4 KiB.
  constexpr std::size_t kHuge = std::size_t{2} << 20;
  const std::size_t align = bytes >= kHuge ? kHuge : 64;
  const std::size_t rounded = (bytes + align - 1) / align * align;
  void* p = std::aligned_alloc(align, rounded);
  if (p == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  if (align == kHuge) madvise(p, rounded, MADV_HUGEPAGE);
#endif
  return AlignedBuffer(static_cast<float*>(p));
}

namespace detail {

std::size_t packed_floats(int K, int N, const Geometry& g) {
  if (K <= 0 || N <= 0) return 0;
  PanelView v;
  v.K = K;
  v.N = N;
  v.nr = g.nr;
  v.vw = g.vw;
  const int np = v.panels();
  return static_cast<std::size_t>(np - 1) * K * g.nr + static_cast<std::size_t>(K) * v.width(np - 1);
}

void pack_panels(const float* src, int ld, int K, int N, const Geometry& g, float* dst) {
  PanelView v;
  v.K = K;
  v.N = N;
  v.nr = g.nr;
  v.vw = g.vw;
  for (int j = 0; j < v.panels(); ++j) {
    const int w = v.width(j);
    const int valid = N - j * g.nr < w ? N - j * g.nr : w;
    float* d = dst + static_cast<std::size_t>(j) * K * g.nr;
    const float* s = src + static_cast<std::size_t>(j) * g.nr;
    for (int k = 0; k < K; ++k) {
      std::memcpy(d, s + static_cast<std::size_t>(k) * ld, sizeof(float) * valid);
      for (int c = valid; c < w; ++c) d[c] = 0.0f;
      d += w;
    }
  }
}

void pack_a(const float* x, int ldx, int m, int kc, float* dst) {
  // Four k at a time so each source row is read in 16-byte pieces; the writes are sequential.
  int k = 0;
  for (; k + 4 <= kc; k += 4) {
    for (int i = 0; i < m; ++i) {
      const float* s = x + static_cast<std::size_t>(i) * ldx + k;
      dst[(k + 0) * m + i] = s[0];
      dst[(k + 1) * m + i] = s[1];
      dst[(k + 2) * m + i] = s[2];
      dst[(k + 3) * m + i] = s[3];
    }
  }
  for (; k < kc; ++k)
    for (int i = 0; i < m; ++i) dst[k * m + i] = x[static_cast<std::size_t>(i) * ldx + k];
}

}  // namespace detail

namespace {

void check_dims(int K, int N, const char* what) {
  if (K < 0 || N < 0) {
    throw std::invalid_argument(std::string(what) + ": negative dimension K=" +
                                std::to_string(K) + " N=" + std::to_string(N));
  }
}

}  // namespace

PackedWeights pack_weights(const float* W, int K, int N, int ldw, Path path) {
  check_dims(K, N, "pack_weights");
  if (ldw < N) throw std::invalid_argument("pack_weights: ldw < N");
  if (!path_compiled(path)) {
    throw std::runtime_error(std::string("pack_weights: path '") + path_name(path) +
                             "' is not compiled into this build");
  }
  const detail::Geometry g = detail::geometry(path);
  PackedWeights p;
  p.K = K;
  p.N = N;
  p.path = path;
  p.nr = g.nr;
  p.kc = g.kc;
  p.floats = detail::packed_floats(K, N, g);
  p.data = aligned_floats(p.floats);
  if (p.floats > 0) detail::pack_panels(W, ldw, K, N, g, p.data.get());
  return p;
}

PackedLora pack_lora(const float* A, int lda, const float* B, int ldb, int K, int N, int rank,
                     float scale, Path path) {
  check_dims(K, N, "pack_lora");
  if (rank <= 0) throw std::invalid_argument("pack_lora: rank must be positive");
  if (lda < rank || ldb < N) throw std::invalid_argument("pack_lora: lda < rank or ldb < N");
  if (!path_compiled(path)) {
    throw std::runtime_error(std::string("pack_lora: path '") + path_name(path) +
                             "' is not compiled into this build");
  }
  const detail::Geometry g = detail::geometry(path);
  PackedLora L;
  L.K = K;
  L.N = N;
  L.rank = rank;
  L.scale = scale;
  L.path = path;
  // A (K×rank) in the weight layout: x·A runs through the same microkernels.
  const std::size_t fa = detail::packed_floats(K, rank, g);
  // B (rank×N) in the weight layout, so panel j of B lines up with panel j of W and the
  // epilogue can run as extra k iterations of the same tile.
  const std::size_t fb = detail::packed_floats(rank, N, g);
  L.a = aligned_floats(fa);
  L.b = aligned_floats(fb);
  if (fa > 0) detail::pack_panels(A, lda, K, rank, g, L.a.get());
  if (fb > 0) detail::pack_panels(B, ldb, rank, N, g, L.b.get());
  L.bytes = (fa + fb) * sizeof(float);
  return L;
}

}  // namespace infeng::gemm
