// The int8-V decode path's softmax weights in two u8 levels. P·V against int8 V is the larger
// half of int8 decode's arithmetic (2·G multiply-adds per cached V element); with the weights
// in u8 it runs as vpdpbusd (64 u8 × s8 products per instruction, no int8 → FP32 converts), so
// every path computes the same quantised weights, defined here once, and the FMA paths use
// their value in FP32.
//
// Per head and tile, w_t = p_t·vs_t (the softmax weight times the token's V scale), Sw = max w
// / 255 and y_t = round(w_t·(65280 / max w)) ∈ [0, 65280], a 16-bit fixed-point weight with 8
// fraction bits: hi_t = y_t >> 8 and lo_t = y_t & 255, so w_t ≈ Sw·(hi_t + lo_t/256), within
// Sw/512. One level (round(w_t·255/max w) alone) was measured first: twice the normalised L2
// error and +0.28 % perplexity on stories260K over 16 × 512 tokens, where two levels are
// indistinguishable from FP32 weights (+0.17 % vs +0.17 %).
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
  float sw;  // Sw: the weight of one hi step
  float k;   // 65280 / max w: w → y (0 for an all-zero row)
};

// max_t p_t·vs_t over T tokens, in 16 independent lanes (the order does not change a max).
[[maybe_unused]] inline WeightLevels weight_levels(const float* __restrict p, const float* __restrict vs, int T) {
  float m[16] = {};
  for (int t = 0; t < T; t += 16)
    for (int j = 0; j < 16 && t + j < T; ++j) m[j] = std::max(m[j], p[t + j] * vs[t + j]);
  float mx = 0.0f;
  for (float x : m) mx = std::max(mx, x);
  if (!(mx > 0.0f)) return {0.0f, 0.0f};
  return {mx / 255.0f, 65280.0f / mx};
}

// One token's 16-bit weight y; the vector kernels compute the same IEEE operations in the same
// order (and round to nearest even, as cvtps2dq does), so their bytes equal these.
[[maybe_unused]] inline std::uint32_t weight_fixed(float p, float vs, float k) {
  return static_cast<std::uint32_t>(std::nearbyint(std::min((p * vs) * k, 65535.0f)));
}

// The u8 form in place (T a multiple of 4); returns Sw.
[[maybe_unused]] float quantise_weights_u8(float* p, const float* vs, int T) {
  const WeightLevels lv = weight_levels(p, vs, T);
  auto* bytes = reinterpret_cast<unsigned char*>(p);
  for (int t = 0; t < T; t += 16) {
    const int n = std::min(16, T - t);
    unsigned char quads[32];
    for (int j = 0; j < n; ++j) {
      const std::uint32_t y = weight_fixed(p[t + j], vs[t + j], lv.k);
      quads[(j / 4) * 8 + j % 4] = static_cast<unsigned char>(y >> 8);
      quads[(j / 4) * 8 + 4 + j % 4] = static_cast<unsigned char>(y & 255u);
    }
    std::memcpy(bytes + 2 * t, quads, static_cast<std::size_t>(2 * n));
  }
  return lv.sw;
}

// The FP32 form in place: p_t ← Sw·y_t/256.
[[maybe_unused]] void quantise_weights_f32(float* __restrict p, const float* __restrict vs, int T) {
  const WeightLevels lv = weight_levels(p, vs, T);
  const float step = lv.sw * (1.0f / 256.0f);
  for (int t = 0; t < T; ++t) p[t] = step * static_cast<float>(weight_fixed(p[t], vs[t], lv.k));
}

}  // namespace
}  // namespace infeng::attn::detail
