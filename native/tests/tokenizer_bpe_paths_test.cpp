// The two merge loops of bpe.h (rank array for short pieces, heap for long ones) must give the
// same result on every input: checked on random symbol strings over a small merge table with
// ties, chains and merges whose result enables a lower-ranked merge.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "bpe.h"

using namespace infeng::tok;

TEST(TokenizerBpePaths, ShortAndHeapAgreeOnRandomInput) {
  // Symbols 0..3 are "characters"; merges build 4.. from them with scrambled ranks.
  PairMap merges;
  merges.reserve(64);
  std::mt19937 rng(11);
  uint32_t next = 4;
  std::vector<uint32_t> tokens = {0, 1, 2, 3};
  for (uint32_t rank = 0; rank < 40; ++rank) {
    uint32_t a = tokens[rng() % tokens.size()], b = tokens[rng() % tokens.size()];
    if (merges.find(a, b)) continue;
    merges.insert(a, b, {uint32_t((rank * 7919u) % 97u), next});
    tokens.push_back(next++);
  }
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint32_t> syms(1 + rng() % 60);
    for (auto& s : syms) s = rng() % 4;
    std::vector<uint32_t> a = syms, b = syms;
    bpe_merge_short(merges, a);
    bpe_merge_heap(merges, b);
    ASSERT_EQ(a, b) << "iteration " << iter;
  }
}
