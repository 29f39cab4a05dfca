// A multithreaded streaming read: the yardstick the GEMM lane compares decode against.
//
// Decode GEMM (M ≤ 16) is bound by how fast the packed weights stream in from DRAM, so its
// honest figure of merit is "what fraction of the read bandwidth did we reach". That fraction
// needs a bandwidth number measured in the same run, on the same threads, over the same number
// of bytes: this reader provides it. Its workers stay parked between calls (no spinning), so
// they do not steal a core from the kernels timed next to them on a small machine.
//
// Waking a parked thread costs tens of microseconds on a virtual machine, which would swamp
// the read of a small W. The reader therefore times itself: all threads meet at a barrier
// after waking, and the clock runs from the barrier's release to the last thread's finish.
// The figure is the bandwidth of the reads alone, the ceiling a kernel is measured against.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace infeng::bench {

class StreamReader {
 public:
  // threads counts the calling thread: threads - 1 workers are started.
  explicit StreamReader(int threads);
  ~StreamReader();
  StreamReader(const StreamReader&) = delete;
  StreamReader& operator=(const StreamReader&) = delete;

  int threads() const { return threads_; }
  // The vector width the reads use: the widest the CPU supports, whatever the kernels run.
  static const char* isa();

  struct Result {
    std::uint64_t checksum;  // of the bytes read, so the compiler cannot drop the loads
    double seconds;          // from the barrier's release to the last thread's finish
  };

  // Reads every byte of [data, data + bytes) once, split into one contiguous chunk per thread.
  Result read(const void* data, std::size_t bytes);

 private:
  void worker_loop(int index);
  void read_chunk(int index);

  int threads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::uint64_t generation_ = 0;  // bumped once per read(); workers run one chunk per bump
  bool stop_ = false;
  std::atomic<int> arrived_{0};         // workers awake and waiting at the barrier
  std::atomic<std::uint64_t> go_{0};    // set to the generation to release the barrier
  std::atomic<int> finished_{0};        // workers done with their chunk
  const unsigned char* data_ = nullptr;
  std::size_t bytes_ = 0;
  std::vector<std::uint64_t> sums_;
};

// Asks the kernel for transparent huge pages on the 2 MiB-aligned interior of a large buffer.
// Streaming reads over 4 KiB pages lose bandwidth to TLB misses and to prefetchers that stop
// at page boundaries; every large buffer the lane streams gets the same treatment, so weights
// and the bandwidth probe are measured on equal terms. Must be called before first touch.
void advise_huge_pages(void* data, std::size_t bytes);

}  // namespace infeng::bench
