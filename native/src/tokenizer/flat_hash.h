// Open-addressing hash tables for the two lookups on the encode path: token bytes → id, and
// (left id, right id) → merge. Linear probing over flat arrays, power-of-two capacity at most
// half full: a lookup is one hash and, nearly always, one cache line.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace infeng::tok {

inline uint64_t mix64(uint64_t x) {
  x ^= x >> 32;
  x *= 0xD6E8FEB86659FD93ULL;
  x ^= x >> 32;
  x *= 0xD6E8FEB86659FD93ULL;
  x ^= x >> 32;
  return x;
}

// A fast hash for short byte strings (tokens and pieces are mostly under 16 bytes).
inline uint64_t hash_bytes(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ (n * 0xFF51AFD7ED558CCDULL);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = mix64(h ^ w) ;
    p += 8;
    n -= 8;
  }
  if (n) {
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = mix64(h ^ w ^ (uint64_t(n) << 59));
  }
  return h;
}

inline size_t table_capacity(size_t n) {
  size_t c = 16;
  while (c < n * 2) c <<= 1;
  return c;
}

// (a, b) → (rank, merged id).
class PairMap {
 public:
  struct Merge { uint32_t rank, id; };

  void reserve(size_t n) {
    slots_.assign(table_capacity(n), Slot{kEmpty, {0, 0}});
    mask_ = slots_.size() - 1;
  }
  // false when the key was already there; the later merge replaces it, as in the reference
  bool insert(uint32_t a, uint32_t b, Merge m) {
    uint64_t key = (uint64_t(a) << 32) | b;
    for (size_t i = mix64(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == kEmpty) { slots_[i] = {key, m}; return true; }
      if (slots_[i].key == key) { slots_[i].m = m; return false; }  // last wins, as in the reference
    }
  }
  const Merge* find(uint32_t a, uint32_t b) const {
    uint64_t key = (uint64_t(a) << 32) | b;
    for (size_t i = mix64(key) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.m;
      if (s.key == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~0ULL;
  struct Slot { uint64_t key; Merge m; };
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

// Byte strings → id. Keys live in one arena.
class StrMap {
 public:
  static constexpr uint32_t kNone = ~0u;

  void reserve(size_t n) {
    slots_.assign(table_capacity(n), Slot{0, 0, 0, kNone});
    mask_ = slots_.size() - 1;
  }
  bool insert(std::string_view key, uint32_t id) {
    uint64_t h = hash_bytes(key.data(), key.size());
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.id == kNone) {
        s = {h, uint32_t(arena_.size()), uint32_t(key.size()), id};
        arena_.append(key);
        return true;
      }
      if (s.hash == h && key_of(s) == key) { s.id = id; return false; }  // last wins, like a JSON map
    }
  }
  uint32_t find(std::string_view key) const {
    uint64_t h = hash_bytes(key.data(), key.size());
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id == kNone) return kNone;
      if (s.hash == h && key_of(s) == key) return s.id;
    }
  }

 private:
  struct Slot { uint64_t hash; uint32_t off, len, id; };
  std::string_view key_of(const Slot& s) const { return std::string_view(arena_).substr(s.off, s.len); }
  std::vector<Slot> slots_;
  std::string arena_;
  size_t mask_ = 0;
};

}  // namespace infeng::tok
