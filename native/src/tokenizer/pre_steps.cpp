// See pre_steps.h. split_by_behavior follows the reference's NormalizedString::split: the
// spans of find_matches (with is_match flipped by `invert`) are grouped per behaviour, and
// matched spans are dropped under Removed; empty results are dropped by the caller, as the
// reference's PreTokenizedString::split drops them.
#include "pre_steps.h"

namespace infeng::tok {

bool parse_split_behavior(std::string_view name, SplitBehavior* out) {
  static constexpr std::pair<std::string_view, SplitBehavior> kNames[] = {
      {"Removed", SplitBehavior::Removed},
      {"Isolated", SplitBehavior::Isolated},
      {"MergedWithPrevious", SplitBehavior::MergedWithPrevious},
      {"MergedWithNext", SplitBehavior::MergedWithNext},
      {"Contiguous", SplitBehavior::Contiguous},
  };
  for (const auto& [n, b] : kNames)
    if (n == name) {
      *out = b;
      return true;
    }
  return false;
}

void split_by_behavior(const std::vector<Regex::Span>& spans, SplitBehavior behavior, bool invert,
                       std::vector<std::pair<uint32_t, uint32_t>>& out) {
  const size_t base = out.size();
  bool prev_match = false;
  switch (behavior) {
    case SplitBehavior::Isolated:
      for (const auto& s : spans) out.emplace_back(s.begin, s.end);
      return;
    case SplitBehavior::Removed:
      for (const auto& s : spans)
        if (s.is_match == invert) out.emplace_back(s.begin, s.end);
      return;
    case SplitBehavior::Contiguous:
      // runs of spans with the same flag become one piece
      for (const auto& s : spans) {
        bool m = s.is_match != invert;
        if (m == prev_match && out.size() > base) out.back().second = s.end;
        else out.emplace_back(s.begin, s.end);
        prev_match = m;
      }
      return;
    case SplitBehavior::MergedWithPrevious:
      for (const auto& s : spans) {
        bool m = s.is_match != invert;
        if (m && !prev_match && out.size() > base) out.back().second = s.end;
        else out.emplace_back(s.begin, s.end);
        prev_match = m;
      }
      return;
    case SplitBehavior::MergedWithNext: {
      // the reference folds from the right: a match joins the piece after it
      std::vector<std::pair<uint32_t, uint32_t>> rev;
      for (size_t i = spans.size(); i-- > 0;) {
        const auto& s = spans[i];
        bool m = s.is_match != invert;
        if (m && !prev_match && !rev.empty()) rev.back().first = s.begin;
        else rev.emplace_back(s.begin, s.end);
        prev_match = m;
      }
      out.insert(out.end(), rev.rbegin(), rev.rend());
      return;
    }
  }
}

namespace {

void split_step(const PreStep& st, PreStepScratch& sc) {
  sc.pieces2.clear();
  std::vector<std::pair<uint32_t, uint32_t>> ranges;
  for (const PrePiece& p : sc.pieces) {
    sc.spans.clear();
    st.re->find_matches(std::string_view(sc.buf).substr(p.begin, p.end - p.begin), sc.spans);
    ranges.clear();
    split_by_behavior(sc.spans, st.behavior, st.invert, ranges);
    for (const auto& [b, e] : ranges)
      if (e > b) sc.pieces2.push_back({p.begin + b, p.begin + e, p.first && b == 0});
  }
  std::swap(sc.pieces, sc.pieces2);
}

// Steps that change the text rebuild the buffer: each piece is copied (with its change) into
// buf2 and the two buffers swap.
template <class F>
void rewrite_step(PreStepScratch& sc, F&& rewrite) {
  sc.buf2.clear();
  sc.pieces2.clear();
  for (const PrePiece& p : sc.pieces) {
    uint32_t b = uint32_t(sc.buf2.size());
    rewrite(std::string_view(sc.buf).substr(p.begin, p.end - p.begin), p.first, sc.buf2);
    sc.pieces2.push_back({b, uint32_t(sc.buf2.size()), p.first});
  }
  std::swap(sc.buf, sc.buf2);
  std::swap(sc.pieces, sc.pieces2);
}

}  // namespace

void run_pre_steps(const std::vector<PreStep>& steps, std::string_view text, bool at_start, PreStepScratch& sc) {
  sc.buf.assign(text);
  sc.pieces.clear();
  if (!text.empty()) sc.pieces.push_back({0, uint32_t(text.size()), at_start});
  for (const PreStep& st : steps) {
    switch (st.kind) {
      case PreStep::Kind::Split:
        split_step(st, sc);
        break;
      case PreStep::Kind::PrefixSpace:
        rewrite_step(sc, [](std::string_view p, bool, std::string& out) {
          if (p.empty() || p[0] != ' ') out += ' ';
          out.append(p);
        });
        break;
      case PreStep::Kind::Metaspace:
        rewrite_step(sc, [&st](std::string_view p, bool first, std::string& out) {
          const std::string& r = st.replacement;
          bool starts = p.substr(0, r.size()) == r || (!p.empty() && p[0] == ' ');
          bool prepend = st.scheme == PreStep::Prepend::Always ||
                         (st.scheme == PreStep::Prepend::First && first);
          if (prepend && !starts) out += r;
          for (char c : p) {
            if (c == ' ') out += r;
            else out += c;
          }
        });
        break;
    }
  }
}

}  // namespace infeng::tok
