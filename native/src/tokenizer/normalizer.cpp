#include "normalizer.h"

#include <algorithm>

#include "nfc.h"
#include "unicode_tables.h"
#include "utf8.h"

namespace infeng::tok {

namespace {

const unicode::LowerEntry* lower_of(uint32_t cp) {
  using unicode::kLower;
  const auto* end = kLower + unicode::kLowerCount;
  const auto* it = std::lower_bound(kLower, end, cp, [](const unicode::LowerEntry& e, uint32_t c) { return e.cp < c; });
  return (it != end && it->cp == cp) ? it : nullptr;
}

// Rust's char::to_lowercase per character (no context: a final sigma is σ too).
void lowercase(std::string_view sv, std::string& out) {
  const auto* s = reinterpret_cast<const uint8_t*>(sv.data());
  out.clear();
  out.reserve(sv.size());
  for (size_t i = 0; i < sv.size();) {
    if (s[i] < 0x80) {
      out += char(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp = utf8_decode(s, i, &len);
    const unicode::LowerEntry* e = (unicode::class_of(cp) & unicode::kHasLower) ? lower_of(cp) : nullptr;
    if (e) {
      for (int k = 0; k < e->n; ++k) utf8_append(out, e->to[k]);
    } else {
      out.append(sv.data() + i, len);
    }
    i += len;
  }
}

bool is_space_at(const uint8_t* s, size_t i, size_t* len) {
  return (unicode::class_of(utf8_decode(s, i, len)) & unicode::kClassMask) == unicode::kSpace;
}

// char::is_whitespace (White_Space) trimmed from the chosen ends.
void strip(std::string_view sv, bool left, bool right, std::string& out) {
  const auto* s = reinterpret_cast<const uint8_t*>(sv.data());
  size_t b = 0, e = sv.size();
  size_t len;
  if (left)
    while (b < e && is_space_at(s, b, &len)) b += len;
  if (right) {
    while (e > b) {
      size_t p = e - 1;
      while (p > b && (s[p] & 0xC0) == 0x80) --p;
      if (!is_space_at(s, p, &len)) break;
      e = p;
    }
  }
  out.assign(sv.data() + b, e - b);
}

void replace(const Regex& re, const std::string& content, std::string_view sv, std::string& out) {
  thread_local std::vector<Regex::Span> spans;
  spans.clear();
  re.find_matches(sv, spans);
  out.clear();
  out.reserve(sv.size());
  for (const Regex::Span& sp : spans) {
    if (sp.is_match) out += content;
    else out.append(sv.data() + sp.begin, sp.end - sp.begin);
  }
}

}  // namespace

void normalize_step(const NormStep& st, std::string_view in, std::string& out) {
  switch (st.kind) {
    case NormStep::Kind::NFC:
      if (nfc_quick_check(in)) out.assign(in);
      else out = nfc(in);
      return;
    case NormStep::Kind::NFKC:
      if (nfkc_quick_check(in)) out.assign(in);
      else out = nfkc(in);
      return;
    case NormStep::Kind::Lowercase:
      lowercase(in, out);
      return;
    case NormStep::Kind::Strip:
      strip(in, st.left, st.right, out);
      return;
    case NormStep::Kind::Replace:
      replace(*st.re, st.content, in, out);
      return;
    case NormStep::Kind::Prepend:
      // the reference prepends to a non-empty string only
      out.clear();
      if (!in.empty()) {
        out.reserve(st.content.size() + in.size());
        out += st.content;
        out.append(in);
      }
      return;
  }
}

void normalize(const std::vector<NormStep>& steps, std::string_view in, std::string& out, std::string& tmp) {
  if (steps.empty()) {
    out.assign(in);
    return;
  }
  // Alternate between the two buffers so that no step reads the buffer it writes.
  std::string* bufs[2] = {&out, &tmp};
  int cur = (steps.size() % 2 == 1) ? 0 : 1;  // the last step writes `out`
  normalize_step(steps[0], in, *bufs[cur]);
  for (size_t i = 1; i < steps.size(); ++i) {
    normalize_step(steps[i], *bufs[cur], *bufs[cur ^ 1]);
    cur ^= 1;
  }
}

}  // namespace infeng::tok
