// Decode attention, AVX-512 VNNI: the int8 q·K scores with vpdpbusd (64 u8×s8 products per
// instruction into 16 int32 token scores). The offset-binary K bytes are the unsigned operand,
// the per-group quantised query the signed one (two int8 levels, see QuantQuery), broadcast
// 4 channels at a time; each loaded K vector feeds 2·G instructions. Everything
// else (softmax, P·V, the FP16 residual) is the plain AVX-512 table's.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "attention/decode_kernels.h"

namespace infeng::attn::detail {
namespace {

// 4 consecutive int8 channels as one 32-bit broadcast operand (a memcpy: the bytes are not
// an int32 object; it compiles to the broadcast's memory operand).
inline std::int32_t load4(const std::int8_t* p) {
  std::int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <int NH, int NB>
void scores_block(const std::uint8_t* k, int D, const QuantQuery& q, float* s, int lds, std::ptrdiff_t pf) {
  __m512i ahi[NB][NH], alo[NB][NH];
  for (int b = 0; b < NB; ++b)
    for (int h = 0; h < NH; ++h) ahi[b][h] = alo[b][h] = _mm512_setzero_si512();
  const int D4 = D / 4;
  for (int c4 = 0; c4 < D4; ++c4) {
    __m512i x[NB];
    for (int b = 0; b < NB; ++b) {
      const std::uint8_t* at = k + static_cast<std::size_t>(b) * D * kKvSub + c4 * kKvSub * 4;
      if (pf) _mm_prefetch(reinterpret_cast<const char*>(at) + pf, _MM_HINT_T1);
      x[b] = _mm512_loadu_si512(at);
    }
    for (int h = 0; h < NH; ++h) {
      const __m512i qh = _mm512_set1_epi32(load4(q.hi + h * D + 4 * c4));
      const __m512i ql = _mm512_set1_epi32(load4(q.lo + h * D + 4 * c4));
      for (int b = 0; b < NB; ++b) {
        ahi[b][h] = _mm512_dpbusd_epi32(ahi[b][h], x[b], qh);
        alo[b][h] = _mm512_dpbusd_epi32(alo[b][h], x[b], ql);
      }
    }
  }
  for (int h = 0; h < NH; ++h) {
    const __m512i bhi = _mm512_set1_epi32(q.b_hi[h]), blo = _mm512_set1_epi32(q.b_lo[h]);
    const __m512 shi = _mm512_set1_ps(q.s_hi[h]), slo = _mm512_set1_ps(q.s_lo[h]);
    const __m512 zq = _mm512_set1_ps(q.zq[h]);
    for (int b = 0; b < NB; ++b) {
      const __m512 rh = _mm512_cvtepi32_ps(_mm512_sub_epi32(ahi[b][h], bhi));
      const __m512 rl = _mm512_cvtepi32_ps(_mm512_sub_epi32(alo[b][h], blo));
      _mm512_storeu_ps(s + h * lds + b * kKvSub, _mm512_fmadd_ps(rh, shi, _mm512_fmadd_ps(rl, slo, zq)));
    }
  }
}

template <int NH>
void scores_heads(const std::uint8_t* k, int D, int nsub, const QuantQuery& q, float* s, int lds,
                  std::ptrdiff_t pf) {
  // vpdpbusd has a 5-cycle latency: below 8 heads, take two sub-blocks per pass.
  int b = 0;
  if constexpr (NH <= 4) {
    for (; b + 2 <= nsub; b += 2)
      scores_block<NH, 2>(k + static_cast<std::size_t>(b) * D * kKvSub, D, q, s + b * kKvSub, lds, pf);
  }
  for (; b < nsub; ++b)
    scores_block<NH, 1>(k + static_cast<std::size_t>(b) * D * kKvSub, D, q, s + b * kKvSub, lds, pf);
}

void scores_i8_vnni(const std::uint8_t* k, int D, int nsub, const QuantQuery& q, int G, float* s,
                    int lds, std::ptrdiff_t pf) {
  for (int h0 = 0; h0 < G; h0 += 8) {
    if (h0 > 0) pf = 0;
    const int nh = std::min(8, G - h0);
    const QuantQuery qh = q.heads_from(h0, D);
    float* sh = s + h0 * lds;
    switch (nh) {
      case 1: scores_heads<1>(k, D, nsub, qh, sh, lds, pf); break;
      case 2: scores_heads<2>(k, D, nsub, qh, sh, lds, pf); break;
      case 3: scores_heads<3>(k, D, nsub, qh, sh, lds, pf); break;
      case 4: scores_heads<4>(k, D, nsub, qh, sh, lds, pf); break;
      case 5: scores_heads<5>(k, D, nsub, qh, sh, lds, pf); break;
      case 6: scores_heads<6>(k, D, nsub, qh, sh, lds, pf); break;
      case 7: scores_heads<7>(k, D, nsub, qh, sh, lds, pf); break;
      default: scores_heads<8>(k, D, nsub, qh, sh, lds, pf); break;
    }
  }
}

}  // namespace

const DecodeKernels& decode_kernels_vnni_avx512() {
  static const DecodeKernels k = [] {
    DecodeKernels t = decode_kernels_avx512();
    t.vnni = true;
    t.int_query = true;
    t.scores_i8 = scores_i8_vnni;
    t.accum_v_i8 = accum_v_i8_vnni;
    return t;
  }();
  return k;
}

}  // namespace infeng::attn::detail
