// Index construction for AddedTokens (see the header).
#include "added_tokens.h"

#include <algorithm>

namespace infeng::tok {

void AddedTokens::add(std::string content, uint32_t id) {
  // A later entry with the same content replaces the earlier one.
  for (auto& t : tokens_)
    if (t.content == content) { t.id = id; return; }
  tokens_.push_back({std::move(content), id});
}

void AddedTokens::build() {
  order_.clear();
  for (uint32_t i = 0; i < tokens_.size(); ++i)
    if (!tokens_[i].content.empty()) order_.push_back(i);
  std::stable_sort(order_.begin(), order_.end(), [&](uint32_t a, uint32_t b) {
    uint8_t fa = uint8_t(tokens_[a].content[0]), fb = uint8_t(tokens_[b].content[0]);
    if (fa != fb) return fa < fb;
    return tokens_[a].content.size() > tokens_[b].content.size();
  });
  std::fill(std::begin(start_), std::end(start_), 0u);
  std::fill(std::begin(first_), std::end(first_), false);
  max_len_ = 0;
  for (uint32_t i : order_) {
    uint8_t f = uint8_t(tokens_[i].content[0]);
    first_[f] = true;
    start_[f + 1]++;
    max_len_ = std::max(max_len_, tokens_[i].content.size());
  }
  for (int b = 0; b < 256; ++b) start_[b + 1] += start_[b];
}

}  // namespace infeng::tok
