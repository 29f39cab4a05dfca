// The GPT-4-style Split pre-tokenizer, hand-written. Llama-3 and Qwen split text with
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n]*
//   |\s*[\r\n]+|\s+(?!\S)|\s+
// (D = 3 for Llama-3, 1 for Qwen) through Oniguruma in the reference, and GPT-2's
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// which ByteLevel applies itself when use_regex is true (Claude's file), and the o200k style of
// GPT-OSS (C = the contractions as a suffix, D = 3) and Mistral NeMo (no C, D = 1):
//   [^\r\n\p{L}\p{N}]?U*W+C?|[^\r\n\p{L}\p{N}]?U+W*C?|\p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n/]*
//   |\s*[\r\n]+|\s+(?!\S)|\s+
// with U = [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}], W = [\p{Ll}\p{Lm}\p{Lo}\p{M}],
// C = (?i:'s|'t|'re|'ve|'m|'ll|'d)?. Running a regex engine per piece would cost more than the
// BPE itself, so the alternatives are decided here directly from character classes, in the
// pattern's order and with its backtracking outcomes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace infeng::tok {

struct SplitPattern {
  int max_digits;     // D above
  bool gpt2 = false;  // GPT-2's pattern instead
  bool o200k = false;  // the o200k style instead
  bool contraction_suffix = false;  // o200k style: C above
};

// GPT-2's pattern, as ByteLevel's use_regex spells it.
inline constexpr std::string_view kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// The exact pattern strings this file implements; nullptr-equivalent (false) otherwise.
bool recognize_split_pattern(std::string_view regex, SplitPattern* out);

// Length in bytes of the piece that starts at s[i] (valid UTF-8, i < n).
size_t next_piece(const uint8_t* s, size_t n, size_t i, const SplitPattern& p);

// Calls f(begin, end) for every piece of s, in order.
template <class F>
void split_pieces(std::string_view text, const SplitPattern& p, F&& f) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  size_t n = text.size();
  for (size_t i = 0; i < n;) {
    size_t len = next_piece(s, n, i, p);
    f(i, i + len);
    i += len;
  }
}

}  // namespace infeng::tok
