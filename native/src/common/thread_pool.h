// A persistent pool: workers are created once and park between jobs, because a decode GEMV
// at H=2048 finishes in well under a millisecond and a thread spawn per call would dominate.
// The calling thread is participant 0 and does its share of the work.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace infeng {

class ThreadPool {
 public:
  using Fn = void (*)(void* ctx, int tid, int nthreads);

  static ThreadPool& instance();

  // Runs fn(ctx, tid, n) for tid = 0..n-1 concurrently (tid 0 on the caller) and returns
  // when all are done. A call from inside a job, or while another thread owns the pool,
  // runs on the caller alone (n = 1) rather than deadlock or queue.
  void run(int n, Fn fn, void* ctx);

  template <class F>
  void run(int n, F&& f) {
    run(
        n, [](void* c, int tid, int nt) { (*static_cast<F*>(c))(tid, nt); },
        const_cast<void*>(static_cast<const void*>(&f)));
  }

  // All participants of the current job wait here for each other.
  void barrier();

  static int hardware_threads();

  ~ThreadPool();

 private:
  ThreadPool() = default;
  void ensure_workers(int count);
  void worker_main(int index, std::uint64_t seen);

  std::mutex run_mu_;  // one job at a time
  std::vector<std::thread> workers_;

  // job publication
  // generation << 16 | thread count, published together so a worker never pairs one job's
  // generation with another job's thread count
  std::atomic<std::uint64_t> state_{0};
  Fn fn_ = nullptr;
  void* ctx_ = nullptr;
  std::atomic<int> done_{0};
  std::atomic<bool> stop_{false};

  // parking
  std::mutex park_mu_;
  std::condition_variable park_cv_;
  std::atomic<int> parked_{0};

  // barrier
  std::atomic<int> bar_count_{0};
  std::atomic<std::uint32_t> bar_gen_{0};
};

}  // namespace infeng
