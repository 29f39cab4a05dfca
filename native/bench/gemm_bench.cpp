// The GEMM lane: base GEMM and LoRA-fused GEMM measured against their own unfused form, against
// OpenBLAS, and (for decode) against the memory bandwidth the machine delivers in the same run.
//
// Absolute GEMM times drift by a few percent between CI runners, so the numbers this lane is
// judged on are same-run ratios: each benchmark iteration is one round that times every variant
// once, in an order that rotates per round, so drift hits all variants alike. Decode (M ≤ 16)
// streams its weights from DRAM, as every layer of a real model does, so decode cases rotate
// through enough distinct copies of W to exceed the last-level cache; otherwise the lane would
// report cache bandwidth and flatter the kernels. A case whose outputs disagree is skipped with
// an error: no speed is reported for a wrong answer.
//
// Benchmark names are a contract with the result parser: gemm/<decode|prefill>/M<m>/H<h>/r<r>
// and gemm/membw.
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench_flags.h"
#include "call_stats.h"
#include "blis_peer.h"
#include "infeng/dispatch.h"
#include "infeng/gemm.h"
#include "quiesce.h"
#include "serve.h"
#include "stream_read.h"

namespace {

using infeng::Path;
using infeng::bench::BlisPeer;
using infeng::bench::StreamReader;
using infeng::bench::median_of;
using infeng::bench::median_ratio;
using infeng::bench::rotations_per_iteration;
using infeng::bench::usage_error;
namespace gemm = infeng::gemm;

constexpr float kLoraScale = 0.5f;  // large enough that a dropped LoRA term fails the check
constexpr double kQuiesceTimeoutMs = 50.0;  // far above any pool's spin-before-park

// Before every timed call: wait (untimed) until no other thread of the process runs, so no
// variant pays for the pool that the previous one left spinning. Counts the waits that gave up.
int g_quiesce_timeouts = 0;
void quiesce() {
  if (!infeng::bench::wait_quiescent(kQuiesceTimeoutMs) && g_quiesce_timeouts++ == 0) {
    std::fprintf(stderr, "warning: a thread of this process kept running for %.0f ms; "
                 "timed calls may share their cores with it\n", kQuiesceTimeoutMs);
  }
}

struct Config {
  int threads = 1;
  std::vector<std::int64_t> m = {1, 4, 16, 128, 512};
  std::vector<std::int64_t> h = {2048, 4096};
  std::vector<std::int64_t> r = {8, 16, 64};
  std::size_t stream_bytes = std::size_t{1} << 30;
};

Config g_cfg;
std::unique_ptr<StreamReader> g_reader;
std::unique_ptr<BlisPeer> g_blis;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Deterministic uniform values in [-scale, scale): the same inputs on every run and machine.
void fill_uniform(float* p, std::size_t n, std::uint64_t seed, float scale) {
  std::uint64_t s = seed;
  for (std::size_t i = 0; i < n; ++i) {
    s += 0x9E3779B97F4A7C15ull;  // splitmix64
    std::uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    p[i] = (static_cast<float>(z >> 40) * (1.0f / 8388608.0f) - 1.0f) * scale;
  }
}

// A buffer the lane streams: huge-page advice is given before the first touch, so every
// streamed buffer (packed W, OpenBLAS W, probe) gets the same page size.
gemm::AlignedBuffer streamed_floats(std::size_t count) {
  gemm::AlignedBuffer b = gemm::aligned_floats(count);
  if (!b) throw std::bad_alloc();
  infeng::bench::advise_huge_pages(b.get(), count * sizeof(float));
  return b;
}

// A byte-for-byte copy of packed weights at a new address. Re-packing each copy would give
// the same bytes, only slower: packing 1 GiB per case would dominate the lane's run time.
gemm::PackedWeights clone_packed(const gemm::PackedWeights& src) {
  gemm::PackedWeights out;
  out.K = src.K;
  out.N = src.N;
  out.path = src.path;
  out.nr = src.nr;
  out.kc = src.kc;
  out.floats = src.floats;
  out.data = streamed_floats(src.floats);
  std::memcpy(out.data.get(), src.data.get(), src.bytes());
  return out;
}

std::size_t copies_to_span(std::size_t footprint, std::size_t one) {
  return std::max<std::size_t>(1, (footprint + one - 1) / one);
}

// The weights of one hidden size: packed copies for our kernels, plain copies for OpenBLAS,
// and the probe buffer. Decode needs copies spanning --stream_bytes; prefill uses copy 0.
struct WeightSet {
  int H = 0;
  Path path = Path::Scalar;
  bool streaming = false;
  std::vector<gemm::PackedWeights> packed;
  gemm::AlignedBuffer plain;  // plain_copies × (K×N), row-major; copy 0 is the packing source
  std::size_t plain_copies = 0;
  gemm::AlignedBuffer probe;  // packed.size() slots of exactly packed_bytes() each
  // Calls that read a copy so far. Every variant takes copy `cursor % copies`, so the next
  // copy is always the least recently read one, across variants and across the cases that
  // share this set (one counter also makes a W copy and a probe slot equally cold).
  std::size_t cursor = 0;
  std::size_t packed_bytes() const { return packed.front().bytes(); }
  std::size_t plain_floats() const { return static_cast<std::size_t>(H) * H; }
};

std::shared_ptr<WeightSet> build_weights(int H, Path path, bool streaming) {
  auto ws = std::make_shared<WeightSet>();
  ws->H = H;
  ws->path = path;
  ws->streaming = streaming;
  const std::size_t kn = ws->plain_floats();
  const std::size_t footprint = g_cfg.stream_bytes;
  ws->plain_copies = streaming ? copies_to_span(footprint, kn * sizeof(float)) : 1;
  ws->plain = streamed_floats(ws->plain_copies * kn);
  fill_uniform(ws->plain.get(), kn, 0x5EED0000u + H, 1.0f / std::sqrt(static_cast<float>(H)));
  for (std::size_t c = 1; c < ws->plain_copies; ++c) {
    std::memcpy(ws->plain.get() + c * kn, ws->plain.get(), kn * sizeof(float));
  }

  gemm::PackedWeights proto = gemm::pack_weights(ws->plain.get(), H, H, H, path);
  const std::size_t packed_copies = streaming ? copies_to_span(footprint, proto.bytes()) : 1;
  ws->packed.reserve(packed_copies);
  for (std::size_t c = 0; c < packed_copies; ++c) ws->packed.push_back(clone_packed(proto));

  if (streaming) {
    ws->probe = streamed_floats(packed_copies * proto.floats);
    std::memset(ws->probe.get(), 0x5A, packed_copies * proto.bytes());
  }
  return ws;
}

enum Variant : int { kBase = 0, kFused, kUnfused, kOpenblas, kBlis, kProbe, kVariantCount };

// The peers read the plain (unpacked) row-major weights.
constexpr bool is_peer(int v) { return v == kOpenblas || v == kBlis; }

// Everything one case needs. Only the most recent case is kept (see case_for), so memory stays
// at one case's footprint while the repeated calls Google Benchmark makes for one case — the
// iteration-count probes and consecutive repetitions — do not re-pack and re-check each time.
struct CaseData {
  int M = 0, H = 0, r = 0, threads = 0;
  Path path = Path::Scalar;
  std::shared_ptr<WeightSet> ws;
  gemm::AlignedBuffer x, A, B;
  // One adapter copy per W copy when decode streams: a real model's adapters sit beside its
  // layers' weights and come from DRAM with them, so a single cache-hot copy would understate
  // the LoRA tax.
  std::vector<gemm::PackedLora> loras;
  const gemm::PackedLora& lora(std::size_t copy) const { return loras[copy % loras.size()]; }
  gemm::AlignedBuffer y[kProbe];
  std::string error;  // non-empty: the outputs failed the check
  int rotation = 0;
  std::uint64_t sink = 0;
};

std::unique_ptr<CaseData> g_case;

// Runs one variant once and returns its wall time in seconds. copy selects which distinct
// copy of W (and slot of the probe buffer) to read.
double run_variant(CaseData& c, int v, std::size_t copy) {
  const WeightSet& ws = *c.ws;
  const int M = c.M, K = c.H, N = c.H;
  // Naming the path makes the library refuse weights packed for another one.
  const gemm::Options opt{c.threads, c.path};
  const auto t0 = std::chrono::steady_clock::now();
  switch (v) {
    case kBase:
      gemm::matmul(c.x.get(), M, K, ws.packed[copy], c.y[kBase].get(), N, opt);
      break;
    case kFused:
      gemm::matmul_lora_fused(c.x.get(), M, K, ws.packed[copy], c.lora(copy), c.y[kFused].get(), N, opt);
      break;
    case kUnfused:
      gemm::matmul_lora_unfused(c.x.get(), M, K, ws.packed[copy], c.lora(copy), c.y[kUnfused].get(), N,
                                opt);
      break;
    case kOpenblas:
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, c.x.get(), K,
                  ws.plain.get() + copy * ws.plain_floats(), N, 0.0f, c.y[kOpenblas].get(), N);
      break;
    case kBlis:
      g_blis->sgemm(M, N, K, c.x.get(), ws.plain.get() + copy * ws.plain_floats(), c.y[kBlis].get());
      break;
    case kProbe: {
      // The reader times its own reads, without the wake-up of its parked threads.
      const auto* base = reinterpret_cast<const unsigned char*>(ws.probe.get());
      const auto res = g_reader->read(base + copy * ws.packed_bytes(), ws.packed_bytes());
      c.sink += res.checksum;
      return res.seconds;
    }
  }
  return seconds_since(t0);
}

// Per-element error bound for one FP32 result: lambda·sqrt(K)·u·S, with S = Σ|x||W| (+ the same
// for the LoRA term) and u the unit roundoff. sqrt(K) rather than the worst-case K is the
// probabilistic bound for rounding errors of independent sign (Higham & Mary, 2019); lambda = 8
// leaves a vanishing chance of a false alarm while any dropped block or term still fails.
constexpr double kLambda = 8.0;
constexpr double kUnitRoundoff = 0x1p-24;

std::string fmt(const char* format, double a, double b, double c, double d) {
  char buf[256];
  std::snprintf(buf, sizeof buf, format, a, b, c, d);
  return buf;
}

// Compares got against want element by element (rows × N, contiguous rows); the tolerance of
// each element is factor · lambda·sqrt(K)·u · bound. Returns a message on the first mismatch.
std::string compare(const char* what, const float* got, const float* want, const float* bound,
                    int rows, int N, int row0, int K, double factor) {
  const double per_unit = factor * kLambda * std::sqrt(static_cast<double>(K)) * kUnitRoundoff;
  for (int i = 0; i < rows; ++i) {
    for (int n = 0; n < N; ++n) {
      const std::size_t at = static_cast<std::size_t>(i) * N + n;
      const double diff = std::fabs(static_cast<double>(got[at]) - want[at]);
      const double tol = per_unit * bound[at] + 1e-30;
      if (!(diff <= tol)) {  // also catches NaN
        return std::string(what) + " differ at row " + std::to_string(row0 + i) + " col " +
               std::to_string(n) +
               fmt(": %.7g vs %.7g, |diff| %.3g > tolerance %.3g", got[at], want[at], diff, tol) +
               " (K=" + std::to_string(K) + "); refusing to report speed for a wrong answer";
      }
    }
  }
  return {};
}

std::vector<float> abs_copy(const float* p, std::size_t n) {
  std::vector<float> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = std::fabs(p[i]);
  return out;
}

// Runs every variant once on copy 0 (which also warms thread pools and OpenBLAS buffers) and
// checks: fused against unfused and base against OpenBLAS on every element, and base and fused
// against the double-precision reference on a few rows.
std::string check_outputs(CaseData& c) {
  const int M = c.M, K = c.H, N = c.H, r = c.r;
  // The copy read here is now cached: advance the cursor past it so decode starts cold.
  const std::size_t tick = c.ws->cursor++;
  for (int v = kBase; v <= kBlis; ++v) {
    if (v == kBlis && !g_blis->ok()) continue;
    run_variant(c, v, tick % (is_peer(v) ? c.ws->plain_copies : c.ws->packed.size()));
    // Proof that the forced path ran: a fallback would otherwise be measured under its name.
    const auto ran = gemm::last_path();
    if (!is_peer(v) && (!ran || *ran != c.path)) {
      return std::string("the kernels ran path ") + (ran ? infeng::path_name(*ran) : "(none)") +
             ", not the requested " + infeng::path_name(c.path);
    }
  }

  // Error-bound scale S = |x|·|W| + scale·|x|·|A|·|B|, computed with OpenBLAS (fast; an FP32
  // estimate of a magnitude is plenty for a tolerance).
  const std::size_t mn = static_cast<std::size_t>(M) * N;
  const auto ax = abs_copy(c.x.get(), static_cast<std::size_t>(M) * K);
  const auto aA = abs_copy(c.A.get(), static_cast<std::size_t>(K) * r);
  const auto aB = abs_copy(c.B.get(), static_cast<std::size_t>(r) * N);
  std::vector<float> s_base(mn), s_lora(mn), t(static_cast<std::size_t>(M) * r);
  {
    const auto aW = abs_copy(c.ws->plain.get(), c.ws->plain_floats());  // copies are equal
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, ax.data(), K, aW.data(),
                N, 0.0f, s_base.data(), N);
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, r, K, 1.0f, ax.data(), K, aA.data(), r,
              0.0f, t.data(), r);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, r, std::fabs(kLoraScale), t.data(), r,
              aB.data(), N, 0.0f, s_lora.data(), N);
  for (std::size_t i = 0; i < mn; ++i) s_lora[i] += s_base[i];

  // Two computed results each carry an error up to the bound: factor 2 when comparing them.
  std::string err = compare("fused and unfused LoRA outputs", c.y[kFused].get(),
                            c.y[kUnfused].get(), s_lora.data(), M, N, 0, K, 2.0);
  if (err.empty()) {
    err = compare("base GEMM and OpenBLAS outputs", c.y[kBase].get(), c.y[kOpenblas].get(),
                  s_base.data(), M, N, 0, K, 2.0);
  }
  if (err.empty() && g_blis->ok()) {
    err = compare("base GEMM and BLIS outputs", c.y[kBase].get(), c.y[kBlis].get(), s_base.data(), M, N, 0, K, 2.0);
  }
  std::vector<int> rows = {0, M / 2, M - 1};
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  std::vector<float> ref(N);
  for (int row : rows) {
    if (!err.empty()) break;
    const std::size_t off = static_cast<std::size_t>(row) * N;
    const float* xr = c.x.get() + static_cast<std::size_t>(row) * K;
    gemm::reference_matmul(xr, 1, K, c.ws->plain.get(), N, K, N, ref.data(), N);
    err = compare("base GEMM and the reference", c.y[kBase].get() + off, ref.data(),
                  s_base.data() + off, 1, N, row, K, 1.0);
    if (!err.empty()) break;
    gemm::reference_lora(xr, 1, K, c.ws->plain.get(), N, c.A.get(), r, c.B.get(), N, K, N, r,
                         kLoraScale, ref.data(), N);
    err = compare("fused LoRA GEMM and the reference", c.y[kFused].get() + off, ref.data(),
                  s_lora.data() + off, 1, N, row, K, 1.0);
  }
  return err;
}

CaseData& case_for(int M, int H, int r) {
  const Path path = infeng::active_path();
  const bool streaming = M <= gemm::kDecodeMaxM;
  if (g_case && g_case->M == M && g_case->H == H && g_case->r == r && g_case->path == path &&
      g_case->threads == g_cfg.threads) {
    return *g_case;
  }
  // Keep the weights when only M or r changed (prefill can use a streaming set's copy 0);
  // free everything else before allocating, so two cases never coexist in memory.
  std::shared_ptr<WeightSet> ws;
  if (g_case && g_case->ws && g_case->ws->H == H && g_case->ws->path == path &&
      (g_case->ws->streaming || !streaming)) {
    ws = g_case->ws;
  }
  g_case.reset();
  if (!ws) ws = build_weights(H, path, streaming);

  auto c = std::make_unique<CaseData>();
  c->M = M;
  c->H = H;
  c->r = r;
  c->threads = g_cfg.threads;
  c->path = path;
  c->ws = std::move(ws);
  const std::size_t K = H, N = H;
  c->x = gemm::aligned_floats(static_cast<std::size_t>(M) * K);
  c->A = gemm::aligned_floats(K * r);
  c->B = gemm::aligned_floats(static_cast<std::size_t>(r) * N);
  fill_uniform(c->x.get(), static_cast<std::size_t>(M) * K, 0xA11CE000u + M, 1.0f);
  fill_uniform(c->A.get(), K * r, 0xAAAA0000u + r, 1.0f / std::sqrt(static_cast<float>(K)));
  fill_uniform(c->B.get(), r * N, 0xBBBB0000u + r, 1.0f / std::sqrt(static_cast<float>(r)));
  const std::size_t lora_copies = c->ws->streaming ? c->ws->packed.size() : 1;
  c->loras.reserve(lora_copies);
  for (std::size_t i = 0; i < lora_copies; ++i) {
    c->loras.push_back(gemm::pack_lora(c->A.get(), r, c->B.get(), static_cast<int>(N), H, H, r,
                                       kLoraScale, path));
  }
  for (auto& y : c->y) {
    y = gemm::aligned_floats(static_cast<std::size_t>(M) * N);
    std::memset(y.get(), 0, static_cast<std::size_t>(M) * N * sizeof(float));
  }
  c->error = check_outputs(*c);
  g_case = std::move(c);
  return *g_case;
}

// The benchmark name is the case id the lane parser keys on (src/lanes/gemm.ts).
std::string case_name(int M, int H, int r) {
  return std::string("gemm/") + (M <= gemm::kDecodeMaxM ? "decode" : "prefill") + "/M" + std::to_string(M) +
         "/H" + std::to_string(H) + "/r" + std::to_string(r);
}

// With repetitions interleaved, Google Benchmark prints nothing until the end of the run; one
// stderr line per run of a case is the progress the lane runner shows (Google Benchmark runs
// each case once more than the repetitions: the first run sizes the iteration count).
void report_progress(const std::string& name) {
  static std::map<std::string, int> seen;
  std::fprintf(stderr, "progress: %s run %d\n", name.c_str(), ++seen[name]);
}

void bm_gemm_case(benchmark::State& state, int M, int H, int r) {
  report_progress(case_name(M, H, r));
  CaseData* cp = nullptr;
  try {
    cp = &case_for(M, H, r);
  } catch (const std::exception& e) {
    g_case.reset();
    state.SkipWithError((std::string("setup failed: ") + e.what()).c_str());
    return;
  }
  CaseData& c = *cp;
  if (!c.error.empty()) {
    state.SkipWithError(c.error.c_str());
    return;
  }
  const WeightSet& ws = *c.ws;
  const bool decode = M <= gemm::kDecodeMaxM;
  // The variants timed round-robin: ours, the peers, and (decode) the read probe.
  int order[kVariantCount];
  int variants = 0;
  for (int v = kBase; v < kVariantCount; ++v) {
    if ((v == kBlis && !g_blis->ok()) || (v == kProbe && !decode)) continue;
    order[variants++] = v;
  }
  // Prefill is compute-bound and reuses one W, as a real prefill does over its whole batch: it
  // reads the most recently used copy (the check just read it), which the decode rotation of
  // a case sharing these weights will reach last, so it never hands decode a warm copy.
  const std::size_t packed_n = ws.packed.size();
  const std::size_t plain_n = ws.plain_copies;
  // per variant, every call's time in iteration order (call_stats.h: medians, not sums)
  std::vector<double> calls[kVariantCount];
  const int rotations = rotations_per_iteration(static_cast<long long>(state.max_iterations));
  try {
    for (auto _ : state) {
      for (int k = 0; k < rotations; ++k) {
        for (int j = 0; j < variants; ++j) {
          const int v = order[(c.rotation + j) % variants];
          const std::size_t tick = decode ? c.ws->cursor++ : c.ws->cursor - 1;
          const std::size_t copy = tick % (is_peer(v) ? plain_n : packed_n);
          quiesce();
          calls[v].push_back(run_variant(c, v, copy));
        }
        c.rotation = (c.rotation + 1) % variants;
      }
    }
  } catch (const std::exception& e) {
    state.SkipWithError((std::string("kernel failed: ") + e.what()).c_str());
    return;
  }
  benchmark::DoNotOptimize(c.sink);

  if (state.iterations() <= 0) return;
  const double Md = M, Kd = H, Nd = H, rd = r;
  const double base_flops = 2.0 * Md * Kd * Nd;
  const double lora_flops = base_flops + 2.0 * Md * Kd * rd + 2.0 * Md * rd * Nd;
  double per[kVariantCount];
  for (int v = 0; v < kVariantCount; ++v) per[v] = median_of(calls[v]);
  // num over den, iteration by iteration
  const auto ratio = [&](int num, int den) { return median_ratio(calls[num], calls[den]); };
  auto& k = state.counters;
  k["base_ms"] = per[kBase] * 1e3;
  k["fused_ms"] = per[kFused] * 1e3;
  k["unfused_ms"] = per[kUnfused] * 1e3;
  k["openblas_ms"] = per[kOpenblas] * 1e3;
  k["base_gflops"] = base_flops / per[kBase] * 1e-9;
  k["fused_gflops"] = lora_flops / per[kFused] * 1e-9;
  k["unfused_gflops"] = lora_flops / per[kUnfused] * 1e-9;
  k["openblas_gflops"] = base_flops / per[kOpenblas] * 1e-9;
  k["lora_tax_pct"] = (ratio(kFused, kBase) - 1.0) * 100.0;
  k["lora_tax_bound_pct"] = 100.0 * 2.0 * rd / Kd;
  k["fused_vs_unfused"] = ratio(kUnfused, kFused);
  k["ratio_vs_openblas"] = ratio(kOpenblas, kBase);
  if (g_blis->ok()) {
    k["blis_ms"] = per[kBlis] * 1e3;
    k["blis_gflops"] = base_flops / per[kBlis] * 1e-9;
    k["ratio_vs_blis"] = ratio(kBlis, kBase);
  }
  if (decode) {
    const double wbytes = static_cast<double>(ws.packed_bytes());
    const double weight_gbps = wbytes / per[kBase] * 1e-9;
    const double read_gbps = wbytes / per[kProbe] * 1e-9;
    k["weight_gbps"] = weight_gbps;
    k["read_gbps"] = read_gbps;
    k["bw_efficiency_pct"] = 100.0 * ratio(kProbe, kBase);
    k["openblas_weight_gbps"] = Kd * Nd * sizeof(float) / per[kOpenblas] * 1e-9;
    if (g_blis->ok()) k["blis_weight_gbps"] = Kd * Nd * sizeof(float) / per[kBlis] * 1e-9;
  }
  char label[160];
  std::snprintf(label, sizeof label, "path=%s packed_MiB=%.1f copies=%zu quiesce_timeouts=%d",
                infeng::path_name(c.path), ws.packed_bytes() / 1048576.0, decode ? packed_n : 1,
                g_quiesce_timeouts);
  state.SetLabel(label);
}

// The machine's streaming read bandwidth over --stream_bytes on --threads threads: the
// ceiling that decode's weight_gbps is read against.
void bm_membw(benchmark::State& state) {
  // The cached case is kept: its weights are reused by the next case of the same H, and one
  // case plus this buffer is still a bounded footprint (4× --stream_bytes at most).
  const std::size_t bytes = g_cfg.stream_bytes & ~std::size_t{3};
  gemm::AlignedBuffer buf;
  try {
    buf = streamed_floats(bytes / sizeof(float));
  } catch (const std::exception& e) {
    state.SkipWithError((std::string("cannot allocate the stream buffer: ") + e.what()).c_str());
    return;
  }
  std::memset(buf.get(), 0x5A, bytes);
  std::uint64_t sink = 0;
  double sec = 0;
  for (auto _ : state) {
    quiesce();
    const auto res = g_reader->read(buf.get(), bytes);
    sink += res.checksum;
    sec += res.seconds;
  }
  benchmark::DoNotOptimize(sink);
  const double n = static_cast<double>(state.iterations());
  if (n <= 0) return;
  state.counters["read_gbps"] = static_cast<double>(bytes) * n / sec * 1e-9;
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes) * state.iterations());
}

// OpenBLAS reads its environment once, when libopenblas loads, before main; the only way to
// set it from here is to re-execute with it in the environment. Values the caller already set
// are respected.
//  - OPENBLAS_THREAD_TIMEOUT: its worker threads busy-wait for about 2^28 cycles (~0.1 s) after
//    every call. On a two-core runner that spinning steals a core from whichever variant is
//    timed next, so the round-robin would charge our kernels for OpenBLAS's idle time.
//  - OPENBLAS_CORETYPE: with --force_path=avx2 (or INFENG_FORCE_PATH=avx2) on an AVX-512
//    machine, OpenBLAS would still run its AVX-512 kernels (Cooperlake or SkylakeX) and
//    ratio_vs_openblas would compare two ISAs. Haswell is its AVX2+FMA kernel set, what it runs
//    on the AVX2-only runners the forced path stands for.
bool forced_avx2(int argc, char** argv) {
  const char* env = std::getenv("INFENG_FORCE_PATH");
  bool avx2 = env != nullptr && std::string_view(env) == "avx2";
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a.rfind("--force_path=", 0) == 0) avx2 = a.substr(13) == "avx2";
  }
  return avx2;
}

void ensure_openblas_environment(int argc, char** argv) {
  bool changed = false;
  if (std::getenv("OPENBLAS_THREAD_TIMEOUT") == nullptr) {
    setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1);  // 2^4 cycles, the minimum: park at once
    changed = true;
  }
  if (forced_avx2(argc, argv) && std::getenv("OPENBLAS_CORETYPE") == nullptr) {
    setenv("OPENBLAS_CORETYPE", "Haswell", 1);
    changed = true;
  }
  if (!changed) return;
  execv("/proc/self/exe", argv);
  std::fprintf(stderr, "warning: could not re-execute with OPENBLAS_THREAD_TIMEOUT and OPENBLAS_CORETYPE set (%s); "
               "OpenBLAS threads may spin between calls\n", std::strerror(errno));
}

void print_lane_flags() {
  std::printf(
      "infeng_gemm_bench lane flags (taken before the Google Benchmark flags below):\n"
      "  --force_path=auto|scalar|avx2|avx512   kernel path (default: auto, or INFENG_FORCE_PATH)\n"
      "  --threads=N          threads for our kernels, OpenBLAS, BLIS and the read probe (default: cores)\n"
      "  --gemm_m=LIST        rows of x; M <= %d is decode (default: 1,4,16,128,512)\n"
      "  --gemm_h=LIST        hidden size, K = N = H (default: 2048,4096)\n"
      "  --gemm_r=LIST        LoRA rank (default: 8,16,64)\n"
      "  --stream_bytes=N     decode weight rotation footprint and gemm/membw size (default: 1 GiB)\n\n",
      gemm::kDecodeMaxM);
}

void parse_lane_flags(int& argc, char** argv) {
  using infeng::bench::parse_positive;
  using infeng::bench::parse_positive_list;
  using infeng::bench::take_flag;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0) print_lane_flags();
  }

  const unsigned hw = std::thread::hardware_concurrency();
  g_cfg.threads = hw > 0 ? static_cast<int>(hw) : 1;
  if (auto v = take_flag(argc, argv, "threads")) {
    g_cfg.threads = static_cast<int>(parse_positive("threads", *v, 1024));
  }
  if (auto v = take_flag(argc, argv, "gemm_m")) g_cfg.m = parse_positive_list("gemm_m", *v, 65536);
  if (auto v = take_flag(argc, argv, "gemm_h")) g_cfg.h = parse_positive_list("gemm_h", *v, 16384);
  if (auto v = take_flag(argc, argv, "gemm_r")) g_cfg.r = parse_positive_list("gemm_r", *v, 16384);
  if (auto v = take_flag(argc, argv, "stream_bytes")) {
    g_cfg.stream_bytes =
        static_cast<std::size_t>(parse_positive("stream_bytes", *v, std::int64_t{1} << 36));
  }
  const std::int64_t min_h = *std::min_element(g_cfg.h.begin(), g_cfg.h.end());
  for (std::int64_t r : g_cfg.r) {
    if (r > min_h) {
      usage_error("--gemm_r: rank " + std::to_string(r) + " exceeds the smallest hidden size " +
                  std::to_string(min_h) + " in --gemm_h");
    }
  }

  const auto path = take_flag(argc, argv, "force_path");
  try {
    if (path) {
      infeng::force_path(*path);
    } else {
      (void)infeng::active_path();  // validates INFENG_FORCE_PATH if it is set
    }
  } catch (const std::invalid_argument& e) {
    // The library's message already names INFENG_FORCE_PATH when the environment was the source.
    usage_error(path ? std::string("--force_path: ") + e.what() : std::string(e.what()));
  } catch (const std::exception& e) {
    usage_error(std::string(path ? "--force_path=" + *path : "INFENG_FORCE_PATH") + ": " +
                e.what());
  }
}

void register_benchmarks() {
  for (std::int64_t h : g_cfg.h) {
    for (std::int64_t m : g_cfg.m) {
      for (std::int64_t r : g_cfg.r) {
        const std::string name = case_name(static_cast<int>(m), static_cast<int>(h), static_cast<int>(r));
        benchmark::RegisterBenchmark(name.c_str(), bm_gemm_case, static_cast<int>(m),
                                     static_cast<int>(h), static_cast<int>(r))
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
  benchmark::RegisterBenchmark("gemm/membw", bm_membw)->UseRealTime()->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
  // The lane runner reads stdout through a pipe and shows it as progress: line-buffer it, or
  // a full run prints nothing for minutes and then everything at once.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  ensure_openblas_environment(argc, argv);
  parse_lane_flags(argc, argv);

  openblas_set_num_threads(g_cfg.threads);
  g_reader = std::make_unique<StreamReader>(g_cfg.threads);
  g_blis = std::make_unique<BlisPeer>(g_cfg.threads, infeng::active_path() == Path::Avx2);

  benchmark::AddCustomContext("path", infeng::path_name(infeng::active_path()));
  benchmark::AddCustomContext("threads", std::to_string(g_cfg.threads));
  benchmark::AddCustomContext("isa_flags", infeng::isa_flags());
  benchmark::AddCustomContext("compiler", __VERSION__);
  benchmark::AddCustomContext("openblas_config", openblas_get_config());
  benchmark::AddCustomContext("openblas_threads", std::to_string(openblas_get_num_threads()));
  const char* timeout = std::getenv("OPENBLAS_THREAD_TIMEOUT");
  benchmark::AddCustomContext("openblas_thread_timeout", timeout ? timeout : "");
  benchmark::AddCustomContext("blis_version", g_blis->version());
  benchmark::AddCustomContext("blis_arch", g_blis->arch());
  benchmark::AddCustomContext("blis_error", g_blis->error());
  benchmark::AddCustomContext("blis_note", g_blis->note());
  benchmark::AddCustomContext("probe_isa", StreamReader::isa());
  benchmark::AddCustomContext("stream_bytes", std::to_string(g_cfg.stream_bytes));
  benchmark::AddCustomContext("decode_max_m", std::to_string(gemm::kDecodeMaxM));

  register_benchmarks();
  const bool serve = infeng::bench::take_serve_flag(argc, argv);
  infeng::bench::set_serve_reset([] { g_case.reset(); });
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return infeng::bench::kUsageExit;
  const int status = infeng::bench::run_benchmarks(serve);
  benchmark::Shutdown();
  g_case.reset();
  g_reader.reset();
  g_blis.reset();
  return status;
}
