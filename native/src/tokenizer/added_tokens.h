// Added tokens (specials such as <|begin_of_text|>, and extra tokens such as Qwen's <think>):
// the reference cuts them out of the raw text before normalization and the model, matching
// leftmost-longest. The scan is a first-byte filter over the text, then a walk down a byte
// trie of the tokens at each candidate (Llama-3 has 256 specials, all starting "<|").
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
    const size_t n = text.size();
    for (size_t i = from; i < n; ++i) {
      uint32_t node = root_[s[i]];
      if (node == kNone) continue;
      size_t best_len = 0;
      uint32_t best_id = 0;
      for (size_t k = i + 1;; ++k) {
        const Node& nd = nodes_[node];
        if (nd.id != kNone) { best_len = k - i; best_id = nd.id; }
        if (k == n) break;
        uint32_t next = kNone;
        for (uint32_t e = nd.first; e < nd.first + nd.count; ++e)
          if (edges_[e].byte == s[k]) { next = edges_[e].to; break; }
        if (next == kNone) break;
        node = next;
      }
      if (best_len) {
        *m = {i, best_len, best_id};
        return true;
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
  static constexpr uint32_t kNone = ~0u;
  struct Node { uint32_t first = 0, count = 0, id = kNone; };  // edges_[first, first + count)
  struct Edge { uint8_t byte; uint32_t to; };
  std::vector<Token> tokens_;
  std::vector<Node> nodes_;
  std::vector<Edge> edges_;
  uint32_t root_[256];  // the node after each first byte, or kNone
  size_t max_len_ = 0;
};

}  // namespace infeng::tok
