#include <gtest/gtest.h>

#include "infeng/dispatch.h"

namespace {

TEST(Dispatch, ParsePathNames) {
  EXPECT_EQ(infeng::parse_path("scalar"), infeng::Path::Scalar);
  EXPECT_EQ(infeng::parse_path("avx2"), infeng::Path::Avx2);
  EXPECT_EQ(infeng::parse_path("avx512"), infeng::Path::Avx512);
  EXPECT_THROW(infeng::parse_path("sse"), std::invalid_argument);
}

}  // namespace
