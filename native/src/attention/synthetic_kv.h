// Synthetic attention inputs with the statistics that matter for KV quantisation, shared by
// the tests and the lane binaries: Gaussian queries and values, and keys with a per-channel
// offset plus a few outlier channels per head an order of magnitude larger than the rest (the
// pattern measured in real Llama K caches after RoPE: a handful of channels dominate).
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

namespace infeng::attn::synthetic {

class Gaussian {
 public:
  explicit Gaussian(std::uint64_t seed) : s_(seed) {}
  float next() {
    if (have_) {
      have_ = false;
      return spare_;
    }
    const double u1 = (static_cast<double>(bits() >> 11) + 0.5) * 0x1p-53;
    const double u2 = static_cast<double>(bits() >> 11) * 0x1p-53;
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = static_cast<float>(r * std::sin(6.283185307179586 * u2));
    have_ = true;
    return static_cast<float>(r * std::cos(6.283185307179586 * u2));
  }
  std::uint64_t bits() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t s_;
  bool have_ = false;
  float spare_ = 0;
};

struct Kv {
  std::vector<float> k, v;  // [token][kv head][channel]
};

// outliers: channels per head scaled by outlier_gain (chosen per head from the seed).
inline Kv make_kv(int tokens, int kv_heads, int head_dim, std::uint64_t seed, int outliers = 2,
                  float outlier_gain = 12.0f) {
  Gaussian g(seed);
  std::vector<float> offset(static_cast<std::size_t>(kv_heads) * head_dim), gain(offset.size(), 1.0f);
  for (auto& o : offset) o = 0.5f * g.next();
  for (int h = 0; h < kv_heads; ++h)
    for (int i = 0; i < outliers; ++i) gain[h * head_dim + static_cast<int>(g.bits() % head_dim)] = outlier_gain;
  Kv kv;
  const std::size_t n = static_cast<std::size_t>(tokens) * kv_heads * head_dim;
  kv.k.resize(n);
  kv.v.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t hc = i % offset.size();
    kv.k[i] = gain[hc] * (g.next() + offset[hc]);
    kv.v[i] = g.next();
  }
  return kv;
}

inline std::vector<float> make_queries(int count, std::uint64_t seed) {
  Gaussian g(seed);
  std::vector<float> q(count);
  for (auto& x : q) x = g.next();
  return q;
}

}  // namespace infeng::attn::synthetic
