// Unicode NFC and NFKC (the normalizers Qwen's and Claude's tokenizer.json name), with the
// reference's Unicode version (9.0, its normalization crate's). Text that is already NFC (quick
// check: no code point flagged NFC_QC≠Yes or with a nonzero combining class) is returned
// untouched without copying, which is nearly all real text.
#pragma once
#include <string>
#include <string_view>

namespace infeng::tok {

// True when s needs no change under NFC by the quick check (conservative: false may still be
// NFC). s must be valid UTF-8.
bool nfc_quick_check(std::string_view s);

// The NFC form of s (valid UTF-8).
std::string nfc(std::string_view s);

// The same for NFKC (flags: NFKC_QC≠Yes or a nonzero combining class).
bool nfkc_quick_check(std::string_view s);
std::string nfkc(std::string_view s);

}  // namespace infeng::tok
