// NFC and NFKC by the book (UAX #15): full canonical (NFKC: compatibility) decomposition
// (tables, plus Hangul arithmetic), canonical ordering of combining marks, then canonical
// composition with blocking. The tables come from gen/gen_unicode_tables.mjs, at the reference
// normalizer's Unicode version.
#include "nfc.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "unicode_tables.h"
#include "utf8.h"

namespace infeng::tok {

namespace {

constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount,
                   kSCount = kLCount * kNCount;

uint8_t ccc(uint32_t cp) {
  using unicode::kCcc;
  const auto* end = kCcc + unicode::kCccCount;
  const auto* it = std::lower_bound(kCcc, end, cp, [](const unicode::CccEntry& e, uint32_t c) { return e.cp < c; });
  return (it != end && it->cp == cp) ? it->ccc : 0;
}

void decompose(uint32_t cp, bool compat, std::vector<uint32_t>& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    uint32_t si = cp - kSBase;
    out.push_back(kLBase + si / kNCount);
    out.push_back(kVBase + (si % kNCount) / kTCount);
    if (si % kTCount) out.push_back(kTBase + si % kTCount);
    return;
  }
  if (compat) {
    using unicode::kKDecomp;
    const auto* kend = kKDecomp + unicode::kKDecompCount;
    const auto* k = std::lower_bound(kKDecomp, kend, cp, [](const unicode::KDecompEntry& e, uint32_t c) { return e.cp < c; });
    if (k != kend && k->cp == cp) {
      out.insert(out.end(), unicode::kKDecompData + k->off, unicode::kKDecompData + k->off + k->n);
      return;
    }
  }
  using unicode::kDecomp;
  const auto* end = kDecomp + unicode::kDecompCount;
  const auto* it = std::lower_bound(kDecomp, end, cp, [](const unicode::DecompEntry& e, uint32_t c) { return e.cp < c; });
  if (it != end && it->cp == cp) {
    for (int k = 0; k < it->n; ++k) out.push_back(it->to[k]);
  } else {
    out.push_back(cp);
  }
}

// The primary composite of (a, b), or 0.
uint32_t compose(uint32_t a, uint32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase && b < kTBase + kTCount)
    return a + (b - kTBase);
  using unicode::kCompose;
  uint64_t key = (uint64_t(a) << 21) | b;
  const auto* end = kCompose + unicode::kComposeCount;
  const auto* it = std::lower_bound(kCompose, end, key, [](const unicode::CompEntry& e, uint64_t k) { return e.key < k; });
  return (it != end && it->key == key) ? it->cp : 0;
}

}  // namespace

namespace {

bool quick_check(std::string_view sv, uint8_t flag) {
  const auto* s = reinterpret_cast<const uint8_t*>(sv.data());
  size_t n = sv.size();
  for (size_t i = 0; i < n;) {
    if (s[i] < 0x80) { ++i; continue; }
    size_t len;
    uint32_t cp = utf8_decode(s, i, &len);
    if (unicode::class_of(cp) & flag) return false;
    i += len;
  }
  return true;
}

// NFC (or NFKC) of one chunk that may contain flagged code points.
std::string compose_chunk(std::string_view sv, bool compat) {
  const auto* s = reinterpret_cast<const uint8_t*>(sv.data());
  size_t n = sv.size();
  std::vector<uint32_t> cps;
  cps.reserve(n);
  for (size_t i = 0; i < n;) {
    size_t len;
    uint32_t cp = utf8_decode(s, i, &len);
    decompose(cp, compat, cps);
    i += len;
  }
  // Canonical ordering: stable sort of each run of non-starters by combining class.
  for (size_t i = 0; i < cps.size();) {
    if (ccc(cps[i]) == 0) { ++i; continue; }
    size_t j = i;
    while (j < cps.size() && ccc(cps[j]) != 0) ++j;
    std::stable_sort(cps.begin() + i, cps.begin() + j, [](uint32_t a, uint32_t b) { return ccc(a) < ccc(b); });
    i = j;
  }
  // Composition: each character combines with the last starter unless blocked by a character
  // in between of the same or higher class (or by a starter).
  std::vector<uint32_t> out;
  out.reserve(cps.size());
  size_t starter = SIZE_MAX;
  int last_ccc = -1;
  for (uint32_t cp : cps) {
    int c = ccc(cp);
    if (starter != SIZE_MAX) {
      bool blocked = !(last_ccc == -1 || (last_ccc != 0 && last_ccc < c)) ;
      // last_ccc == -1: cp directly follows the starter.
      if (!blocked) {
        if (uint32_t comp = compose(out[starter], cp)) {
          out[starter] = comp;
          continue;
        }
      }
    }
    if (c == 0) {
      starter = out.size();
      last_ccc = -1;
    } else {
      last_ccc = c;
    }
    out.push_back(cp);
  }
  std::string r;
  r.reserve(n);
  for (uint32_t cp : out) utf8_append(r, cp);
  return r;
}

// Text splits into independent NFC chunks before every code point with ccc = 0 and
// NFC_QC = Yes (the unflagged ones): such a character neither combines with what precedes it
// nor reorders past it. So only the chunks around flagged code points go through the full
// algorithm; the rest is copied.
std::string normalize_composed(std::string_view sv, bool compat) {
  const uint8_t flag = compat ? unicode::kNfkcCheck : unicode::kNfcCheck;
  const auto* s = reinterpret_cast<const uint8_t*>(sv.data());
  size_t n = sv.size();
  std::string out;
  out.reserve(n + 16);
  size_t copied = 0;    // sv[0..copied) is in out
  size_t prev = 0;      // start of the previous code point
  for (size_t i = 0; i < n;) {
    size_t len = 1;
    bool flagged = s[i] >= 0x80 && (unicode::class_of(utf8_decode(s, i, &len)) & flag);
    if (!flagged) {
      prev = i;
      i += len;
      continue;
    }
    // The chunk starts at the last boundary: the previous code point (unflagged, or the
    // start of the text) and runs to the next unflagged code point.
    size_t start = std::max(copied, i == 0 ? 0 : prev);
    size_t j = i + len;
    while (j < n) {
      size_t l2 = 1;
      if (s[j] < 0x80 || !(unicode::class_of(utf8_decode(s, j, &l2)) & flag)) break;
      j += l2;
    }
    out.append(sv.data() + copied, start - copied);
    out += compose_chunk(sv.substr(start, j - start), compat);
    copied = j;
    prev = j;
    i = j;
  }
  out.append(sv.data() + copied, n - copied);
  return out;
}

}  // namespace

bool nfc_quick_check(std::string_view s) { return quick_check(s, unicode::kNfcCheck); }
bool nfkc_quick_check(std::string_view s) { return quick_check(s, unicode::kNfkcCheck); }
std::string nfc(std::string_view s) { return normalize_composed(s, false); }
std::string nfkc(std::string_view s) { return normalize_composed(s, true); }

}  // namespace infeng::tok
