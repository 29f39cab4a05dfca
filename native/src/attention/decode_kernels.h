// The per-ISA pieces of decode attention, one table per ISA (decode_scalar.cpp,
// decode_avx2.cpp, decode_avx512.cpp, decode_vnni_avx512.cpp). The driver (decode_driver.cpp)
// owns the loop over tiles, the online-softmax state and the threads; a kernel does one step on
// one tile for the G query heads that share a KV head, so every K/V byte loaded from memory is
// used by all G heads while it is in registers or L1.
//
// Score buffer: s[h·lds + t], h < G, t < tile (lds a multiple of kKvSub).
#pragma once
#include <cstddef>
#include <cstdint>
#include <xmmintrin.h>

#include "infeng/attention.h"

namespace infeng::attn::detail {

// The most outlier channels per K group a score kernel adds itself (fused_outliers); groups
// with more go through apply_outliers.
inline constexpr int kMaxFusedCols = 4;

// The query of one head group against one K group (channel scales ks_c, midpoints mid_c):
// score = Σ_c q_c·ks_c·(ku_c − 128) + zq, zq = Σ_c q_c·mid_c.
//  - FMA paths: ks_c·(ku_c − 128) is formed per channel vector (one FMA shared by the G heads)
//    and multiplied by the FP32 query, so the query carries no rounding beyond FP32.
//  - AMX path: q'_c = q_c·ks_c in two int8 levels, q' ≈ s_hi·hi + s_lo·lo (lo quantises the
//    residual of hi with a step 254× finer), so the integer dot products carry no query
//    rounding that matters: s = s_hi·(Σ hi·ku − 128Σhi) + s_lo·(…lo…) + zq.
//  - AVX2 and AVX-512 VNNI paths: one int16 level in the same buffers (hi and lo together hold
//    G·D int16), q16 = round(q'/s_hi), b_hi = 128·Σq16: s = s_hi·(Σ q16·ku − b_hi) + zq.
struct QuantQuery {
  const float* qs = nullptr;          // G × D, the scaled query
  const float* ks = nullptr;          // D, the group's channel scales
  const std::int8_t* hi = nullptr;    // G × D
  const std::int8_t* lo = nullptr;    // G × D
  const float* s_hi = nullptr;        // G
  const float* s_lo = nullptr;        // G
  const std::int32_t* b_hi = nullptr; // G: 128·Σ hi
  const std::int32_t* b_lo = nullptr; // G: 128·Σ lo
  const float* zq = nullptr;          // G
  // The segment's exact outlier channels for a kernel with fused_outliers: nf (≤ kMaxFusedCols,
  // 0: none, or the driver applies them) entries per token, token-major from the segment's
  // first token (the dense block every group's CSR rows form), and the scaled query at those
  // channels, oq[h·kMaxFusedCols + i].
  int nf = 0;
  const float* oval = nullptr;
  const float* oq = nullptr;
  // The same for heads h0.. (the integer levels exist only for kernels with int_query: null
  // elsewhere; the int16 level's heads are 2·D bytes apart).
  QuantQuery heads_from(int h0, int D, bool i16 = false) const {
    auto at = [](auto* p, int off) { return p ? p + off : p; };
    return {qs + h0 * D, ks, at(hi, (i16 ? 2 : 1) * h0 * D), at(lo, h0 * D), at(s_hi, h0), at(s_lo, h0),
            at(b_hi, h0), at(b_lo, h0), zq + h0, nf, oval, at(oq, h0 * kMaxFusedCols)};
  }
};

// Where the driver wants the prepared query written (the writable side of QuantQuery).
struct QueryBuffers {
  std::int8_t* hi;
  std::int8_t* lo;
  float* s_hi;
  float* s_lo;
  std::int32_t* b_hi;
  std::int32_t* b_lo;
  float* zq;
};

struct DecodeKernels {
  Path path = Path::Scalar;
  bool vnni = false;
  int acc_width = 1;
  // Every streaming kernel takes pf, the distance in bytes from its data to the same data of
  // the next tile (0: none); it prefetches that data into L2 spread over its own loop, so the
  // next tile streams in while this one computes (the hardware prefetcher alone left the
  // FP16 kernel at ~45 % of the read bandwidth from DRAM).
  //
  // s[h][t] = Σ_d q[h][d]·k[t][d] for nsub 16-token FP16 blocks ([D][16] each).
  void (*scores_f16)(const std::uint16_t* k, int D, int nsub, const float* q, int G, float* s,
                     int lds, std::ptrdiff_t pf);
  // s[h][t] = Σ_c q'[h][c]·(ku[t][c] − 128) + zq[h] for nsub int8 sub-blocks ([D/4][16][4]).
  void (*scores_i8)(const std::uint8_t* k, int D, int nsub, const QuantQuery& q, int G, float* s,
                    int lds, std::ptrdiff_t pf);
  // Online softmax over T valid scores per head: m, l running max and sum; on return s holds
  // p = exp(s − m_new) and corr[h] = exp(m_old − m_new) (0 when m_old = −inf).
  void (*softmax_tile)(float* s, int lds, int G, int T, float* m, float* l, float* corr);
  // acc[h][:] = corr[h]·acc[h][:] + Σ_t p[h][t]·v[t][:], FP16 V token-major.
  void (*accum_v_f16)(const std::uint16_t* v, int D, int T, const float* p, int lds, int G,
                      const float* corr, float* acc, std::ptrdiff_t pf);
  // The same for int8 V in token quads ([t/4][D][4], T a multiple of 16) with per-token
  // scales vs: p is overwritten by the two-level u8 weights of p·vs (decode_weights.h).
  void (*accum_v_i8)(const std::int8_t* v, const float* vs, int D, int T, float* p, int lds, int G,
                     const float* corr, float* acc, std::ptrdiff_t pf);
  // Folds a K group's channel scales and midpoints into the scaled query qs (G × D); the int8
  // levels only when int_levels (the VNNI kernel reads them).
  void (*prepare_query)(const float* qs, const float* ks, const float* mid, int G, int D,
                        bool int_levels, const QueryBuffers& out);
  // Adds the exact outlier products of tokens [t0, t1) to the score tile (s[h][t − t0]);
  // qs is the scaled query (G × D).
  void (*apply_outliers)(const std::int32_t* row_ptr, const std::uint16_t* col, const float* val,
                         int t0, int t1, const float* qs, int G, int D, float* s, int lds);
  // AMX: the int8 kernels are tile multiplies; each thread configures its tiles for G heads
  // (begin) before a work item and releases them after (end). Null elsewhere.
  bool amx = false;
  // The int8 score kernel reads an integer query (prepare_query's int_levels): two int8 levels
  // on AMX, one int16 level on AVX2 and AVX-512 VNNI, in the same buffers.
  bool int_query = false;
  // The int8 score kernel adds the segment's dense outlier block itself (QuantQuery::nf), so
  // the scores are written once instead of re-read and re-written by apply_outliers.
  bool fused_outliers = false;
  void (*begin)(int G, int D) = nullptr;
  void (*end)() = nullptr;
};

const DecodeKernels& decode_kernels_scalar();
#if INFENG_HAVE_AVX512
#if INFENG_HAVE_AMX
// AMX-INT8 tables (decode_amx.cpp): usable when amx_available() (CPU, OS and the process's
// request for the tile state) and the shape fits (amx_fits).
bool amx_available();
const DecodeKernels& decode_kernels_amx();
#endif
// decode_weights.h's u8 form of one row with AVX-512 (bit-identical to quantise_weights_u8;
// returns Sw), and P·V with those weights and vpdpbusd (decode_vnni_pv_avx512.cpp).
float quantise_weights_u8_avx512(float* p, const float* vs, int T);
void accum_v_i8_vnni(const std::int8_t* v, const float* vs, int D, int T, float* p, int lds, int G,
                     const float* corr, float* acc, std::ptrdiff_t pf);
#endif
#if INFENG_HAVE_AVX2
const DecodeKernels& decode_kernels_avx2();
#endif
#if INFENG_HAVE_AVX512
const DecodeKernels& decode_kernels_avx512();
const DecodeKernels& decode_kernels_vnni_avx512();
#endif

// Prefetches [p, p + bytes) into L2 (one line per 64 bytes, at least one).
inline void prefetch_l2(const void* p, int bytes) {
  const char* c = static_cast<const char*>(p);
  for (int off = 0; off < bytes; off += 64) _mm_prefetch(c + off, _MM_HINT_T1);
}

// Prefetches into L2 every 64-byte line that [p, p + bytes) touches. The range may run past the
// end of its array (a prefetch never faults), so the addresses are formed as integers; a null p
// (an empty side-table) prefetches nothing.
inline void prefetch_span_l2(const void* p, std::size_t bytes) {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  if (a == 0) return;
  for (std::uintptr_t l = a & ~std::uintptr_t{63}; l < a + bytes; l += 64)
    _mm_prefetch(reinterpret_cast<const char*>(l), _MM_HINT_T1);
}

// Scalar pieces the vector tables reuse for what is not hot.
void softmax_tile_scalar(float* s, int lds, int G, int T, float* m, float* l, float* corr);

}  // namespace infeng::attn::detail
