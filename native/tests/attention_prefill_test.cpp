// Tiled causal prefill against the naive reference (materialised scores) on every path, with
// a bound from FP32 rounding: both compute the same sums in different orders, so each output
// may differ by λ·√(n+D)·u times the magnitudes involved (see the GEMM tests' reasoning).
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "attention/synthetic_kv.h"
#include "attention_paths.h"
#include "infeng/attention.h"

namespace {

using namespace infeng;
using namespace infeng::attn;

using attn_test::runnable_paths;

struct Case {
  Shape shape;
  int n;
  int tile;
};

TEST(AttentionPrefill, TiledMatchesTheMaterialisedReferenceOnEveryPath) {
  const Case cases[] = {
      {{32, 4, 64}, 300, 0},   // ragged last tile
      {{32, 8, 128}, 130, 32},
      {{8, 4, 8}, 200, 16},    // stories260K's heads
      {{6, 3, 24}, 77, 48},
      {{2, 2, 16}, 1, 0},      // a single token
  };
  for (const Case& c : cases) {
    const Shape& s = c.shape;
    const int D = s.head_dim;
    const auto kv = synthetic::make_kv(c.n, s.n_kv_heads, D, 3);
    const auto q = synthetic::make_queries(c.n * s.n_q_heads * D, 4);
    std::vector<float> ref(q.size()), out(q.size());
    prefill_reference(s, q.data(), kv.k.data(), kv.v.data(), c.n, ref.data(), 2);
    const double u = std::ldexp(1.0, -24);
    const double lambda = 8.0;
    for (Path p : runnable_paths()) {
      PrefillOptions opt;
      opt.path = p;
      opt.tile = c.tile;
      opt.threads = 2;
      const PrefillInfo info = prefill_tiled(s, q.data(), kv.k.data(), kv.v.data(), c.n, out.data(), opt);
      EXPECT_EQ(info.path, p);
      for (int i = 0; i < c.n; ++i) {
        // Scores reach |s| ~ 10 here (outlier K channels): their rounding, e^|Δs| − 1, scales
        // the error of the outputs, which are bounded by max |v| ≈ 5.
        const double tol = lambda * std::sqrt(static_cast<double>(i + 1 + D)) * u * 50.0 * 5.0 + 1e-6;
        for (int j = 0; j < s.n_q_heads * D; ++j) {
          const std::size_t at = static_cast<std::size_t>(i) * s.n_q_heads * D + j;
          ASSERT_NEAR(out[at], ref[at], tol) << path_name(p) << " n " << c.n << " row " << i << " elem " << j;
        }
      }
    }
  }
}

TEST(AttentionPrefill, BadInputsAreClearErrors) {
  const auto kv = synthetic::make_kv(8, 2, 16, 5);
  std::vector<float> q(8 * 4 * 16, 0.1f), out(q.size());
  PrefillOptions bad;
  bad.tile = 24;
  EXPECT_THROW(prefill_tiled(Shape{4, 2, 16}, q.data(), kv.k.data(), kv.v.data(), 8, out.data(), bad),
               std::invalid_argument);
  EXPECT_THROW(prefill_tiled(Shape{4, 3, 16}, q.data(), kv.k.data(), kv.v.data(), 8, out.data()),
               std::invalid_argument);
  EXPECT_THROW(prefill_tiled(Shape{4, 2, 16}, q.data(), kv.k.data(), kv.v.data(), 0, out.data()),
               std::out_of_range);
  EXPECT_THROW(prefill_reference(Shape{4, 2, 16}, q.data(), kv.k.data(), kv.v.data(), 0, out.data()),
               std::out_of_range);
}

}  // namespace
