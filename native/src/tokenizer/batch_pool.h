// The worker threads of Tokenizer::encode_batch. Persistent, so that each worker keeps its
// piece cache warm in its own core's L2 from batch to batch (a cache handed to whichever thread
// asked first went cold on the other core: 2 threads ran slower than 1); parked on a condition
// variable between batches, never spinning, so that on a busy or oversubscribed machine a
// waiting thread gives its core away.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace infeng::tok {

class BatchPool {
 public:
  static BatchPool& instance();

  // Runs job(tid) for tid = 0..n-1, tid 0 on the calling thread; returns when all are done.
  // Worker tid is always the same thread. Batches from several callers run one at a time.
  void run(int n, const std::function<void(int)>& job);

  ~BatchPool();

 private:
  BatchPool() = default;
  void worker(int tid);

  std::mutex run_mu_;  // one batch at a time
  std::mutex mu_;
  std::condition_variable start_cv_, done_cv_;
  std::vector<std::thread> workers_;  // workers_[k] runs tid k + 1
  const std::function<void(int)>* job_ = nullptr;
  uint64_t generation_ = 0;
  int threads_ = 0;    // of the current batch
  int remaining_ = 0;  // workers of the current batch still running
  bool stop_ = false;
};

}  // namespace infeng::tok
