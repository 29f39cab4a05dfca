// The scheduler lane's real work: kernels, cost probe and real-thread calibration
// (see sched_engine.h).
#include "sched_engine.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
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

}  // namespace

// ------------------------------------------------------------------------------------ Kernels

struct Kernels::State {
  ModelShape shape;
  int max_tokens = 0, max_prompt = 0, rank = 0;
  gemm::Options opt;
  std::vector<gemm::PackedWeights> w;  // per layer
  gemm::AlignedBuffer x, y, t, u, xp, yp;

  struct Adapter {
    gemm::AlignedBuffer raw;      // every layer's A (H×r) then B (r×H): the stored adapter
    gemm::AlignedBuffer staging;  // what a read produced
    std::vector<gemm::PackedLora> fused;       // per layer, for the fused kernel
    std::vector<gemm::PackedWeights> a, b;     // per layer, for the segmented form
  };
  std::vector<Adapter> adapters;

  std::size_t adapter_floats() const {
    return static_cast<std::size_t>(shape.layers) * 2 * shape.hidden * rank;
  }
};

Kernels::Kernels(ModelShape shape, int max_tokens, int max_prompt) : s_(std::make_unique<State>()) {
  if (shape.hidden < 1 || shape.layers < 1) throw std::invalid_argument("kernels: empty model shape");
  s_->shape = shape;
  s_->max_tokens = std::max(1, max_tokens);
  s_->max_prompt = std::max(1, max_prompt);
  s_->opt.threads = 1;
  const int H = shape.hidden;
  const std::size_t hh = static_cast<std::size_t>(H) * H;
  auto plain = gemm::aligned_floats(hh);
  for (int l = 0; l < shape.layers; ++l) {
    fill(plain.get(), hh, 0x5C4ED000u + l, 1.0f / std::sqrt(static_cast<float>(H)));
    s_->w.push_back(gemm::pack_weights(plain.get(), H, H, H));
  }
  const std::size_t rows = static_cast<std::size_t>(std::max(s_->max_tokens, s_->max_prompt));
  s_->x = gemm::aligned_floats(rows * H);
  fill(s_->x.get(), rows * H, 0xA11CEu, 1.0f);
  s_->y = gemm::aligned_floats(rows * H);
  s_->u = gemm::aligned_floats(rows * H);
  s_->t = gemm::aligned_floats(rows * 1024);  // x·A rows, rank <= 1024 (checked in set_adapters)
}

Kernels::~Kernels() = default;

const ModelShape& Kernels::shape() const { return s_->shape; }
int Kernels::adapters() const { return static_cast<int>(s_->adapters.size()); }

void Kernels::set_adapters(int n, int rank) {
  if (n < 0) throw std::invalid_argument("kernels: adapter count must be >= 0");
  if (rank < 1 || rank > 1024 || rank > s_->shape.hidden)
    throw std::invalid_argument("kernels: rank " + std::to_string(rank) + " out of range");
  s_->adapters.clear();
  s_->rank = rank;
  const std::size_t floats = s_->adapter_floats();
  s_->adapters.resize(n);
  for (int i = 0; i < n; ++i) {
    auto& a = s_->adapters[i];
    a.raw = gemm::aligned_floats(floats);
    fill(a.raw.get(), floats, 0xADA7000u + static_cast<std::uint64_t>(i) * 131 + rank,
         1.0f / std::sqrt(static_cast<float>(s_->shape.hidden)));
    a.staging = gemm::aligned_floats(floats);
  }
}

void Kernels::load_read(int adapter) {
  auto& a = s_->adapters.at(adapter);
  std::memcpy(a.staging.get(), a.raw.get(), s_->adapter_floats() * sizeof(float));
}

void Kernels::load_unpack(int adapter) {
  auto& a = s_->adapters.at(adapter);
  const int H = s_->shape.hidden, r = s_->rank;
  a.fused.clear();
  a.a.clear();
  a.b.clear();
  for (int l = 0; l < s_->shape.layers; ++l) {
    const float* A = a.staging.get() + static_cast<std::size_t>(l) * 2 * H * r;
    const float* B = A + static_cast<std::size_t>(H) * r;
    a.fused.push_back(gemm::pack_lora(A, r, B, H, H, H, r, kLoraScale, active_path()));
    a.a.push_back(gemm::pack_weights(A, H, r, r));
    a.b.push_back(gemm::pack_weights(B, r, H, H));
  }
}

void Kernels::decode_step(int tokens, const std::vector<int>& ids) {
  auto& s = *s_;
  const int H = s.shape.hidden, T = std::clamp(tokens, 1, s.max_tokens), D = static_cast<int>(ids.size());
  for (int id : ids)
    if (s.adapters.at(id).fused.empty())
      throw std::logic_error("kernels: adapter " + std::to_string(id) + " used before it was unpacked");
  for (int l = 0; l < s.shape.layers; ++l) {
    if (D == 1) {
      gemm::matmul_lora_fused(s.x.get(), T, H, s.w[l], s.adapters[ids[0]].fused[l], s.y.get(), H, s.opt);
      continue;
    }
    gemm::matmul(s.x.get(), T, H, s.w[l], s.y.get(), H, s.opt);
    // Adapter k applies to rows k, k+D, ... (one row, k mod T, when there are fewer rows than
    // adapters): a strided view, so no gather is needed.
    for (int k = 0; k < D; ++k) {
      const auto& a = s.adapters[ids[k]];
      const int row = k < T ? k : k % T;
      const int m = k < T ? (T - 1 - k) / D + 1 : 1;
      const int ld = k < T ? D * H : H;
      gemm::matmul(s.x.get() + static_cast<std::size_t>(row) * H, m, ld, a.a[l], s.t.get(), s.rank, s.opt);
      gemm::matmul(s.t.get(), m, s.rank, a.b[l], s.u.get(), H, s.opt);
      for (int i = 0; i < m; ++i) {
        float* yr = s.y.get() + static_cast<std::size_t>(row) * H + static_cast<std::size_t>(i) * ld;
        const float* ur = s.u.get() + static_cast<std::size_t>(i) * H;
        for (int j = 0; j < H; ++j) yr[j] += kLoraScale * ur[j];
      }
    }
  }
}

void Kernels::prefill(int prompt_tokens) {
  auto& s = *s_;
  const int M = std::clamp(prompt_tokens, 1, std::max(s.max_prompt, s.max_tokens));
  for (int l = 0; l < s.shape.layers; ++l)
    gemm::matmul(s.x.get(), M, s.shape.hidden, s.w[l], s.y.get(), s.shape.hidden, s.opt);
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
  const int max_d = *std::max_element(g.adapters.begin(), g.adapters.end());
  t.step_s.assign(g.ranks.size() * g.adapters.size() * g.tokens.size(), 0.0);
  std::vector<int> all(max_d + 1);
  for (int i = 0; i <= max_d; ++i) all[i] = i;

  for (std::size_t ri = 0; ri < g.ranks.size(); ++ri) {
    // max_d adapters in the step plus one more to unpack beside it.
    k.set_adapters(max_d + 1, g.ranks[ri]);
    t.read_s.push_back(mean_time(g.repeats, [&] { k.load_read(0); }));
    t.unpack_s.push_back(mean_time(g.repeats, [&] { k.load_unpack(0); }));
    for (int a = 1; a <= max_d; ++a) {
      k.load_read(a);
      k.load_unpack(a);
    }
    for (std::size_t ai = 0; ai < g.adapters.size(); ++ai) {
      const std::vector<int> ids(all.begin(), all.begin() + g.adapters[ai]);
      for (std::size_t ti = 0; ti < g.tokens.size(); ++ti) {
        // The base model's step does not depend on the rank: measured once, reused.
        if (g.adapters[ai] == 0 && ri > 0) {
          t.step(static_cast<int>(ri), static_cast<int>(ai), static_cast<int>(ti)) = t.step(0, static_cast<int>(ai), static_cast<int>(ti));
          continue;
        }
        t.step(static_cast<int>(ri), static_cast<int>(ai), static_cast<int>(ti)) =
            mean_time(g.repeats, [&] { k.decode_step(g.tokens[ti], ids); });
      }
    }
  }
  for (int p : g.prompts) t.prefill_s.push_back(mean_time(g.repeats, [&] { k.prefill(p); }));

  // Decode beside an unpack: a mid-sized step of the first rank, alone and with another
  // thread unpacking (adapter max_d, not in the step) for as long as the step is timed.
  k.set_adapters(2, g.ranks.front());
  k.load_read(0);
  k.load_unpack(0);
  k.load_read(1);
  const int T = g.tokens[g.tokens.size() / 2];
  const double alone = mean_time(g.repeats, [&] { k.decode_step(T, {0}); });
  std::atomic<bool> stop{false};
  std::thread unpacker([&] {
    while (!stop.load(std::memory_order_relaxed)) k.load_unpack(1);
  });
  const double beside = mean_time(g.repeats, [&] { k.decode_step(T, {0}); });
  stop = true;
  unpacker.join();
  t.unpack_slowdown = std::max(1.0, beside / alone);
  validate(t);
  return t;
}

// --------------------------------------------------------------------------- the calibration

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
  double tokens_per_s = 0;
  double wall_s = 0;
  bool pinned = false;
};

RealRun run_real(Kernels& k, const Trace& trace, const SchedulerConfig& cfg, const std::vector<double>& reload,
                 bool pin) {
  RealRun out;
  // The caller's affinity comes back at the end: the rest of the bench runs unpinned.
  cpu_set_t before;
  const bool saved = pthread_getaffinity_np(pthread_self(), sizeof before, &before) == 0;
  if (pin && saved && std::thread::hardware_concurrency() >= 2) out.pinned = pin_to(0);
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
      k.load_read(a);
      k.load_unpack(a);
      {
        std::lock_guard lock(mu);
        done.push_back(a);
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
  std::size_t next = 0;
  int finished = 0;
  std::int64_t tokens = 0;
  bool planned = false;
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
      cv.wait_until(lock, until, [&] { return !done.empty(); });
      continue;
    }
    for (int id : plan.admitted) k.prefill(reqs[id].prompt_tokens);
    k.decode_step(static_cast<int>(plan.batch.size()), plan.adapters);
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
  if (out.pinned) pthread_setaffinity_np(pthread_self(), sizeof before, &before);
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

  Kernels k(o.shape, cfg.max_batch_size, 128);
  ProbeGrid g;
  g.tokens = {1, 2, 4};
  g.adapters = {0, 1, 2};
  g.ranks = {o.rank};
  g.prompts = {16, 64, 128};
  g.repeats = 12;
  const CostModel cost = cost_model_from(probe_costs(k, g), 0.0);

  // The rate: a share of what one request at a time would sustain (prefill of the median
  // prompt, then the mean output one token per step).
  const double one = cost.prefill_s(32, 1) + 10.0 * cost.decode_step_s(StepShape{1, 1, o.rank, 1});
  topt.load_rps = o.load_share / one;
  const Trace trace = generate_trace(topt);

  std::vector<double> reload(o.adapters, cost.load_s(o.rank));
  k.set_adapters(o.adapters, o.rank);
  const RealRun real = run_real(k, trace, cfg, reload, o.pin_cores);

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
  return r;
}

}  // namespace infeng::sched::lane
