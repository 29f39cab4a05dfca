// UTF-8 validation and repair. Validation runs once per encode over the whole text; ASCII,
// the common case, is checked eight bytes at a time.
#include "utf8.h"

#include <cstring>

namespace infeng::tok {

namespace {

// Length of the valid sequence at s[i], or 0 when it is invalid; `maximal` gets the length of
// the maximal invalid subpart (at least 1) in that case.
size_t valid_seq(const uint8_t* s, size_t n, size_t i, size_t* maximal) {
  uint8_t b = s[i];
  size_t need;
  uint8_t lo = 0x80, hi = 0xBF;
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) need = 1;
  else if (b == 0xE0) { need = 2; lo = 0xA0; }
  else if (b >= 0xE1 && b <= 0xEC) need = 2;
  else if (b == 0xED) { need = 2; hi = 0x9F; }
  else if (b >= 0xEE && b <= 0xEF) need = 2;
  else if (b == 0xF0) { need = 3; lo = 0x90; }
  else if (b >= 0xF1 && b <= 0xF3) need = 3;
  else if (b == 0xF4) { need = 3; hi = 0x8F; }
  else { *maximal = 1; return 0; }
  size_t k = 1;
  for (; k <= need; ++k) {
    if (i + k >= n) { *maximal = k; return 0; }
    uint8_t c = s[i + k];
    if (c < lo || c > hi) { *maximal = k; return 0; }
    lo = 0x80;
    hi = 0xBF;
  }
  return need + 1;
}

}  // namespace

size_t utf8_valid_prefix(std::string_view sv) {
  const auto* s = reinterpret_cast<const uint8_t*>(sv.data());
  size_t n = sv.size(), i = 0;
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, s + i, 8);
      if ((w & 0x8080808080808080ULL) == 0) { i += 8; continue; }
    }
    size_t m;
    size_t l = valid_seq(s, n, i, &m);
    if (l == 0) return i;
    i += l;
  }
  return n;
}

std::string utf8_repair(std::string_view sv) {
  const auto* s = reinterpret_cast<const uint8_t*>(sv.data());
  size_t n = sv.size(), i = 0;
  std::string out;
  out.reserve(n + 8);
  while (i < n) {
    size_t m = 0;
    size_t l = valid_seq(s, n, i, &m);
    if (l) {
      out.append(sv.data() + i, l);
      i += l;
    } else {
      out += "\xEF\xBF\xBD";
      i += m;
    }
  }
  return out;
}

}  // namespace infeng::tok
