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
//
// The o200k style (next_piece_o200k) orders its alternatives differently: a letter piece is
// U*W+ (alternative A) or else U+W* (B), each first with its optional leading character and
// then without, each with the contractions as an optional suffix; then numbers, other
// characters (with CRs, LFs and slashes after them), and whitespace as 5-7 above. A mark is in
// both U and W but is not a letter, so it can also be the leading character: a mark before
// "ABC " matches A alone (U* backs off to nothing, W+ takes the mark), before B is tried.
#include "pretokenizer.h"

#include <string>

#include "utf8.h"

namespace infeng::tok {

namespace {

using unicode::class_of;
using unicode::kCaseLower;
using unicode::kCaseUpper;
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

// The case classes of the o200k style (unicode_tables.h), with the class bits.
struct AsciiCaseClasses {
  uint8_t c[128];
  constexpr AsciiCaseClasses() : c() {
    for (int i = 0; i < 128; ++i) {
      c[i] = kAscii.c[i];
      if (i >= 'A' && i <= 'Z') c[i] |= kCaseUpper;
      if (i >= 'a' && i <= 'z') c[i] |= kCaseLower;
    }
  }
};
constexpr AsciiCaseClasses kAsciiCase;

inline uint8_t case_cls(const uint8_t* s, size_t i, size_t* len) {
  uint8_t b = s[i];
  if (b < 0x80) {
    *len = 1;
    return kAsciiCase.c[b];
  }
  return class_of(utf8_decode(s, i, len)) & (kClassMask | kCaseUpper | kCaseLower);
}

// End of the run of characters with case class `bit` starting at i.
inline size_t case_run_end(const uint8_t* s, size_t n, size_t i, uint8_t bit) {
  while (i < n) {
    size_t len;
    if (!(case_cls(s, i, &len) & bit)) break;
    i += len;
  }
  return i;
}

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

// The o200k style's pattern, with or without the contraction suffix, with D = 3 or 1.
std::string o200k_pattern(bool suffix, bool three_digits) {
  const std::string lead = "[^\\r\\n\\p{L}\\p{N}]?";
  const std::string upper = "[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]";
  const std::string lower = "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]";
  const std::string c = suffix ? "(?i:'s|'t|'re|'ve|'m|'ll|'d)?" : "";
  return lead + upper + "*" + lower + "+" + c + "|" + lead + upper + "+" + lower + "*" + c + "|" +
         (three_digits ? "\\p{N}{1,3}" : "\\p{N}") +
         "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
}

bool recognize_o200k_pattern(std::string_view regex, SplitPattern* out) {
  for (bool suffix : {true, false})
    for (bool three : {true, false})
      if (regex == o200k_pattern(suffix, three)) {
        *out = SplitPattern{three ? 3 : 1};
        out->o200k = true;
        out->contraction_suffix = suffix;
        return true;
      }
  return false;
}

}  // namespace

bool recognize_split_pattern(std::string_view regex, SplitPattern* out) {
  if (recognize_o200k_pattern(regex, out)) return true;
  static constexpr std::string_view kHead =
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|";
  static constexpr std::string_view kTail =
      "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  if (regex.size() < kHead.size() + kTail.size()) return false;
  if (regex.substr(0, kHead.size()) != kHead) return false;
  if (regex.substr(regex.size() - kTail.size()) != kTail) return false;
  std::string_view mid = regex.substr(kHead.size(), regex.size() - kHead.size() - kTail.size());
  if (mid == "\\p{N}") { *out = SplitPattern{1}; return true; }
  if (mid == "\\p{N}{1,3}") { *out = SplitPattern{3}; return true; }
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

// Whitespace at i: alternatives 5, 6, 7 (\s*[\r\n]+|\s+(?!\S)|\s+).
size_t whitespace_piece(const uint8_t* s, size_t n, size_t i) {
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

// Alternative 3 at i, a number of `len` bytes: one to D numbers.
size_t digits_piece(const uint8_t* s, size_t n, size_t i, size_t len, int max_digits) {
  size_t j = i + len;
  for (int d = 1; d < max_digits && j < n; ++d) {
    size_t l2;
    if (cls(s, j, &l2) != kNumber) break;
    j += l2;
  }
  return j - i;
}

// Alternative 4 at i: an optional space, characters that are none of space, letter, number,
// then CRs and LFs (and slashes, in the o200k style); 0 when it does not match. `other_here`:
// the character at i is such a character.
size_t symbols_piece(const uint8_t* s, size_t n, size_t i, bool other_here, bool slashes) {
  size_t start = i;
  if (s[i] == ' ' && i + 1 < n) {
    size_t l2;
    if (cls(s, i + 1, &l2) == kOther) start = i + 1;
  }
  if (start == i && !other_here) return 0;
  size_t j = run_end(s, n, start, kOther);
  while (j < n && (is_crlf(s[j]) || (slashes && s[j] == '/'))) ++j;
  return j - i;
}

// o200k style: the end of a letter piece's optional contraction suffix at e.
inline size_t with_suffix(const uint8_t* s, size_t n, size_t e, const SplitPattern& p) {
  if (p.contraction_suffix && e < n && s[e] == '\'') return e + contraction(s, n, e);
  return e;
}

// o200k style, alternative A at b: U*W+ and the suffix; 0 when it does not match. U* is greedy;
// when the character after the U run is not in W, it backs off to the last character of the
// run that is in W (Lm, Lo and marks are in both), which W+ then takes alone.
size_t cased_lower(const uint8_t* s, size_t n, size_t b, const SplitPattern& p) {
  size_t j = b, last_w_end = 0;
  uint8_t k = 0;
  size_t len = 0;
  while (j < n) {
    k = case_cls(s, j, &len);
    if (!(k & kCaseUpper)) break;
    if (k & kCaseLower) last_w_end = j + len;
    j += len;
  }
  size_t e;
  if (j < n && (k & kCaseLower)) e = case_run_end(s, n, j + len, kCaseLower);
  else if (last_w_end) e = last_w_end;
  else return 0;
  return with_suffix(s, n, e, p);
}

// o200k style, alternative B at b: U+W* and the suffix; 0 when it does not match.
size_t cased_upper(const uint8_t* s, size_t n, size_t b, const SplitPattern& p) {
  size_t j = case_run_end(s, n, b, kCaseUpper);
  if (j == b) return 0;
  return with_suffix(s, n, case_run_end(s, n, j, kCaseLower), p);
}

size_t next_piece_o200k(const uint8_t* s, size_t n, size_t i, const SplitPattern& p) {
  size_t len;
  const uint8_t k = case_cls(s, i, &len);
  const uint8_t base = k & kClassMask;
  // the optional leading character: none of CR, LF, letter, number (a mark or a space can be)
  const bool lead = base != kLetter && base != kNumber && !is_crlf(s[i]) && i + len < n;
  if (lead)
    if (size_t e = cased_lower(s, n, i + len, p)) return e - i;
  if (k & (kCaseUpper | kCaseLower))
    if (size_t e = cased_lower(s, n, i, p)) return e - i;
  if (lead)
    if (size_t e = cased_upper(s, n, i + len, p)) return e - i;
  if (k & kCaseUpper)
    if (size_t e = cased_upper(s, n, i, p)) return e - i;
  if (base == kNumber) return digits_piece(s, n, i, len, p.max_digits);
  if (size_t e = symbols_piece(s, n, i, base == kOther, true)) return e;
  return whitespace_piece(s, n, i);
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
  if (p.o200k) return next_piece_o200k(s, n, i, p);
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
  if (k == kNumber) return digits_piece(s, n, i, len, p.max_digits);
  if (size_t e = symbols_piece(s, n, i, k == kOther, false)) return e;
  return whitespace_piece(s, n, i);
}

}  // namespace infeng::tok
