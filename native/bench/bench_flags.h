// Lane-specific command-line flags for the benchmark binaries.
//
// Google Benchmark owns every --benchmark_* flag and rejects what it does not know, so each
// lane binary takes its own flags (--threads=, --gemm_m=, ...) out of argv first, validates
// them strictly, and hands the rest to benchmark::Initialize. A bad value is a usage error:
// the binary names the flag, says what it expected, and exits with status 2, so the adapter
// that runs it reports a clear error instead of a lane that silently measured something else.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace infeng::bench {

inline constexpr int kUsageExit = 2;

// Prints "<program>: <message>" to stderr and exits with kUsageExit.
[[noreturn]] void usage_error(const std::string& message);

// Removes every "--<name>=<value>" from argv (the last one wins) and returns its value.
// "--<name>" without "=value" is a usage error.
std::optional<std::string> take_flag(int& argc, char** argv, std::string_view name);

// A positive integer in [1, max]; a usage error naming --<flag> otherwise.
std::int64_t parse_positive(std::string_view flag, std::string_view text, std::int64_t max);

// A comma-separated list of positive integers in [1, max], duplicates dropped, order kept.
std::vector<std::int64_t> parse_positive_list(std::string_view flag, std::string_view text,
                                              std::int64_t max);

}  // namespace infeng::bench
