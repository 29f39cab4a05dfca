// Runtime ISA dispatch: which compiled kernel path is safe and best on this CPU, and a way to
// pin one (--force_path / INFENG_FORCE_PATH) so a benchmark or test measures the path it names.
#pragma once
#include <string>
#include <string_view>

namespace infeng {

// Priority order, lowest first: the best supported path wins under "auto".
enum class Path : int { Scalar = 0, Avx2 = 1, Avx512 = 2 };
inline constexpr int kPathCount = 3;

struct CpuFeatures {
  bool sse42 = false, avx = false, avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512_vnni = false, avx512_bf16 = false, avx_vnni = false;
  bool amx_tile = false, amx_int8 = false;
  // XCR0 says the OS saves the YMM (bit 2) / opmask+ZMM (bits 5-7) state on context switch;
  // without it the instructions fault even when cpuid lists them.
  bool os_ymm = false, os_zmm = false;
  // XCR0 bits 17-18: the OS manages the AMX tile configuration and data (Linux then still
  // wants a per-process request before the first tile instruction: see attention's AMX path).
  bool os_amx = false;
  std::string brand;
};

// Detected once (cpuid + xgetbv), then cached.
const CpuFeatures& cpu_features();

// Flags that matter to the kernels, space-separated and sorted ("avx2 avx512bw ... fma").
std::string isa_flags();

const char* path_name(Path p);
// "scalar" | "avx2" | "avx512"; throws std::invalid_argument naming the text otherwise.
Path parse_path(std::string_view name);

bool path_compiled(Path p);
// Why p cannot run on a machine with features f (not compiled / the CPU lacks a flag / the OS
// does not enable the register state); empty when it can. resolve_path() reports this text.
std::string unsupported_reason(Path p, const CpuFeatures& f);
// Compiled in, and the CPU and OS support it.
bool path_supported(Path p);
Path best_path();

// "auto" → best_path(); an explicit path the build or the CPU lacks throws
// std::runtime_error that says which and why.
Path resolve_path(std::string_view request);

// The path kernels use when the caller does not name one: INFENG_FORCE_PATH if set (read once),
// else auto. force_path() overrides it for this process (the --force_path flag).
Path active_path();
void force_path(std::string_view request);
// Drops a force_path() override: active_path() falls back to INFENG_FORCE_PATH or auto.
void clear_forced_path();

}  // namespace infeng
