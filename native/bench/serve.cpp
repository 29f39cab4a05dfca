#include "serve.h"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>

namespace infeng::bench {

namespace {
constexpr const char* kTag = "@@infeng-serve";
constexpr const char* kAbRoundEnv = "INFENG_BENCH_AB_ROUND";
void (*g_reset)() = nullptr;
}  // namespace

void set_serve_reset(void (*reset)()) { g_reset = reset; }

bool take_serve_flag(int& argc, char** argv) {
  bool found = false;
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--infeng_serve") == 0) {
      found = true;
      continue;
    }
    argv[out++] = argv[i];
  }
  argc = out;
  argv[argc] = nullptr;
  return found;
}

bool later_ab_round() {
  const char* e = std::getenv(kAbRoundEnv);
  return e != nullptr && std::strcmp(e, "1") == 0;
}

int run_benchmarks(bool serve) {
  if (!serve) {
    benchmark::RunSpecifiedBenchmarks();
    return 0;
  }
  std::cout << kTag << " ready" << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line == "quit") break;
    // "run <0|1> <filter>"; anything else is the runner's bug, said on the same channel.
    const std::string_view l(line);
    if (l.size() < 7 || l.substr(0, 4) != "run " || (l[4] != '0' && l[4] != '1') || l[5] != ' ') {
      std::cout << kTag << " error: not a command: " << line << std::endl;
      continue;
    }
    if (l[4] == '1') {
      setenv(kAbRoundEnv, "1", 1);
    } else {
      unsetenv(kAbRoundEnv);
    }
    if (g_reset != nullptr) g_reset();
    // A display reporter of our own for every run: Google Benchmark 1.7's default one is a
    // static that its first run deletes, so a second run with it crashes.
    benchmark::ConsoleReporter display(benchmark::ConsoleReporter::OO_None);
    const std::size_t ran = benchmark::RunSpecifiedBenchmarks(&display, nullptr, std::string(l.substr(6)));
    std::cout << kTag << " done " << ran << std::endl;
  }
  return 0;
}

}  // namespace infeng::bench
