// Unicode data the tokenizer needs and nothing more: the character classes of the GPT-4-style
// pre-tokenizer patterns (\p{L}, \p{N}, \s, and the o200k-style case classes), the tables of
// NFC and NFKC, and lowercase mappings. Generated into unicode_tables.cpp by
// gen/gen_unicode_tables.mjs, each piece at the Unicode version the reference uses for it (see
// there), so the fast path needs no regex call.
#pragma once
#include <cstddef>
#include <cstdint>

namespace infeng::tok::unicode {

// Class of a code point: the low two bits, plus flags.
enum : uint8_t {
  kOther = 0,
  kLetter = 1,
  kNumber = 2,
  kSpace = 3,  // White_Space, as Oniguruma's \s and Rust's char::is_whitespace
  kClassMask = 3,
  kNfcCheck = 4,   // NFC may change text around this code point
  kNfkcCheck = 8,  // NFKC may change text around this code point
  kHasLower = 16,  // has a lowercase mapping
  // The o200k-style pattern's case classes (pretokenizer.h); marks are in both and are not letters.
  kCaseUpper = 32,  // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
  kCaseLower = 64,  // [\p{Ll}\p{Lm}\p{Lo}\p{M}]
};

extern const char kUnicodeVersion[];           // of the classes: the reference regex engine's
extern const char kNormUnicodeVersion[];       // of the NFC/NFKC data: the reference normalizer's
extern const char kLowercaseUnicodeVersion[];  // of the lowercase mappings
extern const uint16_t kClassStage1[];  // code point / 128 → block
extern const uint8_t kClassStage2[];   // block * 128 + code point % 128 → class byte

inline uint8_t class_of(uint32_t cp) {
  if (cp >= 0x110000) return kOther;
  return kClassStage2[static_cast<size_t>(kClassStage1[cp >> 7]) * 128 + (cp & 127)];
}

struct CccEntry { uint32_t cp; uint8_t ccc; };
struct DecompEntry { uint32_t cp; uint8_t n; uint32_t to[4]; };  // full canonical decomposition
// Full compatibility decomposition: kKDecompData[off .. off + n).
struct KDecompEntry { uint32_t cp; uint32_t off; uint8_t n; };
struct CompEntry { uint64_t key; uint32_t cp; };                  // key = first << 21 | second
struct LowerEntry { uint32_t cp; uint8_t n; uint32_t to[3]; };

extern const CccEntry kCcc[];
extern const size_t kCccCount;
extern const DecompEntry kDecomp[];
extern const size_t kDecompCount;
extern const KDecompEntry kKDecomp[];
extern const size_t kKDecompCount;
extern const uint32_t kKDecompData[];
extern const CompEntry kCompose[];
extern const size_t kComposeCount;
extern const LowerEntry kLower[];
extern const size_t kLowerCount;

}  // namespace infeng::tok::unicode
