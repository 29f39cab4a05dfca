// The hand-written o200k-style split (GPT-OSS, Mistral NeMo) against the regex engine the
// reference runs, the vendored Oniguruma, on the same pattern: the shipped corpus, the recorded
// pre-tokenizer fixtures' texts, and random strings over the characters where the pattern's
// alternatives and backtracking part ways (the case classes, marks, title case, modifier and
// other letters, contractions in any case, CR/LF/slash after symbols, white space runs).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "json.h"
#include "pattern_regex.h"
#include "pretokenizer.h"
#include "utf8.h"

using namespace infeng::tok;

namespace {

const std::string kUpper = "[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]";
const std::string kLower = "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]";
const std::string kLead = "[^\\r\\n\\p{L}\\p{N}]?";
const std::string kSuffix = "(?i:'s|'t|'re|'ve|'m|'ll|'d)?";
const std::string kTail = "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

std::string pattern(bool suffix, const std::string& digits) {
  const std::string c = suffix ? kSuffix : "";
  return kLead + kUpper + "*" + kLower + "+" + c + "|" + kLead + kUpper + "+" + kLower + "*" + c + "|" +
         digits + kTail;
}

// GPT-OSS's file and Mistral NeMo's, as their tokenizer.json spell them.
const std::string kGptOss = pattern(true, "\\p{N}{1,3}");
const std::string kNemo = pattern(false, "\\p{N}");

std::vector<std::string> regex_pieces(const Regex& re, const std::string& text) {
  std::vector<Regex::Span> spans;
  re.find_matches(text, spans);
  std::vector<std::string> out;
  for (const auto& s : spans) out.push_back((s.is_match ? "" : "<gap>") + text.substr(s.begin, s.end - s.begin));
  return out;
}

std::vector<std::string> split(const SplitPattern& p, const std::string& text) {
  std::vector<std::string> out;
  split_pieces(text, p, [&](size_t b, size_t e) { out.push_back(text.substr(b, e - b)); });
  return out;
}

// Characters where the alternatives differ, by what they are.
const std::vector<uint32_t> kAlphabet = {
    'A', 'B', 'Z', 'S', 'T', 'R', 'E', 'V', 'M', 'L', 'D',  // Lu, and the contractions' capitals
    'a', 'b', 's', 't', 'r', 'e', 'v', 'm', 'l', 'd', 'z',  // Ll, and the contractions' letters
    0x00C9, 0x0416,                                         // Lu: É, Ж
    0x00E9, 0x0436, 0x017F,                                 // Ll: é, ж, long s (folds to s)
    0x01C5, 0x1F88,                                         // Lt
    0x02B0, 0x3005,                                         // Lm
    0x05D0, 0x4E00, 0x0E01,                                 // Lo
    0x0301, 0x0903, 0x20DD,                                 // Mn, Mc, Me
    '0', '7', 0x0660, 0x2160, 0x00B2,                       // Nd, Nl, No
    ' ', ' ', ' ', '\t', '\r', '\n', 0x00A0, 0x3000, 0x2028, // white space
    '\'', '\'', '/', '!', '.', '-', 0x2019, 0x1F600, 0x00A9,  // others: apostrophe, slash, symbols
};

std::string random_text(std::mt19937& rng, size_t len) {
  std::uniform_int_distribution<size_t> pick(0, kAlphabet.size() - 1);
  std::string s;
  for (size_t i = 0; i < len; ++i) utf8_append(s, kAlphabet[pick(rng)]);
  return s;
}

std::vector<std::string> corpus_and_fixture_texts() {
  std::vector<std::string> texts;
  for (const auto& e : std::filesystem::directory_iterator(INFENG_TOKENIZER_CORPUS_DIR)) {
    std::ifstream f(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    texts.push_back(ss.str());
  }
  for (const char* name : {"pretokenizer_llama3.json", "pretokenizer_qwen3.json"}) {
    std::ifstream f(std::string(INFENG_TOKENIZER_TESTDATA_DIR) + "/" + name, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    for (const json::Value& c : json::parse(ss.str()).arr) texts.push_back(c.find("text")->str);
  }
  return texts;
}

void check_against_regex(const std::string& pat, bool suffix, int digits) {
  SplitPattern p{};
  ASSERT_TRUE(recognize_split_pattern(pat, &p));
  EXPECT_TRUE(p.o200k);
  EXPECT_EQ(p.contraction_suffix, suffix);
  EXPECT_EQ(p.max_digits, digits);
  const Regex re(pat);
  const auto texts = corpus_and_fixture_texts();
  ASSERT_GT(texts.size(), 100u);
  for (const std::string& t : texts) ASSERT_EQ(split(p, t), regex_pieces(re, t)) << "text: " << t;
  std::mt19937 rng(20261207);
  for (int k = 0; k < 20000; ++k) {
    const std::string t = random_text(rng, 1 + k % 24);
    ASSERT_EQ(split(p, t), regex_pieces(re, t)) << "text: " << t;
  }
}

}  // namespace

TEST(TokenizerO200kSplit, GptOssPatternMatchesTheRegexEngine) { check_against_regex(kGptOss, true, 3); }

TEST(TokenizerO200kSplit, MistralNemoPatternMatchesTheRegexEngine) { check_against_regex(kNemo, false, 1); }

TEST(TokenizerO200kSplit, TheOtherCombinationsMatchTheRegexEngineToo) {
  check_against_regex(pattern(true, "\\p{N}"), true, 1);
  check_against_regex(pattern(false, "\\p{N}{1,3}"), false, 3);
}

TEST(TokenizerO200kSplit, AMarkBeforeCapitalsIsTakenAloneByTheFirstAlternative) {
  SplitPattern p{};
  ASSERT_TRUE(recognize_split_pattern(kGptOss, &p));
  // U* backs off to nothing and W+ takes the mark, before U+W* (which would take "\u0301ABC") is tried
  EXPECT_EQ(split(p, "\xCC\x81" "ABC x"), (std::vector<std::string>{"\xCC\x81", "ABC", " x"}));
  EXPECT_EQ(split(p, "HELLO'S world/\n"), (std::vector<std::string>{"HELLO'S", " world", "/\n"}));
}

TEST(TokenizerO200kSplit, NearMissesAreNotRecognized) {
  SplitPattern p{};
  EXPECT_FALSE(recognize_split_pattern(pattern(true, "\\p{N}{1,2}"), &p));
  EXPECT_FALSE(recognize_split_pattern(kGptOss + "|x", &p));
  std::string no_slash = kGptOss;
  no_slash.replace(no_slash.find("[\\r\\n/]*"), 9, "[\\r\\n]*");
  EXPECT_FALSE(recognize_split_pattern(no_slash, &p));
}
