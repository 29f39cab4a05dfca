// The Llama forward pass (RMSNorm, RoPE from the checkpoint's tables, grouped-query attention,
// SwiGLU FFN), for one token at a time against per-layer KV caches (decode) or for a whole
// sequence with causal prefill attention. The matrices of stories260K are 64 wide: plain loops
// are enough for them; attention is the part under test and always goes through the kernels.
#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "infeng/model.h"

namespace infeng::model {
namespace {

constexpr float kRmsEps = 1e-5f;

void rmsnorm(float* out, const float* x, const float* w, int n) {
  double ss = 0;
  for (int i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float inv = 1.0f / std::sqrt(static_cast<float>(ss / n) + kRmsEps);
  for (int i = 0; i < n; ++i) out[i] = w[i] * (x[i] * inv);
}

// y = W·x, W row-major [rows][cols].
void matvec(float* y, const float* W, const float* x, int rows, int cols) {
  for (int r = 0; r < rows; ++r) {
    const float* wr = W + static_cast<std::size_t>(r) * cols;
    float acc = 0.0f;
    for (int c = 0; c < cols; ++c) acc += wr[c] * x[c];
    y[r] = acc;
  }
}

// Rotates consecutive pairs of every head of v (n_heads × head_dim) by position pos.
void rope(float* v, int n_heads, int hd, int pos, const LlamaWeights& w) {
  const float* fr = w.freq_real + static_cast<std::size_t>(pos) * (hd / 2);
  const float* fi = w.freq_imag + static_cast<std::size_t>(pos) * (hd / 2);
  for (int h = 0; h < n_heads; ++h) {
    float* x = v + h * hd;
    for (int i = 0; i < hd; i += 2) {
      const float a = x[i], b = x[i + 1], c = fr[i / 2], s = fi[i / 2];
      x[i] = a * c - b * s;
      x[i + 1] = a * s + b * c;
    }
  }
}

attn::Shape shape_of(const LlamaConfig& c) { return {c.n_heads, c.n_kv_heads, c.head_dim()}; }

// Everything of one position after attention: output projection, residual, FFN, residual.
struct LayerScratch {
  std::vector<float> xb, xb2, hb, hb2;
  explicit LayerScratch(const LlamaConfig& c) : xb(c.dim), xb2(c.dim), hb(c.hidden_dim), hb2(c.hidden_dim) {}
};

void finish_layer(const LlamaWeights& w, int l, float* x, const float* att, LayerScratch& s) {
  const LlamaConfig& c = w.config;
  const int d = c.dim, hd = c.hidden_dim;
  matvec(s.xb2.data(), w.wo + static_cast<std::size_t>(l) * d * d, att, d, d);
  for (int i = 0; i < d; ++i) x[i] += s.xb2[i];
  rmsnorm(s.xb.data(), x, w.rms_ffn + static_cast<std::size_t>(l) * d, d);
  matvec(s.hb.data(), w.w1 + static_cast<std::size_t>(l) * hd * d, s.xb.data(), hd, d);
  matvec(s.hb2.data(), w.w3 + static_cast<std::size_t>(l) * hd * d, s.xb.data(), hd, d);
  for (int i = 0; i < hd; ++i) {
    const float v = s.hb[i];
    s.hb[i] = v / (1.0f + std::exp(-v)) * s.hb2[i];
  }
  matvec(s.xb.data(), w.w2 + static_cast<std::size_t>(l) * d * hd, s.hb.data(), d, hd);
  for (int i = 0; i < d; ++i) x[i] += s.xb[i];
}

void qkv(const LlamaWeights& w, int l, const float* x, int pos, float* q, float* k, float* v,
         LayerScratch& s) {
  const LlamaConfig& c = w.config;
  const int d = c.dim, kvd = c.kv_dim();
  rmsnorm(s.xb.data(), x, w.rms_att + static_cast<std::size_t>(l) * d, d);
  matvec(q, w.wq + static_cast<std::size_t>(l) * d * d, s.xb.data(), d, d);
  matvec(k, w.wk + static_cast<std::size_t>(l) * kvd * d, s.xb.data(), kvd, d);
  matvec(v, w.wv + static_cast<std::size_t>(l) * kvd * d, s.xb.data(), kvd, d);
  rope(q, c.n_heads, c.head_dim(), pos, w);
  rope(k, c.n_kv_heads, c.head_dim(), pos, w);
}

void classify(const LlamaWeights& w, const float* x, float* logits, LayerScratch& s) {
  const LlamaConfig& c = w.config;
  rmsnorm(s.xb.data(), x, w.rms_final, c.dim);
  matvec(logits, w.wcls, s.xb.data(), c.vocab_size, c.dim);
}

}  // namespace

struct LlamaSession::State {
  const LlamaWeights& w;
  KvMode mode;
  attn::DecodeOptions opt;
  int pos = 0;
  std::vector<float> x, q, k, v, att, logits;
  LayerScratch scratch;
  std::vector<std::vector<float>> ref_k, ref_v;  // Reference: FP32 [t][kv head][channel]
  std::vector<attn::KvCacheF16> f16;
  std::vector<attn::KvCacheInt8> i8;
  State(const LlamaWeights& weights, KvMode m, attn::DecodeOptions o, attn::QuantConfig quant)
      : w(weights), mode(m), opt(o), scratch(weights.config) {
    const LlamaConfig& c = w.config;
    x.resize(c.dim);
    q.resize(c.dim);
    k.resize(c.kv_dim());
    v.resize(c.kv_dim());
    att.resize(c.dim);
    logits.resize(c.vocab_size);
    for (int l = 0; l < c.n_layers; ++l) {
      switch (m) {
        case KvMode::Reference:
          ref_k.emplace_back();
          ref_v.emplace_back();
          break;
        case KvMode::F16:
          f16.emplace_back(c.n_kv_heads, c.head_dim(), c.seq_len);
          break;
        case KvMode::Int8:
          i8.emplace_back(c.n_kv_heads, c.head_dim(), c.seq_len, quant);
          break;
      }
    }
  }
};

LlamaSession::LlamaSession(const LlamaWeights& w, KvMode mode, attn::DecodeOptions opt, attn::QuantConfig quant)
    : s_(new State(w, mode, opt, quant)) {
  attn::validate(shape_of(w.config));
}
LlamaSession::~LlamaSession() { delete s_; }
int LlamaSession::pos() const { return s_->pos; }

const float* LlamaSession::step(int token) {
  State& s = *s_;
  const LlamaConfig& c = s.w.config;
  if (s.pos >= c.seq_len) {
    throw std::length_error("model context is full: seq_len " + std::to_string(c.seq_len));
  }
  if (token < 0 || token >= c.vocab_size) {
    throw std::out_of_range("token " + std::to_string(token) + " outside the vocabulary");
  }
  const attn::Shape sh = shape_of(c);
  std::copy_n(s.w.token_embedding + static_cast<std::size_t>(token) * c.dim, c.dim, s.x.begin());
  for (int l = 0; l < c.n_layers; ++l) {
    qkv(s.w, l, s.x.data(), s.pos, s.q.data(), s.k.data(), s.v.data(), s.scratch);
    const int ctx = s.pos + 1;
    switch (s.mode) {
      case KvMode::Reference:
        s.ref_k[l].insert(s.ref_k[l].end(), s.k.begin(), s.k.end());
        s.ref_v[l].insert(s.ref_v[l].end(), s.v.begin(), s.v.end());
        attn::reference_decode(sh, s.q.data(), s.ref_k[l].data(), s.ref_v[l].data(), ctx, s.att.data());
        break;
      case KvMode::F16:
        s.f16[l].append(s.k.data(), s.v.data());
        attn::decode_f16(sh, s.q.data(), s.f16[l], ctx, s.att.data(), s.opt);
        break;
      case KvMode::Int8:
        s.i8[l].append(s.k.data(), s.v.data());
        attn::decode_int8(sh, s.q.data(), s.i8[l], ctx, s.att.data(), s.opt);
        break;
    }
    finish_layer(s.w, l, s.x.data(), s.att.data(), s.scratch);
  }
  classify(s.w, s.x.data(), s.logits.data(), s.scratch);
  ++s.pos;
  return s.logits.data();
}

std::vector<float> forward_sequence(const LlamaWeights& w, const std::vector<int>& tokens,
                                    PrefillMode mode, const attn::PrefillOptions& opt) {
  const LlamaConfig& c = w.config;
  const int n = static_cast<int>(tokens.size());
  if (n < 1 || n > c.seq_len) {
    throw std::length_error("sequence of " + std::to_string(n) + " tokens outside 1.." +
                            std::to_string(c.seq_len));
  }
  const attn::Shape sh = shape_of(c);
  const int d = c.dim, kvd = c.kv_dim();
  std::vector<float> x(static_cast<std::size_t>(n) * d), q(x.size()), att(x.size());
  std::vector<float> k(static_cast<std::size_t>(n) * kvd), v(k.size());
  std::vector<float> logits(static_cast<std::size_t>(n) * c.vocab_size);
  LayerScratch s(c);
  for (int i = 0; i < n; ++i) {
    if (tokens[i] < 0 || tokens[i] >= c.vocab_size) throw std::out_of_range("token outside the vocabulary");
    std::copy_n(w.token_embedding + static_cast<std::size_t>(tokens[i]) * d, d, x.begin() + static_cast<std::ptrdiff_t>(i) * d);
  }
  for (int l = 0; l < c.n_layers; ++l) {
    for (int i = 0; i < n; ++i) {
      qkv(w, l, &x[static_cast<std::size_t>(i) * d], i, &q[static_cast<std::size_t>(i) * d],
          &k[static_cast<std::size_t>(i) * kvd], &v[static_cast<std::size_t>(i) * kvd], s);
    }
    if (mode == PrefillMode::Tiled) {
      attn::prefill_tiled(sh, q.data(), k.data(), v.data(), n, att.data(), opt);
    } else {
      attn::prefill_reference(sh, q.data(), k.data(), v.data(), n, att.data(), opt.threads);
    }
    for (int i = 0; i < n; ++i) finish_layer(w, l, &x[static_cast<std::size_t>(i) * d], &att[static_cast<std::size_t>(i) * d], s);
  }
  for (int i = 0; i < n; ++i) classify(w, &x[static_cast<std::size_t>(i) * d], &logits[static_cast<std::size_t>(i) * c.vocab_size], s);
  return logits;
}

}  // namespace infeng::model
