// The stories260K checkpoint: the loader's header and exact-size checks, the forward pass's
// logits for a fixed prompt on every path and KV format, and perplexity through each
// attention variant against the FP32 reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "infeng/model.h"

namespace {

using namespace infeng;
using namespace infeng::model;

const std::string kModel = std::string(INFENG_TESTDATA_DIR) + "/stories260K.bin";

const LlamaWeights& weights() {
  static const LlamaWeights w = load_llama(kModel);
  return w;
}

std::vector<char> file_bytes() {
  std::ifstream f(kModel, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

std::string write_temp(const std::vector<char>& bytes, const char* name) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

std::vector<Path> runnable_paths() {
  std::vector<Path> out;
  for (Path p : {Path::Scalar, Path::Avx2, Path::Avx512})
    if (path_supported(p)) out.push_back(p);
  return out;
}

TEST(ModelLoader, ReadsTheHeaderAndTheExactSize) {
  const LlamaConfig& c = weights().config;
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.hidden_dim, 172);
  EXPECT_EQ(c.n_layers, 5);
  EXPECT_EQ(c.n_heads, 8);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.seq_len, 512);
  EXPECT_TRUE(c.shared_classifier);
  EXPECT_EQ(expected_file_size(c), 1056540u);
  EXPECT_EQ(file_bytes().size(), 1056540u);
}

TEST(ModelLoader, RejectsAFileOfTheWrongSize) {
  auto bytes = file_bytes();
  bytes.pop_back();
  const std::string shorter = write_temp(bytes, "short.bin");
  EXPECT_THROW(load_llama(shorter), ModelFormatError);
  bytes.push_back(0);
  bytes.push_back(0);
  const std::string longer = write_temp(bytes, "long.bin");
  try {
    load_llama(longer);
    FAIL() << "a padded file loaded";
  } catch (const ModelFormatError& e) {
    EXPECT_NE(std::string(e.what()).find("1056541 bytes"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("exactly 1056540"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_llama(write_temp({'a', 'b'}, "tiny.bin")), ModelFormatError);
  EXPECT_THROW(load_llama(::testing::TempDir() + "does-not-exist.bin"), ModelFormatError);
}

TEST(ModelLoader, RejectsABadHeader) {
  auto bytes = file_bytes();
  auto set = [&](int field, std::int32_t v) {
    auto b = bytes;
    std::memcpy(b.data() + 4 * field, &v, 4);
    return write_temp(b, "bad_header.bin");
  };
  EXPECT_THROW(load_llama(set(3, 7)), ModelFormatError);   // 7 heads do not divide dim 64
  EXPECT_THROW(load_llama(set(4, 3)), ModelFormatError);   // 8 heads not a multiple of 3 kv heads
  EXPECT_THROW(load_llama(set(2, 0)), ModelFormatError);   // no layers
  EXPECT_THROW(load_llama(set(0, -64)), ModelFormatError); // negative dim
  EXPECT_THROW(load_llama(set(2, 6)), ModelFormatError);   // consistent header, wrong size
}

// A fixed prompt (a sequence the model itself produced): logits after every token agree
// across paths (FP32 rounding only) and stay near the FP32 reference for each KV format.
TEST(ModelForward, LogitsForAFixedPromptAreStableAcrossPaths) {
  const LlamaWeights& w = weights();
  const auto prompt = sample_sequences(w, 1, 100, 7).front();
  const int V = w.config.vocab_size;
  std::vector<float> ref;
  {
    LlamaSession s(w, KvMode::Reference);
    for (int t : prompt) {
      const float* l = s.step(t);
      ref.insert(ref.end(), l, l + V);
    }
  }
  for (KvMode mode : {KvMode::F16, KvMode::Int8}) {
    std::vector<float> first;
    for (Path p : runnable_paths()) {
      attn::DecodeOptions opt;
      opt.path = p;
      LlamaSession s(w, mode, opt);
      std::vector<float> got;
      for (int t : prompt) {
        const float* l = s.step(t);
        got.insert(got.end(), l, l + V);
      }
      double max_ref = 0;
      for (std::size_t i = 0; i < got.size(); ++i) max_ref = std::max(max_ref, std::fabs(double(got[i]) - ref[i]));
      // Logits reach ±15. Over these 100 positions FP16 KV moves them by up to 0.044 and
      // int8 KV by up to 0.62 (measured, every path): bounds with ~2× headroom, which a wrong
      // scale or a dropped tile exceeds by far (perplexity is the finer guard, below).
      EXPECT_LT(max_ref, mode == KvMode::F16 ? 0.1 : 1.2) << kv_mode_name(mode) << " " << path_name(p);
      std::printf("%s %s: max |logit - fp32 reference| %.4f\n", kv_mode_name(mode), path_name(p), max_ref);
      if (first.empty()) {
        first = got;
        continue;
      }
      // This model's attention is sharp (scores of O(10-100)): the FP32 rounding that differs
      // between paths (FMA contraction, summation order, the vector exp) moves a score by
      // ~1e-6-1e-5, which 5 layers amplify to ≤ 0.01 on a logit (measured). So: every logit
      // within 0.05, and the same most likely next token at every position.
      for (std::size_t pos = 0; pos < prompt.size(); ++pos) {
        const float* a = &got[pos * V];
        const float* b = &first[pos * V];
        for (int i = 0; i < V; ++i)
          ASSERT_NEAR(a[i], b[i], 0.05) << kv_mode_name(mode) << " " << path_name(p) << " pos " << pos << " token " << i;
        EXPECT_EQ(std::max_element(a, a + V) - a, std::max_element(b, b + V) - b)
            << kv_mode_name(mode) << " " << path_name(p) << " pos " << pos;
      }
    }
  }
}

TEST(ModelForward, SamplingIsDeterministic) {
  const auto a = sample_sequences(weights(), 2, 64, 99);
  const auto b = sample_sequences(weights(), 2, 64, 99);
  EXPECT_EQ(a, b);
  EXPECT_NE(a[0], a[1]);
}

// The quality guard at test scale (the lanes run it on more tokens): perplexity with each
// decode KV format and each prefill form, against FP32 reference attention.
TEST(ModelPerplexity, KvFormatsAndPrefillFormsStayCloseToReference) {
  const LlamaWeights& w = weights();
  const auto seqs = sample_sequences(w, 2, 512, 2024);
  const double ref = perplexity_decode(w, seqs, KvMode::Reference).value();
  const double f16 = perplexity_decode(w, seqs, KvMode::F16).value();
  const double i8 = perplexity_decode(w, seqs, KvMode::Int8).value();
  const double pre_ref = perplexity_prefill(w, seqs, PrefillMode::Reference).value();
  const double pre_tiled = perplexity_prefill(w, seqs, PrefillMode::Tiled).value();
  std::printf("perplexity: fp32 %.5f fp16-kv %.5f int8-kv %.5f prefill ref %.5f tiled %.5f\n", ref,
              f16, i8, pre_ref, pre_tiled);
  EXPECT_GT(ref, 1.0);
  EXPECT_LT(ref, 50.0);  // the model's own samples are likely under it
  EXPECT_NEAR(f16 / ref - 1, 0, 1e-3);
  EXPECT_NEAR(i8 / f16 - 1, 0, 3e-3);
  EXPECT_NEAR(pre_ref / ref - 1, 0, 1e-4);
  EXPECT_NEAR(pre_tiled / pre_ref - 1, 0, 1e-4);
}

}  // namespace
