// KV cache storage: the FP16 baseline format and the int8 format with per-channel K scales,
// per-token V scales and the exact CSR side-table for outlier K channels. Layouts are the
// kernels' operand layouts (see attention.h), written once per token at append time, so the
// decode loop streams them without any reshuffling.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "infeng/attention.h"

namespace infeng::attn {

std::uint16_t f32_to_f16(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  x &= 0x7FFFFFFFu;
  if (x >= 0x7F800000u) return static_cast<std::uint16_t>(sign | (x > 0x7F800000u ? 0x7E00u : 0x7C00u));
  if (x >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // rounds to ≥ 65520: inf
  if (x < 0x38800000u) {
    // Subnormal half (or zero): shift the implicit-1 mantissa into place, round to nearest even.
    if (x < 0x33000000u) return static_cast<std::uint16_t>(sign);
    const std::uint32_t e = x >> 23;
    const std::uint32_t m = (x & 0x7FFFFFu) | 0x800000u;
    const std::uint32_t shift = 126 - e;  // value / 2^-24 = m · 2^(e - 126): bits dropped
    std::uint32_t r = m >> shift;
    const std::uint32_t rem = m & ((1u << shift) - 1);
    const std::uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1))) ++r;
    return static_cast<std::uint16_t>(sign | r);
  }
  std::uint32_t r = ((x - 0x38000000u) >> 13);
  const std::uint32_t rem = x & 0x1FFFu;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1))) ++r;
  return static_cast<std::uint16_t>(sign | r);
}

float f16_to_f32(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t e = (h >> 10) & 0x1F;
  const std::uint32_t m = h & 0x3FF;
  std::uint32_t x;
  if (e == 0) {
    if (m == 0) {
      x = sign;
    } else {
      const float f = std::ldexp(static_cast<float>(m), -24);
      std::memcpy(&x, &f, 4);
      x |= sign;
    }
  } else if (e == 31) {
    x = sign | 0x7F800000u | (m << 13);
  } else {
    x = sign | ((e + 112) << 23) | (m << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

void validate(const Shape& s) {
  auto bad = [&](const std::string& why) {
    throw std::invalid_argument("attention shape " + std::to_string(s.n_q_heads) + "/" +
                                std::to_string(s.n_kv_heads) + "/" + std::to_string(s.head_dim) +
                                " (q heads/kv heads/head dim): " + why);
  };
  if (s.n_q_heads <= 0 || s.n_kv_heads <= 0 || s.head_dim <= 0) bad("sizes must be positive");
  if (s.n_q_heads % s.n_kv_heads != 0) bad("the q heads do not divide into the kv heads");
  if (s.head_dim % 8 != 0 || s.head_dim > 256) bad("head_dim must be a multiple of 8, at most 256");
}

namespace {

int round_up(int x, int m) { return (x + m - 1) / m * m; }

void check_cache_dims(int n_kv_heads, int head_dim, int capacity) {
  if (n_kv_heads <= 0 || head_dim <= 0 || capacity <= 0) {
    throw std::invalid_argument("KV cache: heads, head_dim and capacity must be positive");
  }
  if (head_dim % 8 != 0 || head_dim > 256) {
    throw std::invalid_argument("KV cache: head_dim " + std::to_string(head_dim) +
                                " is not a multiple of 8 in [8, 256]");
  }
}

}  // namespace

// ---------------------------------------------------------------------------------- FP16 --

KvCacheF16::KvCacheF16(int n_kv_heads, int head_dim, int capacity)
    : n_kv_heads_(n_kv_heads), head_dim_(head_dim), capacity_(capacity) {
  check_cache_dims(n_kv_heads, head_dim, capacity);
  cap_padded_ = round_up(capacity, kKvSub);
  k_.assign(head_stride() * n_kv_heads, 0);
  v_.assign(head_stride() * n_kv_heads, 0);
}

void KvCacheF16::append(const float* k, const float* v) { append_many(k, v, 1); }

void KvCacheF16::append_many(const float* k, const float* v, int n) {
  if (n < 0 || len_ + n > capacity_) {
    throw std::length_error("FP16 KV cache: " + std::to_string(len_) + " + " + std::to_string(n) +
                            " tokens exceed its capacity of " + std::to_string(capacity_));
  }
  const int D = head_dim_;
  for (int i = 0; i < n; ++i) {
    const int t = len_ + i;
    for (int h = 0; h < n_kv_heads_; ++h) {
      const float* kr = k + (static_cast<std::size_t>(i) * n_kv_heads_ + h) * D;
      const float* vr = v + (static_cast<std::size_t>(i) * n_kv_heads_ + h) * D;
      std::uint16_t* kb = k_.data() + head_stride() * h + static_cast<std::size_t>(t / kKvSub) * D * kKvSub;
      std::uint16_t* vb = v_.data() + head_stride() * h + static_cast<std::size_t>(t) * D;
      for (int c = 0; c < D; ++c) {
        kb[c * kKvSub + t % kKvSub] = f32_to_f16(kr[c]);
        vb[c] = f32_to_f16(vr[c]);
      }
    }
  }
  len_ += n;
}

std::size_t KvCacheF16::stream_bytes() const {
  return static_cast<std::size_t>(len_) * head_dim_ * n_kv_heads_ * 2 * sizeof(std::uint16_t);
}

// ---------------------------------------------------------------------------------- int8 --

KvCacheInt8::KvCacheInt8(int n_kv_heads, int head_dim, int capacity, QuantConfig cfg)
    : n_kv_heads_(n_kv_heads),
      head_dim_(head_dim),
      capacity_(capacity),
      cfg_(cfg),
      residual_(n_kv_heads, head_dim, kKvGroup * std::max(cfg.residual_groups, 1)) {
  check_cache_dims(n_kv_heads, head_dim, capacity);
  if (cfg.residual_groups < 1 || cfg.residual_groups > 16)
    throw std::invalid_argument("int8 KV cache: residual_groups must be 1 to 16, got " +
                                std::to_string(cfg.residual_groups));
  if (head_dim % 4 != 0) throw std::invalid_argument("int8 KV cache: head_dim must be a multiple of 4");
  cap_padded_ = round_up(capacity, kKvGroup);
  groups_cap_ = cap_padded_ / kKvGroup;
  kq_.assign(head_stride() * n_kv_heads, 128);
  vq_.assign(head_stride() * n_kv_heads, 0);
  ks_.assign(static_cast<std::size_t>(groups_cap_) * n_kv_heads * head_dim, 0.0f);
  kmid_.assign(ks_.size(), 0.0f);
  vs_.assign(static_cast<std::size_t>(cap_padded_) * n_kv_heads, 0.0f);
  csr_.resize(n_kv_heads);
  pending_k_.reserve(static_cast<std::size_t>(residual_.capacity()) * n_kv_heads * head_dim);
  pending_v_.reserve(pending_k_.capacity());
}

void KvCacheInt8::clear() {
  len_ = qlen_ = 0;
  residual_.clear();
  pending_k_.clear();
  pending_v_.clear();
  for (auto& c : csr_) c = OutlierCsr{};
}

void KvCacheInt8::append(const float* k, const float* v) { append_many(k, v, 1); }

void KvCacheInt8::append_many(const float* k, const float* v, int n) {
  if (n < 0 || len_ + n > capacity_) {
    throw std::length_error("int8 KV cache: " + std::to_string(len_) + " + " + std::to_string(n) +
                            " tokens exceed its capacity of " + std::to_string(capacity_));
  }
  const std::size_t row = static_cast<std::size_t>(n_kv_heads_) * head_dim_;
  for (int i = 0; i < n; ++i) {
    const float* kr = k + row * i;
    const float* vr = v + row * i;
    pending_k_.insert(pending_k_.end(), kr, kr + row);
    pending_v_.insert(pending_v_.end(), vr, vr + row);
    residual_.append(kr, vr);
    ++len_;
    if (residual_.len() == residual_.capacity()) {
      // Quantise the oldest group; the newer ones move down to the front of the residual.
      quantise_group(pending_k_.data(), pending_v_.data());
      const auto group = static_cast<std::ptrdiff_t>(kKvGroup * row);
      pending_k_.erase(pending_k_.begin(), pending_k_.begin() + group);
      pending_v_.erase(pending_v_.begin(), pending_v_.begin() + group);
      residual_.clear();
      residual_.append_many(pending_k_.data(), pending_v_.data(), static_cast<int>(pending_k_.size() / row));
      qlen_ += kKvGroup;
    }
  }
}

void KvCacheInt8::quantise_group(const float* k, const float* v) {
  const int D = head_dim_, H = n_kv_heads_;
  const int g = qlen_ / kKvGroup;
  std::vector<float> amax(D), lo(D), hi(D), sorted(D);
  std::vector<int> order(D);
  std::vector<char> outlier(D);
  for (int h = 0; h < H; ++h) {
    auto kval = [&](int t, int c) { return k[(static_cast<std::size_t>(t) * H + h) * D + c]; };
    auto vval = [&](int t, int c) { return v[(static_cast<std::size_t>(t) * H + h) * D + c]; };
    std::fill(lo.begin(), lo.end(), kval(0, 0));
    for (int c = 0; c < D; ++c) lo[c] = hi[c] = kval(0, c);
    for (int t = 1; t < kKvGroup; ++t) {
      for (int c = 0; c < D; ++c) {
        lo[c] = std::min(lo[c], kval(t, c));
        hi[c] = std::max(hi[c], kval(t, c));
      }
    }
    // Outliers are judged by magnitude (what they would do to the folded query's range).
    for (int c = 0; c < D; ++c) amax[c] = std::max(std::fabs(lo[c]), std::fabs(hi[c]));
    // Outlier channels: far above the median channel's range; the largest few.
    sorted = amax;
    std::nth_element(sorted.begin(), sorted.begin() + D / 2, sorted.end());
    const float median = sorted[D / 2];
    for (int c = 0; c < D; ++c) order[c] = c;
    std::sort(order.begin(), order.end(), [&](int a, int b) { return amax[a] > amax[b]; });
    std::fill(outlier.begin(), outlier.end(), 0);
    for (int i = 0; i < std::min(cfg_.max_outlier_channels, D); ++i) {
      const int c = order[i];
      if (amax[c] > 0.0f && amax[c] > cfg_.outlier_ratio * median) outlier[c] = 1;
    }

    float* ks = ks_.data() + (static_cast<std::size_t>(h) * groups_cap_ + g) * D;
    float* mid = kmid_.data() + (static_cast<std::size_t>(h) * groups_cap_ + g) * D;
    for (int c = 0; c < D; ++c) {
      const bool flat = outlier[c] || hi[c] == lo[c];
      mid[c] = outlier[c] ? 0.0f : 0.5f * (hi[c] + lo[c]);
      ks[c] = flat ? 0.0f : (hi[c] - lo[c]) / 254.0f;
    }

    std::uint8_t* kb = kq_.data() + head_stride() * h;
    OutlierCsr& csr = csr_[h];
    for (int t = 0; t < kKvGroup; ++t) {
      const int tt = qlen_ + t;
      std::uint8_t* sub = kb + static_cast<std::size_t>(tt / kKvSub) * D * kKvSub;
      for (int c = 0; c < D; ++c) {
        int q = 0;
        if (outlier[c]) {
          csr.col.push_back(static_cast<std::uint16_t>(c));
          csr.val.push_back(kval(t, c));
        } else if (ks[c] > 0.0f) {
          q = static_cast<int>(std::lrint((kval(t, c) - mid[c]) / ks[c]));
          q = std::clamp(q, -127, 127);
        }
        sub[(c / 4) * (kKvSub * 4) + (tt % kKvSub) * 4 + (c % 4)] = static_cast<std::uint8_t>(q + 128);
      }
      csr.row_ptr.push_back(static_cast<std::int32_t>(csr.col.size()));

      float vmax = 0.0f;
      for (int c = 0; c < D; ++c) vmax = std::max(vmax, std::fabs(vval(t, c)));
      const float s = vmax / 127.0f;
      vs_[static_cast<std::size_t>(h) * cap_padded_ + tt] = s;
      // Token quads: [t/4][channel][t%4] (see v_index).
      std::int8_t* vh = vq_.data() + head_stride() * h;
      for (int c = 0; c < D; ++c) {
        vh[v_index(tt, c)] = s > 0.0f ? static_cast<std::int8_t>(std::clamp<long>(std::lrint(vval(t, c) / s), -127, 127))
                                      : std::int8_t{0};
      }
    }
  }
}

float KvCacheInt8::k_at(int h, int t, int c) const {
  const int D = head_dim_;
  if (t >= qlen_) {
    const std::uint16_t* kb = residual_.k_head(h);
    const int r = t - qlen_;
    return f16_to_f32(kb[static_cast<std::size_t>(r / kKvSub) * D * kKvSub + c * kKvSub + r % kKvSub]);
  }
  const OutlierCsr& csr = csr_[h];
  for (int i = csr.row_ptr[t]; i < csr.row_ptr[t + 1]; ++i) {
    if (csr.col[i] == c) return csr.val[i];
  }
  const std::uint8_t* sub = k_head(h) + static_cast<std::size_t>(t / kKvSub) * D * kKvSub;
  const int q = static_cast<int>(sub[(c / 4) * (kKvSub * 4) + (t % kKvSub) * 4 + (c % 4)]) - 128;
  return k_mids(h, t / kKvGroup)[c] + static_cast<float>(q) * k_scales(h, t / kKvGroup)[c];
}

float KvCacheInt8::v_at(int h, int t, int c) const {
  const int D = head_dim_;
  if (t >= qlen_) return f16_to_f32(residual_.v_head(h)[static_cast<std::size_t>(t - qlen_) * D + c]);
  return static_cast<float>(v_head(h)[v_index(t, c)]) * v_scales(h)[t];
}

std::size_t KvCacheInt8::stream_bytes() const {
  const std::size_t D = head_dim_, H = n_kv_heads_, q = qlen_;
  std::size_t b = H * q * (2 * D + sizeof(float));              // K, V bytes, V scales
  b += H * (q / kKvGroup) * D * 2 * sizeof(float);               // K scales and midpoints
  for (const auto& c : csr_) b += c.col.size() * (sizeof(std::uint16_t) + sizeof(float));
  b += H * (q + 1) * sizeof(std::int32_t);                       // CSR row pointers
  b += static_cast<std::size_t>(len_ - qlen_) * D * H * 2 * sizeof(std::uint16_t);
  return b;
}

std::size_t KvCacheInt8::outlier_count() const {
  std::size_t n = 0;
  for (const auto& c : csr_) n += c.col.size();
  return n;
}

}  // namespace infeng::attn
