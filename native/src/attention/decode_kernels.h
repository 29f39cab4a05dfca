// The per-ISA pieces of decode attention, one table per ISA (decode_scalar.cpp,
// decode_avx2.cpp, decode_avx512.cpp, decode_vnni_avx512.cpp). The driver (decode_driver.cpp)
// owns the loop over tiles, the online-softmax state and the threads; a kernel does one step on
// one tile for the G query heads that share a KV head, so every K/V byte loaded from memory is
// used by all G heads while it is in registers or L1.
//
// Score buffer: s[h·lds + t], h < G, t < tile (lds a multiple of kKvSub).
#pragma once
#include <cstdint>

#include "infeng/attention.h"

namespace infeng::attn::detail {

// The query of one head group quantised for one K group: qq = round(q·ks / sq), so that
// score = sq · Σ_c qq_c·(ku_c − 128) exactly in integers.
struct QuantQuery {
  const std::int8_t* qq = nullptr;  // G × D
  const float* sq = nullptr;        // G: scale of each head's qq
  const std::int32_t* bias = nullptr;  // G: 128 · Σ_c qq_c (removes the offset-binary 128)
};

struct DecodeKernels {
  Path path = Path::Scalar;
  bool vnni = false;
  int acc_width = 1;
  // s[h][t] = Σ_d q[h][d]·k[t][d] for nsub 16-token FP16 blocks ([D][16] each).
  void (*scores_f16)(const std::uint16_t* k, int D, int nsub, const float* q, int G, float* s,
                     int lds);
  // s[h][t] = sq[h]·(Σ_c qq[h][c]·ku[t][c] − bias[h]) for nsub int8 sub-blocks ([D/4][16][4]).
  void (*scores_i8)(const std::uint8_t* k, int D, int nsub, const QuantQuery& q, int G, float* s,
                    int lds);
  // Online softmax over T valid scores per head: m, l running max and sum; on return s holds
  // p = exp(s − m_new) and corr[h] = exp(m_old − m_new) (0 when m_old = −inf).
  void (*softmax_tile)(float* s, int lds, int G, int T, float* m, float* l, float* corr);
  // acc[h][:] = corr[h]·acc[h][:] + Σ_t p[h][t]·v[t][:], FP16 V token-major.
  void (*accum_v_f16)(const std::uint16_t* v, int D, int T, const float* p, int lds, int G,
                      const float* corr, float* acc);
  // The same for int8 V with per-token scales vs (p is scaled by vs in place).
  void (*accum_v_i8)(const std::int8_t* v, const float* vs, int D, int T, float* p, int lds, int G,
                     const float* corr, float* acc);
};

const DecodeKernels& decode_kernels_scalar();
#if INFENG_HAVE_AVX2
const DecodeKernels& decode_kernels_avx2();
#endif
#if INFENG_HAVE_AVX512
const DecodeKernels& decode_kernels_avx512();
const DecodeKernels& decode_kernels_vnni_avx512();
#endif

// Scalar pieces the vector tables reuse for what is not hot.
void softmax_tile_scalar(float* s, int lds, int G, int T, float* m, float* l, float* corr);

}  // namespace infeng::attn::detail
