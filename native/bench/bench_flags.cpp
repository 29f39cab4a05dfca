// Strict parsing of the lane binaries' own flags (see bench_flags.h for why).
#include "bench_flags.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace infeng::bench {

void usage_error(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  std::exit(kUsageExit);
}

std::optional<std::string> take_flag(int& argc, char** argv, std::string_view name) {
  const std::string bare = "--" + std::string(name);
  const std::string prefix = bare + "=";
  std::optional<std::string> value;
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == bare) usage_error(bare + " needs a value: write " + prefix + "<value>");
    if (arg.substr(0, prefix.size()) == prefix) {
      value = std::string(arg.substr(prefix.size()));
      continue;
    }
    argv[out++] = argv[i];
  }
  argc = out;
  argv[argc] = nullptr;
  return value;
}

std::int64_t parse_positive(std::string_view flag, std::string_view text, std::int64_t max) {
  std::int64_t v = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end || v < 1 || v > max) {
    usage_error("--" + std::string(flag) + ": '" + std::string(text) +
                "' is not an integer in [1, " + std::to_string(max) + "]");
  }
  return v;
}

std::vector<std::int64_t> parse_positive_list(std::string_view flag, std::string_view text,
                                              std::int64_t max) {
  std::vector<std::int64_t> out;
  if (text.empty()) {
    usage_error("--" + std::string(flag) + " is empty: expected a comma-separated list of " +
                "positive integers such as 1,4,16");
  }
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = text.find(',', start);
    const std::string_view item =
        text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    const std::int64_t v = parse_positive(flag, item, max);
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace infeng::bench
