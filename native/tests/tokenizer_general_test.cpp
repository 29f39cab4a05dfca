// The general pre-tokenizer: Oniguruma through pattern_regex.h with the reference's walk over
// matches, the five Split behaviours, and its agreement with the hand-written pre-tokenizer on
// the patterns both implement.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "pattern_regex.h"
#include "pre_steps.h"
#include "pretokenizer.h"
#include "unicode_tables.h"

using namespace infeng::tok;

namespace {

std::vector<std::string> split_text(const std::string& pattern, const std::string& text, SplitBehavior b,
                                    bool invert = false) {
  PreStep st;
  st.re = std::make_shared<const Regex>(pattern);
  st.behavior = b;
  st.invert = invert;
  PreStepScratch sc;
  run_pre_steps({st}, text, true, sc);
  std::vector<std::string> out;
  for (const PrePiece& p : sc.pieces) out.push_back(sc.buf.substr(p.begin, p.end - p.begin));
  return out;
}

using V = std::vector<std::string>;

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

// The reference's documented example for SplitDelimiterBehavior, "-" on "the-final--countdown".
TEST(GeneralPreTokenizer, EveryBehaviourAsTheReferenceDocumentsIt) {
  const std::string t = "the-final--countdown";
  EXPECT_EQ(split_text("-", t, SplitBehavior::Removed), (V{"the", "final", "countdown"}));
  EXPECT_EQ(split_text("-", t, SplitBehavior::Isolated), (V{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(split_text("-", t, SplitBehavior::MergedWithPrevious), (V{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(split_text("-", t, SplitBehavior::MergedWithNext), (V{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(split_text("-", t, SplitBehavior::Contiguous), (V{"the", "-", "final", "--", "countdown"}));
  // invert: the text between matches is what counts as matched
  EXPECT_EQ(split_text("-", t, SplitBehavior::Removed, true), (V{"-", "-", "-"}));
  EXPECT_EQ(split_text("-", t, SplitBehavior::MergedWithNext, true), (V{"the-", "final-", "-", "countdown"}));
}

TEST(GeneralPreTokenizer, EmptyMatchesAreSkippedAfterAMatchAsTheOnigCrateDoes) {
  std::vector<Regex::Span> spans;
  Regex("x*").find_matches("axb", spans);
  // empty at 0, "x" at 1..2, the empty match at 2 right after it is skipped, empty at 3
  ASSERT_EQ(spans.size(), 5u);
  EXPECT_TRUE(spans[0].is_match);
  EXPECT_EQ(spans[0].begin, 0u);
  EXPECT_EQ(spans[0].end, 0u);
  EXPECT_FALSE(spans[1].is_match);  // "a"
  EXPECT_EQ(spans[2].begin, 1u);
  EXPECT_EQ(spans[2].end, 2u);
  EXPECT_FALSE(spans[3].is_match);  // "b"
  EXPECT_TRUE(spans[4].is_match);
  EXPECT_EQ(spans[4].begin, 3u);
  // empty text: one empty non-match
  spans.clear();
  Regex("a").find_matches("", spans);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_FALSE(spans[0].is_match);
}

TEST(GeneralPreTokenizer, LiteralPatternsEscapeEverything) {
  EXPECT_EQ(split_text(".", "a.b", SplitBehavior::Removed), (V{}));  // a regex dot matches all
  PreStep st;
  st.re = Regex::literal(".*[x]");
  st.behavior = SplitBehavior::Removed;
  PreStepScratch sc;
  run_pre_steps({st}, "a.*[x]b", true, sc);
  ASSERT_EQ(sc.pieces.size(), 2u);
  EXPECT_EQ(sc.buf.substr(sc.pieces[1].begin, sc.pieces[1].end - sc.pieces[1].begin), "b");
}

// The vendored Oniguruma is the reference's release, with Unicode 16.0 tables: letters of
// scripts added in 15.0 (Kawi), 15.1 (CJK Extension I) and 16.0 (Garay, Ol Onal) are \p{L};
// one of 17.0 (Tolong Siki) is not yet.
TEST(GeneralPreTokenizer, UnicodeVersionIsTheReferences) {
  Regex letters("\\A\\p{L}+\\z");
  EXPECT_TRUE(letters.search("\U00011F04"));  // KAWI LETTER A (15.0)
  EXPECT_TRUE(letters.search("\U0002EBF0"));  // CJK Extension I (15.1)
  EXPECT_TRUE(letters.search("\U00010D4A"));  // GARAY (16.0)
  EXPECT_TRUE(letters.search("\U0001E5D0"));  // OL ONAL (16.0)
  EXPECT_FALSE(letters.search("\U00011DB0"));  // TOLONG SIKI (17.0)
}

TEST(GeneralPreTokenizer, BadPatternsAreErrors) {
  EXPECT_THROW(Regex("(unclosed"), RegexError);
  EXPECT_THROW(Regex("\\p{NoSuchProperty}"), RegexError);
}

// The hand-written pre-tokenizer and Oniguruma cut the shipped corpus identically for the
// Llama-3 and Qwen patterns (the same check as the recorded fixtures, on whole files).
TEST(GeneralPreTokenizer, AgreesWithTheHandWrittenSplitOnTheCorpus) {
  for (const char* mid : {"\\p{N}{1,3}", "\\p{N}"}) {
    std::string pattern = std::string("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|") + mid +
                          "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    SplitPattern fast;
    ASSERT_TRUE(recognize_split_pattern(pattern, &fast));
    for (const char* file : {"prose.txt", "code.txt", "cjk.txt", "emoji.txt", "whitespace.txt", "chat.txt", "docs.txt"}) {
      std::string text = read_file(std::string(INFENG_TOKENIZER_CORPUS_DIR) + "/" + file);
      ASSERT_FALSE(text.empty()) << file;
      std::vector<std::string> want;
      split_pieces(text, fast, [&](size_t b, size_t e) { want.push_back(text.substr(b, e - b)); });
      EXPECT_EQ(split_text(pattern, text, SplitBehavior::Isolated), want) << file << " " << mid;
    }
  }
}

TEST(GeneralPreTokenizer, PrefixSpaceAndMetaspace) {
  PreStep ps;
  ps.kind = PreStep::Kind::PrefixSpace;
  PreStepScratch sc;
  run_pre_steps({ps}, "hi", true, sc);
  EXPECT_EQ(sc.buf, " hi");
  run_pre_steps({ps}, " hi", true, sc);
  EXPECT_EQ(sc.buf, " hi");

  PreStep ms;
  ms.kind = PreStep::Kind::Metaspace;
  ms.replacement = "\xE2\x96\x81";  // ▁
  PreStep cut;
  cut.re = Regex::literal(ms.replacement);
  cut.behavior = SplitBehavior::MergedWithNext;
  ms.scheme = PreStep::Prepend::First;
  run_pre_steps({ms, cut}, "a b", true, sc);
  ASSERT_EQ(sc.pieces.size(), 2u);
  EXPECT_EQ(sc.buf.substr(sc.pieces[0].begin, sc.pieces[0].end - sc.pieces[0].begin), "\xE2\x96\x81" "a");
  EXPECT_EQ(sc.buf.substr(sc.pieces[1].begin, sc.pieces[1].end - sc.pieces[1].begin), "\xE2\x96\x81" "b");
  run_pre_steps({ms, cut}, "a", false, sc);  // "first": not at the start of the input
  EXPECT_EQ(sc.buf, "a");
}

// The hand-written pre-tokenizer's classes are generated from the same engine's tables, so the
// fast path sees Unicode 16.0 too (its letters and numbers, not the build machine's Python's).
TEST(GeneralPreTokenizer, HandWrittenClassesHaveTheSameUnicodeVersion) {
  EXPECT_STREQ(unicode::kUnicodeVersion, "16.0.0");
  EXPECT_EQ(unicode::class_of(0x11F04) & unicode::kClassMask, unicode::kLetter);  // Kawi (15.0)
  EXPECT_EQ(unicode::class_of(0x2EBF0) & unicode::kClassMask, unicode::kLetter);  // CJK Ext. I (15.1)
  EXPECT_EQ(unicode::class_of(0x10D4A) & unicode::kClassMask, unicode::kLetter);  // Garay (16.0)
  EXPECT_EQ(unicode::class_of(0x10D40) & unicode::kClassMask, unicode::kNumber);  // GARAY DIGIT ZERO (16.0)
  EXPECT_EQ(unicode::class_of(0x11DB0) & unicode::kClassMask, unicode::kOther);   // Tolong Siki (17.0)
}

// GPT-2's pattern (ByteLevel's own regex), hand-written too: the same cuts as Oniguruma on the
// corpus and on text built to hit each alternative's edge (upper-case contractions, a space
// before each class, white space runs before letters and at the end, CR/LF).
TEST(GeneralPreTokenizer, Gpt2PatternAgreesWithTheHandWrittenSplit) {
  SplitPattern fast{3};
  fast.gpt2 = true;
  std::vector<std::string> texts = {
      "I'M here, 'tis you're 've 'LL x'd 's", "  a  1  !! \t\tb\n\n c \r\n ", "x   ", " ", "\t", "'", "'r",
      "1234567 8\xD9\xA3\xD9\xA4 \xE2\x85\xA0", "a\xE2\x80\x83\xE2\x80\x83" "b \xE3\x80\x80z", "?! ?!  ?!",
  };
  for (const char* file : {"prose.txt", "code.txt", "cjk.txt", "emoji.txt", "whitespace.txt", "chat.txt", "docs.txt",
                           "repeated.txt"})
    texts.push_back(read_file(std::string(INFENG_TOKENIZER_CORPUS_DIR) + "/" + file));
  for (const std::string& text : texts) {
    std::vector<std::string> want;
    split_pieces(text, fast, [&](size_t b, size_t e) { want.push_back(text.substr(b, e - b)); });
    EXPECT_EQ(split_text(std::string(kGpt2Pattern), text, SplitBehavior::Isolated), want) << text.substr(0, 80);
  }
}
