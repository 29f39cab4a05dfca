// Unicode data the tokenizer needs and nothing more: the character classes of the GPT-4-style
// pre-tokenizer pattern (\p{L}, \p{N}, \s) and the tables of NFC. Generated into
// unicode_tables.cpp by gen/gen_unicode_tables.py (the classes from the vendored Oniguruma's
// Unicode 16.0 tables, as the reference matches them), so the fast path needs no regex call.
#pragma once
#include <cstddef>
#include <cstdint>

namespace infeng::tok::unicode {

// Class of a code point: the low two bits, plus a flag.
enum : uint8_t { kOther = 0, kLetter = 1, kNumber = 2, kSpace = 3, kClassMask = 3, kNfcCheck = 4 };

extern const char kUnicodeVersion[];     // of the classes: the reference regex engine's
extern const char kNfcUnicodeVersion[];  // of the NFC data
extern const uint16_t kClassStage1[];  // code point / 128 → block
extern const uint8_t kClassStage2[];   // block * 128 + code point % 128 → class byte

inline uint8_t class_of(uint32_t cp) {
  if (cp >= 0x110000) return kOther;
  return kClassStage2[static_cast<size_t>(kClassStage1[cp >> 7]) * 128 + (cp & 127)];
}

struct CccEntry { uint32_t cp; uint8_t ccc; };
struct DecompEntry { uint32_t cp; uint8_t n; uint32_t to[4]; };  // full canonical decomposition
struct CompEntry { uint64_t key; uint32_t cp; };                  // key = first << 21 | second

extern const CccEntry kCcc[];
extern const size_t kCccCount;
extern const DecompEntry kDecomp[];
extern const size_t kDecompCount;
extern const CompEntry kCompose[];
extern const size_t kComposeCount;

}  // namespace infeng::tok::unicode
