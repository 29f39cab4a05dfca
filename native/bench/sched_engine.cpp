// The scheduler lane's real work: kernels, cost probe and real-thread calibration
// (see sched_engine.h).
#include "sched_engine.h"

#include "infeng/attention.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

namespace infeng::sched::lane {

namespace gemm = infeng::gemm;
using Clock = std::chrono::steady_clock;

namespace {

constexpr float kLoraScale = 0.5f;

void fill(float* p, std::size_t n, std::uint64_t seed, float scale) {
  Rng rng(seed);
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<float>((rng.uniform() * 2.0 - 1.0) * scale);
}

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// The mean of `repeats` calls after an untimed one. The mean, not the median: the real-thread
// run pays every time slice the machine takes from it, and a median would hide those.
template <class F>
double mean_time(int repeats, F&& f) {
  f();  // untimed: first touch, packing caches warm
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = Clock::now();
    f();
    t.push_back(seconds(t0, Clock::now()));
  }
  double sum = 0;
  for (double x : t) sum += x;
  return std::max(1e-9, sum / static_cast<double>(t.size()));
}

// Mean read and unpack times of `repeats` loads (after an untimed one), each load after a wait
// of the loading thread. A serving loop's loader sleeps between loads: timed back to back,
// the loads found their buffers and the core warm and read 1.1-1.8x faster than the real
// loop's (docs/MEASUREMENTS.md). load(false) reads an adapter, load(true) unpacks it.
template <class F>
std::pair<double, double> spaced_loads(int repeats, F&& load) {
  constexpr auto kGap = std::chrono::milliseconds(10);
  double read = 0, unpack = 0;
  for (int i = 0; i <= repeats; ++i) {
    std::this_thread::sleep_for(kGap);
    const auto t0 = Clock::now();
    load(false);
    const auto t1 = Clock::now();
    load(true);
    const auto t2 = Clock::now();
    if (i == 0) continue;  // untimed: first touch
    read += seconds(t0, t1);
    unpack += seconds(t1, t2);
  }
  return {std::max(1e-9, read / repeats), std::max(1e-9, unpack / repeats)};
}

// The mean time of each of `work`, timed in interleaved rounds (every item once per round,
// after one untimed round). A serving loop alternates shapes step by step; timing one shape
// back to back would let it find the caches and the clock in a state the loop never gives it.
std::vector<double> interleaved_means(int repeats, const std::vector<std::function<void()>>& work) {
  for (const auto& f : work) f();
  std::vector<double> sum(work.size(), 0.0);
  for (int r = 0; r < repeats; ++r)
    for (std::size_t i = 0; i < work.size(); ++i) {
      const auto t0 = Clock::now();
      work[i]();
      sum[i] += seconds(t0, Clock::now());
    }
  for (double& x : sum) x = std::max(1e-9, x / repeats);
  return sum;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

bool pin_to(unsigned core) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

// The online cores other than the caller's, when the caller is pinned to exactly one core and
// there is another; false otherwise (leave a new thread's inherited affinity alone).
bool beside_caller(cpu_set_t& out) {
  cpu_set_t mine;
  if (pthread_getaffinity_np(pthread_self(), sizeof mine, &mine) != 0 || CPU_COUNT(&mine) != 1) return false;
  CPU_ZERO(&out);
  const unsigned n = std::thread::hardware_concurrency();
  for (unsigned c = 0; c < n && c < CPU_SETSIZE; ++c)
    if (!CPU_ISSET(c, &mine)) CPU_SET(c, &out);
  return CPU_COUNT(&out) > 0;
}

// Pins the calling thread to one core for a scope and gives it its former affinity back on
// every way out, an exception included: the rest of the bench runs unpinned.
class PinnedScope {
 public:
  PinnedScope(bool want, unsigned core) {
    if (!want || core >= std::thread::hardware_concurrency()) return;
    saved_ = pthread_getaffinity_np(pthread_self(), sizeof before_, &before_) == 0;
    pinned_ = saved_ && pin_to(core);
  }
  ~PinnedScope() {
    if (pinned_) pthread_setaffinity_np(pthread_self(), sizeof before_, &before_);
  }
  PinnedScope(const PinnedScope&) = delete;
  PinnedScope& operator=(const PinnedScope&) = delete;
  bool pinned() const { return pinned_; }

 private:
  cpu_set_t before_{};
  bool saved_ = false, pinned_ = false;
};

}  // namespace

// ------------------------------------------------------------------------------------ Kernels

namespace {

// The adapted projections of a layer, in file order: q, k, v, o.
constexpr int kProjections = 4;
int proj_out(const ModelShape& m, int p) { return p == 1 || p == 2 ? m.kv_dim() : m.hidden; }

}  // namespace

std::size_t ModelShape::adapter_floats(int rank) const {
  std::size_t per_layer = 0;
  for (int p = 0; p < kProjections; ++p)
    per_layer += static_cast<std::size_t>(hidden) * rank + static_cast<std::size_t>(rank) * proj_out(*this, p);
  return per_layer * static_cast<std::size_t>(layers);
}

void validate(const ModelShape& s) {
  auto bad = [](const std::string& f, const std::string& why) {
    throw std::invalid_argument("model shape " + f + ": " + why);
  };
  if (s.hidden < 1) bad("hidden", "must be >= 1");
  if (s.layers < 1) bad("layers", "must be >= 1");
  if (s.q_heads < 1 || s.hidden % s.q_heads != 0) bad("q_heads", "must divide hidden");
  if (s.kv_heads < 1 || s.q_heads % s.kv_heads != 0) bad("kv_heads", "must divide q_heads");
  if (s.ffn < 0) bad("ffn", "must be >= 0");
  try {
    attn::validate(attn::Shape{s.q_heads, s.kv_heads, s.head_dim()});
  } catch (const std::invalid_argument& e) {
    bad("head_dim", e.what());
  }
}

struct Kernels::State {
  ModelShape shape;
  KernelLimits lim;
  AdapterStore store = AdapterStore::Storage;
  int rank = 0;
  gemm::Options opt;
  attn::Shape ashape;
  // Per run layer: the base weights.
  struct Layer {
    gemm::PackedWeights w[kProjections];  // q, k, v, o
    gemm::PackedWeights gate_up, down;
  };
  std::vector<Layer> layers;
  // Per KV slot and run layer: a cache filled to max_context.
  std::vector<std::unique_ptr<attn::KvCacheInt8>> kv;
  // Row buffers, sized for the longest of a step and a prompt.
  gemm::AlignedBuffer x, q, k, v, att, y, t, u, gu;
  int rows = 0;

  struct Adapter {
    gemm::AlignedBuffer staging;  // what a read produced
    std::vector<gemm::PackedLora> fused;    // [layer][projection], for the fused kernel
    std::vector<gemm::PackedWeights> a, b;  // [layer][projection], for the segmented form
  };
  std::vector<Adapter> adapters;
  std::FILE* file = nullptr;  // the adapter file: unlinked at creation, closed at the end

  int run_layers() const { return lim.step_layers > 0 ? std::min(lim.step_layers, shape.layers) : shape.layers; }
  std::size_t adapter_floats() const { return shape.adapter_floats(rank); }

  ~State() {
    if (file) std::fclose(file);
  }

  // y = x·W (+ the adapters' low-rank terms) for projection p of layer l over T rows.
  void project(int l, int p, const float* in, int T, float* out, const std::vector<int>& ids) {
    const int H = shape.hidden, N = proj_out(shape, p), D = static_cast<int>(ids.size());
    const auto& W = layers[l].w[p];
    const std::size_t slot = static_cast<std::size_t>(l) * kProjections + p;
    if (D == 1) {
      gemm::matmul_lora_fused(in, T, H, W, adapters[ids[0]].fused[slot], out, N, opt);
      return;
    }
    gemm::matmul(in, T, H, W, out, N, opt);
    // Adapter k applies to rows k, k+D, ... (one row, k mod T, when there are fewer rows than
    // adapters): a strided view, so no gather is needed.
    for (int k = 0; k < D; ++k) {
      const auto& a = adapters[ids[k]];
      const int row = k < T ? k : k % T;
      const int m = k < T ? (T - 1 - k) / D + 1 : 1;
      const int ldx = k < T ? D * H : H;
      const int ldy = k < T ? D * N : N;
      gemm::matmul(in + static_cast<std::size_t>(row) * H, m, ldx, a.a[slot], t.get(), rank, opt);
      gemm::matmul(t.get(), m, rank, a.b[slot], u.get(), N, opt);
      for (int i = 0; i < m; ++i) {
        float* yr = out + static_cast<std::size_t>(row) * N + static_cast<std::size_t>(i) * ldy;
        const float* ur = u.get() + static_cast<std::size_t>(i) * N;
        for (int j = 0; j < N; ++j) yr[j] += kLoraScale * ur[j];
      }
    }
  }

  void mlp(int l, int T) {
    if (shape.ffn == 0) return;
    const int H = shape.hidden, F = shape.ffn;
    gemm::matmul(x.get(), T, H, layers[l].gate_up, gu.get(), 2 * F, opt);
    // SiLU(gate)·up, in place in the gate half: the elementwise work an engine does here.
    for (int i = 0; i < T; ++i) {
      float* g = gu.get() + static_cast<std::size_t>(i) * 2 * F;
      const float* up = g + F;
      for (int j = 0; j < F; ++j) g[j] = g[j] / (1.0f + std::exp(-g[j])) * up[j];
    }
    gemm::matmul(gu.get(), T, 2 * F, layers[l].down, y.get(), H, opt);
  }
};

Kernels::Kernels(ModelShape shape, KernelLimits lim, AdapterStore store) : s_(std::make_unique<State>()) {
  validate(shape);
  if (lim.max_tokens < 1 || lim.max_prompt < 1 || lim.max_context < 1 || lim.kv_slots < 1 || lim.step_layers < 0)
    throw std::invalid_argument("kernels: limits must be >= 1");
  auto& s = *s_;
  s.shape = shape;
  s.lim = lim;
  s.store = store;
  s.opt.threads = 1;
  s.ashape = attn::Shape{shape.q_heads, shape.kv_heads, shape.head_dim()};
  const int H = shape.hidden, KV = shape.kv_dim(), F = shape.ffn;
  std::vector<float> plain;
  auto packed = [&](int K, int N, std::uint64_t seed) {
    plain.resize(static_cast<std::size_t>(K) * N);
    fill(plain.data(), plain.size(), seed, 1.0f / std::sqrt(static_cast<float>(K)));
    return gemm::pack_weights(plain.data(), K, N, N);
  };
  for (int l = 0; l < s.run_layers(); ++l) {
    State::Layer layer;
    for (int p = 0; p < kProjections; ++p) layer.w[p] = packed(H, proj_out(shape, p), 0x5C4ED000u + 16 * l + p);
    if (F > 0) {
      layer.gate_up = packed(H, 2 * F, 0x5C4EE000u + l);
      layer.down = packed(F, H, 0x5C4EF000u + l);
    }
    s.layers.push_back(std::move(layer));
  }
  s.rows = std::max(lim.max_tokens, lim.max_prompt);
  const std::size_t rows = static_cast<std::size_t>(s.rows);
  s.x = gemm::aligned_floats(rows * H);
  fill(s.x.get(), rows * H, 0xA11CEu, 1.0f);
  s.q = gemm::aligned_floats(rows * H);
  s.k = gemm::aligned_floats(rows * KV);
  s.v = gemm::aligned_floats(rows * KV);
  fill(s.q.get(), rows * H, 0xA11CFu, 1.0f);
  fill(s.k.get(), rows * KV, 0xA11D0u, 1.0f);
  fill(s.v.get(), rows * KV, 0xA11D1u, 1.0f);
  s.att = gemm::aligned_floats(rows * H);
  s.y = gemm::aligned_floats(rows * H);
  s.t = gemm::aligned_floats(rows * 1024);  // x·A rows, rank <= 1024 (checked in set_adapters)
  s.u = gemm::aligned_floats(rows * std::max(H, 2 * F));
  s.gu = gemm::aligned_floats(rows * std::max(1, 2 * F));
  // KV caches: keys and values of max_context positions, quantised as the engine keeps them.
  std::vector<float> kvk(static_cast<std::size_t>(lim.max_context) * KV), kvv(kvk.size());
  for (int slot = 0; slot < lim.kv_slots; ++slot)
    for (int l = 0; l < s.run_layers(); ++l) {
      fill(kvk.data(), kvk.size(), 0xCAC4E000u + 64 * slot + l, 1.0f);
      fill(kvv.data(), kvv.size(), 0xCAC4F000u + 64 * slot + l, 1.0f);
      auto c = std::make_unique<attn::KvCacheInt8>(shape.kv_heads, shape.head_dim(), lim.max_context);
      c->append_many(kvk.data(), kvv.data(), lim.max_context);
      s.kv.push_back(std::move(c));
    }
}

Kernels::~Kernels() = default;

const ModelShape& Kernels::shape() const { return s_->shape; }
const KernelLimits& Kernels::limits() const { return s_->lim; }
double Kernels::layer_scale() const { return static_cast<double>(s_->shape.layers) / s_->run_layers(); }
AdapterStore Kernels::store() const { return s_->store; }
int Kernels::adapters() const { return static_cast<int>(s_->adapters.size()); }
std::size_t Kernels::adapter_bytes() const { return s_->adapter_floats() * sizeof(float); }

void Kernels::set_adapters(int n, int rank) {
  auto& s = *s_;
  if (n < 0) throw std::invalid_argument("kernels: adapter count must be >= 0");
  if (rank < 1 || rank > 1024 || rank > s.shape.hidden)
    throw std::invalid_argument("kernels: rank " + std::to_string(rank) + " out of range");
  s.adapters.clear();
  if (s.file) std::fclose(s.file);
  s.file = std::tmpfile();
  if (!s.file) throw std::runtime_error(std::string("kernels: no adapter file: ") + std::strerror(errno));
  s.rank = rank;
  const std::size_t floats = s.adapter_floats();
  std::vector<float> raw(floats);
  s.adapters.resize(n);
  const int fd = fileno(s.file);
  for (int i = 0; i < n; ++i) {
    fill(raw.data(), floats, 0xADA7000u + static_cast<std::uint64_t>(i) * 131 + rank,
         1.0f / std::sqrt(static_cast<float>(s.shape.hidden)));
    const auto bytes = static_cast<std::size_t>(floats * sizeof(float));
    const auto* p = reinterpret_cast<const char*>(raw.data());
    for (std::size_t done = 0; done < bytes;) {
      const ssize_t w = pwrite(fd, p + done, bytes - done, static_cast<off_t>(bytes * i + done));
      if (w <= 0) throw std::runtime_error(std::string("kernels: writing the adapter file: ") + std::strerror(errno));
      done += static_cast<std::size_t>(w);
    }
    s.adapters[i].staging = gemm::aligned_floats(floats);
  }
  // Written pages are dirty, and a dirty page is not dropped: flush them so that a Storage
  // read really reads the device.
  if (fdatasync(fd) != 0) throw std::runtime_error(std::string("kernels: fdatasync: ") + std::strerror(errno));
}

void Kernels::load_read(int adapter) { read_adapter(adapter, s_->store == AdapterStore::Storage); }
void Kernels::load_read_cached(int adapter) { read_adapter(adapter, false); }

void Kernels::read_adapter(int adapter, bool drop) {
  auto& s = *s_;
  auto& a = s.adapters.at(adapter);
  const std::size_t bytes = s.adapter_floats() * sizeof(float);
  const off_t off = static_cast<off_t>(bytes * static_cast<std::size_t>(adapter));
  const int fd = fileno(s.file);
  if (drop) posix_fadvise(fd, off, static_cast<off_t>(bytes), POSIX_FADV_DONTNEED);
  auto* p = reinterpret_cast<char*>(a.staging.get());
  for (std::size_t done = 0; done < bytes;) {
    const ssize_t r = pread(fd, p + done, bytes - done, off + static_cast<off_t>(done));
    if (r <= 0) throw std::runtime_error(std::string("kernels: reading the adapter file: ") + std::strerror(errno));
    done += static_cast<std::size_t>(r);
  }
}

void Kernels::load_unpack(int adapter) {
  auto& s = *s_;
  auto& a = s.adapters.at(adapter);
  const int H = s.shape.hidden, r = s.rank;
  a.fused.clear();
  a.a.clear();
  a.b.clear();
  const float* src = a.staging.get();
  for (int l = 0; l < s.shape.layers; ++l)
    for (int p = 0; p < kProjections; ++p) {
      const int N = proj_out(s.shape, p);
      const float* A = src;
      const float* B = A + static_cast<std::size_t>(H) * r;
      src = B + static_cast<std::size_t>(r) * N;
      a.fused.push_back(gemm::pack_lora(A, r, B, N, H, N, r, kLoraScale, active_path()));
      a.a.push_back(gemm::pack_weights(A, H, r, r));
      a.b.push_back(gemm::pack_weights(B, r, N, N));
    }
}

void Kernels::attend(int slot, int context) {
  auto& s = *s_;
  const int ctx = std::clamp(context, 0, s.lim.max_context);
  if (ctx == 0) return;
  slot %= s.lim.kv_slots;
  attn::DecodeOptions dopt;
  dopt.threads = 1;
  for (int l = 0; l < s.run_layers(); ++l)
    attn::decode_int8(s.ashape, s.q.get(), *s.kv[static_cast<std::size_t>(slot) * s.run_layers() + l], ctx,
                      s.att.get(), dopt);
}

void Kernels::decode_step(const std::vector<int>& contexts, const std::vector<int>& ids) {
  auto& s = *s_;
  const int T = std::clamp(static_cast<int>(contexts.size()), 1, s.lim.max_tokens);
  const int H = s.shape.hidden;
  for (int id : ids)
    if (s.adapters.at(id).fused.empty())
      throw std::logic_error("kernels: adapter " + std::to_string(id) + " used before it was unpacked");
  attn::DecodeOptions dopt;
  dopt.threads = 1;
  for (int l = 0; l < s.run_layers(); ++l) {
    s.project(l, 0, s.x.get(), T, s.q.get(), ids);
    s.project(l, 1, s.x.get(), T, s.k.get(), ids);
    s.project(l, 2, s.x.get(), T, s.v.get(), ids);
    for (int t = 0; t < T && t < static_cast<int>(contexts.size()); ++t) {
      const int ctx = std::clamp(contexts[t], 0, s.lim.max_context);
      if (ctx == 0) continue;
      const auto& cache = *s.kv[static_cast<std::size_t>(t % s.lim.kv_slots) * s.run_layers() + l];
      attn::decode_int8(s.ashape, s.q.get() + static_cast<std::size_t>(t) * H, cache, ctx,
                        s.att.get() + static_cast<std::size_t>(t) * H, dopt);
    }
    s.project(l, 3, s.att.get(), T, s.y.get(), ids);
    s.mlp(l, T);
  }
}

void Kernels::prefill(int prompt_tokens) {
  auto& s = *s_;
  const int M = std::clamp(prompt_tokens, 1, s.rows);
  const int H = s.shape.hidden, KV = s.shape.kv_dim();
  attn::PrefillOptions popt;
  popt.threads = 1;
  for (int l = 0; l < s.run_layers(); ++l) {
    const auto& L = s.layers[l];
    gemm::matmul(s.x.get(), M, H, L.w[0], s.q.get(), H, s.opt);
    gemm::matmul(s.x.get(), M, H, L.w[1], s.k.get(), KV, s.opt);
    gemm::matmul(s.x.get(), M, H, L.w[2], s.v.get(), KV, s.opt);
    attn::prefill_tiled(s.ashape, s.q.get(), s.k.get(), s.v.get(), M, s.att.get(), popt);
    gemm::matmul(s.att.get(), M, H, L.w[3], s.y.get(), H, s.opt);
    s.mlp(l, M);
  }
}

// --------------------------------------------------------------------------------- the probe

CostTable probe_costs(Kernels& k, const ProbeGrid& g) {
  CostTable t;
  t.hidden = k.shape().hidden;
  t.layers = k.shape().layers;
  t.tokens = g.tokens;
  t.adapters = g.adapters;
  t.ranks = g.ranks;
  t.prompts = g.prompts;
  t.contexts = g.contexts;
  const double scale = k.layer_scale();
  const int max_d = *std::max_element(g.adapters.begin(), g.adapters.end());
  t.step_s.assign(g.ranks.size() * g.adapters.size() * g.tokens.size(), 0.0);
  std::vector<int> all(max_d + 1);
  for (int i = 0; i <= max_d; ++i) all[i] = i;

  for (std::size_t ri = 0; ri < g.ranks.size(); ++ri) {
    // max_d adapters in the step plus one more to unpack beside it.
    const int n = max_d + 1;
    k.set_adapters(n, g.ranks[ri]);
    // Loads rotate over the adapters, as a serving loop's do: the configured read (the device
    // for Storage), the unpack, and the same read from the page cache (reported beside it).
    int next = 0;
    const auto [read, unpack] = spaced_loads(g.repeats, [&](bool unpack_it) {
      if (unpack_it) {
        k.load_unpack(next++ % n);
      } else {
        k.load_read(next % n);
      }
    });
    t.read_s.push_back(read);
    t.unpack_s.push_back(unpack);
    for (int a = 0; a < n; ++a) {
      k.load_read(a);
      k.load_unpack(a);
    }
    t.read_warm_s.push_back(mean_time(g.repeats, [&] { k.load_read_cached(next++ % n); }));
    std::vector<std::function<void()>> work;
    std::vector<std::size_t> where;
    for (std::size_t ai = 0; ai < g.adapters.size(); ++ai) {
      for (std::size_t ti = 0; ti < g.tokens.size(); ++ti) {
        // The base model's step does not depend on the rank: measured once, reused.
        if (g.adapters[ai] == 0 && ri > 0) {
          t.step(static_cast<int>(ri), static_cast<int>(ai), static_cast<int>(ti)) = t.step(0, static_cast<int>(ai), static_cast<int>(ti));
          continue;
        }
        // Contexts 0: the step without attention, which the contexts' table adds.
        const std::vector<int> ctx(static_cast<std::size_t>(g.tokens[ti]), 0);
        const std::vector<int> ids(all.begin(), all.begin() + g.adapters[ai]);
        work.emplace_back([&k, ctx, ids] { k.decode_step(ctx, ids); });
        where.push_back((ri * g.adapters.size() + ai) * g.tokens.size() + ti);
      }
    }
    // With the last rank's steps, in the same rounds: attention of one request (every KV slot
    // in turn, so the caches stream from memory as a batch's distinct requests do) and the
    // prefills. A serving loop runs steps between prefills, not only between other steps: probed
    // apart, steps read 1.14x faster than the loop ran them (docs/MEASUREMENTS.md).
    const std::size_t n_steps = work.size();
    const int slots = k.limits().kv_slots;
    const bool last = ri + 1 == g.ranks.size();
    if (last) {
      for (int c : g.contexts)
        work.emplace_back([&k, c, slots] {
          for (int sl = 0; sl < slots; ++sl) k.attend(sl, c);
        });
      for (int p : g.prompts) work.emplace_back([&k, p] { k.prefill(p); });
    }
    const auto means = interleaved_means(g.repeats, work);
    for (std::size_t i = 0; i < n_steps; ++i) t.step_s[where[i]] = scale * means[i];
    if (last) {
      for (std::size_t i = 0; i < g.contexts.size(); ++i) t.attn_s.push_back(scale * means[n_steps + i] / slots);
      for (std::size_t i = 0; i < g.prompts.size(); ++i)
        t.prefill_s.push_back(scale * means[n_steps + g.contexts.size() + i]);
    }
  }

  // Decode beside an unpack: a mid-sized step of the first rank, alone and with another
  // thread unpacking (adapter 1, not in the step) for as long as the step is timed.
  k.set_adapters(2, g.ranks.front());
  k.load_read(0);
  k.load_unpack(0);
  k.load_read(1);
  const int T = g.tokens[g.tokens.size() / 2];
  const std::vector<int> ctx(static_cast<std::size_t>(T), g.contexts[g.contexts.size() / 2]);
  const double alone = mean_time(g.repeats, [&] { k.decode_step(ctx, {0}); });
  std::atomic<bool> stop{false};
  // A thread inherits its creator's affinity: when the caller is pinned to one core, the
  // unpacker goes to the others, as the real loop's loader does, instead of time-slicing with
  // the step it is meant to run beside.
  cpu_set_t elsewhere;
  const bool move = beside_caller(elsewhere);
  std::thread unpacker([&] {
    if (move) pthread_setaffinity_np(pthread_self(), sizeof elsewhere, &elsewhere);
    while (!stop.load(std::memory_order_relaxed)) k.load_unpack(1);
  });
  const double beside = mean_time(g.repeats, [&] { k.decode_step(ctx, {0}); });
  stop = true;
  unpacker.join();
  t.unpack_slowdown = std::max(1.0, beside / alone);

  // A load beside decode: adapter 1 read and unpacked, alone and with another thread running
  // the same step for as long as the loads are timed (the real loop's loader runs beside its
  // decode thread; alone, its loads took 1.2-1.9x the probe's figure).
  auto load1 = [&] {
    k.load_read(1);
    k.load_unpack(1);
  };
  const double load_alone = mean_time(g.repeats, load1);
  stop = false;
  std::thread decoder([&] {
    if (move) pthread_setaffinity_np(pthread_self(), sizeof elsewhere, &elsewhere);
    while (!stop.load(std::memory_order_relaxed)) k.decode_step(ctx, {0});
  });
  const double load_beside = mean_time(g.repeats, load1);
  stop = true;
  decoder.join();
  t.load_slowdown = std::max(1.0, load_beside / load_alone);
  validate(t);
  return t;
}

// --------------------------------------------------------------------------- the calibration

CostTable mean_table(const CostTable& a, const CostTable& b) {
  validate(a);
  validate(b);
  if (a.tokens != b.tokens || a.adapters != b.adapters || a.ranks != b.ranks || a.prompts != b.prompts ||
      a.contexts != b.contexts || a.read_warm_s.size() != b.read_warm_s.size())
    throw std::invalid_argument("mean_table: the tables were probed on different grids");
  CostTable m = a;
  auto mean = [](std::vector<double>& x, const std::vector<double>& y) {
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.5 * (x[i] + y[i]);
  };
  mean(m.step_s, b.step_s);
  mean(m.prefill_s, b.prefill_s);
  mean(m.attn_s, b.attn_s);
  mean(m.read_s, b.read_s);
  mean(m.read_warm_s, b.read_warm_s);
  mean(m.unpack_s, b.unpack_s);
  m.unpack_slowdown = 0.5 * (a.unpack_slowdown + b.unpack_slowdown);
  m.load_slowdown = 0.5 * (a.load_slowdown + b.load_slowdown);
  return m;
}

double sim_error_pct(double real_p50, double real_p95, double real_tps, double sim_p50, double sim_p95,
                     double sim_tps) {
  double worst = 0;
  const double pairs[3][2] = {{real_p50, sim_p50}, {real_p95, sim_p95}, {real_tps, sim_tps}};
  for (const auto& p : pairs) {
    if (!(p[0] > 0) || !std::isfinite(p[1])) return std::numeric_limits<double>::quiet_NaN();
    worst = std::max(worst, std::abs(p[1] - p[0]) / p[0] * 100.0);
  }
  return worst;
}

namespace {

// The engine's loop on real threads: this thread decodes, one adapter thread loads.
struct RealRun {
  std::vector<double> latency_ms;
  // What the loop measured of each part, to hold against the cost model's figure for the
  // same shape: decode steps (shape, seconds), prefills (prompt, seconds), loads (seconds).
  std::vector<std::pair<StepShape, double>> steps;
  std::vector<std::pair<int, double>> prefills;
  // Per step and prefill: the first work after the decode thread waited (on an arrival or a
  // load), in the order steps, then prefills.
  std::vector<char> step_cold, prefill_cold;
  std::vector<double> loads;
  double idle_s = 0;  // the decode thread waiting: for an arrival or a load
  double tokens_per_s = 0;
  double wall_s = 0;
  bool pinned = false;
};

RealRun run_real(Kernels& k, const Trace& trace, const SchedulerConfig& cfg, const std::vector<double>& reload,
                 bool pin) {
  RealRun out;
  out.pinned = pin;  // the caller pinned this thread to core 0 (run_calibration)
  std::mutex mu;
  std::condition_variable cv;
  std::deque<int> todo, done;
  bool quit = false;
  std::thread loader([&] {
    if (out.pinned) pin_to(1);
    for (;;) {
      int a;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return quit || !todo.empty(); });
        if (quit) return;
        a = todo.front();
        todo.pop_front();
      }
      const auto l0 = Clock::now();
      k.load_read(a);
      k.load_unpack(a);
      const double took = seconds(l0, Clock::now());
      {
        std::lock_guard lock(mu);
        done.push_back(a);
        out.loads.push_back(took);
      }
      cv.notify_all();
    }
  });

  // Stops and joins the loader on every way out, an exception included.
  struct StopLoader {
    std::mutex& mu;
    std::condition_variable& cv;
    bool& quit;
    std::thread& t;
    ~StopLoader() {
      {
        std::lock_guard lock(mu);
        quit = true;
      }
      cv.notify_all();
      if (t.joinable()) t.join();
    }
  } stop_loader{mu, cv, quit, loader};

  Scheduler sched(cfg, reload);
  const auto& reqs = trace.requests;
  std::vector<Clock::time_point> finish(reqs.size());
  std::vector<int> generated(reqs.size(), 0), contexts;
  std::size_t next = 0;
  int finished = 0;
  std::int64_t tokens = 0;
  bool planned = false;
  bool cold = true;  // nothing has run since the thread last waited
  StepPlan plan;
  const auto t0 = Clock::now();
  auto arrival = [&](std::size_t i) { return t0 + std::chrono::nanoseconds(reqs[i].arrival_ns); };

  auto progress = Clock::now();
  while (finished < static_cast<int>(reqs.size())) {
    const auto now = Clock::now();
    // A scheduler that stops making progress would hang the lane: fail it instead.
    if (now - progress > std::chrono::seconds(30) && next == reqs.size())
      throw std::runtime_error("calibration: no step ran for 30 s with " +
                               std::to_string(reqs.size() - finished) + " requests left");
    while (next < reqs.size() && arrival(next) <= now) sched.submit(reqs[next++]);
    {
      std::lock_guard lock(mu);
      while (!done.empty()) {
        sched.on_load_done(done.front());
        done.pop_front();
      }
    }
    if (!planned) {
      plan = sched.plan_step();
      if (!plan.loads.empty()) {
        {
          std::lock_guard lock(mu);
          for (int a : plan.loads) todo.push_back(a);
        }
        cv.notify_all();
      }
      planned = !plan.empty();
    }
    if (!planned || !sched.batch_ready()) {
      // Nothing to run yet: sleep until the next arrival or a finished load.
      std::unique_lock lock(mu);
      const auto until = next < reqs.size() ? arrival(next) : Clock::now() + std::chrono::milliseconds(50);
      const auto w0 = Clock::now();
      cv.wait_until(lock, until, [&] { return !done.empty(); });
      out.idle_s += seconds(w0, Clock::now());
      cold = true;
      continue;
    }
    for (int id : plan.admitted) {
      const auto p0 = Clock::now();
      k.prefill(reqs[id].prompt_tokens);
      out.prefills.emplace_back(reqs[id].prompt_tokens, seconds(p0, Clock::now()));
      out.prefill_cold.push_back(cold);
      cold = false;
    }
    contexts.clear();
    StepShape shape;
    shape.tokens = static_cast<int>(plan.batch.size());
    shape.adapters = static_cast<int>(plan.adapters.size());
    shape.rank = plan.adapters.empty() ? 0 : trace.adapter_rank[plan.adapters.front()];
    for (int id : plan.batch) {
      contexts.push_back(reqs[id].prompt_tokens + generated[id]);
      shape.context_tokens += contexts.back();
    }
    const auto s0 = Clock::now();
    k.decode_step(contexts, plan.adapters);
    out.steps.emplace_back(shape, seconds(s0, Clock::now()));
    out.step_cold.push_back(cold);
    cold = false;
    for (int id : plan.batch) ++generated[id];
    const auto end = Clock::now();
    for (int id : sched.finish_step()) {
      finish[id] = end;
      tokens += reqs[id].output_tokens;
      ++finished;
    }
    planned = false;
    progress = end;
  }
  {
    std::lock_guard lock(mu);
    quit = true;
  }
  cv.notify_all();
  loader.join();
  Clock::time_point last = t0;
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    out.latency_ms.push_back(seconds(arrival(i), finish[i]) * 1e3);
    last = std::max(last, finish[i]);
  }
  const double span = seconds(arrival(0), last);
  out.tokens_per_s = static_cast<double>(tokens) / span;
  out.wall_s = seconds(t0, last);
  return out;
}

}  // namespace

CalibrationResult run_calibration(const CalibrationOptions& o) {
  TraceOptions topt;
  topt.seed = o.seed;
  topt.num_adapters = o.adapters;
  topt.zipf_alpha = o.zipf_alpha;
  topt.adapter_ranks = {o.rank};
  topt.num_requests = o.requests;
  topt.prompt = LengthSpec{LengthKind::Lognormal, 0, 8, 128, 32, 0.5};
  topt.output = LengthSpec{LengthKind::Uniform, 0, 4, 16, 0, 0};

  SchedulerConfig cfg;
  cfg.policy = o.policy;
  cfg.cache_capacity = 2;
  cfg.max_batch_size = 4;
  cfg.max_adapters_per_batch = 2;
  cfg.max_wait_steps = 16;
  cfg.prefetch_lookahead = 4;

  KernelLimits lim;
  lim.max_tokens = cfg.max_batch_size;
  lim.max_prompt = 128;
  lim.max_context = 160;  // prompt (<= 128) + output (<= 16)
  lim.kv_slots = cfg.max_batch_size;
  Kernels k(o.shape, lim, o.store);
  ProbeGrid g;
  g.tokens = {1, 2, 4};
  g.adapters = {0, 1, 2};
  g.ranks = {o.rank};
  g.prompts = {16, 64, 128};
  g.contexts = {16, 64, 160};
  g.repeats = 12;
  // The probes run on the core the real loop decodes on: on a VM the cores differ (interrupts,
  // the host's other guests), and a probe unpinned beside a loop pinned to core 0 read its
  // steps 13-38 % faster than the loop ran them (docs/MEASUREMENTS.md).
  // With one core there is nothing to pin apart: the loader would share it.
  const PinnedScope pinned(o.pin_cores && std::thread::hardware_concurrency() >= 2, 0);
  // The probe runs before and after the real run and the simulation uses their mean: this
  // machine's speed drifts by tens of percent over seconds (a shared VM), and a probe on one
  // side only would carry that drift into sim_error_pct. The drift is reported.
  const CostTable before = probe_costs(k, g);
  const CostModel cost_before = cost_model_from(before, 0.0);

  // The rate: a share of what one request at a time would sustain (prefill of the median
  // prompt, then the mean output one token per step).
  const double one = cost_before.prefill_s(32, 1) + 10.0 * cost_before.decode_step_s(StepShape{1, 1, o.rank, 1, 40});
  topt.load_rps = o.load_share / one;
  const Trace trace = generate_trace(topt);

  std::vector<double> reload(o.adapters, cost_before.load_s(o.rank));
  k.set_adapters(o.adapters, o.rank);
  const RealRun real = run_real(k, trace, cfg, reload, pinned.pinned());
  const CostTable after = probe_costs(k, g);
  const CostModel cost = cost_model_from(mean_table(before, after), 0.0);

  SimConfig sc;
  sc.decode_threads = 1;
  sc.adapter_threads = 1;
  sc.lora_tax = false;
  const SimResult sim = simulate(trace, cfg, cost, sc);

  CalibrationResult r;
  r.requests = static_cast<int>(trace.requests.size());
  r.load_rps = topt.load_rps;
  r.wall_s = real.wall_s;
  r.pinned = real.pinned;
  r.real_p50_ms = percentile(real.latency_ms, 0.50);
  r.real_p95_ms = percentile(real.latency_ms, 0.95);
  r.real_tokens_per_s = real.tokens_per_s;
  r.sim_p50_ms = sim.p50_ms;
  r.sim_p95_ms = sim.p95_ms;
  r.sim_tokens_per_s = sim.tokens_per_s;
  r.sim_error_pct = sim_error_pct(r.real_p50_ms, r.real_p95_ms, r.real_tokens_per_s, r.sim_p50_ms,
                                  r.sim_p95_ms, r.sim_tokens_per_s);
  // Where the simulation's time differs: the real loop's parts against the model's figure for
  // the same shapes (sums, so long parts weigh more).
  double real_step = 0, model_step = 0, real_pre = 0, model_pre = 0, real_load = 0;
  // The first work after a wait, apart: cold items (caches and clocks after idle).
  double real_cold = 0, model_cold = 0, real_warm = 0, model_warm = 0;
  for (std::size_t i = 0; i < real.steps.size(); ++i) {
    const auto& [shape, t] = real.steps[i];
    const double m = cost.decode_step_s(shape);
    real_step += t;
    model_step += m;
    (real.step_cold[i] ? real_cold : real_warm) += t;
    (real.step_cold[i] ? model_cold : model_warm) += m;
  }
  for (std::size_t i = 0; i < real.prefills.size(); ++i) {
    const auto& [prompt, t] = real.prefills[i];
    const double m = cost.prefill_s(prompt, 1);
    real_pre += t;
    model_pre += m;
    (real.prefill_cold[i] ? real_cold : real_warm) += t;
    (real.prefill_cold[i] ? model_cold : model_warm) += m;
  }
  r.cold_real_vs_model = model_cold > 0 ? real_cold / model_cold : 0;
  r.warm_real_vs_model = model_warm > 0 ? real_warm / model_warm : 0;
  for (double t : real.loads) real_load += t;
  r.step_real_vs_model = model_step > 0 ? real_step / model_step : 0;
  r.prefill_real_vs_model = model_pre > 0 ? real_pre / model_pre : 0;
  r.load_real_vs_model = real.loads.empty() ? 0 : real_load / real.loads.size() / cost.load_s(o.rank);
  const double step_before = cost_before.decode_step_s(StepShape{4, 1, o.rank, 1, 4 * 64});
  r.probe_drift = cost_model_from(after, 0.0).decode_step_s(StepShape{4, 1, o.rank, 1, 4 * 64}) / step_before;
  r.load_slowdown = cost.load_slowdown;
  r.real_steps = static_cast<int>(real.steps.size());
  r.sim_steps = static_cast<int>(sim.steps);
  r.real_loads = static_cast<int>(real.loads.size());
  r.sim_loads = static_cast<int>(sim.loads);
  return r;
}

}  // namespace infeng::sched::lane
