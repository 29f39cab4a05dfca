// Helpers shared by the two attention lane binaries (attn_decode_bench, attn_prefill_bench):
// attention-shape lists, the --force_path flag, the wait for a quiet process before a timed
// call, and the model-perplexity measurement both lanes report next to their speed.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "infeng/attention.h"

namespace infeng::bench::attn {

// The flags both lanes start with: --help (prints `usage`, which exits), --threads (default:
// the cores) and --attn_shapes (default 32/4/64,32/8/128).
struct CommonFlags {
  int threads = 1;
  std::vector<infeng::attn::Shape> shapes;
};
CommonFlags take_common_flags(int& argc, char** argv, void (*usage)());

// "32/4/64,32/8/128" → shapes (q heads / kv heads / head dim); a usage error otherwise.
std::vector<infeng::attn::Shape> parse_shapes(const std::string& flag, const std::string& text);
std::string shape_id(const infeng::attn::Shape& s);  // "q32kv4d64"

// --force_path (or INFENG_FORCE_PATH): validated, applied; a usage error naming the source.
void apply_force_path(int& argc, char** argv);

// Waits (untimed) until no other thread of the process runs; warns once on timeout.
void quiesce();

// Model file for the perplexity guard: --model=PATH, default the committed test copy.
std::string model_path(int& argc, char** argv);

// Normalised squared L2 difference Σ(got − ref)² / Σ ref² (0 when both are zero).
double nmse(const float* got, const float* ref, std::size_t n);

}  // namespace infeng::bench::attn
