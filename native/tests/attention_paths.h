// The ISA paths this CPU can run, for the attention tests that check every one of them.
#pragma once
#include <vector>

#include "infeng/dispatch.h"

namespace infeng::attn_test {

inline std::vector<Path> runnable_paths() {
  std::vector<Path> out;
  for (Path p : {Path::Scalar, Path::Avx2, Path::Avx512})
    if (path_supported(p)) out.push_back(p);
  return out;
}

}  // namespace infeng::attn_test
