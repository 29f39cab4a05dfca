// Decode attention, AVX-512 VNNI: the int8 q·K scores with vpdpbusd (64 u8×s8 products per
// instruction into 16 int32 token scores). The offset-binary K bytes are the unsigned operand,
// the per-group quantised query the signed one, broadcast 4 channels at a time. Everything
// else (softmax, P·V, the FP16 residual) is the plain AVX-512 table's.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "attention/decode_kernels.h"

namespace infeng::attn::detail {
namespace {

template <int NH, int NB>
void scores_block(const std::uint8_t* k, int D, const std::int32_t* q4, const QuantQuery& q, float* s,
                  int lds) {
  __m512i acc[NB][NH];
  for (int b = 0; b < NB; ++b)
    for (int h = 0; h < NH; ++h) acc[b][h] = _mm512_setzero_si512();
  const int D4 = D / 4;
  for (int c4 = 0; c4 < D4; ++c4) {
    __m512i x[NB];
    for (int b = 0; b < NB; ++b)
      x[b] = _mm512_loadu_si512(k + static_cast<std::size_t>(b) * D * kKvSub + c4 * kKvSub * 4);
    for (int h = 0; h < NH; ++h) {
      const __m512i qb = _mm512_set1_epi32(q4[h * D4 + c4]);
      for (int b = 0; b < NB; ++b) acc[b][h] = _mm512_dpbusd_epi32(acc[b][h], x[b], qb);
    }
  }
  for (int h = 0; h < NH; ++h) {
    const __m512i bias = _mm512_set1_epi32(q.bias[h]);
    const __m512 sq = _mm512_set1_ps(q.sq[h]);
    for (int b = 0; b < NB; ++b) {
      const __m512 r = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[b][h], bias));
      _mm512_storeu_ps(s + h * lds + b * kKvSub, _mm512_mul_ps(r, sq));
    }
  }
}

template <int NH>
void scores_heads(const std::uint8_t* k, int D, int nsub, const std::int32_t* q4, const QuantQuery& q,
                  float* s, int lds) {
  // vpdpbusd has a 5-cycle latency: below 8 heads, take two sub-blocks per pass.
  int b = 0;
  if constexpr (NH <= 4) {
    for (; b + 2 <= nsub; b += 2)
      scores_block<NH, 2>(k + static_cast<std::size_t>(b) * D * kKvSub, D, q4, q, s + b * kKvSub, lds);
  }
  for (; b < nsub; ++b)
    scores_block<NH, 1>(k + static_cast<std::size_t>(b) * D * kKvSub, D, q4, q, s + b * kKvSub, lds);
}

void scores_i8_vnni(const std::uint8_t* k, int D, int nsub, const QuantQuery& q, int G, float* s,
                    int lds) {
  for (int h0 = 0; h0 < G; h0 += 8) {
    // 4 consecutive int8 channels of a head as one 32-bit broadcast operand (copied: the
    // int8 array is not an int32 object). 8 heads × 256 channels at most.
    std::int32_t q4[8 * 64];
    std::memcpy(q4, q.qq + h0 * D, static_cast<std::size_t>(std::min(8, G - h0)) * D);
    const QuantQuery qh{q.qq + h0 * D, q.sq + h0, q.bias + h0};
    float* sh = s + h0 * lds;
    switch (std::min(8, G - h0)) {
      case 1: scores_heads<1>(k, D, nsub, q4, qh, sh, lds); break;
      case 2: scores_heads<2>(k, D, nsub, q4, qh, sh, lds); break;
      case 3: scores_heads<3>(k, D, nsub, q4, qh, sh, lds); break;
      case 4: scores_heads<4>(k, D, nsub, q4, qh, sh, lds); break;
      case 5: scores_heads<5>(k, D, nsub, q4, qh, sh, lds); break;
      case 6: scores_heads<6>(k, D, nsub, q4, qh, sh, lds); break;
      case 7: scores_heads<7>(k, D, nsub, q4, qh, sh, lds); break;
      default: scores_heads<8>(k, D, nsub, q4, qh, sh, lds); break;
    }
  }
}

}  // namespace

const DecodeKernels& decode_kernels_vnni_avx512() {
  static const DecodeKernels k = [] {
    DecodeKernels t = decode_kernels_avx512();
    t.vnni = true;
    t.scores_i8 = scores_i8_vnni;
    return t;
  }();
  return k;
}

}  // namespace infeng::attn::detail
