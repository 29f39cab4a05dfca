// GEMM driver: blocking, packing of x, threading and LoRA fusion around the per-ISA
// microkernels (microkernels.h). No ISA code here: this file is built for baseline x86-64.
//
// DESIGN
//
// Layout. W is packed once per ISA path, panel-major: panel j = columns [j·NR, j·NR+NR) for
// all K rows, contiguous (pack.h). A prefill sliver (KC rows of one panel) and a decode
// thread's whole share (a run of panels) are both contiguous. NR = 32 on AVX-512 (2 zmm),
// 16 on AVX2 and scalar; a ragged last panel is narrowed to whole vectors and zero-padded.
//
// Microkernels (microkernels.h, one TU per ISA). AVX-512 14×32: 28 accumulators + 2 B
// vectors, A as embedded broadcasts; edge rows use the same template at m < 14, edge columns
// masked stores. Rows are split into near-equal blocks (128 → 8×13 + 2×12) so no block runs
// a 1-2 row tile at a fraction of the FMA rate.
//
// Prefill (M > 16). KC = 256: the 256×32 sliver (32 KiB) stays in the 48 KiB L1 while all
// row blocks of the chunk are multiplied against it; the packed x block (MC×KC, MC ≤ 1024,
// ≤ 1 MiB) sits in the 2 MiB L2. Per KC slab the threads pack disjoint row blocks of x,
// meet at one barrier (packed x is double-buffered, so no second barrier), then each thread
// sweeps its own contiguous range of panels. W is not re-streamed per thread. While a
// sliver is being reused, every microkernel call prefetches 1/blocks of the next panel's
// sliver (256 KiB+ away, beyond the hardware prefetcher's reach).
//
// Decode (M ≤ 16). Threads split the panels: each streams one contiguous distinct range of
// packed W, once, computing all M rows in that pass (M ≤ 14: one block, whole K in one call,
// B prefetched 3 KiB ahead; M = 15/16: two 8-row blocks over 128-deep slabs, the second
// finds the slab in L1, and both blocks prefetch halves of the next slab so memory stays
// busy throughout).
//
// Fused LoRA. The microkernel takes a second (a2, b2, kc2) product into the same registers
// before its store: y = [x, scale·T]·[W; B], so the low-rank term is added in the tile's
// epilogue and y is written once. Prefill: T = x·A (M×r) is accumulated slab by slab by
// the thread that packs those rows, from the packed x block while it is hot in L1/L2, with
// the same microkernels (A packed like W, r padded to whole vectors); on the last slab the
// packer turns scale·T into the packed a2 operand. B is packed like W (rank rows), so panel
// j of B lines up with panel j of W. Decode: each thread forms T itself before streaming,
// and adds (scale·T)·B to its y block right after its W range has streamed (y block still
// in L2, B_lora read as one run): putting cold B_lora reads inside the W stream cost
// 14-17 % at M=16 (see below), so decode trades "y written once" for no memory traffic.
// Unfused: three driver runs (x·W; x·A; y += (scale·t)·B), each streaming its operands.
//
// Threads: a persistent pool (common/thread_pool.h); the caller is thread 0; workers spin
// ~65k pauses before parking, so back-to-back calls do not pay a futex wake.
//
// Measurements and what was tried and dropped: docs/MEASUREMENTS.md ("GEMM").
#include <xmmintrin.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/thread_pool.h"
#include "gemm/microkernels.h"
#include "gemm/pack.h"
#include "infeng/gemm.h"

namespace infeng::gemm {

namespace detail {

Geometry geometry(Path p) {
  switch (p) {
    case Path::Scalar:
      return kGeomScalar;
    case Path::Avx2:
      return kGeomAvx2;
    case Path::Avx512:
      return kGeomAvx512;
  }
  throw std::invalid_argument("geometry: unknown path");
}

const KernelSet& kernels_for(Path p) {
  // resolve_path throws with the reason (not compiled / CPU / OS) when p cannot run here.
  (void)resolve_path(path_name(p));
  switch (p) {
    case Path::Scalar:
      return kernels_scalar();
    case Path::Avx2:
#if INFENG_HAVE_AVX2
      return kernels_avx2();
#else
      break;
#endif
    case Path::Avx512:
#if INFENG_HAVE_AVX512
      return kernels_avx512();
#else
      break;
#endif
  }
  throw std::runtime_error(std::string("no kernels for path '") + path_name(p) + "'");
}

}  // namespace detail

namespace {

using detail::Geometry;
using detail::KernelSet;
using detail::PanelView;
using detail::UkArgs;

std::atomic<int> g_last_path{-1};
std::atomic<std::uint64_t> g_calls[kPathCount];

// Rows of x packed per outer chunk in prefill; the packed kc×MC block must sit in L2.
constexpr int kMaxMc = 1024;
// Decode with several row blocks walks W in slabs this deep: the slab being reused and the
// next one being prefetched (2 × 16 KiB for a 32-wide panel) both fit the 48 KiB L1.
constexpr int kDecodeKc = 128;

// Grow-only scratch, one per thread: avoids a malloc/free (often mmap/munmap for these
// sizes) on every call.
struct Scratch {
  AlignedBuffer buf;
  std::size_t cap = 0;
  float* get(std::size_t n) {
    if (n > cap) {
      buf = aligned_floats(n);
      cap = n;
    }
    return buf.get();
  }
};
thread_local Scratch t_shared;   // buffers the calling thread shares with the workers
thread_local Scratch t_private;  // a thread's own packed x (decode)

// Splitting `count` items as evenly as possible into `parts`: the start of part p.
inline int split(int count, int parts, int p) {
  return static_cast<int>(static_cast<long long>(count) * p / parts);
}

// Row blocks of near-equal height ≤ mr: 128 rows with mr=14 become 8×13 + 2×12 rather than
// 9×14 + 1×2, whose 2-row tile runs at a fraction of the FMA rate.
struct RowBlocks {
  int M = 0, count = 0, base = 0, extra = 0;
  RowBlocks(int m, int mr) : M(m) {
    count = (m + mr - 1) / mr;
    base = count ? m / count : 0;
    extra = count ? m % count : 0;
  }
  int start(int b) const { return b * base + std::min(b, extra); }
  int rows(int b) const { return base + (b < extra ? 1 : 0); }
};

struct Problem {
  const KernelSet* ks = nullptr;
  const float* x = nullptr;
  int M = 0, ldx = 0, K = 0, N = 0;
  PanelView w;
  float* y = nullptr;
  int ldy = 0;
  bool acc_y = false;  // y += x·W instead of y = x·W
  // Fused LoRA: y += scale·(x·A)·B in the tile epilogue.
  bool lora = false;
  PanelView la;  // K × rank
  PanelView lb;  // rank × N, panels aligned with w's
  int rank = 0;
  float scale = 1.0f;
};

// T columns are padded to whole A panels.
inline int t_stride(const Problem& p) { return p.la.panels() * p.la.nr; }

// T(m×rank) += x_block·A for one K range, written into T at ldT.
void lora_t_block(const Problem& p, const float* apack, int m, int k0, int kc, float* T,
                  int ldT, bool accumulate, bool stream = false) {
  const KernelSet& ks = *p.ks;
  for (int ja = 0; ja < p.la.panels(); ++ja) {
    const int wa = p.la.width(ja);
    UkArgs u;
    u.kc = kc;
    u.a = apack;
    u.b = p.la.panel(ja) + static_cast<std::size_t>(k0) * wa;
    u.ldb = wa;
    u.c = T + ja * p.la.nr;
    u.ldc = ldT;
    u.n = wa;
    u.accumulate = accumulate;
    (stream ? ks.uk_stream : ks.uk)[m][wa / ks.g.vw](u);
  }
}

// scale·T rows → the packed A layout the epilogue reads (k-major, m rows interleaved).
void pack_t(const float* T, int ldT, int m, int rank, float scale, float* dst) {
  for (int k = 0; k < rank; ++k)
    for (int i = 0; i < m; ++i) dst[k * m + i] = scale * T[i * ldT + k];
}

// ---------------------------------------------------------------------------------------
// Prefill: per MC chunk of rows, per kc slab: (1) the threads pack disjoint row blocks of x
// for the slab (and accumulate T = x·A for those rows from the freshly packed block), (2)
// barrier, (3) each thread sweeps its own range of W panels: the kc×nr sliver of a panel
// stays in L1 while every row block of the chunk is multiplied against it. The packed x
// buffer is double-buffered, so one barrier per slab is enough.
void prefill(const Problem& p, int threads) {
  const KernelSet& ks = *p.ks;
  const Geometry g = ks.g;
  const int KC = g.kc;
  const int np = p.w.panels();
  const int slabs = (p.K + KC - 1) / KC;
  const int mc_max = std::min(p.M, kMaxMc);
  const int ldT = p.lora ? t_stride(p) : 0;

  const std::size_t apack_floats = static_cast<std::size_t>(mc_max) * KC;
  const std::size_t t_floats = p.lora ? static_cast<std::size_t>(mc_max) * ldT : 0;
  const std::size_t a2_floats = p.lora ? static_cast<std::size_t>(mc_max) * p.rank : 0;
  float* base = t_shared.get(2 * apack_floats + t_floats + a2_floats);
  float* apack[2] = {base, base + apack_floats};
  float* Tbuf = base + 2 * apack_floats;
  float* a2buf = Tbuf + t_floats;

  ThreadPool& pool = ThreadPool::instance();
  pool.run(threads, [&](int tid, int nt) {
    int parity = 0;
    for (int mc0 = 0; mc0 < p.M; mc0 += kMaxMc) {
      const int mc = std::min(kMaxMc, p.M - mc0);
      const RowBlocks rb(mc, g.mr);
      const int b0 = split(rb.count, nt, tid), b1 = split(rb.count, nt, tid + 1);
      const int j0 = split(np, nt, tid), j1 = split(np, nt, tid + 1);
      const float* xc = p.x + static_cast<std::size_t>(mc0) * p.ldx;
      float* yc = p.y + static_cast<std::size_t>(mc0) * p.ldy;

      for (int s = 0; s < slabs; ++s, parity ^= 1) {
        const int k0 = s * KC;
        const int kc = std::min(KC, p.K - k0);
        const bool last = s == slabs - 1;
        float* ap = apack[parity];

        for (int b = b0; b < b1; ++b) {
          const int r0 = rb.start(b), m = rb.rows(b);
          float* dst = ap + static_cast<std::size_t>(r0) * KC;
          detail::pack_a(xc + static_cast<std::size_t>(r0) * p.ldx + k0, p.ldx, m, kc, dst);
          if (p.lora) {
            float* T = Tbuf + static_cast<std::size_t>(r0) * ldT;
            lora_t_block(p, dst, m, k0, kc, T, ldT, s > 0);
            if (last) pack_t(T, ldT, m, p.rank, p.scale, a2buf + static_cast<std::size_t>(r0) * p.rank);
          }
        }
        pool.barrier();

        for (int j = j0; j < j1; ++j) {
          const int w = p.w.width(j);
          const int nv = w / g.vw;
          const int valid = std::min(g.nr, p.N - j * g.nr);
          const float* bs = p.w.panel(j) + static_cast<std::size_t>(k0) * w;
          for (int b = 0; b < rb.count; ++b) {
            const int r0 = rb.start(b), m = rb.rows(b);
            UkArgs u;
            u.kc = kc;
            u.a = ap + static_cast<std::size_t>(r0) * KC;
            u.b = bs;
            u.ldb = w;
            u.c = yc + static_cast<std::size_t>(r0) * p.ldy + j * g.nr;
            u.ldc = p.ldy;
            u.n = valid;
            u.accumulate = s > 0 || p.acc_y;
            if (last && p.lora) {
              u.kc2 = p.rank;
              u.a2 = a2buf + static_cast<std::size_t>(r0) * p.rank;
              u.b2 = p.lb.panel(j);
            }
            // Pull the next panel's sliver into L1 while this one is being reused: it is
            // 256 KiB+ away, past what the hardware prefetcher follows. With many row blocks
            // (M = 512: 86 of them) each call's share is under a byte a k step; it still
            // fetches its own few lines (the step rounds up to one byte).
            const char* next = reinterpret_cast<const char*>(bs + static_cast<std::size_t>(p.K) * g.nr);
            const std::size_t sliver_bytes = static_cast<std::size_t>(kc) * w * sizeof(float);
            u.pf = next + sliver_bytes * b / rb.count;
            u.pf_step = static_cast<int>(std::max<std::size_t>(1, sliver_bytes / rb.count / kc));
            // The next block's C tile: when y does not fit in L2 (M = 512, N = 2048: 4 MiB),
            // its rows come from L3 at the end of every call, after the k loop, where the
            // out-of-order window cannot reach them early.
            if (b + 1 < rb.count) {
              const float* cn = yc + static_cast<std::size_t>(rb.start(b + 1)) * p.ldy + j * g.nr;
              for (int i = 0; i < rb.rows(b + 1); ++i)
                for (int off = 0; off < valid; off += 16) __builtin_prefetch(cn + i * p.ldy + off, 1, 3);
            }
            (u.pf_step <= 64 && j + 1 < j1 ? ks.uk_ahead[m][nv] : ks.uk[m][nv])(u);
          }
        }
      }
      // The next chunk re-packs x and rebuilds T and the epilogue operand.
      if (mc0 + kMaxMc < p.M) pool.barrier();
    }
  });
}

// ---------------------------------------------------------------------------------------
// Decode: M ≤ 16 rows. Each thread owns a contiguous range of W panels (so a contiguous
// range of the packed buffer) and streams it once; every row is computed in that one pass.
// x is tiny, so each thread packs all of it privately, and forms all of T = x·A privately
// too (no barrier).
void decode(const Problem& p, int threads) {
  const KernelSet& ks = *p.ks;
  const Geometry g = ks.g;
  const int np = p.w.panels();
  const int ldT = p.lora ? t_stride(p) : 0;
  const std::size_t t_floats = p.lora ? static_cast<std::size_t>(p.M) * ldT : 0;

  ThreadPool& pool = ThreadPool::instance();
  pool.run(threads, [&](int tid, int nt) {
    const RowBlocks rb(p.M, g.mr);
    float* xp = t_private.get(static_cast<std::size_t>(p.M) * p.K + t_floats +
                              static_cast<std::size_t>(p.M) * p.rank + 1);
    float* T = xp + static_cast<std::size_t>(p.M) * p.K;
    float* a2 = T + t_floats;
    for (int b = 0; b < rb.count; ++b) {
      const int r0 = rb.start(b);
      detail::pack_a(p.x + static_cast<std::size_t>(r0) * p.ldx, p.ldx, rb.rows(b), p.K,
                     xp + static_cast<std::size_t>(r0) * p.K);
    }
    if (p.lora) {
      // Each thread forms all of T itself: A is rank/N of W's bytes, the second reader finds
      // it in the shared L3, and no barrier holds a thread back from its W range. Tried:
      // forming T after the stream from A and B prefetched into L2 a slice per W panel; the
      // tax rose (2 threads, H = 4096: 4.5-5 % against 1.7-2 %; H = 2048: 8.5-14 % against
      // 7-9 %): the prefetches compete with W's stream.
      for (int b = 0; b < rb.count; ++b) {
        const int r0 = rb.start(b), m = rb.rows(b);
        lora_t_block(p, xp + static_cast<std::size_t>(r0) * p.K, m, 0, p.K,
                     T + static_cast<std::size_t>(r0) * ldT, ldT, false, b == 0);
        pack_t(T + static_cast<std::size_t>(r0) * ldT, ldT, m, p.rank, p.scale,
               a2 + static_cast<std::size_t>(r0) * p.rank);
      }
    }

    const int j0 = split(np, nt, tid), j1 = split(np, nt, tid + 1);
    // One row block: the whole K in one call, B streamed with prefetch. Several: kc slabs,
    // the first block pulls the slab from memory (or L1, prefetched), the others find it
    // in L1.
    const int KC = rb.count == 1 ? std::max(p.K, 1) : kDecodeKc;
    const int slabs = std::max(1, (p.K + KC - 1) / KC);
    for (int j = j0; j < j1; ++j) {
      const int w = p.w.width(j);
      const int nv = w / g.vw;
      const int valid = std::min(g.nr, p.N - j * g.nr);
      for (int s = 0; s < slabs; ++s) {
        const int k0 = s * KC;
        const int kc = std::min(KC, p.K - k0);
        for (int b = 0; b < rb.count; ++b) {
          const int r0 = rb.start(b), m = rb.rows(b);
          UkArgs u;
          u.kc = kc;
          u.a = xp + static_cast<std::size_t>(r0) * p.K + static_cast<std::size_t>(k0) * m;
          u.b = p.w.panel(j) + static_cast<std::size_t>(k0) * w;
          u.ldb = w;
          u.c = p.y + static_cast<std::size_t>(r0) * p.ldy + j * g.nr;
          u.ldc = p.ldy;
          u.n = valid;
          u.accumulate = s > 0 || p.acc_y;
          if (rb.count == 1) {
            ks.uk_stream[m][nv](u);
          } else {
            // Every row block streams its share of the next slab in, so memory stays busy
            // for the whole slab instead of only during the first block.
            const std::size_t slab_bytes = static_cast<std::size_t>(kc) * w * sizeof(float);
            u.pf = reinterpret_cast<const char*>(u.b) + slab_bytes + slab_bytes * b / rb.count;
            u.pf_step = static_cast<int>(slab_bytes / rb.count / kc);
            ks.uk_ahead[m][nv](u);
          }
        }
      }
    }
    if (p.lora) {
      // The low-rank term, once this thread's W range has streamed: its y block (M rows ×
      // its columns, 64-128 KiB at M=16, H=2048-4096) is still in L2, so the second write costs no memory
      // traffic, and B_lora is read as one sequential run. Adding it inside each tile's
      // epilogue instead, in the middle of the W stream, measured 14-17 % tax at M=16
      // (cold B_lora reads queued behind the W stream), against 4-5 % this way.
      for (int j = j0; j < j1; ++j) {
        const int w = p.w.width(j);
        for (int b = 0; b < rb.count; ++b) {
          const int r0 = rb.start(b), m = rb.rows(b);
          UkArgs u;
          u.kc = p.rank;
          u.a = a2 + static_cast<std::size_t>(r0) * p.rank;
          u.b = p.lb.panel(j);
          u.ldb = w;
          u.c = p.y + static_cast<std::size_t>(r0) * p.ldy + j * g.nr;
          u.ldc = p.ldy;
          u.n = std::min(g.nr, p.N - j * g.nr);
          u.accumulate = true;
          ks.uk[m][w / g.vw](u);
        }
      }
    }
  });
}

int thread_count(const Options& opt, int panels) {
  int t = opt.threads > 0 ? opt.threads : ThreadPool::hardware_threads();
  return std::max(1, std::min(t, panels));
}

void run(const Problem& p, const Options& opt) {
  g_last_path.store(static_cast<int>(p.ks->path), std::memory_order_relaxed);
  g_calls[static_cast<int>(p.ks->path)].fetch_add(1, std::memory_order_relaxed);
  if (p.M <= 0 || p.N <= 0) return;
  if (p.K <= 0) {
    // An empty sum: y = 0 (or unchanged when accumulating), plus nothing from the adapter.
    if (!p.acc_y)
      for (int i = 0; i < p.M; ++i) std::memset(p.y + static_cast<std::size_t>(i) * p.ldy, 0, sizeof(float) * p.N);
    return;
  }
  const int threads = thread_count(opt, p.w.panels());
  if (p.M <= kDecodeMaxM) {
    decode(p, threads);
  } else {
    prefill(p, threads);
  }
}

PanelView view(const float* data, int K, int N, Path path) {
  const Geometry g = detail::geometry(path);
  PanelView v;
  v.data = data;
  v.K = K;
  v.N = N;
  v.nr = g.nr;
  v.vw = g.vw;
  return v;
}

const KernelSet& checked_kernels(const PackedWeights& W, const Options& opt) {
  if (opt.path && *opt.path != W.path) {
    throw std::invalid_argument(std::string("weights packed for path '") + path_name(W.path) +
                                "' used with path '" + path_name(*opt.path) + "'");
  }
  const Geometry g = detail::geometry(W.path);
  if ((W.data == nullptr && W.floats != 0) || W.nr != g.nr ||
      W.floats != detail::packed_floats(W.K, W.N, g)) {
    throw std::invalid_argument(std::string("weights are not a valid packing for path '") +
                                path_name(W.path) + "'");
  }
  return detail::kernels_for(W.path);
}

void check_lora(const PackedWeights& W, const PackedLora& L) {
  if (L.path != W.path) {
    throw std::invalid_argument(std::string("LoRA adapter packed for path '") + path_name(L.path) +
                                "' used with weights packed for path '" + path_name(W.path) + "'");
  }
  if (L.K != W.K || L.N != W.N || L.rank <= 0 || !L.a || !L.b) {
    throw std::invalid_argument("LoRA adapter shape does not match the weights");
  }
}

void check_args(const float* x, int M, int ldx, const PackedWeights& W, const float* y, int ldy) {
  if (M < 0) throw std::invalid_argument("matmul: M < 0");
  if (M > 0 && (ldx < W.K || ldy < W.N)) throw std::invalid_argument("matmul: ldx < K or ldy < N");
  if (M > 0 && W.K > 0 && W.N > 0 && (x == nullptr || y == nullptr))
    throw std::invalid_argument("matmul: null operand");
}

Problem base_problem(const KernelSet& ks, const float* x, int M, int ldx, const PackedWeights& W,
                     float* y, int ldy) {
  Problem p;
  p.ks = &ks;
  p.x = x;
  p.M = M;
  p.ldx = ldx;
  p.K = W.K;
  p.N = W.N;
  p.w = view(W.data.get(), W.K, W.N, W.path);
  p.y = y;
  p.ldy = ldy;
  return p;
}

}  // namespace

std::optional<Path> last_path() {
  const int v = g_last_path.load(std::memory_order_relaxed);
  if (v < 0) return std::nullopt;
  return static_cast<Path>(v);
}

std::uint64_t kernel_calls(Path p) {
  return g_calls[static_cast<int>(p)].load(std::memory_order_relaxed);
}

void matmul(const float* x, int M, int ldx, const PackedWeights& W, float* y, int ldy,
            const Options& opt) {
  check_args(x, M, ldx, W, y, ldy);
  const KernelSet& ks = checked_kernels(W, opt);
  run(base_problem(ks, x, M, ldx, W, y, ldy), opt);
}

void matmul_lora_fused(const float* x, int M, int ldx, const PackedWeights& W, const PackedLora& L,
                       float* y, int ldy, const Options& opt) {
  check_args(x, M, ldx, W, y, ldy);
  const KernelSet& ks = checked_kernels(W, opt);
  check_lora(W, L);
  Problem p = base_problem(ks, x, M, ldx, W, y, ldy);
  p.lora = true;
  p.la = view(L.a.get(), L.K, L.rank, L.path);
  p.lb = view(L.b.get(), L.rank, L.N, L.path);
  p.rank = L.rank;
  p.scale = L.scale;
  run(p, opt);  // K = 0 needs no branch: x·A is empty too, and y = 0
}

void matmul_lora_unfused(const float* x, int M, int ldx, const PackedWeights& W,
                         const PackedLora& L, float* y, int ldy, const Options& opt) {
  check_args(x, M, ldx, W, y, ldy);
  const KernelSet& ks = checked_kernels(W, opt);
  check_lora(W, L);
  if (M <= 0) return;
  // y = x·W
  run(base_problem(ks, x, M, ldx, W, y, ldy), opt);
  // t = x·A, then t *= scale
  std::vector<float> t(static_cast<std::size_t>(M) * L.rank);
  Problem pa;
  pa.ks = &ks;
  pa.x = x;
  pa.M = M;
  pa.ldx = ldx;
  pa.K = L.K;
  pa.N = L.rank;
  pa.w = view(L.a.get(), L.K, L.rank, L.path);
  pa.y = t.data();
  pa.ldy = L.rank;
  run(pa, opt);
  for (float& v : t) v *= L.scale;
  // y += t·B
  Problem pb;
  pb.ks = &ks;
  pb.x = t.data();
  pb.M = M;
  pb.ldx = L.rank;
  pb.K = L.rank;
  pb.N = L.N;
  pb.w = view(L.b.get(), L.rank, L.N, L.path);
  pb.y = y;
  pb.ldy = ldy;
  pb.acc_y = true;
  run(pb, opt);
}

}  // namespace infeng::gemm
