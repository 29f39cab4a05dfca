// See pretokenizer.h for the pattern. How each alternative is decided, for a piece at i:
//  1. an apostrophe followed by s, t, re, ve, m, ll, d in any case (Unicode case folding adds
//     U+017F LATIN SMALL LETTER LONG S, which folds to s);
//  2. letters, optionally after one character that is none of CR, LF, letter, number;
//  3. one to D numbers;
//  4. an optional space, a run of characters that are none of space, letter, number, then CRs
//     and LFs;
//  5. a whitespace run containing CR or LF: \s* is greedy and backtracks to the last CR/LF;
//  6. a whitespace run at the end of the text; else the run minus its last character, which
//     lets a following letter or symbol take one space (the (?!\S) lookahead);
//  7. a single whitespace character (what remains of 6 when the run is one character).
// Classes come from unicode_tables (Unicode general categories L* and N*, and White_Space,
// which is Oniguruma's \s).
#include "pretokenizer.h"

#include "utf8.h"

namespace infeng::tok {

namespace {

using unicode::class_of;
using unicode::kClassMask;
using unicode::kLetter;
using unicode::kNumber;
using unicode::kOther;
using unicode::kSpace;

// ASCII classes without the table lookup.
struct AsciiClasses {
  uint8_t c[128];
  constexpr AsciiClasses() : c() {
    for (int i = 0; i < 128; ++i) {
      uint8_t k = kOther;
      if ((i >= 'a' && i <= 'z') || (i >= 'A' && i <= 'Z')) k = kLetter;
      else if (i >= '0' && i <= '9') k = kNumber;
      else if (i == ' ' || (i >= 9 && i <= 13)) k = kSpace;
      c[i] = k;
    }
  }
};
constexpr AsciiClasses kAscii;

inline uint8_t cls(const uint8_t* s, size_t i, size_t* len) {
  uint8_t b = s[i];
  if (b < 0x80) {
    *len = 1;
    return kAscii.c[b];
  }
  return class_of(utf8_decode(s, i, len)) & kClassMask;
}

inline bool is_crlf(uint8_t b) { return b == '\r' || b == '\n'; }

// End of the run of `k`-class characters starting at i.
inline size_t run_end(const uint8_t* s, size_t n, size_t i, uint8_t k) {
  while (i < n) {
    uint8_t b = s[i];
    if (b < 0x80) {
      if (kAscii.c[b] != k) break;
      ++i;
      continue;
    }
    size_t len;
    if ((class_of(utf8_decode(s, i, &len)) & kClassMask) != k) break;
    i += len;
  }
  return i;
}

inline uint8_t lower(uint8_t b) { return (b >= 'A' && b <= 'Z') ? uint8_t(b | 0x20) : b; }

// Alternative 1: length of a contraction at i, or 0.
size_t contraction(const uint8_t* s, size_t n, size_t i) {
  if (i + 1 >= n) return 0;
  uint8_t a = lower(s[i + 1]);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (s[i + 1] == 0xC5 && i + 2 < n && s[i + 2] == 0xBF) return 3;  // U+017F folds to s
  if (i + 2 >= n) return 0;
  uint8_t b = lower(s[i + 2]);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

}  // namespace

bool recognize_split_pattern(std::string_view regex, SplitPattern* out) {
  static constexpr std::string_view kHead =
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|";
  static constexpr std::string_view kTail =
      "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  if (regex.size() < kHead.size() + kTail.size()) return false;
  if (regex.substr(0, kHead.size()) != kHead) return false;
  if (regex.substr(regex.size() - kTail.size()) != kTail) return false;
  std::string_view mid = regex.substr(kHead.size(), regex.size() - kHead.size() - kTail.size());
  if (mid == "\\p{N}") { out->max_digits = 1; out->gpt2 = false; return true; }
  if (mid == "\\p{N}{1,3}") { out->max_digits = 3; out->gpt2 = false; return true; }
  return false;
}

namespace {

// Whitespace at i: the run, or the run less its last character when something other than
// white space follows (\s+(?!\S) backtracks; a single character then matches \s+ alone).
size_t space_run(const uint8_t* s, size_t n, size_t i) {
  size_t last_start = i, j = i;
  while (j < n) {
    size_t l2;
    if (cls(s, j, &l2) != kSpace) break;
    last_start = j;
    j += l2;
  }
  if (j == n || last_start == i) return j - i;
  return last_start - i;
}

// GPT-2's pattern (pretokenizer.h): the contractions are lower case only, letters, numbers and
// other characters each take one optional leading space, and there is no CR/LF alternative.
size_t next_piece_gpt2(const uint8_t* s, size_t n, size_t i) {
  if (s[i] == '\'' && i + 1 < n) {
    uint8_t a = s[i + 1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (i + 2 < n) {
      uint8_t b = s[i + 2];
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    }
  }
  size_t len;
  uint8_t k = cls(s, i, &len);
  size_t start = i;
  if (s[i] == ' ' && i + 1 < n) {
    size_t l2;
    uint8_t k2 = cls(s, i + 1, &l2);
    if (k2 != kSpace) {
      start = i + 1;
      k = k2;
    }
  }
  if (start == i && k == kSpace) return space_run(s, n, i);
  return run_end(s, n, start, k) - i;
}

}  // namespace

size_t next_piece(const uint8_t* s, size_t n, size_t i, const SplitPattern& p) {
  if (p.gpt2) return next_piece_gpt2(s, n, i);
  if (s[i] == '\'') {
    size_t c = contraction(s, n, i);
    if (c) return c;
  }
  size_t len;
  uint8_t k = cls(s, i, &len);
  if (k == kLetter) return run_end(s, n, i + len, kLetter) - i;
  if (k != kNumber && !is_crlf(s[i]) && i + len < n) {
    size_t len2;
    if (cls(s, i + len, &len2) == kLetter) return run_end(s, n, i + len + len2, kLetter) - i;
  }
  if (k == kNumber) {
    size_t j = i + len;
    for (int d = 1; d < p.max_digits && j < n; ++d) {
      size_t l2;
      if (cls(s, j, &l2) != kNumber) break;
      j += l2;
    }
    return j - i;
  }
  // Alternative 4, with or without its leading space.
  size_t start = i;
  if (s[i] == ' ' && i + 1 < n) {
    size_t l2;
    if (cls(s, i + 1, &l2) == kOther) start = i + 1;
  }
  if (start != i || k == kOther) {
    size_t j = run_end(s, n, start, kOther);
    while (j < n && is_crlf(s[j])) ++j;
    return j - i;
  }
  // Whitespace (k == kSpace): alternatives 5, 6, 7.
  size_t last_nl = SIZE_MAX, last_start = i, j = i;
  while (j < n) {
    size_t l2;
    if (cls(s, j, &l2) != kSpace) break;
    if (is_crlf(s[j])) last_nl = j;
    last_start = j;
    j += l2;
  }
  if (last_nl != SIZE_MAX) return last_nl + 1 - i;
  if (j == n || last_start == i) return j - i;
  return last_start - i;
}

}  // namespace infeng::tok
