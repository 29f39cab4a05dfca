// Decode attention: every compiled path that this CPU runs, FP16 and int8 caches, against the
// FP32 reference on the original K/V. Tolerances come from the formats' steps, not from
// observed errors: FP16 rounds to 2^-11 relative; int8 rounds K to ks_c/2 per channel, the
// folded query to sq/2, V to vs_t/2 per token (uniform errors, so a λ = 6 standard-deviation
// bound on sums of them); see bound_int8 below.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "attention/synthetic_kv.h"
#include "attention_paths.h"
#include "infeng/attention.h"
#include "infeng/dispatch.h"

namespace {

using namespace infeng;
using namespace infeng::attn;

using attn_test::runnable_paths;

struct Case {
  Shape shape;
  int ctx;
  int tile;
};

std::string name_of(const Case& c, Path p) {
  return std::to_string(c.shape.n_q_heads) + "/" + std::to_string(c.shape.n_kv_heads) + "/" +
         std::to_string(c.shape.head_dim) + " ctx " + std::to_string(c.ctx) + " tile " +
         std::to_string(c.tile) + " path " + path_name(p);
}

constexpr double kLambda = 6.0;

// Softmax weights of the reference, in double, for the bounds.
std::vector<double> ref_probs(const Shape& s, const float* q, const std::vector<float>& k, int hq, int ctx) {
  const int D = s.head_dim, hk = hq / s.group(), H = s.n_kv_heads;
  std::vector<double> p(ctx);
  double mx = -1e300;
  for (int t = 0; t < ctx; ++t) {
    double d = 0;
    for (int c = 0; c < D; ++c) d += static_cast<double>(q[hq * D + c]) * k[(static_cast<std::size_t>(t) * H + hk) * D + c];
    p[t] = d / std::sqrt(static_cast<double>(D));
    mx = std::max(mx, p[t]);
  }
  double sum = 0;
  for (auto& x : p) sum += (x = std::exp(x - mx));
  for (auto& x : p) x /= sum;
  return p;
}

// Per-element bound for output o_hq,d from per-token standard deviations of the score error
// (ss[t]) and of the V element error (sv[t]). First order, Δo_d = Σ p_t Δs_t (v_td − o_d) +
// Σ p_t Δv_td: sums of independent zero-mean errors, bounded at λ standard deviations.
double element_bound(const std::vector<double>& p, const std::vector<double>& ss, const std::vector<double>& sv,
                     const std::vector<float>& v, const Shape& s, int hq, int d, double o) {
  const int D = s.head_dim, hk = hq / s.group(), H = s.n_kv_heads;
  double var_s = 0, var_v = 0, vmax = 0;
  for (std::size_t t = 0; t < p.size(); ++t) {
    const double vt = v[(t * H + hk) * D + d];
    var_s += p[t] * p[t] * ss[t] * ss[t] * (vt - o) * (vt - o);
    var_v += p[t] * p[t] * sv[t] * sv[t];
    vmax = std::max(vmax, std::fabs(vt));
  }
  return kLambda * (std::sqrt(var_s) + std::sqrt(var_v)) + 1e-5 * (vmax + 1.0);
}

void check_f16(const Case& c, Path path, const synthetic::Kv& kv, const std::vector<float>& q) {
  const Shape& s = c.shape;
  const int D = s.head_dim, H = s.n_kv_heads;
  KvCacheF16 cache(H, D, c.ctx + 5);
  cache.append_many(kv.k.data(), kv.v.data(), c.ctx);
  std::vector<float> out(static_cast<std::size_t>(s.n_q_heads) * D), ref(out.size());
  DecodeOptions opt;
  opt.path = path;
  opt.tile_tokens = c.tile;
  opt.threads = 2;
  const DecodeInfo info = decode_f16(s, q.data(), cache, c.ctx, out.data(), opt);
  EXPECT_EQ(info.path, path);
  reference_decode(s, q.data(), kv.k.data(), kv.v.data(), c.ctx, ref.data());
  const double u = std::ldexp(1.0, -11);
  for (int hq = 0; hq < s.n_q_heads; ++hq) {
    const auto p = ref_probs(s, q.data(), kv.k, hq, c.ctx);
    std::vector<double> es(c.ctx), sv(c.ctx);
    for (int t = 0; t < c.ctx; ++t) {
      double a = 0, vm = 0;
      for (int ch = 0; ch < D; ++ch) {
        a += std::fabs(q[hq * D + ch] * kv.k[(static_cast<std::size_t>(t) * H + hq / s.group()) * D + ch]);
        vm = std::max(vm, std::fabs(static_cast<double>(kv.v[(static_cast<std::size_t>(t) * H + hq / s.group()) * D + ch])));
      }
      es[t] = u * a / std::sqrt(static_cast<double>(D)) + 1e-7;  // worst case, used as σ
      sv[t] = u * vm;
    }
    for (int d = 0; d < D; ++d) {
      const double o = ref[hq * D + d];
      const double tol = element_bound(p, es, sv, kv.v, s, hq, d, o);
      ASSERT_LE(std::fabs(out[hq * D + d] - o), tol) << name_of(c, path) << " fp16 head " << hq << " ch " << d;
    }
  }
}

// int8: K error per channel ≤ ks_c/2 around its midpoint (0 for CSR outliers), V error
// ≤ vs_t/2; the AMX path's two-level query adds ≤ s_hi/508 per folded channel (s_hi =
// max|q'|/127), the AVX2 and VNNI paths' int16 query ≤ max|q'|/65534, times |ku − 128| ≤ 127; the two-level u8 softmax weights (decode_weights.h)
// round p_t·vs_t to steps of max_tile(p·vs)/(255·256) per head and tile, times the token's int8 V
// (≤ 127). Uniform errors: σ = step/√12 each.
// The int8 kernels of the AVX-512 path: FMA, vpdpbusd, AMX tiles.
enum class Int8Kernel { Fma, Vnni, Amx };

const char* kernel_name(Int8Kernel k) { return k == Int8Kernel::Fma ? "" : k == Int8Kernel::Vnni ? " vnni" : " amx"; }

bool amx_here() {
  const auto& f = cpu_features();
  return f.amx_tile && f.amx_int8 && f.os_amx && f.avx512_vnni;
}

// The kernels each path runs on this CPU.
std::vector<Int8Kernel> int8_kernels(Path p) {
  std::vector<Int8Kernel> out{Int8Kernel::Fma};
  if (p == Path::Avx512 && cpu_features().avx512_vnni) out.push_back(Int8Kernel::Vnni);
  if (p == Path::Avx512 && amx_here()) out.push_back(Int8Kernel::Amx);
  return out;
}

void check_int8(const Case& c, Path path, Int8Kernel kernel, const synthetic::Kv& kv, const std::vector<float>& q,
                std::vector<float>* out_keep, QuantConfig cfg = {}) {
  const bool vnni = kernel != Int8Kernel::Fma;
  const Shape& s = c.shape;
  const int D = s.head_dim, H = s.n_kv_heads, G = s.group();
  KvCacheInt8 cache(H, D, c.ctx + 3, cfg);
  cache.append_many(kv.k.data(), kv.v.data(), c.ctx);
  std::vector<float> out(static_cast<std::size_t>(s.n_q_heads) * D), ref(out.size());
  DecodeOptions opt;
  opt.path = path;
  opt.tile_tokens = c.tile;
  opt.use_vnni = vnni;
  opt.use_amx = kernel == Int8Kernel::Amx;
  opt.threads = 2;
  const DecodeInfo info = decode_int8(s, q.data(), cache, c.ctx, out.data(), opt);
  EXPECT_EQ(info.path, path);
  // AMX runs exactly when asked for and the call fits its tiles.
  const bool amx_fits = s.group() <= 8 && (D == 64 || D == 128) && info.tile_tokens % 64 == 0;
  EXPECT_EQ(info.amx, kernel == Int8Kernel::Amx && amx_fits) << name_of(c, path) << kernel_name(kernel);
  reference_decode(s, q.data(), kv.k.data(), kv.v.data(), c.ctx, ref.data());
  const double inv_sqrt_d = 1.0 / std::sqrt(static_cast<double>(D));
  const double u16 = std::ldexp(1.0, -11);
  for (int hq = 0; hq < s.n_q_heads; ++hq) {
    const int hk = hq / G;
    const auto p = ref_probs(s, q.data(), kv.k, hq, c.ctx);
    // The largest p_t·vs_t of each tile (the weights' scale) in the quantised tokens.
    const int T = decode_tile_tokens(c.tile, D);
    std::vector<double> wmax(static_cast<std::size_t>(c.ctx / T + 1), 0.0);
    for (int t = 0; t < cache.quantised_len(); ++t)
      wmax[t / T] = std::max(wmax[t / T], p[t] * cache.v_scales(hk)[t]);
    std::vector<double> es(c.ctx), sv(c.ctx);
    for (int t = 0; t < c.ctx; ++t) {
      double var = 0, a = 0, vm = 0;
      for (int ch = 0; ch < D; ++ch) vm = std::max(vm, std::fabs(static_cast<double>(kv.v[(static_cast<std::size_t>(t) * H + hk) * D + ch])));
      if (t < cache.quantised_len()) {
        const float* ks = cache.k_scales(hk, t / kKvGroup);
        double qmax = 0;
        for (int ch = 0; ch < D; ++ch) qmax = std::max(qmax, std::fabs(q[hq * D + ch] * inv_sqrt_d * ks[ch]));
        // The integer query's rounding step: two int8 levels (AMX) or one int16 level (AVX2,
        // VNNI: max|q'|/32767 for D ≤ 256).
        const bool i16 = kernel == Int8Kernel::Vnni || path == Path::Avx2;
        const double sq = kernel == Int8Kernel::Amx ? qmax / 127.0 / 254.0 : i16 ? qmax / 32767.0 : 0.0;
        const float* mid = cache.k_mids(hk, t / kKvGroup);
        for (int ch = 0; ch < D; ++ch) {
          const double qc = q[hq * D + ch] * inv_sqrt_d;
          const double kq = ks[ch] > 0 ? std::fabs(cache.k_at(hk, t, ch) - mid[ch]) / ks[ch] : 0.0;
          var += (qc * qc * ks[ch] * ks[ch] + kq * kq * sq * sq) / 12.0;
        }
        es[t] = std::sqrt(var) + 1e-7;
        // V's own rounding and the weight's (relative to p_t, so divided by it; the bound
        // multiplies by p_t again).
        const double wstep = wmax[t / T] / (255.0 * 256.0);
        const double sw_t = p[t] > 0 ? wstep * 127.0 / p[t] : 0.0;
        sv[t] = std::hypot(cache.v_scales(hk)[t], sw_t) / std::sqrt(12.0);
      } else {
        for (int ch = 0; ch < D; ++ch)
          a += std::fabs(q[hq * D + ch] * inv_sqrt_d * kv.k[(static_cast<std::size_t>(t) * H + hk) * D + ch]);
        es[t] = u16 * a + 1e-6;
        sv[t] = u16 * vm;
      }
    }
    for (int d = 0; d < D; ++d) {
      const double o = ref[hq * D + d];
      const double tol = element_bound(p, es, sv, kv.v, s, hq, d, o);
      ASSERT_LE(std::fabs(out[hq * D + d] - o), tol)
          << name_of(c, path) << kernel_name(kernel) << " int8 head " << hq << " ch " << d;
    }
  }
  if (out_keep) *out_keep = out;
}

const Case kCases[] = {
    {{32, 4, 64}, 1000, 0},   // TinyLlama-like; 1000 = 15 quantised groups + a residual of 40
    {{32, 4, 64}, 512, 16},   // the smallest tile
    {{32, 8, 128}, 777, 0},   // Llama-3-8B-like
    {{8, 4, 8}, 200, 48},     // stories260K's heads; a tile that straddles K groups
    {{6, 3, 24}, 130, 32},    // odd group sizes and a 24-wide head
    {{4, 4, 16}, 10, 0},      // only the FP16 residual
    {{16, 8, 64}, 300, 64},   // two heads per KV head, 64-token tiles (AMX's smallest)
    {{32, 8, 128}, 700, 128}, // two query tiles per K block on AMX
    {{8, 2, 32}, 2600, 1280}, // a tile past AVX2's 1024-token integer P·V segment
};

TEST(AttentionDecode, Fp16CacheMatchesReferenceOnEveryPath) {
  for (const Case& c : kCases) {
    const auto kv = synthetic::make_kv(c.ctx, c.shape.n_kv_heads, c.shape.head_dim, 11);
    const auto q = synthetic::make_queries(c.shape.n_q_heads * c.shape.head_dim, 12);
    for (Path p : runnable_paths()) check_f16(c, p, kv, q);
  }
}

TEST(AttentionDecode, Int8CacheMatchesReferenceWithinTheQuantisationBound) {
  for (const Case& c : kCases) {
    const auto kv = synthetic::make_kv(c.ctx, c.shape.n_kv_heads, c.shape.head_dim, 21);
    const auto q = synthetic::make_queries(c.shape.n_q_heads * c.shape.head_dim, 22);
    for (Path p : runnable_paths())
      for (Int8Kernel k : int8_kernels(p)) check_int8(c, p, k, kv, q, nullptr);
  }
}

// Groups with 1 to 6 outlier channels: the VNNI score kernel adds up to 4 itself (one code
// path per count), more go through the separate correction.
TEST(AttentionDecode, Int8OutlierCountsFromOneToSix) {
  for (int n : {1, 3, 4, 6}) {
    QuantConfig cfg;
    cfg.max_outlier_channels = 6;
    for (const Case& c : {Case{{32, 4, 64}, 700, 0}, Case{{16, 8, 128}, 400, 48}}) {
      const auto kv = synthetic::make_kv(c.ctx, c.shape.n_kv_heads, c.shape.head_dim, 60u + n, n, 14.0f);
      const auto q = synthetic::make_queries(c.shape.n_q_heads * c.shape.head_dim, 61u + n);
      KvCacheInt8 probe(c.shape.n_kv_heads, c.shape.head_dim, c.ctx, cfg);
      probe.append_many(kv.k.data(), kv.v.data(), c.ctx);
      EXPECT_GE(probe.outlier_count(), static_cast<std::size_t>(probe.quantised_len())) << n << " outlier channels";
      for (Path p : runnable_paths())
        for (Int8Kernel k : int8_kernels(p)) check_int8(c, p, k, kv, q, nullptr, cfg);
    }
  }
}

// The FMA paths compute the same FP32 scores up to summation order; AMX's two-level query
// differs from them by ≤ 1/(2·127·254) of the largest folded channel, the int16 query (AVX2,
// VNNI) by ≤ 1/65534 of it: all far inside the
// quantisation bound. That difference can tip a softmax weight's 16-bit level the other way
// (decode_weights.h), which moves an output by up to max|v|/65280 per tipped weight: allowed
// for two, on top of FP32 rounding.
TEST(AttentionDecode, Int8PathsAgreeToFloatRounding) {
  const Case c{{32, 4, 64}, 1000, 0};
  const auto kv = synthetic::make_kv(c.ctx, 4, 64, 31);
  const auto q = synthetic::make_queries(32 * 64, 32);
  double vmax = 0;
  for (float x : kv.v) vmax = std::max(vmax, std::fabs(static_cast<double>(x)));
  const double level = 2.0 * vmax / 65280.0;
  std::vector<float> scalar, other;
  check_int8(c, Path::Scalar, Int8Kernel::Fma, kv, q, &scalar);
  for (Path p : runnable_paths()) {
    for (Int8Kernel k : int8_kernels(p)) {
      check_int8(c, p, k, kv, q, &other);
      for (std::size_t i = 0; i < scalar.size(); ++i) {
        ASSERT_NEAR(other[i], scalar[i], 2e-5 * (1.0 + std::fabs(scalar[i])) + level)
            << path_name(p) << kernel_name(k) << " element " << i;
      }
    }
  }
}

TEST(AttentionDecode, CsrKeepsOutlierChannelsExactly) {
  const int H = 4, D = 64, n = 256;
  const auto kv = synthetic::make_kv(n, H, D, 41, 2, 12.0f);
  KvCacheInt8 cache(H, D, n, QuantConfig{.residual_groups = 1});
  cache.append_many(kv.k.data(), kv.v.data(), n);
  ASSERT_EQ(cache.quantised_len(), n);
  std::size_t entries = 0;
  for (int h = 0; h < H; ++h) {
    const OutlierCsr& csr = cache.outliers(h);
    ASSERT_EQ(csr.row_ptr.size(), static_cast<std::size_t>(n) + 1);
    for (int t = 0; t < n; ++t) {
      for (int i = csr.row_ptr[t]; i < csr.row_ptr[t + 1]; ++i) {
        const float want = kv.k[(static_cast<std::size_t>(t) * H + h) * D + csr.col[i]];
        ASSERT_EQ(csr.val[i], want);                          // bit-exact copy
        ASSERT_EQ(cache.k_at(h, t, csr.col[i]), want);        // and what the kernels see
        ASSERT_EQ(cache.k_scales(h, t / kKvGroup)[csr.col[i]], 0.0f);  // not also in int8
      }
      entries += csr.row_ptr[t + 1] - csr.row_ptr[t];
    }
  }
  // The generator draws 2 outlier channels per head (possibly the same one twice): every
  // token of every group keeps 1-2 channels.
  EXPECT_GE(entries, static_cast<std::size_t>(H) * n);
  EXPECT_LE(entries, static_cast<std::size_t>(H) * n * 2);
  EXPECT_EQ(entries, cache.outlier_count());
}

TEST(AttentionDecode, NoOutliersWithoutOutlierChannels) {
  const auto kv = synthetic::make_kv(128, 2, 32, 51, 0);
  KvCacheInt8 cache(2, 32, 128, QuantConfig{.residual_groups = 1});
  cache.append_many(kv.k.data(), kv.v.data(), 128);
  ASSERT_EQ(cache.quantised_len(), 128);
  EXPECT_EQ(cache.outlier_count(), 0u);
}

// With residual_groups = 2 the newest 64–127 tokens stay FP16; a group is quantised exactly as it would be
// with no window (the same bytes and scales, only later), and appending token by token or all
// at once gives the same cache.
TEST(AttentionDecode, ResidualWindowKeepsTheNewestTokensInFp16) {
  const int H = 2, D = 32, n = 300;
  const auto kv = synthetic::make_kv(n, H, D, 57, 1, 8.0f);
  const QuantConfig two{.residual_groups = 2};
  KvCacheInt8 window(H, D, n, two), one(H, D, n, QuantConfig{.residual_groups = 1}), steps(H, D, n, two);
  one.append_many(kv.k.data(), kv.v.data(), n);
  const std::size_t row = static_cast<std::size_t>(H) * D;
  for (int t = 0; t < n; ++t) {
    steps.append(kv.k.data() + row * t, kv.v.data() + row * t);
    window.append_many(kv.k.data() + row * t, kv.v.data() + row * t, 1);
    const int want = t + 1 < 2 * kKvGroup ? 0 : ((t + 1) / kKvGroup - 1) * kKvGroup;
    ASSERT_EQ(window.quantised_len(), want) << "after " << t + 1 << " tokens";
  }
  ASSERT_EQ(window.quantised_len(), 192);
  ASSERT_EQ(one.quantised_len(), 256);
  EXPECT_EQ(window.residual().len(), n - 192);
  for (int h = 0; h < H; ++h) {
    for (int t = 0; t < n; ++t) {
      for (int c = 0; c < D; ++c) {
        const float exact_k = kv.k[(static_cast<std::size_t>(t) * H + h) * D + c];
        const float exact_v = kv.v[(static_cast<std::size_t>(t) * H + h) * D + c];
        ASSERT_EQ(window.k_at(h, t, c), steps.k_at(h, t, c));
        ASSERT_EQ(window.v_at(h, t, c), steps.v_at(h, t, c));
        if (t < window.quantised_len()) {
          ASSERT_EQ(window.k_at(h, t, c), one.k_at(h, t, c)) << h << "," << t << "," << c;
          ASSERT_EQ(window.v_at(h, t, c), one.v_at(h, t, c)) << h << "," << t << "," << c;
        } else {
          ASSERT_EQ(window.k_at(h, t, c), f16_to_f32(f32_to_f16(exact_k))) << h << "," << t << "," << c;
          ASSERT_EQ(window.v_at(h, t, c), f16_to_f32(f32_to_f16(exact_v))) << h << "," << t << "," << c;
        }
      }
    }
  }
  EXPECT_THROW(KvCacheInt8(H, D, n, QuantConfig{.residual_groups = 0}), std::invalid_argument);
}

TEST(AttentionDecode, BadInputsAreClearErrors) {
  const Shape s{8, 4, 16};
  KvCacheF16 f16(4, 16, 32);
  KvCacheInt8 i8(4, 16, 32);
  const auto kv = synthetic::make_kv(32, 4, 16, 61);
  f16.append_many(kv.k.data(), kv.v.data(), 32);
  i8.append_many(kv.k.data(), kv.v.data(), 32);
  std::vector<float> q(8 * 16, 0.1f), out(8 * 16);
  // A context longer than the cache.
  EXPECT_THROW(decode_f16(s, q.data(), f16, 33, out.data()), std::out_of_range);
  EXPECT_THROW(decode_int8(s, q.data(), i8, 33, out.data()), std::out_of_range);
  EXPECT_THROW(f16.append(kv.k.data(), kv.v.data()), std::length_error);
  // Head counts that do not divide.
  EXPECT_THROW(decode_f16(Shape{6, 4, 16}, q.data(), f16, 8, out.data()), std::invalid_argument);
  EXPECT_THROW(validate(Shape{8, 3, 16}), std::invalid_argument);
  EXPECT_THROW(validate(Shape{8, 4, 12}), std::invalid_argument);
  // Tiles: 0 asks for the heuristic, anything not a positive multiple of 16 is refused.
  EXPECT_GT(decode_tile_tokens(0, 64), 0);
  EXPECT_THROW(decode_tile_tokens(8, 64), std::invalid_argument);
  EXPECT_THROW(decode_tile_tokens(-16, 64), std::invalid_argument);
  DecodeOptions bad_tile;
  bad_tile.tile_tokens = 20;
  EXPECT_THROW(decode_int8(s, q.data(), i8, 8, out.data(), bad_tile), std::invalid_argument);
  // Unknown path names; a path the CPU lacks.
  EXPECT_THROW(parse_path("avx1024"), std::invalid_argument);
  for (Path p : {Path::Avx2, Path::Avx512}) {
    if (path_supported(p)) continue;
    DecodeOptions o;
    o.path = p;
    EXPECT_THROW(decode_f16(s, q.data(), f16, 8, out.data(), o), std::runtime_error);
  }
}

TEST(AttentionDecode, Fp16ConversionRoundsToNearestEven) {
  for (float f : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1e-5f, 5.96e-8f, 1e-3f, 3.14159f}) {
    const float back = f16_to_f32(f32_to_f16(f));
    EXPECT_LE(std::fabs(back - f), std::fabs(f) * std::ldexp(1.0, -11) + 3e-8) << f;
  }
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie → even
  EXPECT_EQ(f32_to_f16(70000.0f), 0x7C00);                       // overflow → inf
}

}  // namespace
