// The AVX-512 per-group query preparation and CSR outlier correction against the generic
// versions built with the same flags. The query's int8 levels, scales, sums and zq must be the
// same bits (the VNNI path is held to the scalar one elsewhere; this keeps the vector
// preparation from drifting inside that tolerance unnoticed); the outlier sums within FP
// rounding. Inputs cover head widths that are not multiples of 16 (8, 24, 136), odd and > 8
// head counts, a scale small enough to keep the ±127 clamps, and the CSR shapes the fast path
// must refuse.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "attention/decode_kernels.h"
#include "attention/decode_weights.h"
#include "attention/synthetic_kv.h"
#include "attention_decode_prep.h"
#include "infeng/attention.h"
#include "infeng/dispatch.h"

namespace {

using namespace infeng;
using namespace infeng::attn;
using detail::QueryBuffers;
using prep_test::PrepFns;

// Null when this build or this CPU has no AVX-512.
const PrepFns* avx512_fns() {
#if INFENG_HAVE_AVX512
  static const PrepFns f = prep_test::prep_fns_avx512();
  if (path_supported(Path::Avx512)) return &f;
#endif
  return nullptr;
}

std::uint32_t bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// Outputs of one prepare_query call, with slack past G·D (or G) filled with a marker so a
// write past the end shows up.
constexpr int kSlack = 64;
struct Prepared {
  std::vector<std::int8_t> hi, lo;
  std::vector<float> s_hi, s_lo, zq;
  std::vector<std::int32_t> b_hi, b_lo;
  Prepared(int G, int D)
      : hi(G * D + kSlack, 0x5A), lo(G * D + kSlack, 0x5A), s_hi(G + kSlack, -7.0f), s_lo(G + kSlack, -7.0f),
        zq(G + kSlack, -7.0f), b_hi(G + kSlack, -7), b_lo(G + kSlack, -7) {}
  QueryBuffers buffers() {
    return {hi.data(), lo.data(), s_hi.data(), s_lo.data(), b_hi.data(), b_lo.data(), zq.data()};
  }
};

struct QueryInputs {
  std::vector<float> qs, ks, mid;
};

// Gaussian queries at the driver's 1/√D scale with a per-head amplitude; per-channel K scales
// with two zero (outlier) channels and midpoints of either sign. zero_scales: a group whose
// channels are all outliers (s_hi = 0). tiny_head0: head 0 scaled to max|q·ks| = 2e-34, where
// s_lo is subnormal (the vector code then keeps the ±127 clamps it otherwise proves idle).
QueryInputs make_query_inputs(int G, int D, std::uint64_t seed, bool zero_scales, bool tiny_head0 = false) {
  synthetic::Gaussian g(seed);
  QueryInputs in;
  in.qs.resize(static_cast<std::size_t>(G) * D);
  for (int h = 0; h < G; ++h) {
    const float amp = (0.5f + 0.25f * static_cast<float>(h % 5)) / std::sqrt(static_cast<float>(D));
    for (int c = 0; c < D; ++c) in.qs[h * D + c] = amp * g.next();
  }
  in.ks.resize(D);
  in.mid.resize(D);
  for (int c = 0; c < D; ++c) {
    in.ks[c] = zero_scales ? 0.0f : 0.01f + 0.05f * std::fabs(g.next());
    in.mid[c] = 0.3f * g.next();
  }
  if (!zero_scales && D > 2) in.ks[1] = in.ks[D - 2] = 0.0f;
  if (tiny_head0) {
    float at = 0.0f;
    for (int c = 0; c < D; ++c) at = std::max(at, std::fabs(in.qs[c] * in.ks[c]));
    for (int c = 0; c < D; ++c) in.qs[c] *= 2e-34f / at;
  }
  return in;
}

void expect_same_prepared(const Prepared& a, const Prepared& b, int G, int D, bool levels, const std::string& what) {
  for (int h = 0; h < G + kSlack; ++h) {
    ASSERT_EQ(bits(a.zq[h]), bits(b.zq[h])) << what << " zq head " << h << ": " << a.zq[h] << " vs " << b.zq[h];
    if (!levels) continue;
    ASSERT_EQ(bits(a.s_hi[h]), bits(b.s_hi[h])) << what << " s_hi head " << h;
    ASSERT_EQ(bits(a.s_lo[h]), bits(b.s_lo[h])) << what << " s_lo head " << h;
    ASSERT_EQ(a.b_hi[h], b.b_hi[h]) << what << " b_hi head " << h;
    ASSERT_EQ(a.b_lo[h], b.b_lo[h]) << what << " b_lo head " << h;
  }
  if (!levels) return;
  for (int i = 0; i < G * D + kSlack; ++i) {
    ASSERT_EQ(a.hi[i], b.hi[i]) << what << " hi head " << i / D << " ch " << i % D;
    ASSERT_EQ(a.lo[i], b.lo[i]) << what << " lo head " << i / D << " ch " << i % D;
  }
}

TEST(AttentionDecodePrep, QueryPreparationMatchesGenericBitForBit) {
  const PrepFns* f = avx512_fns();
  if (!f) GTEST_SKIP() << "no AVX-512 here";
  const int kWidths[] = {8, 16, 24, 64, 128, 136, 256};
  const int kHeads[] = {1, 2, 3, 4, 5, 6, 7, 8, 12};
  int cases = 0;
  for (int D : kWidths) {
    for (int G : kHeads) {
      for (int variant = 0; variant < 4; ++variant) {
        const bool zero_scales = variant == 2, tiny = variant == 3;
        const QueryInputs in = make_query_inputs(G, D, 1000u * D + 10u * G + variant, zero_scales, tiny);
        for (bool levels : {false, true}) {
          const std::string what = "D " + std::to_string(D) + " G " + std::to_string(G) + " variant " +
                                   std::to_string(variant) + (levels ? " levels" : "");
          Prepared ref(G, D), got(G, D);
          f->prepare_generic(in.qs.data(), in.ks.data(), in.mid.data(), G, D, levels, ref.buffers());
          f->prepare_avx512(in.qs.data(), in.ks.data(), in.mid.data(), G, D, levels, got.buffers());
          expect_same_prepared(ref, got, G, D, levels, what);
          if (HasFatalFailure()) return;
          // The comparison means something only when the outputs do: zq is the dot product with
          // the midpoints, and q·ks comes back from the two levels to within half the lo step.
          for (int h = tiny ? 1 : 0; h < G; ++h) {
            double z = 0, za = 0;
            for (int c = 0; c < D; ++c) {
              z += static_cast<double>(in.qs[h * D + c]) * in.mid[c];
              za += std::fabs(static_cast<double>(in.qs[h * D + c]) * in.mid[c]);
            }
            ASSERT_NEAR(got.zq[h], z, 1e-6 * za + 1e-30) << what << " head " << h;
            if (!levels) continue;
            int at_max = 0;
            for (int c = 0; c < D; ++c) {
              const double fq = static_cast<double>(in.qs[h * D + c]) * in.ks[c];
              const double back = static_cast<double>(got.s_hi[h]) * got.hi[h * D + c] +
                                  static_cast<double>(got.s_lo[h]) * got.lo[h * D + c];
              ASSERT_LE(std::fabs(fq - back), 0.51 * got.s_lo[h] + 1e-6 * std::fabs(fq))
                  << what << " head " << h << " ch " << c;
              at_max += std::abs(got.hi[h * D + c]) == 127;
            }
            if (zero_scales) {
              EXPECT_EQ(got.s_hi[h], 0.0f) << what;
            } else {
              EXPECT_GE(at_max, 1) << what << " head " << h << ": no channel at the top level";
            }
          }
          ++cases;
        }
      }
    }
  }
  EXPECT_EQ(cases, 7 * 9 * 4 * 2);
}

// The AVX-512 table is what the driver calls (the VNNI table copies it): same bits again.
TEST(AttentionDecodePrep, Avx512TablesPrepareTheSameQuery) {
  const PrepFns* f = avx512_fns();
  if (!f) GTEST_SKIP() << "no AVX-512 here";
#if INFENG_HAVE_AVX512
  const auto& k = detail::decode_kernels_avx512();
  for (int D : {8, 24, 64, 128}) {
    const int G = 8;
    const QueryInputs in = make_query_inputs(G, D, 77u + D, false);
    Prepared ref(G, D), got(G, D);
    f->prepare_generic(in.qs.data(), in.ks.data(), in.mid.data(), G, D, true, ref.buffers());
    k.prepare_query(in.qs.data(), in.ks.data(), in.mid.data(), G, D, true, got.buffers());
    expect_same_prepared(ref, got, G, D, true, "table D " + std::to_string(D));
  }
  if (cpu_features().avx512_vnni) {
    EXPECT_EQ(detail::decode_kernels_vnni_avx512().apply_outliers, k.apply_outliers);
  }
#endif
}

// The VNNI table's one-level int16 query (8 heads per vector) is the AVX2 path's definition:
// the same q16, s_hi and b_hi bits; zq (summed in another order) within FP32 rounding.
struct Prepared16 {
  std::vector<std::int16_t> q16;
  std::vector<float> s_hi, zq;
  std::vector<std::int32_t> b_hi;
  Prepared16(int G, int D) : q16(G * D + kSlack, 0x5A5A), s_hi(G + kSlack, -7.0f), zq(G + kSlack, -7.0f), b_hi(G + kSlack, -7) {}
  QueryBuffers buffers() {
    auto* bytes = reinterpret_cast<std::int8_t*>(q16.data());
    return {bytes, bytes + q16.size(), s_hi.data(), nullptr, b_hi.data(), nullptr, zq.data()};
  }
};

TEST(AttentionDecodePrep, VnniInt16QueryIsTheAvx2Query) {
#if INFENG_HAVE_AVX512 && INFENG_HAVE_AVX2
  if (!path_supported(Path::Avx512) || !cpu_features().avx512_vnni) GTEST_SKIP() << "no AVX-512 VNNI here";
  const auto& avx2 = detail::decode_kernels_avx2();
  const auto& vnni = detail::decode_kernels_vnni_avx512();
  ASSERT_TRUE(vnni.int_query && avx2.int_query);
  int cases = 0;
  for (int D : {8, 16, 24, 64, 128, 136, 256}) {
    const int L = static_cast<int>(std::min<long long>(32767, 2147483647LL / (255LL * D)));
    for (int G : {1, 3, 7, 8, 12}) {
      for (int variant = 0; variant < 4; ++variant) {
        const bool zero_scales = variant == 2, tiny = variant == 3;
        const QueryInputs in = make_query_inputs(G, D, 500u * D + 7u * G + variant, zero_scales, tiny);
        const std::string what = "D " + std::to_string(D) + " G " + std::to_string(G) + " variant " + std::to_string(variant);
        Prepared16 ref(G, D), got(G, D);
        avx2.prepare_query(in.qs.data(), in.ks.data(), in.mid.data(), G, D, true, ref.buffers());
        vnni.prepare_query(in.qs.data(), in.ks.data(), in.mid.data(), G, D, true, got.buffers());
        for (int i = 0; i < G * D + kSlack; ++i) ASSERT_EQ(ref.q16[i], got.q16[i]) << what << " q16 " << i;
        for (int h = 0; h < G + kSlack; ++h) {
          ASSERT_EQ(bits(ref.s_hi[h]), bits(got.s_hi[h])) << what << " s_hi head " << h;
          ASSERT_EQ(ref.b_hi[h], got.b_hi[h]) << what << " b_hi head " << h;
          if (h >= G) ASSERT_EQ(bits(got.zq[h]), bits(-7.0f)) << what << " zq written past G";
        }
        for (int h = 0; h < G; ++h) {
          double za = 0;
          for (int c = 0; c < D; ++c) za += std::fabs(static_cast<double>(in.qs[h * D + c]) * in.mid[c]);
          ASSERT_NEAR(got.zq[h], ref.zq[h], 1e-6 * za + 1e-30) << what << " zq head " << h;
          // Meaningful levels: q·ks comes back within half a step, one channel at the limit, and
          // b_hi is 128 times their sum.
          if (zero_scales) {
            EXPECT_EQ(got.s_hi[h], 0.0f) << what;
            continue;
          }
          long long sum = 0;
          int at_limit = 0;
          for (int c = 0; c < D; ++c) {
            const double fq = static_cast<double>(in.qs[h * D + c]) * in.ks[c];
            ASSERT_LE(std::fabs(fq - static_cast<double>(got.s_hi[h]) * got.q16[h * D + c]), 0.51 * got.s_hi[h] + 1e-6 * std::fabs(fq))
                << what << " head " << h << " ch " << c;
            sum += got.q16[h * D + c];
            at_limit += std::abs(got.q16[h * D + c]) == L;
          }
          EXPECT_EQ(got.b_hi[h], 128 * sum) << what << " head " << h;
          EXPECT_GE(at_limit, 1) << what << " head " << h;
        }
        ++cases;
      }
    }
  }
  EXPECT_EQ(cases, 7 * 5 * 4);
#else
  GTEST_SKIP() << "this build has no AVX-512 or no AVX2 path";
#endif
}

// A CSR built token by token.
struct Csr {
  std::vector<std::int32_t> row_ptr{0};
  std::vector<std::uint16_t> col;
  std::vector<float> val;
  void add_token(const std::vector<int>& cols, synthetic::Gaussian& g) {
    for (int c : cols) {
      col.push_back(static_cast<std::uint16_t>(c));
      val.push_back(4.0f * g.next());
    }
    row_ptr.push_back(static_cast<std::int32_t>(col.size()));
  }
};

// Distinct channels below D, in no particular order.
std::vector<int> pick_cols(int nf, int D, synthetic::Gaussian& g) {
  std::vector<int> out;
  while (static_cast<int>(out.size()) < nf) {
    const int c = static_cast<int>(g.bits() % static_cast<std::uint64_t>(D));
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  }
  return out;
}

enum class CsrShape { Dense, OtherColumn, SwappedOrder, MissingEntry, ExtraEntry, TooMany, EmptyFirst, Empty };

const char* shape_name(CsrShape s) {
  switch (s) {
    case CsrShape::Dense: return "dense";
    case CsrShape::OtherColumn: return "other column";
    case CsrShape::SwappedOrder: return "swapped order";
    case CsrShape::MissingEntry: return "missing entry";
    case CsrShape::ExtraEntry: return "extra entry";
    case CsrShape::TooMany: return "too many columns";
    case CsrShape::EmptyFirst: return "empty first token";
    case CsrShape::Empty: return "no entries";
  }
  return "?";
}

int unused_col(const std::vector<int>& cols, int D) {
  int x = 0;
  while (std::find(cols.begin(), cols.end(), x) != cols.end()) ++x;
  return x % D;
}

// 3 groups of kKvGroup tokens, each group with its own columns (the quantiser's layout);
// the shape is imposed on the middle group, where the calls look (so f0 > 0).
Csr make_csr(CsrShape shape, int nf, int D, std::uint64_t seed) {
  synthetic::Gaussian g(seed);
  Csr csr;
  for (int grp = 0; grp < 3; ++grp) {
    const int want = shape == CsrShape::TooMany && grp == 1 ? std::min(D, 6) : nf;
    const std::vector<int> cols = pick_cols(want, D, g);
    for (int t = 0; t < kKvGroup; ++t) {
      std::vector<int> c = shape == CsrShape::Empty && grp == 1 ? std::vector<int>{} : cols;
      if (grp == 1) {
        if (shape == CsrShape::OtherColumn && t == 37) c.back() = unused_col(c, D);
        if (shape == CsrShape::SwappedOrder && t == 21 && c.size() > 1) std::swap(c[0], c[1]);
        if (shape == CsrShape::MissingEntry && t == 50) c.pop_back();
        if (shape == CsrShape::ExtraEntry && t == 9) c.push_back(unused_col(c, D));
        if (shape == CsrShape::EmptyFirst && t == 0) c.clear();
      }
      csr.add_token(c, g);
    }
  }
  return csr;
}

TEST(AttentionDecodePrep, OutlierCorrectionMatchesGeneric) {
  const PrepFns* f = avx512_fns();
  if (!f) GTEST_SKIP() << "no AVX-512 here";
  // Token ranges inside the middle group [64, 128): whole, partial runs of 16, single tokens,
  // starting mid-group; plus one across groups (longer than a group: the general path).
  const std::pair<int, int> kRanges[] = {{64, 128}, {64, 65}, {64, 69}, {64, 80}, {64, 81},
                                         {80, 117}, {100, 128}, {127, 128}, {96, 112}, {40, 150}};
  const CsrShape kShapes[] = {CsrShape::Dense,      CsrShape::OtherColumn, CsrShape::SwappedOrder,
                              CsrShape::MissingEntry, CsrShape::ExtraEntry, CsrShape::TooMany,
                              CsrShape::EmptyFirst,  CsrShape::Empty};
  int changed_cases = 0, cases = 0;
  for (int D : {8, 64, 136}) {
    for (int G : {1, 3, 8, 12}) {
      synthetic::Gaussian gq(5000u + 10u * D + G);
      std::vector<float> qs(static_cast<std::size_t>(G) * D);
      for (auto& x : qs) x = 0.125f * gq.next();
      for (CsrShape shape : kShapes) {
        for (int nf = 1; nf <= 4; ++nf) {
          const Csr csr = make_csr(shape, nf, D, 9000u + 100u * D + 10u * nf + static_cast<unsigned>(shape));
          for (auto [t0, t1] : kRanges) {
            const int n = t1 - t0;
            const int lds = (n + 15) / 16 * 16 + 16;
            // Past the range: −0, which an add of a masked-off 0 product would turn into +0.
            std::vector<float> s0(static_cast<std::size_t>(G) * lds, -0.0f);
            for (int h = 0; h < G; ++h)
              for (int t = 0; t < n; ++t) s0[static_cast<std::size_t>(h) * lds + t] = gq.next();
            std::vector<float> ref = s0, got = s0;
            f->outliers_generic(csr.row_ptr.data(), csr.col.data(), csr.val.data(), t0, t1, qs.data(), G, D,
                                ref.data(), lds);
            f->outliers_avx512(csr.row_ptr.data(), csr.col.data(), csr.val.data(), t0, t1, qs.data(), G, D,
                               got.data(), lds);
            const std::string what = std::string(shape_name(shape)) + " nf " + std::to_string(nf) + " D " +
                                     std::to_string(D) + " G " + std::to_string(G) + " tokens " +
                                     std::to_string(t0) + ".." + std::to_string(t1);
            bool changed = false;
            for (int h = 0; h < G; ++h) {
              for (int t = 0; t < lds; ++t) {
                const std::size_t i = static_cast<std::size_t>(h) * lds + t;
                if (t >= n) {
                  // Past the range: untouched, bit for bit.
                  ASSERT_EQ(bits(got[i]), bits(s0[i])) << what << " wrote past the range at head " << h << " t " << t;
                  continue;
                }
                ASSERT_NEAR(got[i], ref[i], 2e-6 * (1.0 + std::fabs(ref[i]))) << what << " head " << h << " t " << t;
                changed |= std::fabs(ref[i] - s0[i]) > 1e-4;
              }
            }
            // Ranges without entries (inside the empty group) must leave the scores alone.
            const bool has_entries = csr.row_ptr[t1] != csr.row_ptr[t0];
            EXPECT_EQ(changed, has_entries) << what;
            changed_cases += changed;
            ++cases;
          }
        }
      }
    }
  }
  EXPECT_GT(changed_cases, cases / 2);
}

}  // namespace

// The softmax weights' two u8 levels: the AVX-512 quantiser the VNNI kernel runs against the
// portable definition, byte for byte, on rows with zeros, ties and a partial last block.
TEST(AttentionDecodePrep, WeightLevelsMatchGenericByteForByte) {
  if (!avx512_fns()) GTEST_SKIP() << "no AVX-512 here";
#if INFENG_HAVE_AVX512
  std::uint64_t seed = 7;
  auto uniform = [&] {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<float>((seed >> 40) & 0xFFFFFF) / 16777216.0f;
  };
  for (int T : {4, 16, 20, 64, 256, 500}) {
    std::vector<float> p(T), vs(T);
    for (int t = 0; t < T; ++t) {
      const float u = uniform();
      p[t] = t % 7 == 3 ? 0.0f : std::exp(-12.0f * u);  // zeros and a wide range of weights
      vs[t] = 0.001f + 0.05f * uniform();
    }
    std::vector<float> a = p, b = p;
    const float sa = detail::quantise_weights_u8(a.data(), vs.data(), T);
    const float sb = detail::quantise_weights_u8_avx512(b.data(), vs.data(), T);
    ASSERT_EQ(bits(sa), bits(sb)) << "T " << T;
    ASSERT_EQ(0, std::memcmp(a.data(), b.data(), static_cast<std::size_t>(2 * T))) << "T " << T;
    // And the levels mean what they say: hi + lo/256 is the weight in steps of Sw, to 1/512.
    const auto* bytes = reinterpret_cast<const unsigned char*>(a.data());
    for (int t = 0; t < T; ++t) {
      const double y = bytes[(t / 4) * 8 + t % 4] + bytes[(t / 4) * 8 + 4 + t % 4] / 256.0;
      ASSERT_NEAR(y * sa, static_cast<double>(p[t]) * vs[t], sa / 512.0 * 1.001) << "T " << T << " token " << t;
    }
  }
#endif
}
