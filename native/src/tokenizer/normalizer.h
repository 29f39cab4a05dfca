// The general normalizer: any chain of the reference's normalizers this code implements (NFC,
// NFKC, Lowercase, Strip, Replace with a string or a regex, Prepend), applied in order to one
// segment of text between added tokens, with the reference's semantics. Files whose normalizer
// is only NFC, or SentencePiece's Prepend ▁ + Replace ' ' → ▁, keep their dedicated paths
// (encoder.h), which the prefix cache can cut inside a segment.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pattern_regex.h"

namespace infeng::tok {

struct NormStep {
  enum class Kind { NFC, NFKC, Lowercase, Strip, Replace, Prepend };
  Kind kind = Kind::NFC;
  bool left = false, right = false;  // Strip: which ends lose their white space
  std::shared_ptr<const Regex> re;   // Replace: every match (the reference's find_matches) ...
  std::string content;               // ... becomes this; Prepend: the text put before
  bool is_literal = false;           // Replace: the pattern was {"String": re_literal}
  std::string re_literal;
};

// Applies the steps to `in` (valid UTF-8). The result is in `out` (overwritten); `tmp` is a
// second buffer the steps alternate with. Both are reused between calls.
void normalize(const std::vector<NormStep>& steps, std::string_view in, std::string& out, std::string& tmp);

// One step, on its own (exposed for tests).
void normalize_step(const NormStep& step, std::string_view in, std::string& out);

}  // namespace infeng::tok
