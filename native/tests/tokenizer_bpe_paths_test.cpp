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

// The rounds algorithm must agree with the heap on any table: one where merges rank after the
// merges that make their parts (as trained tables mostly do) and a scrambled one where a merge
// often enables a lower-ranked one (which ends a pass early); on short and long inputs,
// including long runs of one symbol (log-depth rounds) and inputs that exhaust the budget.
TEST(TokenizerBpePaths, RoundsAgreeWithHeap) {
 for (bool scrambled : {false, true}) {
  PairMap merges;
  merges.reserve(256);
  std::mt19937 rng(scrambled ? 4 : 3);
  std::vector<uint32_t> tokens = {0, 1, 2, 3};
  uint32_t next = 4;
  for (uint32_t rank = 0; rank < 120; ++rank) {  // ranks increase with creation: monotone
    uint32_t a = tokens[rng() % tokens.size()], b = tokens[rng() % tokens.size()];
    if (merges.find(a, b)) continue;
    merges.insert(a, b, {scrambled ? uint32_t((rank * 7919u) % 127u) : rank, next});
    tokens.push_back(next++);
  }
  for (int iter = 0; iter < 3000; ++iter) {
    size_t n = iter % 10 == 0 ? 200 + rng() % 2000 : 1 + rng() % 80;
    std::vector<uint32_t> syms(n);
    const uint32_t alphabet = iter % 7 == 0 ? 1 : 4;  // some runs of one repeated symbol
    for (auto& s : syms) s = rng() % alphabet;
    std::vector<uint32_t> a = syms, b = syms;
    bpe_merge_rounds(merges, a);
    bpe_merge_heap(merges, b);
    ASSERT_EQ(a, b) << "iteration " << iter << ", n " << n << (scrambled ? ", scrambled" : "");
  }
 }
}
