// Added tokens (specials such as <|begin_of_text|>, and extra tokens such as Qwen's <think>):
// the reference cuts them out of the raw text before normalization and the model, matching
// leftmost-longest. Tokens are few and share a handful of first bytes, so the scan is a
// first-byte filter over the text and a longest-first comparison at the candidates.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace infeng::tok {

class AddedTokens {
 public:
  struct Match {
    size_t begin = 0, len = 0;
    uint32_t id = 0;
  };

  void add(std::string content, uint32_t id);
  // Finalizes the index; call after the last add().
  void build();

  bool empty() const { return tokens_.empty(); }
  size_t max_len() const { return max_len_; }

  // The leftmost-longest match starting at or after `from`; false when there is none.
  bool find(std::string_view text, size_t from, Match* m) const {
    if (tokens_.empty()) return false;
    const auto* s = reinterpret_cast<const uint8_t*>(text.data());
    for (size_t i = from; i < text.size(); ++i) {
      if (!first_[s[i]]) continue;
      for (uint32_t k = start_[s[i]]; k < start_[s[i] + 1]; ++k) {
        const Token& t = tokens_[order_[k]];
        if (t.content.size() <= text.size() - i && std::memcmp(t.content.data(), s + i, t.content.size()) == 0) {
          *m = {i, t.content.size(), t.id};
          return true;
        }
      }
    }
    return false;
  }

  struct Token {
    std::string content;
    uint32_t id;
  };
  const std::vector<Token>& tokens() const { return tokens_; }

 private:
  std::vector<Token> tokens_;
  std::vector<uint32_t> order_;  // indices grouped by first byte, longest first within a group
  uint32_t start_[257] = {};
  bool first_[256] = {};
  size_t max_len_ = 0;
};

}  // namespace infeng::tok
