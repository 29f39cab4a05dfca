// Shared flag handling and helpers of the attention lane binaries (see attn_bench_common.h).
#include "attn_bench_common.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "bench_flags.h"
#include "infeng/dispatch.h"
#include "quiesce.h"

namespace infeng::bench::attn {

CommonFlags take_common_flags(int& argc, char** argv, void (*usage)()) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--help") == 0) usage();
  CommonFlags f;
  const unsigned hw = std::thread::hardware_concurrency();
  f.threads = hw > 0 ? static_cast<int>(hw) : 1;
  if (auto v = take_flag(argc, argv, "threads")) f.threads = static_cast<int>(parse_positive("threads", *v, 1024));
  f.shapes = parse_shapes("attn_shapes", "32/4/64,32/8/128");
  if (auto v = take_flag(argc, argv, "attn_shapes")) f.shapes = parse_shapes("attn_shapes", *v);
  return f;
}

std::vector<infeng::attn::Shape> parse_shapes(const std::string& flag, const std::string& text) {
  std::vector<infeng::attn::Shape> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    infeng::attn::Shape s;
    char tail = 0;
    if (std::sscanf(item.c_str(), "%d/%d/%d%c", &s.n_q_heads, &s.n_kv_heads, &s.head_dim, &tail) != 3) {
      usage_error("--" + flag + ": '" + item + "' is not q_heads/kv_heads/head_dim (e.g. 32/4/64)");
    }
    try {
      infeng::attn::validate(s);
    } catch (const std::exception& e) {
      usage_error("--" + flag + ": " + e.what());
    }
    out.push_back(s);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string shape_id(const infeng::attn::Shape& s) {
  return "q" + std::to_string(s.n_q_heads) + "kv" + std::to_string(s.n_kv_heads) + "d" +
         std::to_string(s.head_dim);
}

void apply_force_path(int& argc, char** argv) {
  const auto path = take_flag(argc, argv, "force_path");
  try {
    if (path) {
      infeng::force_path(*path);
    } else {
      (void)infeng::active_path();  // validates INFENG_FORCE_PATH if it is set
    }
  } catch (const std::invalid_argument& e) {
    usage_error(path ? std::string("--force_path: ") + e.what() : std::string(e.what()));
  } catch (const std::exception& e) {
    usage_error(std::string(path ? "--force_path=" + *path : "INFENG_FORCE_PATH") + ": " + e.what());
  }
}

void quiesce() {
  static int timeouts = 0;
  constexpr double kTimeoutMs = 50.0;  // far above the pool's spin-before-park
  if (!wait_quiescent(kTimeoutMs) && timeouts++ == 0) {
    std::fprintf(stderr, "warning: a thread of this process kept running for %.0f ms; timed calls "
                 "may share their cores with it\n", kTimeoutMs);
  }
}

std::string model_path(int& argc, char** argv) {
  if (const auto v = take_flag(argc, argv, "model")) return *v;
  // <build>/bench/<this binary> → <build>/testdata/, the link CMake makes to the sources' testdata/
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) usage_error("--model: no default without /proc/self/exe (" + ec.message() + "); pass --model=PATH");
  return (exe.parent_path().parent_path() / "testdata" / "stories260K.bin").string();
}

double nmse(const float* got, const float* ref, std::size_t n) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(got[i]) - ref[i];
    num += d * d;
    den += static_cast<double>(ref[i]) * ref[i];
  }
  return den > 0 ? num / den : (num > 0 ? INFINITY : 0.0);
}

}  // namespace infeng::bench::attn
