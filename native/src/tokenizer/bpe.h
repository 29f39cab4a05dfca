// The BPE merge loop: given a piece's initial symbols (token ids), applies the lowest-ranked
// merge among adjacent pairs, leftmost first on ties, until none applies; this is the order the
// reference's priority queue yields. Two implementations of the same order:
//  - short pieces (what a pre-tokenizer yields): an array of pair ranks rescanned per merge;
//    no allocation, no heap, O(n²) comparisons but only O(n) table lookups;
//  - long pieces (a SentencePiece segment is a whole paragraph): a doubly linked list of
//    symbols and a binary min-heap of (rank, position), O(n log n);
//  - rounds, for long pieces: the lowest rank present is applied to its occurrences in one
//    left-to-right pass, which is the queue's order as long as no merge made in the pass
//    creates a pair ranked lower still; the pass stops at the first that does, and the next
//    round starts from it. A run of one repeated character takes log n passes instead of n
//    heap pops; a piece that needs too many rounds (diverse text) finishes on the heap.
#pragma once
#include <cstdint>
#include <vector>

#include "flat_hash.h"

namespace infeng::tok {

// Pieces with at most this many initial symbols take the array path.
inline constexpr size_t kBpeShortLimit = 64;

// Merges syms in place.
void bpe_merge(const PairMap& merges, std::vector<uint32_t>& syms);

// The two paths, exposed for tests that check they agree.
void bpe_merge_short(const PairMap& merges, std::vector<uint32_t>& syms);
void bpe_merge_heap(const PairMap& merges, std::vector<uint32_t>& syms);
void bpe_merge_rounds(const PairMap& merges, std::vector<uint32_t>& syms);

}  // namespace infeng::tok
