// See pattern_regex.h. The walk over matches mirrors the `onig` crate's FindMatches iterator, which
// the reference's Pattern implementation for its regexes is built on: search from the end of
// the previous match to the end of the text; an empty match ending where the previous match
// ended is not taken, and the search moves one character on instead.
#include "pattern_regex.h"

#include <mutex>

#include "oniguruma.h"
#include "utf8.h"

namespace infeng::tok {

namespace {

void init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    OnigEncoding encs[] = {ONIG_ENCODING_UTF8};
    onig_initialize(encs, 1);
  });
}

// One match region per thread, reused: a search must not allocate.
OnigRegion* thread_region() {
  struct Holder {
    OnigRegion* r = onig_region_new();
    ~Holder() { onig_region_free(r, 1); }
  };
  thread_local Holder h;
  return h.r;
}

}  // namespace

Regex::Regex(std::string_view pattern) : pattern_(pattern) {
  init_once();
  regex_t* reg = nullptr;
  OnigErrorInfo einfo;
  const auto* p = reinterpret_cast<const OnigUChar*>(pattern_.data());
  // ONIG_OPTION_CAPTURE_GROUP is what the `onig` crate's Regex::new passes; it only changes
  // which groups capture, never where a match is.
  int r = onig_new(&reg, p, p + pattern_.size(), ONIG_OPTION_CAPTURE_GROUP, ONIG_ENCODING_UTF8,
                   ONIG_SYNTAX_ONIGURUMA, &einfo);
  if (r != ONIG_NORMAL) {
    OnigUChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
    onig_error_code_to_str(msg, r, &einfo);
    throw RegexError(reinterpret_cast<const char*>(msg));
  }
  reg_ = reg;
}

Regex::~Regex() {
  if (reg_) onig_free(static_cast<regex_t*>(reg_));
}

std::unique_ptr<Regex> Regex::literal(std::string_view lit) {
  // A backslash before any ASCII punctuation makes it literal in Oniguruma's syntax; letters,
  // digits, spaces and non-ASCII characters are literal as they are.
  std::string p;
  p.reserve(lit.size() * 2);
  for (char c : lit) {
    auto u = static_cast<unsigned char>(c);
    bool punct = u < 0x80 && u > 0x20 && !((u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z'));
    if (punct) p += '\\';
    if (c == '\n') { p += "\\n"; continue; }
    if (c == '\t') { p += "\\t"; continue; }
    if (c == '\r') { p += "\\r"; continue; }
    p += c;
  }
  return std::make_unique<Regex>(p);
}

void Regex::find_matches(std::string_view s, std::vector<Span>& out) const {
  const size_t n = s.size();
  if (n == 0) {
    out.push_back({0, 0, false});
    return;
  }
  auto* reg = static_cast<regex_t*>(reg_);
  OnigRegion* region = thread_region();
  const auto* str = reinterpret_cast<const OnigUChar*>(s.data());
  size_t prev = 0;          // end of the text already covered
  size_t from = 0;          // where the next search starts
  size_t last_end = SIZE_MAX;  // end of the previous match taken
  while (from <= n) {
    int r = onig_search(reg, str, str + n, str + from, str + n, region, ONIG_OPTION_NONE);
    if (r < 0) break;  // ONIG_MISMATCH, or a search error (the crate's iterator stops too)
    size_t b = size_t(region->beg[0]), e = size_t(region->end[0]);
    if (b == e && last_end == e) {
      from += from < n ? utf8_len(uint8_t(s[from])) : 1;
      continue;
    }
    from = e;
    last_end = e;
    if (prev != b) out.push_back({uint32_t(prev), uint32_t(b), false});
    out.push_back({uint32_t(b), uint32_t(e), true});
    prev = e;
  }
  if (prev != n) out.push_back({uint32_t(prev), uint32_t(n), false});
}

bool Regex::search(std::string_view s) const {
  auto* reg = static_cast<regex_t*>(reg_);
  const auto* str = reinterpret_cast<const OnigUChar*>(s.data());
  return onig_search(reg, str, str + s.size(), str, str + s.size(), nullptr, ONIG_OPTION_NONE) >= 0;
}

}  // namespace infeng::tok
