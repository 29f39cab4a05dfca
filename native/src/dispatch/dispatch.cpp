// Path registry and selection. Paths are ranked by the enum value (higher is preferred);
// "auto" picks the highest one that is compiled in and usable on this CPU and OS.
// INFENG_FORCE_PATH is read once, on first use, so a process sees one consistent choice;
// force_path() (the --force_path flag) overrides it later.
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>

#include "infeng/dispatch.h"

namespace infeng {
namespace {

constexpr Path kAllPaths[kPathCount] = {Path::Scalar, Path::Avx2, Path::Avx512};

}  // namespace

std::string unsupported_reason(Path p, const CpuFeatures& f) {
  const std::string name = path_name(p);
  if (!path_compiled(p)) {
    return "path '" + name + "' is not compiled into this build (configure with INFENG_" +
           (p == Path::Avx2 ? std::string("AVX2") : std::string("AVX512")) + "=ON)";
  }
  std::string missing;
  auto need = [&](bool have, const char* flag) {
    if (!have) missing += (missing.empty() ? "" : ", ") + std::string(flag);
  };
  switch (p) {
    case Path::Scalar:
      return {};
    case Path::Avx2:
      need(f.avx, "avx");
      need(f.avx2, "avx2");
      need(f.fma, "fma");
      need(f.f16c, "f16c");
      if (!missing.empty()) return "path 'avx2' is not supported by this CPU: it lacks " + missing;
      if (!f.os_ymm) {
        return "path 'avx2' is not usable: the OS does not enable the YMM register state "
               "(XCR0 bits 1-2)";
      }
      return {};
    case Path::Avx512:
      need(f.avx512f, "avx512f");
      need(f.avx512bw, "avx512bw");
      need(f.avx512vl, "avx512vl");
      need(f.avx512dq, "avx512dq");
      need(f.fma, "fma");
      need(f.f16c, "f16c");
      if (!missing.empty()) {
        return "path 'avx512' is not supported by this CPU: it lacks " + missing;
      }
      if (!f.os_zmm) {
        return "path 'avx512' is not usable: the OS does not enable the opmask/ZMM register "
               "state (XCR0 bits 5-7)";
      }
      return {};
  }
  return "unknown path";
}

namespace {

// -1: no override.
std::atomic<int> g_forced{-1};

struct EnvChoice {
  bool set = false;
  Path path = Path::Scalar;
  std::string error;  // non-empty: the variable names a path that cannot run here
};

const EnvChoice& env_choice() {
  static const EnvChoice c = [] {
    EnvChoice e;
    const char* v = std::getenv("INFENG_FORCE_PATH");
    if (v == nullptr || *v == '\0') return e;
    e.set = true;
    try {
      e.path = resolve_path(v);
    } catch (const std::exception& ex) {
      e.error = std::string("INFENG_FORCE_PATH: ") + ex.what();
    }
    return e;
  }();
  return c;
}

}  // namespace

const char* path_name(Path p) {
  switch (p) {
    case Path::Scalar:
      return "scalar";
    case Path::Avx2:
      return "avx2";
    case Path::Avx512:
      return "avx512";
  }
  return "unknown";
}

Path parse_path(std::string_view name) {
  for (Path p : kAllPaths) {
    if (name == path_name(p)) return p;
  }
  throw std::invalid_argument("unknown ISA path '" + std::string(name) +
                              "' (expected scalar, avx2, avx512 or auto)");
}

bool path_compiled(Path p) {
  switch (p) {
    case Path::Scalar:
      return true;
    case Path::Avx2:
      return INFENG_HAVE_AVX2 != 0;
    case Path::Avx512:
      return INFENG_HAVE_AVX512 != 0;
  }
  return false;
}

bool path_supported(Path p) { return unsupported_reason(p, cpu_features()).empty(); }

Path best_path() {
  static const Path best = [] {
    Path b = Path::Scalar;
    for (Path p : kAllPaths) {
      if (path_supported(p)) b = p;
    }
    return b;
  }();
  return best;
}

Path resolve_path(std::string_view request) {
  if (request == "auto") return best_path();
  const Path p = parse_path(request);
  const std::string why = unsupported_reason(p, cpu_features());
  if (!why.empty()) throw std::runtime_error(why);
  return p;
}

Path active_path() {
  const int forced = g_forced.load(std::memory_order_acquire);
  if (forced >= 0) return static_cast<Path>(forced);
  const EnvChoice& e = env_choice();
  if (!e.set) return best_path();
  if (!e.error.empty()) throw std::runtime_error(e.error);
  return e.path;
}

void force_path(std::string_view request) {
  const Path p = resolve_path(request);
  g_forced.store(static_cast<int>(p), std::memory_order_release);
}

void clear_forced_path() { g_forced.store(-1, std::memory_order_release); }

}  // namespace infeng
