// Memo of BPE results per piece (the pre-tokenizer's pieces, SentencePiece's words): most
// pieces of real text repeat, and a hit replaces the merge loop by one hash lookup. One per
// thread; keys are the piece's bytes, values the ids.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "infeng/tokenizer.h"

namespace infeng::tok {

// Piece cache: piece bytes → ids. Cleared wholesale when full: simpler than LRU, and a cleared
// cache refills with the frequent pieces within a few kilobytes of text.
class PieceCache {
 public:
  static constexpr size_t kMaxPiece = 256;
  static constexpr size_t kSlots = 1 << 15;
  static constexpr size_t kMaxEntries = kSlots / 2;

  PieceCache() : slots_(kSlots) {}

  // Pointer to the cached ids (and their count), or null.
  const uint32_t* find(const uint8_t* p, size_t n, uint64_t h, uint32_t* count) const {
    for (size_t i = h & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
      const Slot& s = slots_[i];
      if (s.len == 0) return nullptr;
      if (s.hash == h && s.len == n && std::memcmp(keys_.data() + s.key_off, p, n) == 0) {
        *count = s.n_ids;
        return ids_.data() + s.ids_off;
      }
    }
  }
  void insert(const uint8_t* p, size_t n, uint64_t h, const uint32_t* ids, size_t count) {
    if (entries_ >= kMaxEntries) clear();
    for (size_t i = h & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
      Slot& s = slots_[i];
      if (s.len == 0) {
        s = {h, uint32_t(keys_.size()), uint32_t(ids_.size()), uint16_t(n), uint16_t(count)};  // n ≤ kMaxPiece
        keys_.insert(keys_.end(), p, p + n);
        ids_.insert(ids_.end(), ids, ids + count);
        ++entries_;
        return;
      }
    }
  }
  void clear() {
    std::fill(slots_.begin(), slots_.end(), Slot{});
    keys_.clear();
    ids_.clear();
    entries_ = 0;
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t key_off = 0, ids_off = 0;
    uint16_t len = 0, n_ids = 0;
  };
  std::vector<Slot> slots_;
  std::vector<uint8_t> keys_;
  std::vector<uint32_t> ids_;
  size_t entries_ = 0;
};

}  // namespace infeng::tok
