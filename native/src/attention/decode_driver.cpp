// Decode attention driver: one query token per head against a KV cache, grouped-query heads,
// FP16 cache (baseline) or int8 cache (engine). No ISA code here (built for baseline x86-64);
// the per-ISA tile steps are in decode_kernels.h.
//
// DESIGN
//
// Decode reads every K and V byte of the context once per generated token. With G query heads
// per KV head it does 2·G multiply-adds per cached element: 8 FLOP per FP16 byte at G = 8
// (TinyLlama-like 32/4/64), 4 at G = 4 (Llama-3-8B-like 32/8/128). The 2-core AVX-512 machine
// this was tuned on has ~30 GB/s of read bandwidth and ~400 GFLOP/s of FP32 FMA (measured), a
// balance of ~13 FLOP/byte, so FP16 decode sits near the ridge and int8 (half the bytes, the
// same FLOPs) crosses into compute: the arithmetic per byte, not only the bytes, decides the
// int8 speedup. Everything below is about keeping that arithmetic small.
//
// Work split. One work item = one KV head with its G query heads; threads take KV heads
// round-robin. Each item walks the context once in tiles of T tokens (256-512; online softmax:
// running max m, sum l, and the G×D accumulator rescaled by exp(m_old − m_new) once per tile).
// Every K/V byte is loaded once and used by all G heads while in registers (K) or L1 (V tile).
// Each kernel prefetches the next tile's bytes into L2, spread over its own loop.
//
// K layout. 16-token sub-blocks transposed so a vector holds one channel of 16 tokens: the
// score kernel broadcasts q[h][c] and FMAs into G accumulators of 16 scores, no horizontal
// sums. int8 K uses the vpdpbusd operand layout ([c/4][16 tokens][4 channels], offset-binary
// bytes kq + 128, so K is the unsigned operand and the query the signed one).
//
// int8 format. K: per 64-token group, per channel a midpoint and a scale, k ≈ mid_c + ks_c·kq
// (centring on the midpoint gives an offset channel all 255 levels); V: one scale per token.
// An outlier K channel (range > 6× the median channel's, at most 4 per group) is kept exactly
// in a CSR side-table and zero in the int8 payload; since every token of a group has the same
// outlier channels, the CSR rows of a group form a dense block, applied as vector runs.
// Scores: FMA paths form ks_c·(ku − 128) per channel vector (one FMA shared by all G heads)
// and multiply by the FP32 query; the integer paths fold ks into the query per group as one
// int16 level (AVX2 vpmaddwd, AVX-512 VNNI vpdpwssd; the K bytes widen to int16 once for all
// heads) or, on AMX, two int8 levels (hi, and the residual at a 254× finer step). The VNNI
// score kernel also adds the group's exact outlier channels before storing the scores. P·V: V is stored in token quads ([t/4][D][4]); the softmax weights times
// V's per-token scales are rounded per head and tile to two u8 levels (decode_weights.h), so
// on VNNI P·V is two vpdpbusd per 64 products with exact int32 sums, and the FMA paths use
// the same quantised weights in FP32. The group being filled (and, with
// QuantConfig::residual_groups = 2, the one before it) stays in an FP16 residual and goes
// through the FP16 kernels, continuing the same softmax state. AMX-INT8 tile
// kernels for both products (decode_amx.cpp) are opt-in (DecodeOptions::use_amx).
//
// Scratch per thread: the G×T score tile, the G×D accumulator and scaled query (both
// formats); int8 adds G floats, with VNNI the 2·G×D query levels, and a 64-float block for the
// outlier runs (the u8 weights overwrite the score tile in place): 1.04-1.17× the FP16
// kernel's.
//
// Measurements, what was tried and dropped, and what bounds the int8 speedup are kept in
// docs/MEASUREMENTS.md ("Decode attention").
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "attention/decode_kernels.h"
#include "common/thread_pool.h"
#include "infeng/attention.h"

namespace infeng::attn {

namespace detail {

const DecodeKernels& decode_kernels_for(Path p, bool want_vnni) {
  (void)resolve_path(path_name(p));  // throws with the reason when p cannot run here
  switch (p) {
    case Path::Scalar:
      return decode_kernels_scalar();
    case Path::Avx2:
#if INFENG_HAVE_AVX2
      return decode_kernels_avx2();
#else
      break;
#endif
    case Path::Avx512:
#if INFENG_HAVE_AVX512
      return want_vnni && cpu_features().avx512_vnni ? decode_kernels_vnni_avx512()
                                                     : decode_kernels_avx512();
#else
      break;
#endif
  }
  throw std::runtime_error(std::string("no decode kernels for path '") + path_name(p) + "'");
}

// The AMX table when it is allowed and the call fits its tiles (decode_amx.cpp), else the
// VNNI one.
const DecodeKernels& decode_kernels_int8(Path p, const DecodeOptions& opt, int G, int D, int T) {
  const DecodeKernels& k = decode_kernels_for(p, opt.use_vnni);
#if INFENG_HAVE_AVX512 && INFENG_HAVE_AMX
  if (k.vnni && opt.use_amx && G <= 8 && (D == 64 || D == 128) && T % 64 == 0 && amx_available()) return decode_kernels_amx();
#else
  (void)G, (void)D, (void)T;
#endif
  return k;
}

}  // namespace detail

namespace {

using detail::DecodeKernels;
using detail::QuantQuery;
using detail::QueryBuffers;

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

int resolve_threads(int requested, int items) {
  int n = requested > 0 ? requested : ThreadPool::hardware_threads();
  return std::max(1, std::min(n, items));
}

// Per-thread working memory, grown on demand and reused across calls.
struct Scratch {
  std::vector<float> s, acc, qs, m, l, corr;
  // The query prepared for one K group (QuantQuery).
  std::vector<float> s_hi, s_lo, zq;
  // The query's two int8 levels, lo right after hi (G·D bytes each): the AMX kernel loads
  // both as one tile.
  std::vector<std::int8_t> levels;
  std::vector<std::int32_t> b_hi, b_lo;
  // The scaled query at the group's outlier channels (QuantQuery::oq), G × kMaxFusedCols.
  std::vector<float> oq;
  int lds = 0;
  // int8: the VNNI kernel reads the query's int8 levels (hi, lo); the FMA kernels read qs.
  void size_for(int G, int D, int T, bool int8, bool vnni) {
    lds = T;
    s.resize(static_cast<std::size_t>(G) * T);
    acc.assign(static_cast<std::size_t>(G) * D, 0.0f);
    qs.resize(static_cast<std::size_t>(G) * D);
    m.assign(G, kNegInf);
    l.assign(G, 0.0f);
    corr.resize(G);
    if (int8) {
      levels.resize(vnni ? 2 * static_cast<std::size_t>(G) * D : 0);
      for (auto* v : {&s_hi, &s_lo, &zq}) v->resize(G);
      for (auto* v : {&b_hi, &b_lo}) v->resize(G);
      oq.resize(static_cast<std::size_t>(G) * detail::kMaxFusedCols);
    }
  }
  std::int8_t* hi() { return levels.empty() ? nullptr : levels.data(); }
  std::int8_t* lo() { return levels.empty() ? nullptr : levels.data() + levels.size() / 2; }
  QueryBuffers buffers() {
    return {hi(), lo(), s_hi.data(), s_lo.data(), b_hi.data(), b_lo.data(), zq.data()};
  }
  QuantQuery query(const float* ks) {
    return {qs.data(), ks, hi(), lo(), s_hi.data(), s_lo.data(), b_hi.data(), b_lo.data(), zq.data()};
  }
};
thread_local Scratch t_scratch;

std::size_t scratch_bytes(int G, int D, int T, bool int8, bool vnni, bool amx) {
  // Score tile, accumulator, scaled query, softmax state (m, l, corr).
  std::size_t b = sizeof(float) * (static_cast<std::size_t>(G) * T + 2 * G * D + 3 * G);
  if (int8) {
    // zq, and with VNNI the query's two int8 levels and their scales and sums; the outlier
    // correction's 4 × 16-token de-interleaving block.
    b += sizeof(float) * G;
    if (vnni) b += static_cast<std::size_t>(G) * (2 * D + 2 * sizeof(float) + 2 * sizeof(std::int32_t));
    b += sizeof(float) * 4 * 16;
    // AMX: the staged weights of one 64-token block and one C tile (16 × 64 bytes each).
    if (amx) b += 2 * 16 * 64;
  }
  return b;
}

void check_call(const Shape& s, int cache_heads, int cache_dim, int cache_len, int ctx) {
  validate(s);
  if (s.n_kv_heads != cache_heads || s.head_dim != cache_dim) {
    throw std::invalid_argument("decode: the shape's " + std::to_string(s.n_kv_heads) + " kv heads × " +
                                std::to_string(s.head_dim) + " do not match the cache's " +
                                std::to_string(cache_heads) + " × " + std::to_string(cache_dim));
  }
  if (ctx < 1 || ctx > cache_len) {
    throw std::out_of_range("decode: context of " + std::to_string(ctx) +
                            " tokens is outside the cache's 1.." + std::to_string(cache_len));
  }
}

// Walks FP16 tokens [0, n) of one head through the kernels, continuing the softmax state.
// The FP16 residual (up to residual_groups × 64 tokens) lives apart from the int8 arrays, so
// no tile prefetch covers it: fetch this head's into L2 while its last int8 tile's P·V runs
// rather than have its first loads wait on DRAM. With a 64-127-token residual the whole
// FP16 part cost 4-10 % of the call at ctx 2048 before this and 2-8 % after, within the
// noise of those interleaved runs.
void prefetch_residual(const KvCacheF16& r, int h, int n, int D) {
  const auto* kb = reinterpret_cast<const char*>(r.k_head(h));
  const auto* vb = reinterpret_cast<const char*>(r.v_head(h));
  const std::size_t kbytes = static_cast<std::size_t>((n + kKvSub - 1) / kKvSub) * kKvSub * D * 2;
  const std::size_t vbytes = static_cast<std::size_t>(n) * D * 2;
  for (std::size_t o = 0; o < kbytes; o += 64) __builtin_prefetch(kb + o, 0, 2);
  for (std::size_t o = 0; o < vbytes; o += 64) __builtin_prefetch(vb + o, 0, 2);
}

void run_f16_tokens(const DecodeKernels& k, const std::uint16_t* kh, const std::uint16_t* vh,
                    int D, int n, int G, int T, Scratch& sc) {
  for (int t0 = 0; t0 < n; t0 += T) {
    const int len = std::min(T, n - t0);
    const int nsub = (len + kKvSub - 1) / kKvSub;
    // Prefetch the next tile only when it is whole (no reads past the cache's tokens).
    const std::ptrdiff_t pf = t0 + 2 * T <= n ? static_cast<std::ptrdiff_t>(T) * D * 2 : 0;
    k.scores_f16(kh + static_cast<std::size_t>(t0) * D, D, nsub, sc.qs.data(), G, sc.s.data(), sc.lds, pf);
    k.softmax_tile(sc.s.data(), sc.lds, G, len, sc.m.data(), sc.l.data(), sc.corr.data());
    k.accum_v_f16(vh + static_cast<std::size_t>(t0) * D, D, len, sc.s.data(), sc.lds, G,
                  sc.corr.data(), sc.acc.data(), pf);
  }
}

// Hands tokens [a, b) of one K group's outliers to a score kernel that adds them itself
// (DecodeKernels::fused_outliers): possible when the tokens' CSR rows form one dense block of
// at most kMaxFusedCols entries each. The quantiser writes every token of a group with the
// group's outlier channels in ascending order (kv_cache.cpp), so equal row lengths are the
// whole test. Also fetches the next group's values into L2 while this one computes.
bool fuse_outliers(const OutlierCsr& csr, int a, int b, int G, int D, Scratch& sc, QuantQuery& qq) {
  const std::int32_t* rp = csr.row_ptr.data();
  const int f0 = rp[a], nf = rp[a + 1] - f0;
  if (nf > detail::kMaxFusedCols || rp[b] - f0 != nf * (b - a)) return false;
  // The next group's values and columns, and the row pointers of the group after it: the
  // side-table is read here, a group at a time, ahead of the kernels' own prefetches, and a
  // row pointer or column that comes from DRAM stalls the whole thread (it was ~10 % of int8
  // decode's time on AVX2, docs/MEASUREMENTS.md). rp[e] was prefetched one group earlier.
  const int last = static_cast<int>(csr.row_ptr.size()) - 1;
  if (b < last) {
    const int e = rp[std::min(last, b + kKvGroup)];
    detail::prefetch_span_l2(csr.val.data() + rp[b], sizeof(float) * (e - rp[b]));
    detail::prefetch_span_l2(csr.col.data() + rp[b], sizeof(std::uint16_t) * (e - rp[b]));
    const int r1 = std::min(last, b + kKvGroup), r2 = std::min(last, b + 2 * kKvGroup);
    detail::prefetch_span_l2(rp + r1, sizeof(std::int32_t) * (r2 - r1 + 1));
  }
  if (nf == 0) return true;
  const std::uint16_t* cols = csr.col.data() + f0;
  for (int h = 0; h < G; ++h)
    for (int i = 0; i < nf; ++i) sc.oq[h * detail::kMaxFusedCols + i] = sc.qs[h * D + cols[i]];
  qq.nf = nf;
  qq.oval = csr.val.data() + f0;
  qq.oq = sc.oq.data();
  return true;
}

void load_query(const float* q, int h0, int G, int D, Scratch& sc) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  for (int i = 0; i < G * D; ++i) sc.qs[i] = q[static_cast<std::size_t>(h0) * D + i] * scale;
}

void write_out(float* out, int h0, int G, int D, const Scratch& sc) {
  for (int h = 0; h < G; ++h) {
    const float inv = sc.l[h] > 0.0f ? 1.0f / sc.l[h] : 0.0f;
    for (int d = 0; d < D; ++d) out[static_cast<std::size_t>(h0 + h) * D + d] = sc.acc[h * D + d] * inv;
  }
}

DecodeInfo make_info(const DecodeKernels& k, int T, int G, int D, bool int8) {
  DecodeInfo info;
  info.path = k.path;
  info.vnni = k.vnni;
  info.amx = k.amx;
  info.tile_tokens = T;
  info.acc_width = k.acc_width;
  info.scratch_bytes = scratch_bytes(G, D, T, int8, k.int_query, k.amx);
  return info;
}

}  // namespace

int decode_tile_tokens(int requested, int head_dim) {
  if (requested < 0 || requested % kKvSub != 0) {
    throw std::invalid_argument("tile_tokens " + std::to_string(requested) +
                                " is not a positive multiple of " + std::to_string(kKvSub) +
                                " (the K sub-block); 0 asks for the heuristic");
  }
  if (requested > 0) return requested;
  // At least 256 tokens: the per-tile costs (rescaling the G×D accumulator, the softmax
  // set-up, the query preparation of a new K group) amortise, and the G×T score tile outweighs
  // the int8 path's extra query buffers. Up to 16384/D (the FP16 K+V tile in 64 KiB, L1+L2
  // friendly) for narrow heads.
  const int t = 16384 / std::max(head_dim, 8);
  return std::clamp(t / kKvSub * kKvSub, 256, 512);
}

DecodeInfo decode_f16(const Shape& s, const float* q, const KvCacheF16& kv, int ctx, float* out,
                      const DecodeOptions& opt) {
  check_call(s, kv.n_kv_heads(), kv.head_dim(), kv.len(), ctx);
  const int T = decode_tile_tokens(opt.tile_tokens, s.head_dim);
  const DecodeKernels& k = detail::decode_kernels_for(opt.path ? *opt.path : active_path(), false);
  const int G = s.group(), D = s.head_dim, H = s.n_kv_heads;
  const int nt = resolve_threads(opt.threads, H);
  ThreadPool::instance().run(nt, [&](int tid, int n) {
    Scratch& sc = t_scratch;
    for (int h = tid; h < H; h += n) {
      sc.size_for(G, D, T, false, false);
      load_query(q, h * G, G, D, sc);
      run_f16_tokens(k, kv.k_head(h), kv.v_head(h), D, ctx, G, T, sc);
      write_out(out, h * G, G, D, sc);
    }
  });
  return make_info(k, T, G, D, false);
}

DecodeInfo decode_int8(const Shape& s, const float* q, const KvCacheInt8& kv, int ctx, float* out,
                       const DecodeOptions& opt) {
  check_call(s, kv.n_kv_heads(), kv.head_dim(), kv.len(), ctx);
  const int T = decode_tile_tokens(opt.tile_tokens, s.head_dim);
  const int G = s.group(), D = s.head_dim, H = s.n_kv_heads;
  const DecodeKernels& k = detail::decode_kernels_int8(opt.path ? *opt.path : active_path(), opt, G, D, T);
  const int qctx = std::min(ctx, kv.quantised_len());
  const int nt = resolve_threads(opt.threads, H);
  ThreadPool::instance().run(nt, [&](int tid, int n) {
    Scratch& sc = t_scratch;
    if (k.begin) k.begin(G, D);
    for (int h = tid; h < H; h += n) {
      sc.size_for(G, D, T, true, k.int_query);
      load_query(q, h * G, G, D, sc);
      const std::uint8_t* kh = kv.k_head(h);
      const std::int8_t* vh = kv.v_head(h);
      const float* vs = kv.v_scales(h);
      const OutlierCsr& csr = kv.outliers(h);
      int qgroup = -1;
      for (int t0 = 0; t0 < qctx; t0 += T) {
        const int t1 = std::min(qctx, t0 + T);
        const std::ptrdiff_t pf = t0 + 2 * T <= qctx ? static_cast<std::ptrdiff_t>(T) * D : 0;
        // Score segments never straddle a K group: each group has its own quantised query.
        for (int a = t0; a < t1;) {
          const int g = a / kKvGroup;
          const int b = std::min(t1, (g + 1) * kKvGroup);
          if (g != qgroup) {
            k.prepare_query(sc.qs.data(), kv.k_scales(h, g), kv.k_mids(h, g), G, D, k.int_query, sc.buffers());
            qgroup = g;
          }
          QuantQuery qq = sc.query(kv.k_scales(h, g));
          const bool fused = k.fused_outliers && fuse_outliers(csr, a, b, G, D, sc, qq);
          k.scores_i8(kh + static_cast<std::size_t>(a) * D, D, (b - a + kKvSub - 1) / kKvSub, qq, G,
                      sc.s.data() + (a - t0), sc.lds, pf);
          // The exact outlier channels, with the unquantised (scaled) query.
          if (!fused) {
            k.apply_outliers(csr.row_ptr.data(), csr.col.data(), csr.val.data(), a, b, sc.qs.data(), G, D,
                             sc.s.data() + (a - t0), sc.lds);
          }
          a = b;
        }
        if (t1 == qctx && ctx > qctx) prefetch_residual(kv.residual(), h, ctx - qctx, D);
        k.softmax_tile(sc.s.data(), sc.lds, G, t1 - t0, sc.m.data(), sc.l.data(), sc.corr.data());
        k.accum_v_i8(vh + static_cast<std::size_t>(t0) * D, vs + t0, D, t1 - t0, sc.s.data(), sc.lds,
                     G, sc.corr.data(), sc.acc.data(), pf);
      }
      if (ctx > qctx) {
        const KvCacheF16& r = kv.residual();
        run_f16_tokens(k, r.k_head(h), r.v_head(h), D, ctx - qctx, G, T, sc);
      }
      write_out(out, h * G, G, D, sc);
    }
    if (k.end) k.end();
  });
  return make_info(k, T, G, D, true);
}

void reference_decode(const Shape& s, const float* q, const float* k, const float* v, int ctx,
                      float* out) {
  validate(s);
  if (ctx < 1) throw std::out_of_range("reference_decode: context must be at least 1 token");
  const int G = s.group(), D = s.head_dim, H = s.n_kv_heads;
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));
  std::vector<double> sc(ctx), o(D);
  for (int hq = 0; hq < s.n_q_heads; ++hq) {
    const int hk = hq / G;
    const float* qh = q + static_cast<std::size_t>(hq) * D;
    double mx = -std::numeric_limits<double>::infinity();
    for (int t = 0; t < ctx; ++t) {
      const float* kt = k + (static_cast<std::size_t>(t) * H + hk) * D;
      double d = 0;
      for (int c = 0; c < D; ++c) d += static_cast<double>(qh[c]) * kt[c];
      sc[t] = d * scale;
      mx = std::max(mx, sc[t]);
    }
    double sum = 0;
    std::fill(o.begin(), o.end(), 0.0);
    for (int t = 0; t < ctx; ++t) {
      const double p = std::exp(sc[t] - mx);
      sum += p;
      const float* vt = v + (static_cast<std::size_t>(t) * H + hk) * D;
      for (int c = 0; c < D; ++c) o[c] += p * vt[c];
    }
    for (int c = 0; c < D; ++c) out[static_cast<std::size_t>(hq) * D + c] = static_cast<float>(o[c] / sum);
  }
}

}  // namespace infeng::attn
