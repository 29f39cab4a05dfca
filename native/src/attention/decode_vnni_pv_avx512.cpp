// Decode attention, AVX-512 VNNI: P·V against int8 V with the softmax weights in two u8 levels
// (decode_weights.h). V is stored in token quads ([t/4][D][4]), so a 64-byte load holds 16
// channels × 4 tokens and one vpdpbusd adds 4 tokens' products for 16 channels of one head,
// with the head's 4 weights broadcast as one 32-bit operand: 2 instructions (hi and lo) per
// 64 products, where FP32 P·V spends 4 FMAs and 2 int8 → FP32 converts shared by the heads.
// The integer sums are exact (255·127·T < 2^31), so this path's weights and the FMA paths'
// differ only in FP32 rounding.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "attention/decode_kernels.h"
#include "attention/decode_weights_avx512.h"

namespace infeng::attn::detail {
namespace {

inline std::int32_t load4(const unsigned char* p) {
  std::int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// NH heads × NV vectors of 16 channels (the last masked to 8 when D is not a multiple of 16):
// 2·NH·NV int32 accumulators, each V vector feeding 2·NH instructions.
template <int NH, int NV>
void chunk(const std::int8_t* v, int D, int d0, int width, int T, const unsigned char* w, int ldw,
           const float* sw, const float* corr, float* acc, std::ptrdiff_t pf) {
  __m512i ahi[NH][NV], alo[NH][NV];
  for (int h = 0; h < NH; ++h)
    for (int j = 0; j < NV; ++j) ahi[h][j] = alo[h][j] = _mm512_setzero_si512();
  const int tail = width - 16 * (NV - 1);  // 8 or 16 channels in the last vector
  const __mmask64 last = tail == 16 ? ~__mmask64(0) : __mmask64(0xFFFFFFFFull);
  for (int q = 0; q < T / 4; ++q) {
    const std::int8_t* vq = v + (static_cast<std::size_t>(q) * D + d0) * 4;
    __m512i x[NV];
    for (int j = 0; j < NV; ++j) {
      // The same bytes of the next tile: each channel pass prefetches what it will read, so
      // the requests spread over all passes instead of bursting in the first.
      if (pf) _mm_prefetch(reinterpret_cast<const char*>(vq) + pf + 64 * j, _MM_HINT_T1);
      x[j] = _mm512_maskz_loadu_epi8(j == NV - 1 ? last : ~__mmask64(0), vq + 64 * j);
    }
    for (int h = 0; h < NH; ++h) {
      const __m512i bh = _mm512_set1_epi32(load4(w + h * ldw + 8 * q));
      const __m512i bl = _mm512_set1_epi32(load4(w + h * ldw + 8 * q + 4));
      for (int j = 0; j < NV; ++j) {
        ahi[h][j] = _mm512_dpbusd_epi32(ahi[h][j], bh, x[j]);
        alo[h][j] = _mm512_dpbusd_epi32(alo[h][j], bl, x[j]);
      }
    }
  }
  const __m512 inv256 = _mm512_set1_ps(1.0f / 256.0f);
  for (int h = 0; h < NH; ++h) {
    const __m512 s = _mm512_set1_ps(sw[h]), c = _mm512_set1_ps(corr[h]);
    for (int j = 0; j < NV; ++j) {
      const __mmask16 mk = j == NV - 1 && tail == 8 ? __mmask16(0x00FF) : __mmask16(0xFFFF);
      float* out = acc + h * D + d0 + 16 * j;
      const __m512 sum = _mm512_fmadd_ps(_mm512_cvtepi32_ps(alo[h][j]), inv256, _mm512_cvtepi32_ps(ahi[h][j]));
      _mm512_mask_storeu_ps(out, mk, _mm512_fmadd_ps(c, _mm512_maskz_loadu_ps(mk, out), _mm512_mul_ps(s, sum)));
    }
  }
}

template <int NH, int NV>
void over_channels(const std::int8_t* v, int D, int T, const unsigned char* w, int ldw, const float* sw,
                   const float* corr, float* acc, std::ptrdiff_t pf) {
  for (int d0 = 0; d0 < D; d0 += 16 * NV) {
    const int width = std::min(16 * NV, D - d0);  // a multiple of 8
    const std::ptrdiff_t f = pf;
    // The last pass may need fewer vectors than NV.
    const int nv = (width + 15) / 16;
    if (nv == NV) {
      chunk<NH, NV>(v, D, d0, width, T, w, ldw, sw, corr, acc, f);
    } else if (nv == 1) {
      chunk<NH, 1>(v, D, d0, width, T, w, ldw, sw, corr, acc, f);
    } else if constexpr (NV > 2) {
      if (nv == 2) chunk<NH, 2>(v, D, d0, width, T, w, ldw, sw, corr, acc, f);
      else chunk<NH, 3>(v, D, d0, width, T, w, ldw, sw, corr, acc, f);
    }
  }
}

}  // namespace

// The u8 form of decode_weights.h for one row, 16 tokens per step, in place.
float quantise_weights_u8_avx512(float* p, const float* vs, int T) {
  const float wmax = row_max_w(p, vs, T);
  const __m512 k = _mm512_set1_ps(wmax > 0.0f ? 65280.0f / wmax : 0.0f);
  auto* bytes = reinterpret_cast<unsigned char*>(p);
  for (int t = 0; t < T; t += 16) {
    const int n = std::min(16, T - t);
    const __m256i q = weights_quads_x16(p + t, vs + t, n, k);
    if (n == 16) {
      // A vector store (a may-alias type) over floats already read; a variable-length memcpy
      // here was a library call per 16 tokens.
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(bytes + 2 * t), q);
    } else {
      alignas(32) unsigned char quads[32];
      _mm256_store_si256(reinterpret_cast<__m256i*>(quads), q);
      std::memcpy(bytes + 2 * t, quads, static_cast<std::size_t>(2 * n));
    }
  }
  return wmax > 0.0f ? wmax / 255.0f : 0.0f;
}

void accum_v_i8_vnni(const std::int8_t* v, const float* vs, int D, int T, float* p, int lds, int G,
                     const float* corr, float* acc, std::ptrdiff_t pf) {
  const int ldw = 4 * lds;  // the u8 rows keep the float rows' pitch, in bytes
  const auto* w = reinterpret_cast<const unsigned char*>(p);
  for (int h0 = 0; h0 < G; h0 += 4) {
    const int nh = std::min(4, G - h0);
    float sw[4];
    for (int h = 0; h < nh; ++h) sw[h] = quantise_weights_u8_avx512(p + (h0 + h) * lds, vs, T);
    const std::ptrdiff_t f = h0 == 0 ? pf : 0;  // the first head chunk prefetches the next tile
    const unsigned char* wh = w + static_cast<std::size_t>(h0) * ldw;
    const float* ch = corr + h0;
    float* ah = acc + h0 * D;
    // 4 heads × 32 channels: 16 int32 accumulators (vpdpbusd has a 5-cycle latency), and
    // each broadcast weight feeds two V vectors, so loads stay below the vpdpbusd count
    // (8 heads × 16 channels needed one broadcast per instruction).
    switch (nh) {
      case 1: over_channels<1, 4>(v, D, T, wh, ldw, sw, ch, ah, f); break;
      case 2: over_channels<2, 4>(v, D, T, wh, ldw, sw, ch, ah, f); break;
      case 3: over_channels<3, 2>(v, D, T, wh, ldw, sw, ch, ah, f); break;
      default: over_channels<4, 2>(v, D, T, wh, ldw, sw, ch, ah, f); break;
    }
  }
}

}  // namespace infeng::attn::detail
