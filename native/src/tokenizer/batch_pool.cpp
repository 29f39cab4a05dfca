// See batch_pool.h.
#include "batch_pool.h"

namespace infeng::tok {

BatchPool& BatchPool::instance() {
  static BatchPool pool;
  return pool;
}

BatchPool::~BatchPool() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
    ++generation_;
  }
  start_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void BatchPool::worker(int tid) {
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(int)>* job;
    {
      std::unique_lock<std::mutex> lk(mu_);
      start_cv_.wait(lk, [&] { return generation_ != seen; });
      seen = generation_;
      if (stop_) return;
      if (tid >= threads_) continue;  // not part of this batch
      job = job_;
    }
    (*job)(tid);
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (--remaining_ == 0) done_cv_.notify_one();
    }
  }
}

void BatchPool::run(int n, const std::function<void(int)>& job) {
  if (n <= 1) {
    job(0);
    return;
  }
  std::lock_guard<std::mutex> batch(run_mu_);
  {
    std::lock_guard<std::mutex> lk(mu_);
    while (int(workers_.size()) < n - 1) {
      const int tid = int(workers_.size()) + 1;
      workers_.emplace_back([this, tid] { worker(tid); });
    }
    job_ = &job;
    threads_ = n;
    remaining_ = n - 1;
    ++generation_;
  }
  start_cv_.notify_all();
  job(0);
  std::unique_lock<std::mutex> lk(mu_);
  done_cv_.wait(lk, [&] { return remaining_ == 0; });
  job_ = nullptr;
}

}  // namespace infeng::tok
