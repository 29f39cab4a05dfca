// The int8-V decode path's softmax weights in two u8 levels. P·V against int8 V is the larger
// half of int8 decode's arithmetic (2·G multiply-adds per cached V element); with the weights
// in u8 it runs as vpdpbusd (64 u8 × s8 products per instruction, no int8 → FP32 converts), so
// every path computes the same quantised weights, defined here once, and the FMA paths use
// their value in FP32.
//
// Per head and tile, w_t = p_t·vs_t (the softmax weight times the token's V scale), Sw = max w
// / 255 and x_t = w_t·(255 / max w) ∈ [0, 255]; hi_t = ⌊x_t⌋ and lo_t = round((x_t − hi_t)·255),
// so w_t ≈ Sw·(hi_t + lo_t/255), within Sw/510. One level (round(x_t) alone) was measured
// first: twice the normalised L2 error and +0.28 % perplexity on stories260K over 16 × 512
// tokens, where two levels are indistinguishable from FP32 weights (+0.17 % vs +0.17 %).
//
// Storage, in place over the row's own floats (no extra scratch): the u8 form puts token
// quad k's four hi bytes at byte 8k and its four lo bytes at 8k + 4, the operand shape of a
// 4-token vpdpbusd broadcast; 16 tokens' bytes land below the 16 floats just read, so one
// ascending pass never overwrites a float it has yet to read. The FP32 form overwrites each
// p_t with Sw·(hi_t + lo_t/255).
//
// Internal linkage: included into each ISA translation unit, compiled with its flags.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace infeng::attn::detail {
namespace {

struct WeightLevels {
  float sw;   // Sw: the weight of one hi step
  float inv;  // 255 / max w (0 for an all-zero row)
};

// max_t p_t·vs_t over T tokens, in 16 independent lanes (the order does not change a max).
[[maybe_unused]] inline WeightLevels weight_levels(const float* __restrict p, const float* __restrict vs, int T) {
  float m[16] = {};
  for (int t = 0; t < T; t += 16)
    for (int j = 0; j < 16 && t + j < T; ++j) m[j] = std::max(m[j], p[t + j] * vs[t + j]);
  float mx = 0.0f;
  for (float x : m) mx = std::max(mx, x);
  if (!(mx > 0.0f)) return {0.0f, 0.0f};
  return {mx / 255.0f, 255.0f / mx};
}

// One token's levels; the vector kernels compute the same IEEE operations in the same order,
// so their bytes equal these.
[[maybe_unused]] inline void weight_pair(float p, float vs, float inv, std::uint8_t& hi, std::uint8_t& lo) {
  const float x = std::min((p * vs) * inv, 255.0f);
  const float h = std::floor(x);
  hi = static_cast<std::uint8_t>(h);
  lo = static_cast<std::uint8_t>(std::nearbyint((x - h) * 255.0f));
}

// The u8 form in place (T a multiple of 4); returns Sw.
[[maybe_unused]] float quantise_weights_u8(float* p, const float* vs, int T) {
  const WeightLevels lv = weight_levels(p, vs, T);
  auto* bytes = reinterpret_cast<unsigned char*>(p);
  for (int t = 0; t < T; t += 16) {
    const int n = std::min(16, T - t);
    unsigned char quads[32];
    for (int j = 0; j < n; ++j) {
      std::uint8_t hi, lo;
      weight_pair(p[t + j], vs[t + j], lv.inv, hi, lo);
      quads[(j / 4) * 8 + j % 4] = hi;
      quads[(j / 4) * 8 + 4 + j % 4] = lo;
    }
    std::memcpy(bytes + 2 * t, quads, static_cast<std::size_t>(2 * n));
  }
  return lv.sw;
}

// The FP32 form in place: p_t ← Sw·(hi_t + lo_t/255).
[[maybe_unused]] void quantise_weights_f32(float* __restrict p, const float* __restrict vs, int T) {
  const WeightLevels lv = weight_levels(p, vs, T);
  for (int t = 0; t < T; ++t) {
    const float x = std::min((p[t] * vs[t]) * lv.inv, 255.0f);
    const float h = std::floor(x);
    p[t] = lv.sw * (h + std::nearbyint((x - h) * 255.0f) * (1.0f / 255.0f));
  }
}

}  // namespace
}  // namespace infeng::attn::detail
