#include <gtest/gtest.h>

#include <vector>

#include "infeng/gemm.h"

namespace {

TEST(Gemm, ScalarSmoke) {
  std::vector<float> x(3 * 5, 1.0f), W(5 * 7, 2.0f), y(3 * 7), r(3 * 7);
  auto P = infeng::gemm::pack_weights(W.data(), 5, 7, 7, infeng::Path::Scalar);
  infeng::gemm::matmul(x.data(), 3, 5, P, y.data(), 7);
  infeng::gemm::reference_matmul(x.data(), 3, 5, W.data(), 7, 5, 7, r.data(), 7);
  for (size_t i = 0; i < y.size(); ++i) EXPECT_FLOAT_EQ(y[i], r[i]);
}

}  // namespace
