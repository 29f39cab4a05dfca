// Index construction for AddedTokens (see the header).
#include "added_tokens.h"

#include <algorithm>
#include <map>

namespace infeng::tok {

void AddedTokens::add(std::string content, uint32_t id) {
  // A later entry with the same content replaces the earlier one.
  for (auto& t : tokens_)
    if (t.content == content) { t.id = id; return; }
  tokens_.push_back({std::move(content), id});
}

void AddedTokens::build() {
  // Build with a map per node, then flatten to contiguous edge lists.
  struct Building { std::map<uint8_t, uint32_t> next; uint32_t id = kNone; };
  std::vector<Building> b(1);  // node 0: the root (not stored)
  max_len_ = 0;
  for (const Token& t : tokens_) {
    if (t.content.empty()) continue;
    uint32_t node = 0;
    for (char c : t.content) {
      auto it = b[node].next.find(uint8_t(c));
      if (it == b[node].next.end()) {
        b.push_back({});
        it = b[node].next.emplace(uint8_t(c), uint32_t(b.size() - 1)).first;
      }
      node = it->second;
    }
    b[node].id = t.id;
    max_len_ = std::max(max_len_, t.content.size());
  }
  nodes_.assign(b.size(), Node{});
  edges_.clear();
  for (size_t i = 0; i < b.size(); ++i) {
    nodes_[i].id = b[i].id;
    nodes_[i].first = uint32_t(edges_.size());
    nodes_[i].count = uint32_t(b[i].next.size());
    for (const auto& [byte, to] : b[i].next) edges_.push_back({byte, to});
  }
  for (auto& r : root_) r = kNone;
  for (const auto& [byte, to] : b[0].next) root_[byte] = to;
}

}  // namespace infeng::tok
