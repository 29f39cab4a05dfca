// See blis_peer.h. blis.h is included for the API's types only (this file is the one compiled
// with BLIS's include directory, so no other file can pick up BLIS's cblas.h instead of
// OpenBLAS's); every function comes from dlsym.
#include "blis_peer.h"

#include <dlfcn.h>

#include <cstdlib>
#include <string>

#include <blis.h>

namespace infeng::bench {
namespace {

using SgemmFn = decltype(&bli_sgemm);
using SetThreadsFn = decltype(&bli_thread_set_num_threads);
using VersionFn = decltype(&bli_info_get_version_str);
using ArchIdFn = decltype(&bli_arch_query_id);
using ArchNameFn = decltype(&bli_arch_string);
using InitFn = decltype(&bli_init);

template <class F>
F symbol(void* h, const char* name) {
  return reinterpret_cast<F>(dlsym(h, name));
}

}  // namespace

// BLIS picks its kernels by CPU model when it initialises. A model newer than its table (BLIS
// 0.9 on a Zen 5 core) gets the generic C kernels, 10-50× slower than its tuned ones, which
// would make it a straw-man peer. Then, unless the user chose with BLIS_ARCH_TYPE, the library
// is reloaded with the sub-configuration of the CPU's vendor for its AVX2/FMA (zen3 or haswell,
// which Debian's build carries), and the report says so.
//
// With avx2_only (--force_path=avx2), that AVX2/FMA sub-configuration is chosen from the start:
// on an AVX-512 machine BLIS would otherwise run its skx kernels against our AVX2 ones.
BlisPeer::BlisPeer(int threads, bool avx2_only) {
  const bool user_choice = std::getenv("BLIS_ARCH_TYPE") != nullptr;
  const bool has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const arch_t avx2_arch = __builtin_cpu_is("amd") ? BLIS_ARCH_ZEN3 : BLIS_ARCH_HASWELL;
  if (avx2_only && !user_choice && has_avx2) {
    setenv("BLIS_ARCH_TYPE", std::to_string(static_cast<int>(avx2_arch)).c_str(), 1);
    note_ = std::string("BLIS_ARCH_TYPE=") + std::to_string(static_cast<int>(avx2_arch)) +
            " (its AVX2/FMA kernels), as our kernels run their AVX2 path";
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    handle_ = dlopen(INFENG_BLIS_LIBRARY, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!handle_) {
      const char* why = dlerror();
      error_ = std::string("cannot load BLIS (") + INFENG_BLIS_LIBRARY + "): " + (why ? why : "unknown error");
      return;
    }
    // The global kernel structure must exist before the architecture can be asked for.
    if (auto* init = symbol<InitFn>(handle_, "bli_init")) init();
    auto* id = symbol<ArchIdFn>(handle_, "bli_arch_query_id");
    auto* name = symbol<ArchNameFn>(handle_, "bli_arch_string");
    const arch_t arch = id ? id() : BLIS_ARCH_GENERIC;
    arch_ = name ? name(arch) : "";
    if (attempt > 0 || user_choice || !note_.empty() || arch != BLIS_ARCH_GENERIC || !has_avx2) break;
    dlclose(handle_);
    handle_ = nullptr;
    setenv("BLIS_ARCH_TYPE", std::to_string(static_cast<int>(avx2_arch)).c_str(), 1);
    note_ = std::string("BLIS detected no tuned kernels for this CPU (generic); BLIS_ARCH_TYPE=") +
            std::to_string(static_cast<int>(avx2_arch)) + " chosen for its AVX2/FMA";
  }
  auto* gemm = symbol<SgemmFn>(handle_, "bli_sgemm");
  auto* set_threads = symbol<SetThreadsFn>(handle_, "bli_thread_set_num_threads");
  if (!gemm || !set_threads) {
    error_ = std::string(INFENG_BLIS_LIBRARY) + " has no bli_sgemm / bli_thread_set_num_threads";
    return;
  }
  set_threads(threads);
  if (auto* v = symbol<VersionFn>(handle_, "bli_info_get_version_str")) version_ = v();
  sgemm_ = reinterpret_cast<void*>(gemm);
}

void BlisPeer::sgemm(int M, int N, int K, const float* x, const float* w, float* y) const {
  float one = 1.0f, zero = 0.0f;
  // Row-major operands as BLIS general strides: row stride = leading dimension, column stride 1.
  reinterpret_cast<SgemmFn>(sgemm_)(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, M, N, K, &one, const_cast<float*>(x), K, 1,
                                    const_cast<float*>(w), N, 1, &zero, y, N, 1);
}

}  // namespace infeng::bench
