// The normalizers: NFKC and NFC at the reference normalizer's Unicode version (9.0, checked on
// code points whose data appeared later), Lowercase at Rust's (17.0), Strip, Replace with a
// string and a regex, Prepend, and chains of them; and the load errors of bad normalizer
// entries, naming the field.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "infeng/tokenizer.h"
#include "nfc.h"
#include "normalizer.h"
#include "unicode_tables.h"
#include "utf8.h"

using namespace infeng::tok;

namespace {

std::string u8(std::initializer_list<uint32_t> cps) {
  std::string s;
  for (uint32_t cp : cps) utf8_append(s, cp);
  return s;
}

std::string run(const std::vector<NormStep>& steps, const std::string& in) {
  std::string out, tmp;
  normalize(steps, in, out, tmp);
  return out;
}

NormStep step(NormStep::Kind k) {
  NormStep st;
  st.kind = k;
  return st;
}

}  // namespace

TEST(Normalizer, NfkcDecomposesCompatibilityCharactersAndComposes) {
  EXPECT_EQ(nfkc(u8({0xFB01})), "fi");                  // ligature
  EXPECT_EQ(nfkc(u8({0x2460})), "1");                   // circled digit one
  EXPECT_EQ(nfkc(u8({0xFF21, 0xFF42})), "Ab");          // fullwidth
  EXPECT_EQ(nfkc(u8({0x65, 0x301})), u8({0xE9}));       // composes like NFC
  EXPECT_EQ(nfkc(u8({0x1E9B, 0x323})), u8({0x1E69}));   // UAX #15's example: ẛ̣ → ṩ
  EXPECT_EQ(nfc(u8({0x1E9B, 0x323})), u8({0x1E9B, 0x323}));
  // a canonical decomposition holding a compatibility character: U+0385 → ¨ + ́ → space + marks
  EXPECT_EQ(nfkc(u8({0x385})), u8({0x20, 0x308, 0x301}));
  EXPECT_FALSE(nfkc_quick_check(u8({0x385})));
  EXPECT_TRUE(nfc_quick_check(u8({0x385})));
  // Hangul: jamo compose, a syllable is left as it is
  EXPECT_EQ(nfkc(u8({0x1100, 0x1161, 0x11A8})), u8({0xAC01}));
  EXPECT_EQ(nfkc(u8({0x3131})), u8({0x1100}));          // compatibility jamo
  // long expansion (U+FDFA is 18 code points)
  std::string sallallahou = nfkc(u8({0xFDFA}));
  EXPECT_EQ(sallallahou.substr(0, 6), u8({0x635, 0x644, 0x649}));
  EXPECT_EQ(sallallahou.size(), 18u * 2 - 3u);  // 15 Arabic letters (2 bytes) and 3 spaces
  EXPECT_TRUE(nfkc_quick_check("plain ASCII and caf\xC3\xA9"));
}

// The reference normalizes with Unicode 9.0 data: what later versions added is left alone.
TEST(Normalizer, UnicodeVersionIsTheReferenceNormalizers) {
  EXPECT_STREQ(unicode::kNormUnicodeVersion, "9.0.0");
  EXPECT_STREQ(unicode::kLowercaseUnicodeVersion, "17.0.0");
  EXPECT_EQ(nfkc(u8({0x1F16A})), "MC");                          // 6.1: decomposed
  EXPECT_EQ(nfkc(u8({0x1F16C})), u8({0x1F16C}));                 // MR, 12.0: not
  EXPECT_EQ(nfkc(u8({0x1E030})), u8({0x1E030}));                 // 15.0: not
  EXPECT_EQ(nfkc(u8({0x1CCF0})), u8({0x1CCF0}));                 // 16.0: not
  // canonical ordering uses 9.0's classes: a 9.0 mark (U+08D4, 230) moves behind U+0316 (220),
  // a 10.0 one (U+1DF6, 232 today) is a starter there and stays
  EXPECT_EQ(nfc(u8({0x78, 0x8D4, 0x316})), u8({0x78, 0x316, 0x8D4}));
  EXPECT_EQ(nfc(u8({0x78, 0x1DF6, 0x316})), u8({0x78, 0x1DF6, 0x316}));
  EXPECT_EQ(nfkc(u8({0x78, 0x1AC1, 0x316})), u8({0x78, 0x1AC1, 0x316}));  // 14.0
}

TEST(Normalizer, LowercaseIsRustsToLowercase) {
  NormStep lc = step(NormStep::Kind::Lowercase);
  EXPECT_EQ(run({lc}, "Hello WORLD"), "hello world");
  EXPECT_EQ(run({lc}, u8({0x130})), u8({0x69, 0x307}));     // İ → i̇ (SpecialCasing, unconditional)
  EXPECT_EQ(run({lc}, u8({0x3A3, 0x3A3})), u8({0x3C3, 0x3C3}));  // no final-sigma context
  EXPECT_EQ(run({lc}, u8({0x10D50})), u8({0x10D70}));       // Garay (16.0)
  EXPECT_EQ(run({lc}, u8({0x16EA0})), u8({0x16EBB}));       // Beria Erfe (17.0)
  EXPECT_EQ(run({lc}, u8({0x1E9E})), u8({0xDF}));           // ẞ → ß
  EXPECT_EQ(run({lc}, u8({0x4E00, 0x31})), u8({0x4E00, 0x31}));
}

TEST(Normalizer, StripReplacePrependAndChains) {
  NormStep both = step(NormStep::Kind::Strip);
  both.left = both.right = true;
  NormStep left = step(NormStep::Kind::Strip);
  left.left = true;
  const std::string ws = u8({0x3000, 0x20, 0x85, 0x9});
  EXPECT_EQ(run({both}, ws + "a b" + ws), "a b");
  EXPECT_EQ(run({left}, ws + "a b" + ws), "a b" + ws);
  EXPECT_EQ(run({both}, u8({0x200B, 0x61, 0x180E})), u8({0x200B, 0x61, 0x180E}));  // not White_Space
  EXPECT_EQ(run({both}, ws), "");

  NormStep rx = step(NormStep::Kind::Replace);
  rx.re = std::make_shared<const Regex>("\\s+");
  rx.content = " ";
  EXPECT_EQ(run({rx}, "a \t\n b  c"), "a b c");
  NormStep lit = step(NormStep::Kind::Replace);
  lit.re = Regex::literal("a.b");  // a string pattern is literal: '.' is no wildcard
  lit.content = "X";
  EXPECT_EQ(run({lit}, "a.b axb a.b"), "X axb X");

  NormStep pre = step(NormStep::Kind::Prepend);
  pre.content = u8({0x2581});
  EXPECT_EQ(run({pre}, "x"), u8({0x2581}) + "x");
  EXPECT_EQ(run({pre}, ""), "");  // nothing is prepended to an empty string

  // in order: NFKC turns ① into 1 before the regex sees it; lowercase after strip
  NormStep digits = step(NormStep::Kind::Replace);
  digits.re = std::make_shared<const Regex>("\\d");
  digits.content = "#";
  EXPECT_EQ(run({step(NormStep::Kind::NFKC), digits, both, step(NormStep::Kind::Lowercase)},
                "  " + u8({0x2460}) + "ABC\xEF\xBC\xA1 "),
            "#abca");
  EXPECT_EQ(run({digits, step(NormStep::Kind::NFKC)}, u8({0x2460}) + "2"), "1#");
}

namespace {

// A tiny byte-level tokenizer.json with the given normalizer.
std::string json_with_normalizer(const std::string& normalizer) {
  std::string vocab = "{";
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    unsigned cp = printable ? unsigned(b) : 256u + unsigned(extra++);
    char buf[32];
    std::snprintf(buf, sizeof buf, "\"\\u%04x\": %d,", cp, b);
    vocab += buf;
  }
  vocab += "\"ab\": 256}";
  return R"({"added_tokens":[],"normalizer":)" + normalizer +
         R"(,"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"use_regex":true},
  "post_processor":null,"decoder":{"type":"ByteLevel"},
  "model":{"type":"BPE","dropout":null,"unk_token":null,"vocab":)" + vocab + R"(,"merges":["a b"]}})";
}

void expect_load_error(const std::string& json, const std::string& needle) {
  try {
    Tokenizer::from_json(json);
    ADD_FAILURE() << "loaded; expected an error containing: " << needle;
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(Normalizer, LoadedFromTokenizerJson) {
  auto t = Tokenizer::from_json(json_with_normalizer(
      R"({"type":"Sequence","normalizers":[{"type":"NFKC"},{"type":"Lowercase"},{"type":"Strip","strip_left":true,"strip_right":true},{"type":"Replace","pattern":{"Regex":"[0-9]+"},"content":"ab"}]})"));
  // "  ﬁ12 " → "fi12" → "fiab": f, i, ab (merged)
  std::vector<uint32_t> ids = t->encode("  \xEF\xAC\x81" "12 ", false);
  EXPECT_EQ(ids, (std::vector<uint32_t>{'f', 'i', 256}));
  EXPECT_EQ(t->decode(ids.data(), ids.size()), "fiab");
}

TEST(Normalizer, BadEntriesAreLoadErrorsNamingTheField) {
  expect_load_error(json_with_normalizer(R"({"type":"NFD"})"), "normalizer: normalizer NFD is not supported");
  expect_load_error(json_with_normalizer(R"({"type":"Sequence","normalizers":[{"type":"NFKC"},{"type":"BertNormalizer"}]})"),
                    "normalizer[1]: normalizer BertNormalizer is not supported");
  expect_load_error(json_with_normalizer(R"({"type":"Strip","strip_left":true})"), "normalizer Strip: missing \"strip_right\"");
  expect_load_error(json_with_normalizer(R"({"type":"Strip","strip_left":1,"strip_right":true})"),
                    "normalizer Strip: \"strip_left\" is not a boolean");
  expect_load_error(json_with_normalizer(R"({"type":"Replace","pattern":{"Regex":"(a"},"content":"x"})"),
                    "normalizer Replace: pattern does not compile");
  expect_load_error(json_with_normalizer(R"({"type":"Replace","pattern":{"Glob":"a"},"content":"x"})"),
                    "normalizer Replace: \"pattern\" is neither");
  expect_load_error(json_with_normalizer(R"({"type":"Replace","pattern":{"String":"a"}})"),
                    "normalizer Replace: missing \"content\"");
  expect_load_error(json_with_normalizer(R"({"type":"Prepend","prepend":7})"), "normalizer Prepend: \"prepend\" is not a string");
  expect_load_error(json_with_normalizer(R"({"type":"Sequence"})"), "normalizer Sequence: missing \"normalizers\"");
  expect_load_error(json_with_normalizer(R"({"type":"Sequence","normalizers":{}})"), "\"normalizers\" is not an array");
}

namespace {

// A byte-level vocabulary: every byte alone, with "##" before it and with "</w>" after it, and
// the merges that make "ab" and "ab</w>" (the reference's rule: a + b minus the prefix length).
std::string affix_json(const std::string& prefix, const std::string& suffix, const std::string& merges) {
  std::string vocab = "{";
  int extra = 0, id = 0;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    unsigned cp = printable ? unsigned(b) : 256u + unsigned(extra++);
    for (const char* form : {"\"\\u%04x\": %d,", "\"##\\u%04x\": %d,", "\"\\u%04x</w>\": %d,", "\"##\\u%04x</w>\": %d,"}) {
      char buf[48];
      std::snprintf(buf, sizeof buf, form, cp, id++);
      vocab += buf;
    }
  }
  vocab += "\"ab\": 2000, \"ab</w>\": 2001, \"##ab</w>\": 2002}";
  return R"({"added_tokens":[],"normalizer":null,"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"use_regex":true},
  "post_processor":null,"decoder":{"type":"ByteLevel"},
  "model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":")" + prefix +
         R"(","end_of_word_suffix":")" + suffix + R"(","vocab":)" + vocab + R"(,"merges":)" + merges + "}}";
}

}  // namespace

// Initial symbols carry the prefix after a piece's first byte and the suffix on its last.
TEST(BpeAffixes, PrefixAndSuffixSelectTheInitialSymbols) {
  auto id = [](int b, int form) { return uint32_t(b * 4 + form); };  // 'a' etc. are printable: id = byte * 4
  auto p = Tokenizer::from_json(affix_json("##", "", R"(["a ##b"])"));
  EXPECT_EQ(p->encode("abc", false), (std::vector<uint32_t>{2000, id('c', 1)}));
  EXPECT_EQ(p->encode("ba", false), (std::vector<uint32_t>{id('b', 0), id('a', 1)}));
  auto s = Tokenizer::from_json(affix_json("", "</w>", R"(["a b</w>"])"));
  EXPECT_EQ(s->encode("ab", false), (std::vector<uint32_t>{2001}));
  EXPECT_EQ(s->encode("abc", false), (std::vector<uint32_t>{id('a', 0), id('b', 0), id('c', 2)}));
  EXPECT_EQ(s->encode("a", false), (std::vector<uint32_t>{id('a', 2)}));  // first and last: suffix only
  auto ps = Tokenizer::from_json(affix_json("##", "</w>", R"(["##a ##b</w>"])"));
  EXPECT_EQ(ps->encode("xab", false), (std::vector<uint32_t>{id('x', 0), 2002}));
  EXPECT_EQ(ps->encode("ab", false), (std::vector<uint32_t>{id('a', 0), id('b', 3)}));
}
