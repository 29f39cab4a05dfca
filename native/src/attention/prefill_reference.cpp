// The naive causal prefill attention: each head's full n×n score matrix is materialised, then
// softmax row by row, then P·V. FP32, as an unfused engine would run it. It is the same-run
// yardstick of the tiled kernel (speed) and its oracle (values); its n² scratch is the cost
// the tiled kernel exists to avoid.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/thread_pool.h"
#include "infeng/attention.h"

namespace infeng::attn {

std::size_t prefill_reference(const Shape& s, const float* q, const float* k, const float* v, int n,
                              float* out, int threads) {
  validate(s);
  if (n < 1) throw std::out_of_range("prefill: sequence length must be at least 1");
  const int G = s.group(), D = s.head_dim, Hq = s.n_q_heads, Hk = s.n_kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const int nt = std::max(1, std::min(threads > 0 ? threads : ThreadPool::hardware_threads(), Hq));
  const std::size_t per_thread = static_cast<std::size_t>(n) * n;
  std::vector<float> scores(per_thread * nt);
  ThreadPool::instance().run(nt, [&](int tid, int nthreads) {
    float* S = scores.data() + per_thread * tid;
    for (int hq = tid; hq < Hq; hq += nthreads) {
      const int hk = hq / G;
      for (int i = 0; i < n; ++i) {
        const float* qi = q + (static_cast<std::size_t>(i) * Hq + hq) * D;
        float* row = S + static_cast<std::size_t>(i) * n;
        for (int j = 0; j <= i; ++j) {
          const float* kj = k + (static_cast<std::size_t>(j) * Hk + hk) * D;
          float d = 0.0f;
          for (int c = 0; c < D; ++c) d += qi[c] * kj[c];
          row[j] = d * scale;
        }
      }
      for (int i = 0; i < n; ++i) {
        float* row = S + static_cast<std::size_t>(i) * n;
        const float mx = *std::max_element(row, row + i + 1);
        float sum = 0.0f;
        for (int j = 0; j <= i; ++j) sum += (row[j] = std::exp(row[j] - mx));
        const float inv = 1.0f / sum;
        for (int j = 0; j <= i; ++j) row[j] *= inv;
      }
      for (int i = 0; i < n; ++i) {
        const float* row = S + static_cast<std::size_t>(i) * n;
        float* o = out + (static_cast<std::size_t>(i) * Hq + hq) * D;
        std::fill(o, o + D, 0.0f);
        for (int j = 0; j <= i; ++j) {
          const float* vj = v + (static_cast<std::size_t>(j) * Hk + hk) * D;
          for (int c = 0; c < D; ++c) o[c] += row[j] * vj[c];
        }
      }
    }
  });
  return scores.size() * sizeof(float);
}

}  // namespace infeng::attn
