// The multithreaded streaming read behind the GEMM lane's bandwidth probe and gemm/membw.
#include "stream_read.h"

#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstring>

namespace infeng::bench {
namespace {

// Integer adds, not float adds: the compiler may vectorise and reorder an integer reduction
// freely, so the loop is load-bound (what we want to measure) without -ffast-math.
std::uint64_t sum_bytes(const unsigned char* p, std::size_t n) {
  std::uint64_t acc[8] = {};
  std::size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    for (int j = 0; j < 8; ++j) {
      std::uint64_t v;
      std::memcpy(&v, p + i + 8 * j, sizeof v);
      acc[j] += v;
    }
  }
  std::uint64_t total = 0;
  for (int j = 0; j < 8; ++j) total += acc[j];
  for (; i < n; ++i) total += p[i];
  return total;
}

}  // namespace

StreamReader::StreamReader(int threads) : threads_(std::max(1, threads)), sums_(threads_, 0) {
  workers_.reserve(threads_ - 1);
  for (int t = 1; t < threads_; ++t) workers_.emplace_back([this, t] { worker_loop(t); });
}

StreamReader::~StreamReader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void StreamReader::read_chunk(int index) {
  // Chunk edges on 64-byte lines, so no cache line is fetched by two threads.
  const std::size_t lines = (bytes_ + 63) / 64;
  const std::size_t per = (lines + threads_ - 1) / threads_;
  const std::size_t begin = std::min(bytes_, per * 64 * static_cast<std::size_t>(index));
  const std::size_t end = std::min(bytes_, begin + per * 64);
  sums_[index] = sum_bytes(data_ + begin, end - begin);
}

namespace {
// Spin-waits briefly, then yields, so a wait never starves a thread that needs this core.
template <class Pred>
void spin_until(Pred ready) {
  for (int i = 0; !ready(); ++i) {
    if (i < 4096) {
      __builtin_ia32_pause();
    } else {
      std::this_thread::yield();
    }
  }
}
}  // namespace

void StreamReader::worker_loop(int index) {
  std::uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    arrived_.fetch_add(1, std::memory_order_acq_rel);
    spin_until([&] { return go_.load(std::memory_order_acquire) == seen; });
    read_chunk(index);
    finished_.fetch_add(1, std::memory_order_acq_rel);
  }
}

StreamReader::Result StreamReader::read(const void* data, std::size_t bytes) {
  std::uint64_t gen = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    data_ = static_cast<const unsigned char*>(data);
    bytes_ = bytes;
    arrived_.store(0, std::memory_order_relaxed);
    finished_.store(0, std::memory_order_relaxed);
    gen = ++generation_;
  }
  const int workers = threads_ - 1;
  if (workers > 0) {
    wake_.notify_all();
    spin_until([&] { return arrived_.load(std::memory_order_acquire) == workers; });
  }
  const auto t0 = std::chrono::steady_clock::now();
  go_.store(gen, std::memory_order_release);
  read_chunk(0);
  spin_until([&] { return finished_.load(std::memory_order_acquire) == workers; });
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::uint64_t total = 0;
  for (int t = 0; t < threads_; ++t) total += sums_[t];
  return {total, seconds};
}

void advise_huge_pages(void* data, std::size_t bytes) {
  constexpr std::uintptr_t kHuge = 2u << 20;
  const auto begin = reinterpret_cast<std::uintptr_t>(data);
  const std::uintptr_t first = (begin + kHuge - 1) & ~(kHuge - 1);
  const std::uintptr_t last = (begin + bytes) & ~(kHuge - 1);
  // Advice only: a kernel without THP (or with it disabled) simply ignores it.
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
}

}  // namespace infeng::bench
