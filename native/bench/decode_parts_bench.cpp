// Where decode attention's time goes, part by part: each piece of a kernel table (query
// preparation, q·K, softmax, P·V; FP16 and int8 KV) timed alone on one 256-token tile that sits
// in L1/L2, for every table this CPU can run. The lane's attn-decode bench times whole decode
// steps from DRAM; this one says which part to work on, and what a change did to it, without
// the memory system in the way. Not a lane: a kernel engineer's tool.
//
//   infeng_decode_parts_bench [--benchmark_filter=avx2/g8d64] [--benchmark_repetitions=5]
//
// Counter ns_per_token: the part's time for one token of one KV head (all G query heads).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "attention/decode_kernels.h"
#include "infeng/dispatch.h"

namespace {

using namespace infeng;
using namespace infeng::attn;
using namespace infeng::attn::detail;

constexpr int kTile = 256;

// One KV head's tile and a query group of G heads, random but fixed. The outlier side-table is
// dense with two channels a token, as the quantiser writes most groups.
struct Tile {
  int G, D, lds = kTile;
  std::vector<std::uint8_t> k8, v8;
  std::vector<std::uint16_t> k16, v16;
  std::vector<float> q, ks, mid, vs, s, acc, m, l, corr, oval, oq;
  std::vector<std::int8_t> hi, lo;
  std::vector<float> s_hi, s_lo, zq;
  std::vector<std::int32_t> b_hi, b_lo;

  Tile(int g, int d) : G(g), D(d) {
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> byte(0, 255);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    k8.resize(kTile * D);
    v8.resize(kTile * D);
    for (auto& x : k8) x = static_cast<std::uint8_t>(byte(rng));
    for (auto& x : v8) x = static_cast<std::uint8_t>(byte(rng));
    // FP16 in [1, 2): exponent 15, random mantissa.
    k16.resize(kTile * D);
    v16.resize(kTile * D);
    for (auto& x : k16) x = static_cast<std::uint16_t>(0x3C00 | (byte(rng) << 2));
    for (auto& x : v16) x = static_cast<std::uint16_t>(0x3C00 | (byte(rng) << 2));
    q.resize(G * D);
    for (auto& x : q) x = normal(rng);
    ks.assign(D, 0.02f);
    mid.assign(D, 0.1f);
    vs.assign(kTile, 0.01f);
    s.resize(G * lds);
    for (int h = 0; h < G; ++h)
      for (int t = 0; t < kTile; ++t) s[h * lds + t] = normal(rng);
    acc.assign(G * D, 0.0f);
    m.assign(G, -1e30f);
    l.assign(G, 0.0f);
    corr.assign(G, 1.0f);
    oval.assign(2 * kTile, 0.5f);
    oq.assign(G * kMaxFusedCols, 0.25f);
    hi.resize(2 * G * D);
    lo.resize(G * D);
    s_hi.resize(G);
    s_lo.resize(G);
    zq.resize(G);
    b_hi.resize(G);
    b_lo.resize(G);
  }
  QueryBuffers buffers() { return {hi.data(), lo.data(), s_hi.data(), s_lo.data(), b_hi.data(), b_lo.data(), zq.data()}; }
  QuantQuery query(bool fused) const {
    return {q.data(), ks.data(), hi.data(), lo.data(), s_hi.data(), s_lo.data(), b_hi.data(), b_lo.data(),
            zq.data(), fused ? 2 : 0, oval.data(), oq.data()};
  }
};

enum class Part { Prepare, ScoresF16, ScoresI8, Softmax, AccumF16, AccumI8 };

void run_part(benchmark::State& state, const DecodeKernels* k, Part part, int G, int D) {
  Tile t(G, D);
  k->prepare_query(t.q.data(), t.ks.data(), t.mid.data(), G, D, k->int_query, t.buffers());
  const QuantQuery qq = t.query(k->fused_outliers);
  // The weights P·V reads are a softmax's output, and the int8 P·V overwrites them in place:
  // both P·V parts read rotating copies, refilled outside the timing every kCopies calls.
  k->softmax_tile(t.s.data(), t.lds, G, kTile, t.m.data(), t.l.data(), t.corr.data());
  constexpr int kCopies = 32;
  const std::size_t pitch = t.s.size();
  std::vector<float> copies(kCopies * pitch);
  auto refill = [&] {
    for (int c = 0; c < kCopies; ++c) std::copy(t.s.begin(), t.s.end(), copies.begin() + c * pitch);
  };
  refill();
  int next = 0;
  for (auto _ : state) {
    switch (part) {
      case Part::Prepare:
        // A tile spans four K groups, each with its own channel scales.
        for (int g = 0; g < kTile / kKvGroup; ++g)
          k->prepare_query(t.q.data(), t.ks.data(), t.mid.data(), G, D, k->int_query, t.buffers());
        break;
      case Part::ScoresF16: k->scores_f16(t.k16.data(), D, kTile / kKvSub, t.q.data(), G, t.s.data(), t.lds, 0); break;
      case Part::ScoresI8: k->scores_i8(t.k8.data(), D, kTile / kKvSub, qq, G, t.s.data(), t.lds, 0); break;
      case Part::Softmax:
        // Its cost does not depend on the values, so the tile is not reset between calls.
        k->softmax_tile(t.s.data(), t.lds, G, kTile, t.m.data(), t.l.data(), t.corr.data());
        break;
      case Part::AccumF16:
      case Part::AccumI8: {
        if (next == kCopies) {
          state.PauseTiming();
          refill();
          next = 0;
          state.ResumeTiming();
        }
        float* p = copies.data() + next++ * pitch;
        if (part == Part::AccumF16)
          k->accum_v_f16(t.v16.data(), D, kTile, p, t.lds, G, t.corr.data(), t.acc.data(), 0);
        else
          k->accum_v_i8(reinterpret_cast<const std::int8_t*>(t.v8.data()), t.vs.data(), D, kTile, p, t.lds, G,
                        t.corr.data(), t.acc.data(), 0);
        break;
      }
    }
    benchmark::DoNotOptimize(t.s.data());
    benchmark::DoNotOptimize(t.acc.data());
    benchmark::ClobberMemory();
  }
  state.counters["ns_per_token"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kTile,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

struct Table {
  const char* name;
  const DecodeKernels* kernels;
};

std::vector<Table> tables() {
  std::vector<Table> out;
#if INFENG_HAVE_AVX2
  if (path_supported(Path::Avx2)) out.push_back({"avx2", &decode_kernels_avx2()});
#endif
#if INFENG_HAVE_AVX512
  if (path_supported(Path::Avx512)) {
    out.push_back({"avx512", &decode_kernels_avx512()});
    if (cpu_features().avx512_vnni) out.push_back({"avx512_vnni", &decode_kernels_vnni_avx512()});
  }
#endif
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const std::pair<Part, const char*> parts[] = {
      {Part::Prepare, "prepare_x4"}, {Part::ScoresF16, "scores_f16"}, {Part::ScoresI8, "scores_i8"},
      {Part::Softmax, "softmax"},    {Part::AccumF16, "pv_f16"},      {Part::AccumI8, "pv_i8"}};
  const std::pair<int, int> shapes[] = {{8, 64}, {4, 128}};
  for (const Table& table : tables())
    for (auto [G, D] : shapes)
      for (auto [part, name] : parts) {
        const std::string id = std::string(table.name) + "/g" + std::to_string(G) + "d" + std::to_string(D) + "/" + name;
        benchmark::RegisterBenchmark(id.c_str(), run_part, table.kernels, part, G, D);
      }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
