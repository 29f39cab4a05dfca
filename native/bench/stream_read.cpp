// The multithreaded streaming read behind the GEMM lane's bandwidth probe and gemm/membw.
#include "stream_read.h"

#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstring>

namespace infeng::bench {
namespace {

// Integer adds, not float adds: an integer reduction has no rounding, so the sum is the same
// in any order and the loop is bound by loads alone. Wide loads matter: with 8-byte loads a
// core tops out near 16 bytes per cycle, below what a vector kernel reads from L2/L3, and the
// probe must not be slower than the kernels it is the ceiling for. So the widest vector unit
// the CPU has is used, whatever path the kernels were forced to.
std::uint64_t sum_tail(const unsigned char* p, std::size_t n) {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < n; ++i) total += p[i];
  return total;
}

// The kernels this probe measures against prefetch about 3 KiB ahead of their loads; a probe
// without it reads slower than they do and efficiencies come out above 100 %. Same distance
// here, so the yardstick is a read as good as the kernels' own. (Prefetching past the end of
// the buffer is harmless: a prefetch never faults.)
constexpr std::size_t kPrefetchAhead = 3072;

__attribute__((target("avx512f"))) std::uint64_t sum_avx512(const unsigned char* p,
                                                             std::size_t n) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  std::size_t i = 0;
  for (; i + 256 <= n; i += 256) {
    _mm_prefetch(reinterpret_cast<const char*>(p + i + kPrefetchAhead), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(p + i + kPrefetchAhead + 128), _MM_HINT_T0);
    a0 = _mm512_add_epi64(a0, _mm512_loadu_si512(p + i));
    a1 = _mm512_add_epi64(a1, _mm512_loadu_si512(p + i + 64));
    a2 = _mm512_add_epi64(a2, _mm512_loadu_si512(p + i + 128));
    a3 = _mm512_add_epi64(a3, _mm512_loadu_si512(p + i + 192));
  }
  const __m512i a = _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3));
  return static_cast<std::uint64_t>(_mm512_reduce_add_epi64(a)) + sum_tail(p + i, n - i);
}

__attribute__((target("avx2"))) std::uint64_t sum_avx2(const unsigned char* p, std::size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  std::size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    _mm_prefetch(reinterpret_cast<const char*>(p + i + kPrefetchAhead), _MM_HINT_T0);
    a0 = _mm256_add_epi64(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_add_epi64(a2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_add_epi64(a3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  const __m256i a = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  alignas(32) std::uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), a);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3] + sum_tail(p + i, n - i);
}

std::uint64_t sum_portable(const unsigned char* p, std::size_t n) {
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
  return total + sum_tail(p + i, n - i);
}

using SumFn = std::uint64_t (*)(const unsigned char*, std::size_t);

SumFn pick_sum() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return sum_avx512;
  if (__builtin_cpu_supports("avx2")) return sum_avx2;
  return sum_portable;
}

const SumFn sum_bytes = pick_sum();

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

const char* StreamReader::isa() {
  if (sum_bytes == sum_avx512) return "avx512";
  if (sum_bytes == sum_avx2) return "avx2";
  return "portable";
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
