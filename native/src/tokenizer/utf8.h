// UTF-8 helpers for the hot path: decode one code point (input is validated once up front, so
// these trust it), classify it, and repair invalid input the way a JavaScript string would
// arrive (each maximal invalid subsequence becomes U+FFFD, as TextDecoder does).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "unicode_tables.h"

namespace infeng::tok {

// Length of the UTF-8 sequence that starts with byte b (valid input only).
inline size_t utf8_len(uint8_t b) {
  return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

// Decodes the (valid) sequence at s[i]; sets len.
inline uint32_t utf8_decode(const uint8_t* s, size_t i, size_t* len) {
  uint8_t b = s[i];
  if (b < 0x80) { *len = 1; return b; }
  if (b < 0xE0) { *len = 2; return (uint32_t(b & 0x1F) << 6) | (s[i + 1] & 0x3F); }
  if (b < 0xF0) {
    *len = 3;
    return (uint32_t(b & 0x0F) << 12) | (uint32_t(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
  }
  *len = 4;
  return (uint32_t(b & 0x07) << 18) | (uint32_t(s[i + 1] & 0x3F) << 12) |
         (uint32_t(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
}

inline void utf8_append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

// Length of the valid prefix of s (the whole of s when it is valid UTF-8).
size_t utf8_valid_prefix(std::string_view s);

// s with every maximal invalid subsequence replaced by U+FFFD (WHATWG decoding).
std::string utf8_repair(std::string_view s);

}  // namespace infeng::tok
