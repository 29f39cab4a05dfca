// Loading tokenizer.json: the three real files load with the expected family and size, and
// every kind of bad input is a LoadError that names the problem, never a crash or a model that
// would encode differently from the reference.
#include <gtest/gtest.h>

#include <string>

#include "infeng/tokenizer.h"

using infeng::tok::LoadError;
using infeng::tok::Tokenizer;

namespace {

std::string model_path(const std::string& name) {
  return std::string(INFENG_TOKENIZER_MODELS_DIR) + "/tokenizer-" + name + "/models/tokenizer.json";
}

// A minimal byte-level tokenizer.json with the Llama-3 pattern; `patch` replaces one part.
std::string tiny_json(const std::string& normalizer = "null", const std::string& model_extra = "",
                      const std::string& merges = "[\"a b\"]") {
  std::string vocab = "{";
  // the GPT-2 byte alphabet: printable ASCII maps to itself, the rest to U+0100.. in order
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    unsigned cp = printable ? unsigned(b) : 256u + unsigned(extra++);
    char buf[32];
    std::snprintf(buf, sizeof buf, "\"\\u%04x\": %d,", cp, b);
    vocab += buf;
  }
  vocab += "\"ab\": 256}";
  return R"({"version":"1.0","truncation":null,"padding":null,"added_tokens":[{"id":257,"content":"<|x|>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],
  "normalizer":)" + normalizer + R"(,
  "pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":false}]},
  "post_processor":null,"decoder":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true},
  "model":{"type":"BPE","dropout":null,"unk_token":null,"fuse_unk":false,"byte_fallback":false)" +
         model_extra + R"(,"vocab":)" + vocab + R"(,"merges":)" + merges + "}}";
}

void expect_load_error(const std::string& json, const std::string& needle) {
  try {
    Tokenizer::from_json(json);
    FAIL() << "loaded; expected an error containing: " << needle;
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(TokenizerLoad, RealFilesLoad) {
  struct Case { const char* name; const char* family; size_t vocab; };
  for (const Case& c : {Case{"llama2", "sentencepiece-bpe", 32000}, Case{"llama3", "byte-level-bpe", 128256},
                        Case{"qwen3", "byte-level-bpe", 151669}}) {
    auto t = Tokenizer::from_file(model_path(c.name));
    EXPECT_STREQ(t->family(), c.family) << c.name;
    EXPECT_EQ(t->vocab_size(), c.vocab) << c.name;
  }
}

TEST(TokenizerLoad, TinyFileEncodesAndDecodes) {
  auto t = Tokenizer::from_json(tiny_json());
  EXPECT_EQ(t->encode("ab"), (std::vector<uint32_t>{256}));
  EXPECT_EQ(t->encode("ab<|x|>a"), (std::vector<uint32_t>{256, 257, 'a'}));
  std::vector<uint32_t> ids = t->encode("héllo wörld\n");
  EXPECT_EQ(t->decode(ids.data(), ids.size()), "héllo wörld\n");
  EXPECT_TRUE(t->encode("").empty());
}

TEST(TokenizerLoad, MalformedJsonIsAnError) {
  std::string good = tiny_json();
  expect_load_error(good.substr(0, good.size() / 2), "JSON");
  expect_load_error("", "JSON");
  expect_load_error("[1,2]", "not an object");
  expect_load_error(std::string(1000, '['), "nesting too deep");
  expect_load_error("{\"a\": \"\\ud800\"}", "surrogate");
  // raw bytes in a string must be UTF-8, as serde_json requires: a stray continuation byte,
  // a lead byte cut short by the closing quote, an overlong form
  expect_load_error("{\"a\": \"x\x80\"}", "invalid UTF-8 in a string at byte 8");
  expect_load_error("{\"a\": \"\xE2\x96\"}", "invalid UTF-8");
  expect_load_error("{\"a\": \"\xC0\xAF\"}", "invalid UTF-8");
}

// Found by the loader fuzzer: a Prepend string ending in a truncated UTF-8 sequence made the
// encoder's character walk straddle the end of the prepended text and read past the input.
TEST(TokenizerLoad, PrependWithBrokenUtf8IsAnError) {
  std::string bad = "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\xE2\x96\x81\xF0\x9F\"},"
                    "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\xE2\x96\x81\"}]}";
  expect_load_error(tiny_json(bad), "invalid UTF-8");
}

TEST(TokenizerLoad, UnsupportedComponentsAreNamed) {
  expect_load_error(tiny_json("{\"type\":\"NFKD\"}"), "normalizer NFKD is not supported");
  expect_load_error(tiny_json("{\"type\":\"BertNormalizer\"}"), "normalizer BertNormalizer");
  expect_load_error(tiny_json("null", ",\"continuing_subword_prefix\":7"), "\"continuing_subword_prefix\" is not a string");
  expect_load_error(tiny_json("null", ",\"end_of_word_suffix\":[]"), "\"end_of_word_suffix\" is not a string");
  // with a prefix, a merge's right part must carry it: "b" is shorter than "##"
  expect_load_error(tiny_json("null", ",\"continuing_subword_prefix\":\"##\""),
                    "model.merges[0]: \"b\" is shorter than continuing_subword_prefix");
  std::string wp = tiny_json();
  wp.replace(wp.find("\"type\":\"BPE\""), 12, "\"type\":\"WordPiece\"");
  expect_load_error(wp, "model type WordPiece");
  // a pattern the hand-written pre-tokenizer does not know goes to the regex engine; one
  // that does not compile is refused, naming it
  std::string pat = tiny_json();
  pat.replace(pat.find("\\\\p{N}{1,3}"), 12, "\\\\p{N}{1,2}");
  EXPECT_STREQ(Tokenizer::from_json(pat)->pre_tokenizer(), "regex");
  EXPECT_STREQ(Tokenizer::from_json(tiny_json())->pre_tokenizer(), "hand-written");
  std::string bad = tiny_json();
  bad.replace(bad.find("\\\\p{N}{1,3}"), 12, "(\\\\p{N}{1,3}|");
  expect_load_error(bad, "pre_tokenizer[0] Split: pattern does not compile");
  expect_load_error(bad, "|(\\p{N}{1,3}|");
  std::string beh = tiny_json();
  beh.replace(beh.find("\"Isolated\""), 10, "\"Sideways\"");
  expect_load_error(beh, "unknown \"behavior\": Sideways");
  std::string after = tiny_json();
  after.replace(after.find("\"use_regex\":false}"), 18, "\"use_regex\":false},{\"type\":\"Digits\"}");
  expect_load_error(after, "after ByteLevel");
  std::string unk = tiny_json();
  unk.replace(unk.find("{\"type\":\"Split\""), 15, "{\"type\":\"UnicodeScripts\"");
  expect_load_error(unk, "pre-tokenizer UnicodeScripts is not supported");
  std::string drop = tiny_json();
  drop.replace(drop.find("\"dropout\":null"), 14, "\"dropout\":0.1");
  expect_load_error(drop, "dropout is not supported");
  std::string lstrip = tiny_json();
  lstrip.replace(lstrip.find("\"lstrip\":false"), 14, "\"lstrip\":true");
  expect_load_error(lstrip, "lstrip");
}

TEST(TokenizerLoad, MissingMergesAndBadMergesAreErrors) {
  std::string no_merges = tiny_json();
  no_merges.replace(no_merges.find(",\"merges\":[\"a b\"]"), 17, "");
  expect_load_error(no_merges, "missing \"merges\"");
  expect_load_error(tiny_json("null", "", "[\"a q\"]"), "not in the vocabulary");  // "aq" is absent
  expect_load_error(tiny_json("null", "", "[\"ab\"]"), "is not \"a b\"");
  expect_load_error(tiny_json("null", "", "[7]"), "neither");
}

TEST(TokenizerLoad, DecodeRejectsUnknownIds) {
  auto t = Tokenizer::from_json(tiny_json());
  uint32_t bad[] = {'a', 999999};
  EXPECT_THROW(t->decode(bad, 2), std::out_of_range);
}

TEST(TokenizerLoad, MissingFileIsAnError) {
  EXPECT_THROW(Tokenizer::from_file("/nonexistent/tokenizer.json"), LoadError);
}
