// Every compiled and supported ISA path against the double-accumulating scalar reference.
//
// Tolerance: float accumulation of n products has a rounding error bounded by about
// γ_n·Σ|x||w| (γ_n ≈ n·u, u = 2^-24) in the worst case; rounding errors of a long sum behave
// like a random walk, so the error actually seen grows as sqrt(n)·u·Σ|x||w|. The bound below
// is kSigmas such standard deviations, with n = K for the base product and K + rank for the
// LoRA term (T = x·A is rounded, then multiplied by B).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "infeng/gemm.h"

namespace {

using infeng::Path;
namespace gm = infeng::gemm;

constexpr double kUnitRoundoff = 0x1p-24;
constexpr double kSigmas = 4.0;

struct Shape {
  int M, K, N, rank;
  int ldx_pad = 0, ldy_pad = 0;
};

std::vector<float> random_matrix(std::size_t n, std::uint32_t seed, float lo = -1.0f,
                                 float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& e : v) e = d(rng);
  return v;
}

struct Case {
  Shape s;
  int ldx, ldw, lda, ldb, ldy;
  std::vector<float> x, W, A, B;
  float scale = 0.5f;
  explicit Case(const Shape& sh, std::uint32_t seed) : s(sh) {
    ldx = s.K + s.ldx_pad;
    ldw = s.N;
    lda = s.rank;
    ldb = s.N;
    ldy = s.N + s.ldy_pad;
    x = random_matrix(static_cast<std::size_t>(s.M) * ldx, seed);
    W = random_matrix(static_cast<std::size_t>(s.K) * ldw, seed + 1);
    A = random_matrix(static_cast<std::size_t>(s.K) * lda, seed + 2);
    B = random_matrix(static_cast<std::size_t>(s.rank) * ldb, seed + 3);
  }

  // Per-element bound: kSigmas·sqrt(n)·u·Σ|terms|.
  std::vector<double> bounds(bool lora) const {
    std::vector<double> out(static_cast<std::size_t>(s.M) * s.N);
    std::vector<double> tabs(s.rank);
    for (int i = 0; i < s.M; ++i) {
      for (int q = 0; q < s.rank; ++q) {
        double t = 0;
        for (int k = 0; k < s.K; ++k) t += std::fabs(x[i * ldx + k]) * std::fabs(A[k * lda + q]);
        tabs[q] = t;
      }
      for (int j = 0; j < s.N; ++j) {
        double sw = 0;
        for (int k = 0; k < s.K; ++k) sw += std::fabs(x[i * ldx + k]) * std::fabs(W[k * ldw + j]);
        double b = std::sqrt(static_cast<double>(std::max(s.K, 1))) * sw;
        if (lora) {
          double sl = 0;
          for (int q = 0; q < s.rank; ++q) sl += std::fabs(scale) * tabs[q] * std::fabs(B[q * ldb + j]);
          b += std::sqrt(static_cast<double>(s.K + s.rank)) * sl;
        }
        // + half an ulp for the reference's own rounding to float
        out[static_cast<std::size_t>(i) * s.N + j] = kSigmas * kUnitRoundoff * b + 1e-30;
      }
    }
    return out;
  }
};

enum class Kind { Base, Fused, Unfused };
const char* kind_name(Kind k) {
  return k == Kind::Base ? "base" : k == Kind::Fused ? "fused" : "unfused";
}

void check_case(Path path, int threads, const Shape& sh, Kind kind) {
  SCOPED_TRACE(std::string("path=") + infeng::path_name(path) + " kind=" + kind_name(kind) +
               " threads=" + std::to_string(threads) + " M=" + std::to_string(sh.M) +
               " K=" + std::to_string(sh.K) + " N=" + std::to_string(sh.N) +
               " rank=" + std::to_string(sh.rank));
  Case c(sh, 1234u + sh.M * 7 + sh.K * 13 + sh.N);
  auto P = gm::pack_weights(c.W.data(), sh.K, sh.N, c.ldw, path);
  ASSERT_EQ(P.path, path);
  const float sentinel = 12345.0f;
  std::vector<float> y(static_cast<std::size_t>(sh.M) * c.ldy, sentinel);
  std::vector<float> ref(static_cast<std::size_t>(sh.M) * sh.N);
  gm::Options opt;
  opt.threads = threads;
  opt.path = path;
  if (kind == Kind::Base) {
    gm::matmul(c.x.data(), sh.M, c.ldx, P, y.data(), c.ldy, opt);
    gm::reference_matmul(c.x.data(), sh.M, c.ldx, c.W.data(), c.ldw, sh.K, sh.N, ref.data(), sh.N);
  } else {
    auto L = gm::pack_lora(c.A.data(), c.lda, c.B.data(), c.ldb, sh.K, sh.N, sh.rank, c.scale, path);
    if (kind == Kind::Fused) {
      gm::matmul_lora_fused(c.x.data(), sh.M, c.ldx, P, L, y.data(), c.ldy, opt);
    } else {
      gm::matmul_lora_unfused(c.x.data(), sh.M, c.ldx, P, L, y.data(), c.ldy, opt);
    }
    gm::reference_lora(c.x.data(), sh.M, c.ldx, c.W.data(), c.ldw, c.A.data(), c.lda, c.B.data(),
                       c.ldb, sh.K, sh.N, sh.rank, c.scale, ref.data(), sh.N);
  }
  ASSERT_EQ(gm::last_path(), path);
  const auto bound = c.bounds(kind != Kind::Base);
  int bad = 0;
  for (int i = 0; i < sh.M && bad < 5; ++i) {
    for (int j = 0; j < sh.N && bad < 5; ++j) {
      const double got = y[static_cast<std::size_t>(i) * c.ldy + j];
      const double want = ref[static_cast<std::size_t>(i) * sh.N + j];
      const double tol = bound[static_cast<std::size_t>(i) * sh.N + j];
      if (!(std::fabs(got - want) <= tol)) {
        ADD_FAILURE() << "y[" << i << "][" << j << "] = " << got << ", want " << want
                      << " (tol " << tol << ")";
        ++bad;
      }
    }
    // Columns past N in a padded y row are not ours to write.
    for (int j = sh.N; j < c.ldy; ++j) {
      if (y[static_cast<std::size_t>(i) * c.ldy + j] != sentinel) {
        ADD_FAILURE() << "wrote past N at row " << i << " column " << j;
        ++bad;
        break;
      }
    }
  }
}

const std::vector<Shape>& shapes() {
  static const std::vector<Shape> s = {
      {1, 64, 64, 4},        // decode GEMV
      {1, 37, 19, 1},        // odd K and N, N < NR, rank 1
      {1, 1, 1, 1},          // degenerate
      {3, 17, 5, 2, 3, 2},   // padded leading dimensions
      {4, 2048, 48, 16},     // long K: tolerance scaling, decode kc slabs
      {13, 100, 33, 3},      // M < MR on AVX-512, ragged last panel
      {16, 257, 100, 16},    // decode with two row blocks, K not a multiple of the vector width
      {17, 300, 65, 5},      // smallest prefill, M not a multiple of any MR
      {29, 513, 97, 33},     // rank spanning two A panels on the 16-wide paths
      {64, 256, 256, 8},     // exact multiples
      {128, 260, 130, 16},   // prefill, K just past one kc slab
      {200, 777, 64, 32, 5, 7},
      {1100, 40, 40, 3},     // more rows than one row chunk
      {33, 1, 9, 1},         // K = 1
  };
  return s;
}

std::vector<Path> testable_paths() {
  std::vector<Path> out;
  for (Path p : {Path::Scalar, Path::Avx2, Path::Avx512})
    if (infeng::path_supported(p)) out.push_back(p);
  return out;
}

class PathThreads : public ::testing::TestWithParam<std::tuple<Path, int>> {};

TEST_P(PathThreads, MatmulMatchesReference) {
  const auto [path, threads] = GetParam();
  for (const Shape& s : shapes()) check_case(path, threads, s, Kind::Base);
}

TEST_P(PathThreads, FusedLoraMatchesReference) {
  const auto [path, threads] = GetParam();
  for (const Shape& s : shapes()) check_case(path, threads, s, Kind::Fused);
}

TEST_P(PathThreads, UnfusedLoraMatchesReference) {
  const auto [path, threads] = GetParam();
  for (const Shape& s : shapes()) check_case(path, threads, s, Kind::Unfused);
}

INSTANTIATE_TEST_SUITE_P(
    SupportedPaths, PathThreads,
    ::testing::Combine(::testing::ValuesIn(testable_paths()), ::testing::Values(1, 2)),
    [](const auto& info) {
      return std::string(infeng::path_name(std::get<0>(info.param))) + "_threads" +
             std::to_string(std::get<1>(info.param));
    });

TEST(GemmEdges, ZeroKGivesZero) {
  std::vector<float> W(1), x(3), y(3 * 5, 7.0f);
  auto P = gm::pack_weights(W.data(), 0, 5, 5, Path::Scalar);
  gm::matmul(x.data(), 3, 1, P, y.data(), 5);
  for (float v : y) EXPECT_EQ(v, 0.0f);
}

TEST(GemmPacking, WeightsPackedForOnePathRejectedByAnother) {
  const int K = 8, N = 16;
  auto W = random_matrix(K * N, 1);
  auto x = random_matrix(2 * K, 2);
  std::vector<float> y(2 * N);
  for (Path packed : {Path::Scalar, Path::Avx2, Path::Avx512}) {
    if (!infeng::path_compiled(packed)) continue;
    auto P = gm::pack_weights(W.data(), K, N, N, packed);
    for (Path used : {Path::Scalar, Path::Avx2, Path::Avx512}) {
      if (used == packed) continue;
      gm::Options opt;
      opt.path = used;
      EXPECT_THROW(gm::matmul(x.data(), 2, K, P, y.data(), N, opt), std::invalid_argument)
          << "packed for " << infeng::path_name(packed) << ", used as " << infeng::path_name(used);
    }
  }
}

TEST(GemmPacking, AdapterPackedForAnotherPathRejected) {
  const int K = 8, N = 16, r = 2;
  auto W = random_matrix(K * N, 1), A = random_matrix(K * r, 2), B = random_matrix(r * N, 3);
  auto x = random_matrix(2 * K, 4);
  std::vector<float> y(2 * N);
  const Path best = infeng::best_path();
  if (best == Path::Scalar) GTEST_SKIP() << "only the scalar path runs here";
  auto P = gm::pack_weights(W.data(), K, N, N, best);
  auto L = gm::pack_lora(A.data(), r, B.data(), N, K, N, r, 1.0f, Path::Scalar);
  EXPECT_THROW(gm::matmul_lora_fused(x.data(), 2, K, P, L, y.data(), N), std::invalid_argument);
  EXPECT_THROW(gm::matmul_lora_unfused(x.data(), 2, K, P, L, y.data(), N), std::invalid_argument);
}

TEST(GemmPacking, RelabelledPathDetected) {
  // A packing whose path field was changed after the fact no longer has that path's layout.
  const int K = 8, N = 40;
  auto W = random_matrix(K * N, 1);
  auto x = random_matrix(K, 2);
  std::vector<float> y(N);
  auto P = gm::pack_weights(W.data(), K, N, N, Path::Scalar);
  for (Path other : {Path::Avx2, Path::Avx512}) {
    if (!infeng::path_supported(other)) continue;
    if (gm::pack_weights(W.data(), K, N, N, other).floats == P.floats &&
        gm::pack_weights(W.data(), K, N, N, other).nr == P.nr)
      continue;  // same geometry: indistinguishable, nothing to detect
    P.path = other;
    EXPECT_THROW(gm::matmul(x.data(), 1, K, P, y.data(), N), std::invalid_argument);
    P.path = Path::Scalar;
  }
}

}  // namespace
