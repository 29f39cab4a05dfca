// The two-level u8 softmax weights of decode_weights.h with AVX-512, shared by the VNNI and
// AMX P·V kernels: the same IEEE operations in the same order as the portable definition, so
// every path's bytes are equal. Include only from AVX-512 translation units.
#pragma once
#include <immintrin.h>

namespace infeng::attn::detail {
namespace {

// max_t p_t·vs_t over T tokens.
[[maybe_unused]] inline float row_max_w(const float* p, const float* vs, int T) {
  __m512 mx = _mm512_setzero_ps();
  for (int t = 0; t < T; t += 16) {
    const __mmask16 m = T - t >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (T - t)) - 1);
    mx = _mm512_max_ps(mx, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, p + t), _mm512_maskz_loadu_ps(m, vs + t)));
  }
  return _mm512_reduce_max_ps(mx);
}

// The 16-bit weights y of n ≤ 16 tokens as int32 lanes (k = 65280 / max w); lanes past n are 0.
[[maybe_unused]] inline __m512i weights_fixed_x16(const float* p, const float* vs, int n, __m512 k) {
  const __mmask16 m = n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
  const __m512 w = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, p), _mm512_maskz_loadu_ps(m, vs));
  return _mm512_cvtps_epi32(_mm512_min_ps(_mm512_mul_ps(w, k), _mm512_set1_ps(65535.0f)));
}

// The hi and lo bytes of n ≤ 16 tokens.
[[maybe_unused]] inline void weights_u8_x16(const float* p, const float* vs, int n, __m512 k, __m128i& hi,
                                            __m128i& lo) {
  const __m512i y = weights_fixed_x16(p, vs, n, k);
  hi = _mm512_cvtepi32_epi8(_mm512_srli_epi32(y, 8));
  lo = _mm512_cvtepi32_epi8(_mm512_and_si512(y, _mm512_set1_epi32(255)));
}

// The same 16 tokens as VNNI operand quads: [hi 0-3, lo 0-3, hi 4-7, lo 4-7, ...], 32 bytes.
// One narrowing to 16 bits ([lo, hi] bytes per token) and one byte shuffle per 128-bit lane.
[[maybe_unused]] inline __m256i weights_quads_x16(const float* p, const float* vs, int n, __m512 k) {
  const __m256i y16 = _mm512_cvtepi32_epi16(weights_fixed_x16(p, vs, n, k));
  const __m256i order = _mm256_setr_epi8(1, 3, 5, 7, 0, 2, 4, 6, 9, 11, 13, 15, 8, 10, 12, 14,  //
                                         1, 3, 5, 7, 0, 2, 4, 6, 9, 11, 13, 15, 8, 10, 12, 14);
  return _mm256_shuffle_epi8(y16, order);
}

}  // namespace
}  // namespace infeng::attn::detail
