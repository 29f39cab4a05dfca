// Loader for llama2.c checkpoints: a 7 × int32 header, then FP32 tensors in a fixed order.
// The header is checked before anything is allocated, and the file's size must equal what the
// header implies, byte for byte: the format has no tensor table, so a file of any other size
// means every tensor after the mistake would be read from the wrong offset.
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>

#include "infeng/model.h"

namespace infeng::model {
namespace {

constexpr std::uint64_t kHeaderBytes = 7 * sizeof(std::int32_t);
// Far above any model this format is used for; keeps the size arithmetic from overflowing.
constexpr int kMaxDim = 1 << 16;
constexpr int kMaxLayers = 1024;
constexpr int kMaxVocab = 1 << 20;
constexpr int kMaxSeq = 1 << 20;

struct Sizes {
  std::uint64_t emb, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, freq, wcls;
  std::uint64_t total_floats() const {
    return emb + rms_att + wq + wk + wv + wo + rms_ffn + w1 + w2 + w3 + rms_final + 2 * freq + wcls;
  }
};

Sizes sizes_of(const LlamaConfig& c) {
  const std::uint64_t L = c.n_layers, d = c.dim, h = c.hidden_dim, kv = c.kv_dim();
  Sizes s{};
  s.emb = static_cast<std::uint64_t>(c.vocab_size) * d;
  s.rms_att = L * d;
  s.wq = L * d * d;
  s.wk = L * d * kv;
  s.wv = L * d * kv;
  s.wo = L * d * d;
  s.rms_ffn = L * d;
  s.w1 = L * h * d;
  s.w2 = L * d * h;
  s.w3 = L * h * d;
  s.rms_final = d;
  s.freq = static_cast<std::uint64_t>(c.seq_len) * (c.head_dim() / 2);
  s.wcls = c.shared_classifier ? 0 : s.emb;
  return s;
}

}  // namespace

void validate_config(const LlamaConfig& c) {
  auto bad = [](const std::string& why) { throw ModelFormatError("bad checkpoint header: " + why); };
  auto in = [&](const char* name, int v, int max) {
    if (v < 1 || v > max) {
      bad(std::string(name) + " = " + std::to_string(v) + " is outside [1, " + std::to_string(max) + "]");
    }
  };
  in("dim", c.dim, kMaxDim);
  in("hidden_dim", c.hidden_dim, 4 * kMaxDim);
  in("n_layers", c.n_layers, kMaxLayers);
  in("n_heads", c.n_heads, kMaxDim);
  in("n_kv_heads", c.n_kv_heads, kMaxDim);
  in("vocab_size", c.vocab_size, kMaxVocab);
  in("seq_len", c.seq_len, kMaxSeq);
  if (c.dim % c.n_heads != 0) {
    bad("dim " + std::to_string(c.dim) + " is not a multiple of n_heads " + std::to_string(c.n_heads));
  }
  if (c.n_heads % c.n_kv_heads != 0) {
    bad("n_heads " + std::to_string(c.n_heads) + " is not a multiple of n_kv_heads " +
        std::to_string(c.n_kv_heads));
  }
  if (c.head_dim() % 2 != 0) bad("head_dim " + std::to_string(c.head_dim()) + " is odd (RoPE pairs)");
}

std::uint64_t expected_file_size(const LlamaConfig& c) {
  validate_config(c);
  return kHeaderBytes + sizes_of(c).total_floats() * sizeof(float);
}

LlamaWeights load_llama(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) throw ModelFormatError("cannot open model file '" + path + "': " + std::strerror(errno));
  std::int32_t hdr[7];
  if (std::fread(hdr, sizeof hdr, 1, f.get()) != 1) {
    throw ModelFormatError("'" + path + "' is shorter than the 28-byte checkpoint header");
  }
  LlamaConfig c;
  c.dim = hdr[0];
  c.hidden_dim = hdr[1];
  c.n_layers = hdr[2];
  c.n_heads = hdr[3];
  c.n_kv_heads = hdr[4];
  c.shared_classifier = hdr[5] > 0;
  c.vocab_size = hdr[5] > 0 ? hdr[5] : (hdr[5] == INT32_MIN ? 0 : -hdr[5]);
  c.seq_len = hdr[6];
  validate_config(c);
  const std::uint64_t want = expected_file_size(c);

  if (std::fseek(f.get(), 0, SEEK_END) != 0) throw ModelFormatError("cannot seek in '" + path + "'");
  const long got = std::ftell(f.get());
  if (got < 0 || static_cast<std::uint64_t>(got) != want) {
    throw ModelFormatError("'" + path + "' has " + std::to_string(got) + " bytes but its header (dim " +
                           std::to_string(c.dim) + ", " + std::to_string(c.n_layers) + " layers, vocab " +
                           std::to_string(c.vocab_size) + ", seq_len " + std::to_string(c.seq_len) +
                           ") implies exactly " + std::to_string(want));
  }
  std::fseek(f.get(), static_cast<long>(kHeaderBytes), SEEK_SET);

  LlamaWeights w;
  w.config = c;
  const Sizes s = sizes_of(c);
  w.data.resize(s.total_floats());
  if (std::fread(w.data.data(), sizeof(float), w.data.size(), f.get()) != w.data.size()) {
    throw ModelFormatError("short read from '" + path + "'");
  }
  const float* p = w.data.data();
  auto take = [&p](std::uint64_t n) {
    const float* at = p;
    p += n;
    return at;
  };
  w.token_embedding = take(s.emb);
  w.rms_att = take(s.rms_att);
  w.wq = take(s.wq);
  w.wk = take(s.wk);
  w.wv = take(s.wv);
  w.wo = take(s.wo);
  w.rms_ffn = take(s.rms_ffn);
  w.w1 = take(s.w1);
  w.w2 = take(s.w2);
  w.w3 = take(s.w3);
  w.rms_final = take(s.rms_final);
  w.freq_real = take(s.freq);
  w.freq_imag = take(s.freq);
  w.wcls = c.shared_classifier ? w.token_embedding : take(s.wcls);
  return w;
}

const char* kv_mode_name(KvMode m) {
  switch (m) {
    case KvMode::Reference: return "fp32";
    case KvMode::F16: return "fp16";
    case KvMode::Int8: return "int8";
  }
  return "unknown";
}

}  // namespace infeng::model
