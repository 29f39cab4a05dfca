// Tiled causal prefill attention (FlashAttention-style, on CPU): no n×n score matrix, FP32.
//
// DESIGN
//
// Work item = (KV head, query tile of B positions). Its rows are the B·G (position, query
// head) pairs of that KV head, so the G heads of a group share every K/V tile they load: the
// packed query block Q̂ is (B·G)×D. For each key tile j ≤ the query tile (B keys): K̂ᵀ is
// packed D×B once per item and tile, S = Q̂·K̂ᵀ ((B·G)×B, L2-resident), the causal mask on the
// diagonal tile, the online softmax over the rows (the path's own, or decode's softmax_tile),
// O = corr·O + P·V with V read in place and corr applied as O is loaded. Both products go
// through one register-tile kernel per ISA (prefill_kernels.h).
// Tiles are aligned and square, so every query row of a diagonal tile sees ≥ 1 unmasked key.
// Threads take items round-robin in query-tile order, which balances the triangle.
// Scratch per thread: Q̂, O and S ((B·G)×(2D+B) floats) plus K̂ᵀ (D×B): independent of n,
// against the reference's n² per thread.
//
// Measurements and the profile of the tiled kernel: docs/MEASUREMENTS.md ("Prefill attention").
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "attention/prefill_kernels.h"
#include "common/thread_pool.h"
#include "infeng/attention.h"

namespace infeng::attn {
namespace {

using detail::PrefillKernels;

const PrefillKernels& prefill_kernels_for(Path p) {
  (void)resolve_path(path_name(p));
  switch (p) {
    case Path::Scalar:
      return detail::prefill_kernels_scalar();
    case Path::Avx2:
#if INFENG_HAVE_AVX2
      return detail::prefill_kernels_avx2();
#else
      break;
#endif
    case Path::Avx512:
#if INFENG_HAVE_AVX512
      return detail::prefill_kernels_avx512();
#else
      break;
#endif
  }
  throw std::runtime_error(std::string("no prefill kernels for path '") + path_name(p) + "'");
}

constexpr int kDefaultTile = 64;

struct Scratch {
  std::vector<float> qh, o, s, kt, m, l, corr;
};
thread_local Scratch t_scratch;

}  // namespace

PrefillInfo prefill_tiled(const Shape& s, const float* q, const float* k, const float* v, int n,
                          float* out, const PrefillOptions& opt) {
  validate(s);
  if (n < 1) throw std::out_of_range("prefill: sequence length must be at least 1");
  if (opt.tile < 0 || opt.tile % 16 != 0 || opt.tile > 256) {
    throw std::invalid_argument("prefill tile " + std::to_string(opt.tile) +
                                " is not a multiple of 16 in [16, 256] (0: heuristic)");
  }
  const Path path = opt.path ? *opt.path : active_path();
  const PrefillKernels& pk = prefill_kernels_for(path);
  const detail::DecodeKernels& dk = detail::decode_kernels_for(path, false);
  const int B = opt.tile > 0 ? opt.tile : kDefaultTile;
  const int G = s.group(), D = s.head_dim, Hq = s.n_q_heads, Hk = s.n_kv_heads;
  const int R = B * G;
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const int qtiles = (n + B - 1) / B;
  const int items = qtiles * Hk;
  const int nt = std::max(1, std::min(opt.threads > 0 ? opt.threads : ThreadPool::hardware_threads(), items));
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();

  ThreadPool::instance().run(nt, [&](int tid, int nthreads) {
    Scratch& sc = t_scratch;
    sc.qh.resize(static_cast<std::size_t>(R) * D);
    sc.o.resize(static_cast<std::size_t>(R) * D);
    sc.s.resize(static_cast<std::size_t>(R) * B);
    sc.kt.resize(static_cast<std::size_t>(D) * B);
    sc.m.resize(R);
    sc.l.resize(R);
    sc.corr.resize(R);
    for (int item = tid; item < items; item += nthreads) {
      const int qt = item / Hk, hk = item % Hk;
      const int i0 = qt * B, i1 = std::min(n, i0 + B);
      const int rows = (i1 - i0) * G;
      // Row r = (position − i0)·G + head within the group.
      for (int i = i0; i < i1; ++i)
        for (int g = 0; g < G; ++g) {
          const float* src = q + (static_cast<std::size_t>(i) * Hq + hk * G + g) * D;
          float* dst = sc.qh.data() + static_cast<std::size_t>((i - i0) * G + g) * D;
          for (int c = 0; c < D; ++c) dst[c] = src[c] * scale;
        }
      std::fill(sc.o.begin(), sc.o.begin() + static_cast<std::ptrdiff_t>(rows) * D, 0.0f);
      std::fill(sc.m.begin(), sc.m.begin() + rows, kNegInf);
      std::fill(sc.l.begin(), sc.l.begin() + rows, 0.0f);
      for (int j0 = 0; j0 < i1; j0 += B) {
        const int j1 = std::min(i1, j0 + B);
        const int kn = j1 - j0;
        const int ncols = (kn + 7) / 8 * 8;
        // Kᵀ of the tile, read a key row at a time: K's rows are Hk·D floats apart, so reading
        // a channel across keys touched a new cache line (and often a new page) every load;
        // that gather was ~85 % of the driver's own time. The stores stay in the L1-sized kt.
        for (int j = j0; j < j1; ++j) {
          const float* src = k + (static_cast<std::size_t>(j) * Hk + hk) * D;
          float* dst = sc.kt.data() + (j - j0);
          for (int c = 0; c < D; ++c) dst[static_cast<std::size_t>(c) * B] = src[c];
        }
        for (int c = 0; c < D; ++c)
          for (int j = kn; j < ncols; ++j) sc.kt[static_cast<std::size_t>(c) * B + j] = 0.0f;
        pk.gemm(rows, ncols, D, sc.qh.data(), D, sc.kt.data(), B, sc.s.data(), B, false, nullptr);
        if (j1 > i0) {  // the diagonal tile: key j is visible to query i only when j ≤ i
          for (int r = 0; r < rows; ++r) {
            const int i = i0 + r / G;
            float* row = sc.s.data() + static_cast<std::size_t>(r) * B;
            for (int j = std::max(j0, i + 1); j < j1; ++j) row[j - j0] = kNegInf;
          }
        }
        (pk.softmax ? pk.softmax : dk.softmax_tile)(sc.s.data(), B, rows, kn, sc.m.data(), sc.l.data(),
                                                    sc.corr.data());
        // O = corr·O + P·V, 64 columns of O per call (each call scales its own columns).
        for (int d0 = 0; d0 < D; d0 += 64) {
          pk.gemm(rows, std::min(64, D - d0), kn, sc.s.data(), B,
                  v + (static_cast<std::size_t>(j0) * Hk + hk) * D + d0, Hk * D, sc.o.data() + d0, D, true,
                  sc.corr.data());
        }
      }
      for (int r = 0; r < rows; ++r) {
        const int i = i0 + r / G, g = r % G;
        const float inv = 1.0f / sc.l[r];
        const float* orow = sc.o.data() + static_cast<std::size_t>(r) * D;
        float* dst = out + (static_cast<std::size_t>(i) * Hq + hk * G + g) * D;
        for (int c = 0; c < D; ++c) dst[c] = orow[c] * inv;
      }
    }
  });
  PrefillInfo info;
  info.path = pk.path;
  info.tile = B;
  info.scratch_bytes = sizeof(float) * static_cast<std::size_t>(nt) *
                       (static_cast<std::size_t>(R) * (2 * D + B + 3) + static_cast<std::size_t>(D) * B);
  return info;
}

}  // namespace infeng::attn
