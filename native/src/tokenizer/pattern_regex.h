// A pattern compiled by Oniguruma, the reference's regex engine (vendored in
// native/third_party/oniguruma, the same release as the reference's), with the reference's way
// of walking a text: every non-overlapping match from left to right, an empty match right after
// the previous match skipped by one character. Used by the general pre-tokenizer
// (pre_steps.h) and the Replace normalizer; the hand-written pre-tokenizer (pretokenizer.h)
// stays the fast path for the patterns it covers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace infeng::tok {

// A pattern Oniguruma refuses; what() is its message.
struct RegexError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Regex {
 public:
  // Compiles `pattern` (UTF-8) with the reference's settings: the Oniguruma syntax, UTF-8, no
  // options. Throws RegexError.
  explicit Regex(std::string_view pattern);
  // A pattern matching `literal` exactly (the reference escapes a Split's String pattern).
  static std::unique_ptr<Regex> literal(std::string_view literal);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  struct Span {
    uint32_t begin, end;
    bool is_match;
  };
  // The reference's find_matches: s cut into spans that alternate between the text between
  // matches (is_match false, never empty) and matches (possibly empty), covering s in order.
  // An empty s gives one empty non-match. Appends to out. Thread-safe.
  void find_matches(std::string_view s, std::vector<Span>& out) const;

  // Whether the pattern matches anywhere in s.
  bool search(std::string_view s) const;

  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* reg_ = nullptr;  // regex_t*
};

}  // namespace infeng::tok
