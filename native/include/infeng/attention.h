// Attention kernels for CPU inference: decode (one query token against a KV cache) with an
// FP16 cache (the baseline) or an int8 cache (the engine's), and causal prefill tiled with an
// online softmax. Grouped-query attention throughout: n_q_heads query heads share n_kv_heads
// key/value heads, G = n_q_heads / n_kv_heads query heads per KV head.
//
// Why two cache formats: decode reads the whole cache for every generated token, so it runs at
// memory bandwidth; int8 halves the bytes of FP16. The int8 format keeps K with per-channel
// scales (per group of kKvGroup tokens) and V with per-token scales, and moves outlier K
// channels out of the int8 payload into an exact sparse side-table (CSR), because per-channel
// scales are folded into the query before the integer dot product and one huge channel would
// otherwise take all of the query's int8 range.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <vector>

#include "infeng/dispatch.h"

namespace infeng::attn {

// Tokens per interleaved K sub-block: the vector of scores the kernels produce at once.
inline constexpr int kKvSub = 16;
// Tokens sharing one set of per-channel K scales and one outlier decision.
inline constexpr int kKvGroup = 64;

struct Shape {
  int n_q_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int group() const { return n_kv_heads > 0 ? n_q_heads / n_kv_heads : 0; }
};

// Throws std::invalid_argument naming the problem: non-positive sizes, q heads not a multiple
// of kv heads, head_dim not a multiple of 8 (the vector kernels' granule) or above 256.
void validate(const Shape& s);

// FP16 KV cache (IEEE binary16 bits). K of each head is stored in 16-token blocks laid out
// [channel][16 tokens], so a vector load gives one channel of 16 tokens' keys and the score
// kernel needs no horizontal sums; V is token-major [token][channel].
class KvCacheF16 {
 public:
  KvCacheF16(int n_kv_heads, int head_dim, int capacity);
  // k and v: n_kv_heads × head_dim floats each, for the next position. Throws std::length_error
  // when the cache is full.
  void append(const float* k, const float* v);
  // n tokens at once: k and v are [token][kv head][channel].
  void append_many(const float* k, const float* v, int n);
  void clear() { len_ = 0; }

  int n_kv_heads() const { return n_kv_heads_; }
  int head_dim() const { return head_dim_; }
  int capacity() const { return capacity_; }
  int len() const { return len_; }
  // Bytes one decode step reads for a context of len() tokens (K + V).
  std::size_t stream_bytes() const;

  const std::uint16_t* k_head(int h) const { return k_.data() + head_stride() * h; }
  const std::uint16_t* v_head(int h) const { return v_.data() + head_stride() * h; }

 private:
  std::size_t head_stride() const { return static_cast<std::size_t>(cap_padded_) * head_dim_; }
  int n_kv_heads_, head_dim_, capacity_, cap_padded_;
  int len_ = 0;
  std::vector<std::uint16_t> k_, v_;
};

// Outlier K values of one KV head, compressed sparse rows: row = token, column = channel.
struct OutlierCsr {
  std::vector<std::int32_t> row_ptr{0};  // len + 1 entries once groups are quantised
  std::vector<std::uint16_t> col;
  std::vector<float> val;  // the exact FP32 key values
};

struct QuantConfig {
  // A channel whose absolute maximum over a group exceeds ratio × the median channel maximum
  // is an outlier channel of that group; at most max_channels per group (the largest first).
  float outlier_ratio = 6.0f;
  int max_outlier_channels = 4;
  // The newest tokens stay in the FP16 residual until it holds residual_groups × kKvGroup
  // tokens; then its oldest group is quantised. 1: only the group being filled stays FP16
  // (0–63 tokens); 2: the newest 64–127 tokens do, as in KIVI's full-precision recent window.
  // Attention puts much of its weight on recent tokens, so their K error costs the most: on
  // the real model's 32 × 512 samples, Δ perplexity vs FP16 KV is +0.19 % with 1 and +0.11 %
  // with 2. But 64 FP16 tokens cost about what 128-256 int8 ones do, so 2 is 2-10 % slower
  // at 2k-8k tokens, which brings 32/4/64 at 2k to the 1.15× gate: 1 stays the default
  // (the bench measures both: --residual_groups).
  int residual_groups = 1;
};

// int8 KV cache. Quantised groups of kKvGroup tokens per head:
//   K: offset-binary bytes (kq + 128, k ≈ mid_c + ks_c·kq: each channel's range is centred on
//      its midpoint, so an offset channel uses all 255 levels), in 16-token sub-blocks laid out [channel/4][16][4], the
//      operand layout of vpdpbusd (4 channels of one token per 32-bit lane); per-channel scales and
//      midpoints per group (0 for outlier channels, whose bytes hold 128 = zero);
//   V: int8 with one scale per token, in token quads [t/4][channel][t%4] (4 tokens of one
//      channel per 32-bit lane: the vpdpbusd operand for P·V with u8 softmax weights);
//   outliers: exact values in a CSR side-table per head.
// The newest tokens (the residual: the group still being filled, and with the default config
// the group before it too) are kept in FP16 in the FP16 cache's layout; the oldest residual
// group is quantised when the residual reaches QuantConfig::residual_groups groups.
class KvCacheInt8 {
 public:
  KvCacheInt8(int n_kv_heads, int head_dim, int capacity, QuantConfig cfg = {});
  void append(const float* k, const float* v);
  void append_many(const float* k, const float* v, int n);
  void clear();

  int n_kv_heads() const { return n_kv_heads_; }
  int head_dim() const { return head_dim_; }
  int capacity() const { return capacity_; }
  int len() const { return len_; }
  int quantised_len() const { return qlen_; }
  std::size_t stream_bytes() const;
  std::size_t outlier_count() const;

  const std::uint8_t* k_head(int h) const { return kq_.data() + head_stride() * h; }
  const std::int8_t* v_head(int h) const { return vq_.data() + head_stride() * h; }
  // Offset of V element (token t, channel c) within a head's block.
  std::size_t v_index(int t, int c) const {
    return (static_cast<std::size_t>(t / 4) * head_dim_ + c) * 4 + t % 4;
  }
  // Per-channel K scales of group g of head h (head_dim floats).
  const float* k_scales(int h, int g) const {
    return ks_.data() + (static_cast<std::size_t>(h) * groups_cap_ + g) * head_dim_;
  }
  // Per-channel K midpoints of group g of head h: k ≈ mid_c + ks_c·(ku − 128).
  const float* k_mids(int h, int g) const {
    return kmid_.data() + (static_cast<std::size_t>(h) * groups_cap_ + g) * head_dim_;
  }
  const float* v_scales(int h) const { return vs_.data() + static_cast<std::size_t>(h) * cap_padded_; }
  const OutlierCsr& outliers(int h) const { return csr_[h]; }
  const KvCacheF16& residual() const { return residual_; }

  // The value the kernels see for K / V at (head, token, channel): dequantised, or the exact
  // outlier, or the FP16 residual. For tests and error bounds.
  float k_at(int h, int t, int c) const;
  float v_at(int h, int t, int c) const;

 private:
  void quantise_group(const float* k, const float* v);  // k, v: [token][head][channel]
  std::size_t head_stride() const { return static_cast<std::size_t>(cap_padded_) * head_dim_; }
  int n_kv_heads_, head_dim_, capacity_, cap_padded_, groups_cap_;
  QuantConfig cfg_;
  int len_ = 0, qlen_ = 0;
  std::vector<std::uint8_t> kq_;
  std::vector<std::int8_t> vq_;
  std::vector<float> ks_, kmid_, vs_;
  std::vector<OutlierCsr> csr_;
  KvCacheF16 residual_;
  std::vector<float> pending_k_, pending_v_;  // FP32 copy of the residual, to quantise from
};

struct DecodeOptions {
  int threads = 1;              // <= 0: all cores
  std::optional<Path> path;     // unset: active_path()
  int tile_tokens = 0;          // 0: heuristic; else a positive multiple of kKvSub
  bool use_vnni = true;         // AVX-512 path: use vpdpbusd for q·K when the CPU has it
  // AVX-512 path with VNNI: AMX-INT8 tiles for the int8 products when the CPU and OS allow
  // them and the call fits (≤ 8 query heads per KV head, head_dim 64 or 128, tiles a multiple
  // of 64 tokens). Off by default: measured no faster than vpdpbusd (decode_driver.cpp).
  bool use_amx = false;
};

// What a decode call ran, for benchmarks and tests that must prove it.
struct DecodeInfo {
  Path path = Path::Scalar;
  bool vnni = false;
  bool amx = false;
  int tile_tokens = 0;
  int acc_width = 0;            // lanes of the score accumulators (16 AVX-512, 8 AVX2, 1 scalar)
  std::size_t scratch_bytes = 0;  // per thread: scores, accumulators, quantised query
};

// Throws std::invalid_argument for a tile that is not a positive multiple of kKvSub.
int decode_tile_tokens(int requested, int head_dim);

// out[h·D + d] for all query heads; q is n_q_heads × head_dim. ctx = number of cache tokens
// to attend to (≤ cache len; std::out_of_range otherwise). Scale 1/sqrt(head_dim).
DecodeInfo decode_f16(const Shape& s, const float* q, const KvCacheF16& kv, int ctx, float* out,
                      const DecodeOptions& opt = {});
DecodeInfo decode_int8(const Shape& s, const float* q, const KvCacheInt8& kv, int ctx,
                       float* out, const DecodeOptions& opt = {});

// FP32 reference with double accumulation on plain K/V laid out [token][kv head][channel].
void reference_decode(const Shape& s, const float* q, const float* k, const float* v, int ctx,
                      float* out);

// Causal prefill: q is [token][q head][channel], k and v [token][kv head][channel], out like q.
// Token i attends to tokens 0..i. The tiled kernel never forms the n×n score matrix.
struct PrefillOptions {
  int threads = 1;
  std::optional<Path> path;
  // Query rows and key rows per tile, equal so that a tile on the diagonal always holds at
  // least one unmasked key for each of its queries; 0: the heuristic, else a positive multiple
  // of 16 (std::invalid_argument otherwise).
  int tile = 0;
};
struct PrefillInfo {
  Path path = Path::Scalar;
  int tile = 0;
  std::size_t scratch_bytes = 0;  // all threads
};
PrefillInfo prefill_tiled(const Shape& s, const float* q, const float* k, const float* v, int n,
                          float* out, const PrefillOptions& opt = {});
// The naive form: materialises each head's n×n score matrix, softmax, then P·V. FP32.
// Returns its scratch bytes (the score matrices).
std::size_t prefill_reference(const Shape& s, const float* q, const float* k, const float* v,
                              int n, float* out, int threads = 1);

// IEEE binary16 conversions (round to nearest even), portable.
std::uint16_t f32_to_f16(float f);
float f16_to_f32(std::uint16_t h);

}  // namespace infeng::attn
