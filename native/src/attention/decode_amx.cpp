// Decode attention, AMX-INT8: both int8 products as tile multiplies. Decode's int8 arithmetic
// is G·D multiply-adds per token for q·K and again for P·V, twice over with the two-level query
// and weights; vpdpbusd does 64 of them per instruction, one tdpbsud / tdpbusd 16 384, so on a
// CPU with AMX the kernel stops being bound by arithmetic and only the KV stream remains.
//
// The operand layouts are the ones the cache already has:
//  - q·K: A = the query's int8 levels, rows 0..G−1 hi and G..2G−1 lo (the driver keeps lo
//    right after hi, G·D bytes apart, so one strided load takes both), 64 channels per tile;
//    B = one 16-token K sub-block, [c/4][16][4] offset-binary bytes, 64 channels per tile
//    (tdpbsud: signed A, unsigned B); C = 2G rows × 16 tokens of int32, finished with the
//    VNNI kernel's epilogue.
//  - P·V: A = the two-level u8 weights of 64 tokens (decode_weights.h), rows hi then lo,
//    staged per block; B = 16 token quads × 16 channels of V ([t/4][D][4]), stride 4·D bytes
//    (tdpbusd: unsigned A, signed B); four C tiles hold 64 channels across the whole tile.
// Integer sums are exact, so this path and the VNNI one agree to FP32 rounding.
//
// Limits (the driver falls back to the VNNI kernels otherwise): G ≤ 8 (2G tile rows), D of 64
// or 128 (two query tiles) and tiles of a multiple of 64 tokens. Linux hands out the tile state only
// after a per-process arch_prctl request; amx_available() makes it once.
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "attention/decode_kernels.h"
#include "attention/decode_weights_avx512.h"

namespace infeng::attn::detail {
namespace {

// Tiles: 0-3 the score accumulators of a 64-token group's four sub-blocks (q·K), then the
// P·V accumulators of 64 channels; 4 and 7 K / V blocks (alternating, so a load overlaps the
// previous multiply); 5 and 6 the query's levels for channels 0-63 and 64-127 (q·K), 5 the
// staged weights (P·V).
struct alignas(64) TileConfig {
  std::uint8_t palette = 1;
  std::uint8_t start_row = 0;
  std::uint8_t reserved[14] = {};
  std::uint16_t colsb[16] = {};
  std::uint8_t rows[16] = {};
};

void amx_begin(int G, int) {
  TileConfig c;
  for (int t : {0, 1, 2, 3, 5, 6}) {
    c.rows[t] = static_cast<std::uint8_t>(2 * G);
    c.colsb[t] = 64;
  }
  for (int t : {4, 7}) {
    c.rows[t] = 16;
    c.colsb[t] = 64;
  }
  _tile_loadconfig(&c);
}

void amx_end() { _tile_release(); }

inline void prefetch_bytes(const void* p, std::size_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (std::size_t off = 0; off < bytes; off += 64) _mm_prefetch(c + off, _MM_HINT_T1);
}

// s[h][16b + n] from C rows h (hi) and G + h (lo) of one sub-block.
inline void finish_scores(const std::int32_t* c, const QuantQuery& q, int G, float* s, int lds) {
  for (int h = 0; h < G; ++h) {
    const __m512 rh = _mm512_cvtepi32_ps(
        _mm512_sub_epi32(_mm512_load_si512(c + 16 * h), _mm512_set1_epi32(q.b_hi[h])));
    const __m512 rl = _mm512_cvtepi32_ps(
        _mm512_sub_epi32(_mm512_load_si512(c + 16 * (G + h)), _mm512_set1_epi32(q.b_lo[h])));
    _mm512_storeu_ps(s + h * lds, _mm512_fmadd_ps(rh, _mm512_set1_ps(q.s_hi[h]),
                                                  _mm512_fmadd_ps(rl, _mm512_set1_ps(q.s_lo[h]), _mm512_set1_ps(q.zq[h]))));
  }
}

// One sub-block's products into C tile `C`: channels 0-63 (and 64-127) of K sub-block kb.
#define INFENG_AMX_SCORE_SUB(C, kb, two)       \
  do {                                         \
    _tile_loadd(4, (kb), 64);                  \
    _tile_dpbsud(C, 5, 4);                     \
    if (two) {                                 \
      _tile_loadd(7, (kb) + 1024, 64);         \
      _tile_dpbsud(C, 6, 7);                   \
    }                                          \
  } while (0)

// A call covers one K group segment (≤ 64 tokens, whole sub-blocks): its sub-blocks go to four
// accumulator tiles, so their loads and multiplies overlap instead of queueing on one tile.
void scores_i8_amx(const std::uint8_t* k, int D, int nsub, const QuantQuery& q, int G, float* s, int lds,
                   std::ptrdiff_t pf) {
  const bool two = D == 128;
  _tile_loadd(5, q.hi, D);
  if (two) _tile_loadd(6, q.hi + 64, D);
  const std::size_t sub_bytes = static_cast<std::size_t>(D) * kKvSub;
  if (pf) prefetch_bytes(k + pf, sub_bytes * nsub);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  INFENG_AMX_SCORE_SUB(0, k, two);
  if (nsub > 1) INFENG_AMX_SCORE_SUB(1, k + sub_bytes, two);
  if (nsub > 2) INFENG_AMX_SCORE_SUB(2, k + 2 * sub_bytes, two);
  if (nsub > 3) INFENG_AMX_SCORE_SUB(3, k + 3 * sub_bytes, two);
  alignas(64) std::int32_t c[4][16 * 16];
  _tile_stored(0, c[0], 64);
  if (nsub > 1) _tile_stored(1, c[1], 64);
  if (nsub > 2) _tile_stored(2, c[2], 64);
  if (nsub > 3) _tile_stored(3, c[3], 64);
  for (int b = 0; b < nsub; ++b) finish_scores(c[b], q, G, s + b * kKvSub, lds);
}
#undef INFENG_AMX_SCORE_SUB

// acc[h][d0 + 16j + n] = corr_h·acc + Sw_h·(hi + lo/256) from C tile j (rows h and G + h).
inline void finish(const std::int32_t* c, int G, int D, int d, const float* sw, const float* corr, float* acc) {
  const __m512 inv256 = _mm512_set1_ps(1.0f / 256.0f);
  for (int h = 0; h < G; ++h) {
    const __m512 sum = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(c + 16 * (G + h))), inv256,
                                       _mm512_cvtepi32_ps(_mm512_load_si512(c + 16 * h)));
    float* out = acc + h * D + d;
    _mm512_storeu_ps(out, _mm512_fmadd_ps(_mm512_set1_ps(corr[h]), _mm512_loadu_ps(out),
                                          _mm512_mul_ps(_mm512_set1_ps(sw[h]), sum)));
  }
}

void accum_v_i8_amx(const std::int8_t* v, const float* vs, int D, int T, float* p, int lds, int G,
                    const float* corr, float* acc, std::ptrdiff_t pf) {
  float sw[8];
  __m512 inv[8];
  for (int h = 0; h < G; ++h) {
    const float wmax = row_max_w(p + h * lds, vs, T);
    sw[h] = wmax > 0.0f ? wmax / 255.0f : 0.0f;
    inv[h] = _mm512_set1_ps(wmax > 0.0f ? 65280.0f / wmax : 0.0f);
  }
  alignas(64) std::uint8_t stage[16 * 64];
  alignas(64) std::int32_t c[16 * 16];
  const std::size_t quad_row = static_cast<std::size_t>(D) * 4;
  for (int d0 = 0; d0 < D; d0 += 64) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int b = 0; b < T / 64; ++b) {
      // Each pass re-derives the block's weights (cheaper than staging the whole tile's).
      for (int h = 0; h < G; ++h) {
        for (int j = 0; j < 4; ++j) {
          __m128i hb, lb;
          weights_u8_x16(p + h * lds + 64 * b + 16 * j, vs + 64 * b + 16 * j, 16, inv[h], hb, lb);
          _mm_store_si128(reinterpret_cast<__m128i*>(stage + 64 * h + 16 * j), hb);
          _mm_store_si128(reinterpret_cast<__m128i*>(stage + 64 * (G + h) + 16 * j), lb);
        }
      }
      _tile_loadd(5, stage, 64);
      const std::int8_t* vb = v + static_cast<std::size_t>(16 * b) * quad_row + static_cast<std::size_t>(d0) * 4;
      if (pf && d0 == 0) prefetch_bytes(v + static_cast<std::size_t>(16 * b) * quad_row + pf, 16 * quad_row);
      const int nv = std::min(4, (D - d0) / 16);
      _tile_loadd(4, vb, quad_row);
      _tile_dpbusd(0, 5, 4);
      if (nv > 1) {
        _tile_loadd(7, vb + 64, quad_row);
        _tile_dpbusd(1, 5, 7);
      }
      if (nv > 2) {
        _tile_loadd(4, vb + 128, quad_row);
        _tile_dpbusd(2, 5, 4);
      }
      if (nv > 3) {
        _tile_loadd(7, vb + 192, quad_row);
        _tile_dpbusd(3, 5, 7);
      }
    }
    const int nv = std::min(4, (D - d0) / 16);
    _tile_stored(0, c, 64);
    finish(c, G, D, d0, sw, corr, acc);
    if (nv > 1) {
      _tile_stored(1, c, 64);
      finish(c, G, D, d0 + 16, sw, corr, acc);
    }
    if (nv > 2) {
      _tile_stored(2, c, 64);
      finish(c, G, D, d0 + 32, sw, corr, acc);
    }
    if (nv > 3) {
      _tile_stored(3, c, 64);
      finish(c, G, D, d0 + 48, sw, corr, acc);
    }
  }
}

}  // namespace

bool amx_available() {
  static const bool ok = [] {
    const CpuFeatures& f = cpu_features();
    if (!(f.amx_tile && f.amx_int8 && f.os_amx && f.avx512_vnni && f.os_zmm)) return false;
    constexpr long kReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return ok;
}

const DecodeKernels& decode_kernels_amx() {
  static const DecodeKernels k = [] {
    DecodeKernels t = decode_kernels_vnni_avx512();
    t.amx = true;
    // AMX multiplies int8 tiles: the query in two int8 levels, the outliers in their own pass.
    t.prepare_query = decode_kernels_avx512().prepare_query;
    t.fused_outliers = false;
    t.scores_i8 = scores_i8_amx;
    t.accum_v_i8 = accum_v_i8_amx;
    t.begin = amx_begin;
    t.end = amx_end;
    return t;
  }();
  return k;
}

}  // namespace infeng::attn::detail
