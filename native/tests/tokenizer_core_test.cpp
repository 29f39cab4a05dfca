// The tokenizer's building blocks against references recorded as fixtures (see
// tokenizer_fixtures/): the hand-written Split pre-tokenizer against Oniguruma's matches as
// Hugging Face tokenizers produced them, NFC against Python's unicodedata; and the two BPE
// merge paths against each other (tokenizer_bpe_paths_test.cpp).
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bpe.h"
#include "infeng/tokenizer.h"
#include "json.h"
#include "nfc.h"
#include "pretokenizer.h"
#include "utf8.h"

using namespace infeng::tok;

namespace {

json::Value fixture(const std::string& name) {
  std::ifstream f(std::string(INFENG_TOKENIZER_TESTDATA_DIR) + "/" + name, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return json::parse(ss.str());
}

constexpr const char* kLlama3Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* kQwenPattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

void check_pretokenizer(const char* pattern, const char* fixture_name) {
  SplitPattern p{};
  ASSERT_TRUE(recognize_split_pattern(pattern, &p));
  json::Value cases = fixture(fixture_name);
  ASSERT_GT(cases.arr.size(), 100u);
  for (const json::Value& c : cases.arr) {
    const std::string& text = c.find("text")->str;
    std::vector<std::string> want;
    for (const json::Value& piece : c.find("pieces")->arr) want.push_back(piece.str);
    std::vector<std::string> got;
    split_pieces(text, p, [&](size_t b, size_t e) { got.push_back(text.substr(b, e - b)); });
    EXPECT_EQ(got, want) << "text: " << text;
  }
}

}  // namespace

TEST(TokenizerPretokenizer, Llama3PatternMatchesTheReference) {
  check_pretokenizer(kLlama3Pattern, "pretokenizer_llama3.json");
}

TEST(TokenizerPretokenizer, QwenPatternMatchesTheReference) {
  check_pretokenizer(kQwenPattern, "pretokenizer_qwen3.json");
}

TEST(TokenizerPretokenizer, OtherPatternsAreNotRecognized) {
  SplitPattern p{};
  EXPECT_FALSE(recognize_split_pattern("\\s+", &p));
  EXPECT_FALSE(recognize_split_pattern(std::string(kLlama3Pattern) + "|x", &p));
}

TEST(TokenizerNfc, MatchesPythonUnicodedata) {
  json::Value cases = fixture("nfc.json");
  ASSERT_GT(cases.arr.size(), 1000u);
  for (const json::Value& c : cases.arr) {
    const std::string& text = c.find("text")->str;
    const std::string& want = c.find("nfc")->str;
    EXPECT_EQ(nfc(text), want) << text;
    if (nfc_quick_check(text)) EXPECT_EQ(text, want) << "quick check passed a text NFC changes: " << text;
  }
}

TEST(TokenizerUtf8, InvalidBytesBecomeReplacementCharacters) {
  EXPECT_EQ(utf8_repair("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(utf8_repair("\xE2\x82"), "\xEF\xBF\xBD");            // truncated: one maximal subpart
  EXPECT_EQ(utf8_repair("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(utf8_valid_prefix("héllo"), std::string("héllo").size());
}

TEST(TokenizerBpe, LongAndShortPiecesRoundTrip) {
  auto tok = Tokenizer::from_file(std::string(INFENG_TOKENIZER_MODELS_DIR) + "/tokenizer-qwen3/models/tokenizer.json");
  std::mt19937 rng(5);
  const char* alphabet = "aabbbcdeeeeefghhiilmnnooprssttu";
  for (int iter = 0; iter < 200; ++iter) {
    std::string word;
    size_t n = 1 + rng() % 200;
    for (size_t i = 0; i < n; ++i) word += alphabet[rng() % 31];
    // one letter run is one piece: > kBpeShortLimit takes the heap path, else the array path
    std::vector<uint32_t> whole = tok->encode(word);
    std::string decoded = tok->decode(whole.data(), whole.size());
    EXPECT_EQ(decoded, word);
  }
}

TEST(TokenizerEncode, PrefixCacheAndBatchChangeNoId) {
 for (const char* model : {"llama3", "llama2"}) {
  SCOPED_TRACE(model);
  auto tok = Tokenizer::from_file(std::string(INFENG_TOKENIZER_MODELS_DIR) + "/tokenizer-" + model + "/models/tokenizer.json");
  std::string system = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.  \n<s>[INST] be ▁brief  now";
  std::vector<std::string> texts;
  for (const char* tail : {"Hi", " there", "\n\nok", "  x", "<|eot_id|>", "é\u0301", "12345", ""})
    texts.push_back(system + tail);
  // keys that cut multi-byte characters
  for (const char* tail : {"中文", "😀 x", ""}) texts.push_back(std::string("中文😀 éé 中") + tail);
  std::vector<std::vector<uint32_t>> want;
  for (const auto& t : texts) want.push_back(tok->encode(t, true));
  for (size_t k : {1, 2, 3, 5, 7, 17, 40, 60, 200}) {
    PrefixCache pc(k, 4);
    for (size_t i = 0; i < texts.size(); ++i) {
      std::vector<uint32_t> got;
      tok->encode(texts[i], true, got, nullptr, &pc);
      EXPECT_EQ(got, want[i]) << "k=" << k << " text " << i;
    }
  }
  std::vector<std::string_view> views(texts.begin(), texts.end());
  EXPECT_EQ(tok->encode_batch(views, 3, true), want);
 }
}

// Batches from two threads at once (they take turns on the worker pool) and thread counts
// beyond the cores give the single-thread ids.
TEST(TokenizerEncode, ConcurrentBatchesAgree) {
  auto tok = Tokenizer::from_file(std::string(INFENG_TOKENIZER_MODELS_DIR) + "/tokenizer-qwen3/models/tokenizer.json");
  std::vector<std::string> texts;
  for (int i = 0; i < 300; ++i)
    texts.push_back("hello world " + std::to_string(i) + " 中文 <|im_start|> ab" + std::string(size_t(i % 50), 'a'));
  std::vector<std::string_view> views(texts.begin(), texts.end());
  const auto want = tok->encode_batch(views, 1);
  bool other_ok = true;
  std::thread other([&] {
    for (int r = 0; r < 4; ++r) other_ok &= tok->encode_batch(views, 3) == want;
  });
  for (int r = 0; r < 4; ++r)
    for (int n : {2, 4, 8}) EXPECT_EQ(tok->encode_batch(views, n), want) << n << " threads";
  other.join();
  EXPECT_TRUE(other_ok);
}

// A batch whose texts appear while the workers run (the addon converts JavaScript strings on
// the calling thread): workers wait for each text, and the ids are those of plain encodes.
TEST(TokenizerEncode, StreamingBatchWaitsForItsTexts) {
  auto tok = Tokenizer::from_file(std::string(INFENG_TOKENIZER_MODELS_DIR) + "/tokenizer-llama3/models/tokenizer.json");
  std::vector<std::string> source;
  for (int i = 0; i < 64; ++i) source.push_back("text number " + std::to_string(i) + std::string(size_t(i), '!'));
  std::vector<std::string_view> texts(source.size());
  auto got = tok->encode_batch_streaming(texts, 4, true, [&](std::atomic<size_t>& ready) {
    for (size_t i = 0; i < source.size(); ++i) {
      if (i % 8 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
      texts[i] = source[i];
      ready.store(i + 1, std::memory_order_release);
    }
  });
  ASSERT_EQ(got.size(), source.size());
  for (size_t i = 0; i < source.size(); ++i) EXPECT_EQ(got[i], tok->encode(source[i], true)) << i;
}
