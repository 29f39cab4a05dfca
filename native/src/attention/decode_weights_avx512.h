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

// The hi and lo bytes of n ≤ 16 tokens (inv = 255 / max w); lanes past n are 0.
[[maybe_unused]] inline void weights_u8_x16(const float* p, const float* vs, int n, __m512 inv, __m128i& hi,
                                            __m128i& lo) {
  const __mmask16 m = n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
  const __m512 w = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, p), _mm512_maskz_loadu_ps(m, vs));
  const __m512 x = _mm512_min_ps(_mm512_mul_ps(w, inv), _mm512_set1_ps(255.0f));
  const __m512 h = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  const __m512 l = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_sub_ps(x, h), _mm512_set1_ps(255.0f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  hi = _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(h));
  lo = _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(l));
}

}  // namespace
}  // namespace infeng::attn::detail
