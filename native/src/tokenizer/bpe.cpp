// See bpe.h. Both paths keep, per adjacent pair, the rank of its merge (kNoRank when the pair
// does not merge), so a popped or scanned entry is validated by comparing ranks: ranks are
// unique per pair, so an equal rank means the same pair and no second table lookup is needed.
#include "bpe.h"

#include <algorithm>
#include <functional>

namespace infeng::tok {

namespace {
constexpr uint32_t kNoRank = ~0u;
}

void bpe_merge_short(const PairMap& merges, std::vector<uint32_t>& syms) {
  size_t n = syms.size();
  if (n < 2) return;
  uint32_t rank[kBpeShortLimit];
  uint32_t into[kBpeShortLimit];
  uint32_t* ids = syms.data();
  auto look = [&](size_t i) {
    const PairMap::Merge* m = merges.find(ids[i], ids[i + 1]);
    rank[i] = m ? m->rank : kNoRank;
    into[i] = m ? m->id : 0;
  };
  for (size_t i = 0; i + 1 < n; ++i) look(i);
  for (;;) {
    size_t best = 0;
    uint32_t r = kNoRank;
    for (size_t i = 0; i + 1 < n; ++i)
      if (rank[i] < r) { r = rank[i]; best = i; }
    if (r == kNoRank) break;
    ids[best] = into[best];
    // drop symbol best+1 and pair best (now recomputed)
    for (size_t i = best + 1; i + 1 < n; ++i) ids[i] = ids[i + 1];
    for (size_t i = best + 1; i + 2 < n; ++i) { rank[i] = rank[i + 1]; into[i] = into[i + 1]; }
    --n;
    if (best > 0) look(best - 1);
    if (best + 1 < n) look(best);
  }
  syms.resize(n);
}

void bpe_merge_heap(const PairMap& merges, std::vector<uint32_t>& syms) {
  const size_t n = syms.size();
  if (n < 2) return;
  std::vector<uint32_t> next(n), prev(n), rank(n, kNoRank), into(n, 0);
  for (size_t i = 0; i < n; ++i) {
    next[i] = uint32_t(i + 1);  // n = end
    prev[i] = uint32_t(i) - 1;  // ~0 = none
  }
  std::vector<uint64_t> heap;
  heap.reserve(n);
  auto look = [&](uint32_t i) {
    uint32_t j = next[i];
    const PairMap::Merge* m = j < n ? merges.find(syms[i], syms[j]) : nullptr;
    rank[i] = m ? m->rank : kNoRank;
    into[i] = m ? m->id : 0;
    if (m) {
      heap.push_back((uint64_t(m->rank) << 32) | i);
      std::push_heap(heap.begin(), heap.end(), std::greater<>());
    }
  };
  for (uint32_t i = 0; i + 1 < n; ++i) look(i);
  std::vector<uint8_t> dead(n, 0);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    uint64_t top = heap.back();
    heap.pop_back();
    uint32_t i = uint32_t(top), r = uint32_t(top >> 32);
    if (dead[i] || rank[i] != r) continue;  // stale: the pair at i changed since the push
    uint32_t j = next[i];
    syms[i] = into[i];
    dead[j] = 1;
    rank[j] = kNoRank;
    next[i] = next[j];
    if (next[j] < n) prev[next[j]] = i;
    if (prev[i] != ~0u) look(prev[i]);
    look(i);
  }
  size_t w = 0;
  for (uint32_t i = 0; i < n; i = next[i]) syms[w++] = syms[i];
  syms.resize(w);
}

void bpe_merge(const PairMap& merges, std::vector<uint32_t>& syms) {
  if (syms.size() <= kBpeShortLimit) bpe_merge_short(merges, syms);
  else bpe_merge_heap(merges, syms);
}

}  // namespace infeng::tok
