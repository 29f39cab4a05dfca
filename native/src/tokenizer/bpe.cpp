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

void bpe_merge_rounds(const PairMap& merges, std::vector<uint32_t>& syms) {
  const size_t n0 = syms.size();
  size_t n = n0;
  if (n < 2) return;
  // rank[i]/into[i]: the merge of pair (i, i+1); `merged` marks symbols made in this round,
  // whose pairs need a new lookup (the other pairs keep theirs).
  thread_local std::vector<uint32_t> rank, into, nsyms, nrank, ninto;
  thread_local std::vector<uint8_t> merged;
  rank.resize(n);
  into.resize(n);
  auto look = [&](uint32_t a, uint32_t b, uint32_t* r, uint32_t* to) {
    const PairMap::Merge* m = merges.find(a, b);
    *r = m ? m->rank : kNoRank;
    *to = m ? m->id : 0;
  };
  for (size_t i = 0; i + 1 < n; ++i) look(syms[i], syms[i + 1], &rank[i], &into[i]);
  // Scanning costs n per round, so rounds pay off only while each merges a fair share of the
  // piece (repetition). Diverse text merges a few pairs per round: after a few such lean
  // rounds the rest goes to the heap.
  int lean_rounds = 0;
  for (;;) {
    uint32_t r = kNoRank;
    for (size_t i = 0; i + 1 < n; ++i) r = std::min(r, rank[i]);
    if (r == kNoRank) break;
    if (lean_rounds > 6 && n > kBpeShortLimit) {
      syms.resize(n);
      bpe_merge_heap(merges, syms);
      return;
    }
    nsyms.resize(n);
    nrank.resize(n);
    ninto.resize(n);
    merged.assign(n, 0);
    size_t w = 0;
    bool stop = false;
    for (size_t i = 0; i < n; ++w) {
      if (!stop && i + 1 < n && rank[i] == r) {
        const uint32_t t = into[i];
        nsyms[w] = t;
        merged[w] = 1;
        // A new pair ranking below r is what the reference's queue takes next: end the pass
        // here and let the next round start from it.
        uint32_t q, to;
        if (w > 0) {
          look(nsyms[w - 1], t, &q, &to);
          if (q < r) stop = true;
        }
        if (i + 2 < n) {
          look(t, syms[i + 2], &q, &to);
          if (q < r) stop = true;
        }
        i += 2;
      } else {
        nsyms[w] = syms[i];
        nrank[w] = rank[i];  // still right unless a neighbour was merged: fixed up below
        ninto[w] = into[i];
        i += 1;
      }
    }
    for (size_t j = 0; j + 1 < w; ++j)
      if (merged[j] || merged[j + 1]) look(nsyms[j], nsyms[j + 1], &nrank[j], &ninto[j]);
    lean_rounds += (n - w) * 32 < n ? 1 : 0;
    n = w;
    std::copy(nsyms.begin(), nsyms.begin() + n, syms.begin());
    std::swap(rank, nrank);
    std::swap(into, ninto);
  }
  syms.resize(n);
}

void bpe_merge(const PairMap& merges, std::vector<uint32_t>& syms) {
  if (syms.size() <= kBpeShortLimit) bpe_merge_short(merges, syms);
  else bpe_merge_rounds(merges, syms);
}

}  // namespace infeng::tok
