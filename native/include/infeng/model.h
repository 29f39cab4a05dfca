// A Llama-architecture model in the llama2.c checkpoint format (stories260K: 5 layers, 8 query
// heads, 4 KV heads, head_dim 8), run on the project's attention kernels. It exists for the
// quality half of the attention lanes: perplexity of real model outputs with FP16 vs int8 KV
// caches and with reference vs tiled prefill, so a kernel change that makes the model say
// something else fails the gate even when every unit test's tolerance still holds.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "infeng/attention.h"

namespace infeng::model {

// A file that is not a well-formed checkpoint: bad header, or a size that does not match it.
class ModelFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct LlamaConfig {
  int dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, vocab_size = 0,
      seq_len = 0;
  bool shared_classifier = true;  // header vocab_size > 0: the classifier is the embedding
  int head_dim() const { return dim / n_heads; }
  int kv_dim() const { return head_dim() * n_kv_heads; }
};

// Checks the header's values (positive, heads divide, sizes bounded); throws ModelFormatError.
void validate_config(const LlamaConfig& c);
// Bytes a file with this header must have: the 28-byte header plus every tensor.
std::uint64_t expected_file_size(const LlamaConfig& c);

struct LlamaWeights {
  LlamaConfig config;
  std::vector<float> data;  // every tensor, in file order
  const float *token_embedding, *rms_att, *wq, *wk, *wv, *wo, *rms_ffn, *w1, *w2, *w3, *rms_final,
      *freq_real, *freq_imag, *wcls;
};

// Reads and checks a checkpoint: the header, then that the file holds exactly the bytes the
// header implies (a truncated or padded file is an error, not a silently shifted tensor).
LlamaWeights load_llama(const std::string& path);

// How decode attention reads its KV cache.
enum class KvMode { Reference, F16, Int8 };
const char* kv_mode_name(KvMode m);

// Token-by-token inference with a KV cache per layer (the decode path).
class LlamaSession {
 public:
  // quant: the int8 cache's format (KvMode::Int8 only).
  LlamaSession(const LlamaWeights& w, KvMode mode, attn::DecodeOptions opt = {}, attn::QuantConfig quant = {});
  ~LlamaSession();
  LlamaSession(const LlamaSession&) = delete;
  LlamaSession& operator=(const LlamaSession&) = delete;
  // Runs one token at the next position; returns the vocab_size logits (valid until the next
  // call). Throws std::length_error past the model's seq_len.
  const float* step(int token);
  int pos() const;
  struct State;

 private:
  State* s_;
};

// Causal prefill of a whole sequence at once: logits of every position, n × vocab_size.
enum class PrefillMode { Reference, Tiled };
std::vector<float> forward_sequence(const LlamaWeights& w, const std::vector<int>& tokens,
                                    PrefillMode mode, const attn::PrefillOptions& opt = {});

// Token sequences sampled from the model itself at temperature 1 (reference attention), each
// starting after BOS (token 1) and `length` tokens long; deterministic for a seed.
std::vector<std::vector<int>> sample_sequences(const LlamaWeights& w, int count, int length,
                                               std::uint64_t seed);

struct Perplexity {
  double nll = 0;        // sum of −log p(next token)
  std::int64_t tokens = 0;
  double value() const;  // exp(nll / tokens)
};
// Teacher-forced perplexity of the sequences with decode attention on the given KV mode.
Perplexity perplexity_decode(const LlamaWeights& w, const std::vector<std::vector<int>>& seqs,
                             KvMode mode, const attn::DecodeOptions& opt = {},
                             const attn::QuantConfig& quant = {});
// The same through whole-sequence prefill attention.
Perplexity perplexity_prefill(const LlamaWeights& w, const std::vector<std::vector<int>>& seqs,
                              PrefillMode mode, const attn::PrefillOptions& opt = {});

}  // namespace infeng::model
