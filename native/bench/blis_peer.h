// BLIS as the GEMM lane's second same-run peer beside OpenBLAS (Debian's libblis, pthread
// build). The two libraries both export the CBLAS and Fortran BLAS symbols, so BLIS is not
// linked: it is loaded once with dlopen(RTLD_LOCAL | RTLD_DEEPBIND) and called through its own
// typed API (bli_sgemm), so neither library's calls can bind to the other's symbols.
#pragma once
#include <string>

namespace infeng::bench {

class BlisPeer {
 public:
  // Loads the library the build was configured with; on failure ok() is false and error() says
  // why (the lane then reports the case without the BLIS metrics). avx2_only: our kernels run
  // their AVX2 path, so BLIS gets its AVX2 kernels too (unless BLIS_ARCH_TYPE is set).
  BlisPeer(int threads, bool avx2_only);
  bool ok() const { return sgemm_ != nullptr; }
  const std::string& error() const { return error_; }
  const std::string& version() const { return version_; }
  const std::string& arch() const { return arch_; }
  // Set when the kernels were chosen here rather than by BLIS's own CPU detection.
  const std::string& note() const { return note_; }
  // y[M×N] = x[M×K] · w[K×N], row-major, FP32.
  void sgemm(int M, int N, int K, const float* x, const float* w, float* y) const;

 private:
  void* handle_ = nullptr;
  void* sgemm_ = nullptr;
  std::string error_, version_, arch_, note_;
};

}  // namespace infeng::bench
