// FP32 GEMM for LLM linear layers: y = x·W, and the fused LoRA form
// y = x·W + scale·(x·A)·B, with W packed once ahead of time (weights are static).
//
// Shapes: x is M×K (row-major, leading dimension ldx), W is K×N, A is K×r, B is r×N,
// y is M×N (row-major, ldy). Decode has small M (1-16), prefill large M (128+).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include "infeng/dispatch.h"

namespace infeng::gemm {

// Memory released with free(); 64-byte aligned.
struct AlignedDeleter {
  void operator()(float* p) const noexcept;
};
using AlignedBuffer = std::unique_ptr<float[], AlignedDeleter>;
AlignedBuffer aligned_floats(std::size_t count);

// W packed for one ISA path: the layout belongs to that path's microkernel, so a matrix packed
// for one path is only valid with that path (checked).
struct PackedWeights {
  int K = 0, N = 0;
  Path path = Path::Scalar;
  int nr = 0;   // column panel width of the microkernel
  int kc = 0;   // K block depth chosen at pack time
  std::size_t floats = 0;
  AlignedBuffer data;
  std::size_t bytes() const { return floats * sizeof(float); }
};

PackedWeights pack_weights(const float* W, int K, int N, int ldw, Path path);
inline PackedWeights pack_weights(const float* W, int K, int N, int ldw) {
  return pack_weights(W, K, N, ldw, active_path());
}

// A LoRA adapter prepared for the fused kernel (A and B may be re-laid out for the path).
struct PackedLora {
  int K = 0, N = 0, rank = 0;
  float scale = 1.0f;
  Path path = Path::Scalar;
  AlignedBuffer a;   // layout owned by the driver
  AlignedBuffer b;   // layout owned by the driver
  std::size_t bytes = 0;
};

// A: K×rank row-major (lda), B: rank×N row-major (ldb).
PackedLora pack_lora(const float* A, int lda, const float* B, int ldb, int K, int N, int rank,
                     float scale, Path path);

struct Options {
  int threads = 1;  // worker threads (the calling thread included); <= 0 means all cores
  // When set, the path the caller expects to run: a W (or adapter) packed for another path
  // throws std::invalid_argument instead of silently running that other path.
  std::optional<Path> path;
};

// At or below this many rows of x a call is a decode step (GEMV-like, bound by streaming W)
// and takes the decode schedule; above it, prefill's. The bench names its cases by it and
// reports it, and the gemm lane checks that its own case names agree.
inline constexpr int kDecodeMaxM = 16;

// y = x·W   (y is overwritten)
void matmul(const float* x, int M, int ldx, const PackedWeights& W, float* y, int ldy,
            const Options& opt = {});

// y = x·W + scale·(x·A)·B, fused: x·A is formed while the x panel is hot. Prefill adds the
// low-rank term in the epilogue of each output tile, so y is written once; decode (M <= kDecodeMaxM)
// adds it to each thread's y block right after that thread's W stream, while the block is
// still in L2 (in-tile, the extra per-tile work cost 15-18 % at M = 16 against 4-5 % this way;
// see gemm_driver.cpp).
void matmul_lora_fused(const float* x, int M, int ldx, const PackedWeights& W, const PackedLora& L,
                       float* y, int ldy, const Options& opt = {});

// The same result as three separate GEMMs (y = x·W; t = x·A; y += scale·t·B), each streaming
// its operands: the in-run comparison that shows what fusion buys.
void matmul_lora_unfused(const float* x, int M, int ldx, const PackedWeights& W,
                         const PackedLora& L, float* y, int ldy, const Options& opt = {});

// Introspection, for tests and benchmarks that must prove which kernels ran: the ISA path of
// the microkernels used by the most recent matmul* call in this process (std::nullopt before
// any), and how many matmul* calls each path has served.
std::optional<Path> last_path();
std::uint64_t kernel_calls(Path p);

// Scalar reference on unpacked operands, double accumulation: the oracle for tests.
void reference_matmul(const float* x, int M, int ldx, const float* W, int ldw, int K, int N,
                      float* y, int ldy);
void reference_lora(const float* x, int M, int ldx, const float* W, int ldw, const float* A,
                    int lda, const float* B, int ldb, int K, int N, int rank, float scale, float* y,
                    int ldy);

}  // namespace infeng::gemm
