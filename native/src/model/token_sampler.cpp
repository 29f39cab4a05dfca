// Evaluation data from the model itself (the checkpoint ships without its tokenizer and
// without text): sequences sampled at temperature 1 with a fixed seed, and teacher-forced
// perplexity of those sequences under each attention variant. Sampling uses the FP32
// reference attention, so the data do not depend on the kernels being judged.
#include <cmath>
#include <stdexcept>

#include "infeng/model.h"

namespace infeng::model {
namespace {

constexpr int kBos = 1;

struct SplitMix {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1p-53; }
};

// −log softmax(logits)[target], in double.
double nll(const float* logits, int vocab, int target) {
  double mx = logits[0];
  for (int i = 1; i < vocab; ++i) mx = std::max(mx, static_cast<double>(logits[i]));
  double sum = 0;
  for (int i = 0; i < vocab; ++i) sum += std::exp(logits[i] - mx);
  return std::log(sum) + mx - logits[target];
}

}  // namespace

double Perplexity::value() const { return tokens > 0 ? std::exp(nll / static_cast<double>(tokens)) : 0.0; }

std::vector<std::vector<int>> sample_sequences(const LlamaWeights& w, int count, int length,
                                               std::uint64_t seed) {
  const LlamaConfig& c = w.config;
  if (count < 1 || length < 2 || length > c.seq_len) {
    throw std::invalid_argument("sample_sequences: need count ≥ 1 and 2 ≤ length ≤ seq_len (" +
                                std::to_string(c.seq_len) + ")");
  }
  SplitMix rng{seed};
  std::vector<std::vector<int>> out;
  std::vector<double> prob(c.vocab_size);
  for (int s = 0; s < count; ++s) {
    LlamaSession sess(w, KvMode::Reference);
    std::vector<int> seq{kBos};
    while (static_cast<int>(seq.size()) < length) {
      const float* logits = sess.step(seq.back());
      double mx = logits[0];
      for (int i = 1; i < c.vocab_size; ++i) mx = std::max(mx, static_cast<double>(logits[i]));
      double sum = 0;
      for (int i = 0; i < c.vocab_size; ++i) sum += (prob[i] = std::exp(logits[i] - mx));
      double u = rng.uniform() * sum;
      int tok = c.vocab_size - 1;
      for (int i = 0; i < c.vocab_size; ++i) {
        u -= prob[i];
        if (u < 0) {
          tok = i;
          break;
        }
      }
      seq.push_back(tok);
    }
    out.push_back(std::move(seq));
  }
  return out;
}

Perplexity perplexity_decode(const LlamaWeights& w, const std::vector<std::vector<int>>& seqs,
                             KvMode mode, const attn::DecodeOptions& opt, const attn::QuantConfig& quant) {
  Perplexity p;
  for (const auto& seq : seqs) {
    LlamaSession sess(w, mode, opt, quant);
    for (std::size_t i = 0; i + 1 < seq.size(); ++i) {
      p.nll += nll(sess.step(seq[i]), w.config.vocab_size, seq[i + 1]);
      ++p.tokens;
    }
  }
  return p;
}

Perplexity perplexity_prefill(const LlamaWeights& w, const std::vector<std::vector<int>>& seqs,
                              PrefillMode mode, const attn::PrefillOptions& opt) {
  Perplexity p;
  const int V = w.config.vocab_size;
  for (const auto& seq : seqs) {
    const std::vector<float> logits = forward_sequence(w, seq, mode, opt);
    for (std::size_t i = 0; i + 1 < seq.size(); ++i) {
      p.nll += nll(&logits[i * V], V, seq[i + 1]);
      ++p.tokens;
    }
  }
  return p;
}

}  // namespace infeng::model
