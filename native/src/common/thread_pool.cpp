#include "common/thread_pool.h"

#include <immintrin.h>

#include <algorithm>

namespace infeng {
namespace {

thread_local bool t_in_job = false;
thread_local int t_job_threads = 1;  // participants of the job this thread is running

// Spin long enough to cover the gap between back-to-back kernel calls (a benchmark loop, a
// layer's consecutive GEMMs) before parking: a futex wake costs tens of microseconds, the
// same order as a whole decode GEMV.
constexpr int kSpinIters = 1 << 16;

inline void cpu_relax() { _mm_pause(); }

}  // namespace

ThreadPool& ThreadPool::instance() {
  static ThreadPool pool;
  return pool;
}

int ThreadPool::hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  state_.fetch_add(std::uint64_t{1} << 16);
  {
    std::lock_guard<std::mutex> lk(park_mu_);
    park_cv_.notify_all();
  }
  for (auto& t : workers_) t.join();
}

void ThreadPool::ensure_workers(int count) {
  while (static_cast<int>(workers_.size()) < count) {
    const int index = static_cast<int>(workers_.size()) + 1;
    // The worker must start from the state before the job about to be published, or a
    // thread that starts late would mistake that job for one it has already run.
    const std::uint64_t seen = state_.load();
    workers_.emplace_back([this, index, seen] { worker_main(index, seen); });
  }
}

void ThreadPool::worker_main(int index, std::uint64_t seen) {
  t_in_job = true;  // a job that calls back into the pool runs inline
  for (;;) {
    std::uint64_t g = state_.load(std::memory_order_acquire);
    for (int i = 0; g == seen && i < kSpinIters; ++i) {
      cpu_relax();
      g = state_.load(std::memory_order_acquire);
    }
    if (g == seen) {
      std::unique_lock<std::mutex> lk(park_mu_);
      parked_.fetch_add(1);
      // seq_cst on parked_ and state_ (here and in run()) rules out the store-load reordering
      // in which the publisher sees no sleeper and this thread sees no new job.
      park_cv_.wait(lk, [&] { return state_.load() != seen; });
      parked_.fetch_sub(1);
      g = state_.load(std::memory_order_acquire);
    }
    seen = g;
    if (stop_.load()) return;
    const int n = static_cast<int>(g & 0xffff);
    if (index < n) {
      t_job_threads = n;
      fn_(ctx_, index, n);
      done_.fetch_add(1, std::memory_order_acq_rel);
    }
  }
}

void ThreadPool::run(int n, Fn fn, void* ctx) {
  auto inline_run = [&] {
    const bool was = t_in_job;
    const int saved = t_job_threads;
    t_in_job = true;
    t_job_threads = 1;
    fn(ctx, 0, 1);
    t_in_job = was;
    t_job_threads = saved;
  };
  if (n <= 1 || t_in_job) {
    inline_run();
    return;
  }
  std::unique_lock<std::mutex> lk(run_mu_, std::try_to_lock);
  if (!lk.owns_lock()) {
    inline_run();
    return;
  }
  n = std::min(n, 0xffff);
  ensure_workers(n - 1);
  fn_ = fn;
  ctx_ = ctx;
  bar_count_.store(0, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  const std::uint64_t prev = state_.load(std::memory_order_relaxed);
  state_.store(((prev >> 16) + 1) << 16 | static_cast<std::uint64_t>(n));
  if (parked_.load() > 0) {
    std::lock_guard<std::mutex> plk(park_mu_);
    park_cv_.notify_all();
  }
  t_in_job = true;
  t_job_threads = n;
  fn(ctx, 0, n);
  t_in_job = false;
  t_job_threads = 1;
  for (int spins = 0; done_.load(std::memory_order_acquire) < n - 1; ++spins) {
    if (spins < kSpinIters) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
}

void ThreadPool::barrier() {
  const int n = t_job_threads;
  if (n <= 1 || !t_in_job) return;
  const std::uint32_t g = bar_gen_.load(std::memory_order_acquire);
  if (bar_count_.fetch_add(1, std::memory_order_acq_rel) + 1 == n) {
    bar_count_.store(0, std::memory_order_relaxed);
    bar_gen_.fetch_add(1, std::memory_order_acq_rel);
    return;
  }
  for (int spins = 0; bar_gen_.load(std::memory_order_acquire) == g; ++spins) {
    if (spins < kSpinIters) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
}

}  // namespace infeng
