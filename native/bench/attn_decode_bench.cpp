// The attn-decode lane: one query token per head against a KV cache, the int8 cache kernel
// against the FP16 cache kernel on the same keys and values, plus the machine's read bandwidth
// over the same number of bytes, all in the same rounds; and the real model's perplexity with
// each cache format.
//
// Decode streams the cache from DRAM for every generated token (a model has dozens of layers,
// each with its own cache, so nothing stays in cache between tokens). Each variant therefore
// rotates through enough distinct copies of its cache to exceed the last-level cache
// (--stream_bytes), and the probe reads as many bytes as the int8 kernel does, from its own
// rotation. Each benchmark iteration is one round that times the three once (each kernel over
// --layers consecutive calls, as one decode step), in an order that rotates per round, so
// drift hits them alike; the figures the lane is judged on are ratios of
// one round's timings. Before timing, both kernels are checked against the FP32 reference on
// the original K/V; a case whose output is wrong is skipped with an error, never timed.
//
// Benchmark names are a contract with the lane adapter (src/lanes/attn-decode.ts):
// attn_decode/<q..kv..d..>/ctx<N>, attn_decode/perplexity and attn_decode/membw.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "attention/synthetic_kv.h"
#include "attn_bench_common.h"
#include "bench_flags.h"
#include "serve.h"
#include "call_stats.h"
#include "infeng/attention.h"
#include "infeng/model.h"
#include "stream_read.h"

namespace {

namespace at = infeng::attn;
using infeng::bench::StreamReader;
using infeng::bench::median_of;
using infeng::bench::median_ratio;
using infeng::bench::rotations_per_iteration;
using infeng::bench::usage_error;
using infeng::bench::attn::nmse;
using infeng::bench::attn::quiesce;

struct Config {
  int threads = 1;
  std::vector<at::Shape> shapes;
  std::vector<std::int64_t> ctx = {512, 1024, 2048, 4096, 8192};
  int tile_tokens = 0;  // 0: the kernels' heuristic
  bool use_vnni = true;
  bool use_amx = false;
  int layers = 8;  // consecutive calls per timed variant (one decode step's layers)
  std::size_t stream_bytes = std::size_t{1} << 30;
  int ppl_sequences = 32;  // × 512 tokens of the model's own samples
  at::QuantConfig quant;   // the int8 cache's format (residual_groups from the flag)
  std::string model;
};
Config g_cfg;
std::unique_ptr<StreamReader> g_reader;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

enum Variant : int { kF16 = 0, kInt8, kProbe, kVariantCount };

// One case's caches (copies rotated to exceed the LLC), query and checks. Only the most recent
// case is kept, so memory stays at one case's footprint across Google Benchmark's repeated
// calls for a case (iteration-count probes, repetitions) without rebuilding it each time.
struct CaseData {
  at::Shape shape;
  int ctx = 0;
  std::vector<at::KvCacheF16> f16;
  std::vector<at::KvCacheInt8> i8;
  std::vector<unsigned char> probe;  // i8.size() slots of int8 stream bytes each
  std::size_t probe_slot = 0;
  std::vector<float> q, out_f16, out_i8, ref;
  at::DecodeOptions opt;
  at::DecodeInfo info_f16, info_i8;
  double l2_i8 = 0, l2_f16 = 0;
  std::string error;
  std::size_t cursor = 0;
  int rotation = 0;
  std::uint64_t sink = 0;
};
std::unique_ptr<CaseData> g_case;

std::size_t copies_to_span(std::size_t footprint, std::size_t one) {
  return std::max<std::size_t>(1, (footprint + one - 1) / one);
}

CaseData& case_for(const at::Shape& s, int ctx) {
  if (g_case && g_case->ctx == ctx && g_case->shape.n_q_heads == s.n_q_heads &&
      g_case->shape.n_kv_heads == s.n_kv_heads && g_case->shape.head_dim == s.head_dim) {
    return *g_case;
  }
  g_case.reset();
  auto c = std::make_unique<CaseData>();
  c->shape = s;
  c->ctx = ctx;
  const int H = s.n_kv_heads, D = s.head_dim;
  const auto kv = at::synthetic::make_kv(ctx, H, D, 0xC0FFEEu + ctx);
  c->q = at::synthetic::make_queries(s.n_q_heads * D, 0xBEEFu + ctx);
  at::KvCacheF16 f16(H, D, ctx);
  f16.append_many(kv.k.data(), kv.v.data(), ctx);
  at::KvCacheInt8 i8(H, D, ctx, g_cfg.quant);
  i8.append_many(kv.k.data(), kv.v.data(), ctx);
  c->f16.assign(copies_to_span(g_cfg.stream_bytes, f16.stream_bytes()), f16);
  c->i8.assign(copies_to_span(g_cfg.stream_bytes, i8.stream_bytes()), i8);
  c->probe.assign(c->i8.size() * i8.stream_bytes(), 0x5A);
  c->opt.threads = g_cfg.threads;
  c->opt.tile_tokens = g_cfg.tile_tokens;
  c->opt.use_vnni = g_cfg.use_vnni;
  c->opt.use_amx = g_cfg.use_amx;
  c->opt.path = infeng::active_path();
  const std::size_t n = static_cast<std::size_t>(s.n_q_heads) * D;
  c->out_f16.resize(n);
  c->out_i8.resize(n);
  c->ref.resize(n);
  at::reference_decode(s, c->q.data(), kv.k.data(), kv.v.data(), ctx, c->ref.data());
  try {
    c->info_f16 = at::decode_f16(s, c->q.data(), c->f16[0], ctx, c->out_f16.data(), c->opt);
    c->info_i8 = at::decode_int8(s, c->q.data(), c->i8[0], ctx, c->out_i8.data(), c->opt);
  } catch (const std::exception& e) {
    c->error = std::string("kernel failed: ") + e.what();
  }
  c->l2_f16 = nmse(c->out_f16.data(), c->ref.data(), n);
  c->l2_i8 = nmse(c->out_i8.data(), c->ref.data(), n);
  // Far above what either format's rounding gives (1e-7 / 1e-5): a wrong answer, not noise.
  if (c->error.empty() && !(c->l2_f16 < 1e-4 && c->l2_i8 < 1e-2)) {
    char buf[200];
    std::snprintf(buf, sizeof buf, "outputs differ from the FP32 reference (normalised L2: fp16 %.3g, "
                  "int8 %.3g); refusing to report speed for a wrong answer", c->l2_f16, c->l2_i8);
    c->error = buf;
  }
  c->cursor = 1;  // copy 0 was just read: start the rotation cold
  g_case = std::move(c);
  return *g_case;
}

// Seconds per call of variant v over --layers consecutive calls on consecutive cache copies,
// the way one decode step runs every layer's attention back to back: the threads woken by the
// first call are still running for the next, as in a model, instead of every call paying a
// wake-up from the quiesced state (tens of µs on 2 threads, the same for both kernels, which
// pulled short contexts' ratios towards 1). The probe reads the same bytes in one pass.
double run_variant(CaseData& c, int v, std::size_t tick) {
  const std::size_t L = static_cast<std::size_t>(g_cfg.layers);
  const auto t0 = std::chrono::steady_clock::now();
  switch (v) {
    case kF16:
      for (std::size_t l = 0; l < L; ++l)
        at::decode_f16(c.shape, c.q.data(), c.f16[(tick * L + l) % c.f16.size()], c.ctx, c.out_f16.data(), c.opt);
      break;
    case kInt8:
      for (std::size_t l = 0; l < L; ++l)
        at::decode_int8(c.shape, c.q.data(), c.i8[(tick * L + l) % c.i8.size()], c.ctx, c.out_i8.data(), c.opt);
      break;
    case kProbe: {
      const std::size_t bytes = c.i8.front().stream_bytes(), slots = c.i8.size();
      const std::size_t n = std::min(L, slots);
      std::size_t first = (tick * L) % slots;
      if (first + n > slots) first = 0;  // one contiguous pass
      const auto res = g_reader->read(c.probe.data() + first * bytes, n * bytes);
      c.sink += res.checksum;
      return res.seconds / static_cast<double>(n);
    }
  }
  return seconds_since(t0) / static_cast<double>(L);
}

void bm_decode(benchmark::State& state, at::Shape s, int ctx) {
  CaseData& c = case_for(s, ctx);
  if (!c.error.empty()) {
    state.SkipWithError(c.error.c_str());
    return;
  }
  // per variant, every call's time in iteration order (call_stats.h: medians, not sums)
  std::vector<double> calls[kVariantCount];
  const int rotations = rotations_per_iteration(static_cast<long long>(state.max_iterations));
  try {
    for (auto _ : state) {
      for (int k = 0; k < rotations; ++k) {
        for (int j = 0; j < kVariantCount; ++j) {
          const int v = (c.rotation + j) % kVariantCount;
          quiesce();
          calls[v].push_back(run_variant(c, v, c.cursor));
        }
        ++c.cursor;
        c.rotation = (c.rotation + 1) % kVariantCount;
      }
    }
  } catch (const std::exception& e) {
    state.SkipWithError((std::string("kernel failed: ") + e.what()).c_str());
    return;
  }
  benchmark::DoNotOptimize(c.sink);
  if (state.iterations() <= 0) return;
  const double t16 = median_of(calls[kF16]), t8 = median_of(calls[kInt8]), tp = median_of(calls[kProbe]);
  const double b16 = static_cast<double>(c.f16.front().stream_bytes());
  const double b8 = static_cast<double>(c.i8.front().stream_bytes());
  const auto& f = infeng::cpu_features();
  auto& k = state.counters;
  k["fp16_us"] = t16 * 1e6;
  k["int8_us"] = t8 * 1e6;
  k["tokens_per_s"] = 1.0 / t8;
  k["baseline_tokens_per_s"] = 1.0 / t16;
  k["speedup_vs_fp16kv"] = median_ratio(calls[kF16], calls[kInt8]);
  k["byte_ratio"] = b16 / b8;
  k["int8_gbps"] = b8 / t8 * 1e-9;
  k["fp16_gbps"] = b16 / t16 * 1e-9;
  k["read_gbps"] = b8 / tp * 1e-9;
  k["bw_efficiency_pct"] = 100.0 * median_ratio(calls[kProbe], calls[kInt8]);
  k["fp16_bw_efficiency_pct"] = 100.0 * (b16 / b8) * median_ratio(calls[kProbe], calls[kF16]);
  k["l2_diff"] = c.l2_i8;
  k["l2_diff_fp16"] = c.l2_f16;
  k["scratch_bytes"] = static_cast<double>(c.info_i8.scratch_bytes);
  k["scratch_ratio"] = static_cast<double>(c.info_i8.scratch_bytes) / static_cast<double>(c.info_f16.scratch_bytes);
  k["tile_tokens"] = c.info_i8.tile_tokens;
  k["acc_width"] = c.info_i8.acc_width;
  k["has_avx2"] = f.avx2 ? 1 : 0;
  k["has_vnni"] = c.info_i8.vnni ? 1 : 0;
  k["has_amx"] = c.info_i8.amx ? 1 : 0;
  k["csr_outliers"] = static_cast<double>(c.i8.front().outlier_count());
  k["l2_bytes_per_token"] = b8 / ctx;
  char label[160];
  std::snprintf(label, sizeof label, "path=%s vnni=%d amx=%d copies=%zu/%zu kv_MiB=%.2f/%.2f",
                infeng::path_name(c.info_i8.path), c.info_i8.vnni ? 1 : 0, c.info_i8.amx ? 1 : 0, c.f16.size(), c.i8.size(),
                b16 / 1048576.0, b8 / 1048576.0);
  state.SetLabel(label);
}

// The real model's perplexity on its own samples with each KV format (computed once; every
// repetition reports the same deterministic figures).
void bm_perplexity(benchmark::State& state) {
  struct Ppl {
    double fp32, fp16, int8;
    std::int64_t tokens;
  };
  static std::unique_ptr<Ppl> cached;
  static std::string error;
  if (!cached && error.empty()) {
    try {
      namespace md = infeng::model;
      const md::LlamaWeights w = md::load_llama(g_cfg.model);
      const auto seqs = md::sample_sequences(w, g_cfg.ppl_sequences, w.config.seq_len, 2024);
      at::DecodeOptions opt;
      opt.threads = 1;  // 4 KV heads of 8 channels: threads would cost more than they give
      opt.tile_tokens = g_cfg.tile_tokens;
      const auto ref = md::perplexity_decode(w, seqs, md::KvMode::Reference, opt);
      const auto f16 = md::perplexity_decode(w, seqs, md::KvMode::F16, opt);
      const auto i8 = md::perplexity_decode(w, seqs, md::KvMode::Int8, opt, g_cfg.quant);
      cached = std::make_unique<Ppl>(Ppl{ref.value(), f16.value(), i8.value(), i8.tokens});
    } catch (const std::exception& e) {
      error = std::string("perplexity: ") + e.what();
    }
  }
  if (!error.empty()) {
    state.SkipWithError(error.c_str());
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(cached.get());
  auto& k = state.counters;
  k["ppl_fp32"] = cached->fp32;
  k["ppl_fp16"] = cached->fp16;
  k["ppl_int8"] = cached->int8;
  k["perplexity_delta_pct"] = 100.0 * (cached->int8 / cached->fp16 - 1.0);
  k["perplexity_delta_fp16_pct"] = 100.0 * (cached->fp16 / cached->fp32 - 1.0);
  k["ppl_tokens"] = static_cast<double>(cached->tokens);
}

void bm_membw(benchmark::State& state) {
  const std::size_t bytes = g_cfg.stream_bytes;
  std::vector<unsigned char> buf(bytes, 0x5A);
  std::uint64_t sink = 0;
  double sec = 0;
  for (auto _ : state) {
    quiesce();
    const auto res = g_reader->read(buf.data(), bytes);
    sink += res.checksum;
    sec += res.seconds;
  }
  benchmark::DoNotOptimize(sink);
  const double n = static_cast<double>(state.iterations());
  if (n > 0) state.counters["read_gbps"] = static_cast<double>(bytes) * n / sec * 1e-9;
}

void print_lane_flags() {
  std::printf(
      "infeng_attn_decode_bench lane flags (taken before the Google Benchmark flags below):\n"
      "  --force_path=auto|scalar|avx2|avx512  kernel path (default: auto, or INFENG_FORCE_PATH)\n"
      "  --threads=N          threads for the kernels and the read probe (default: cores)\n"
      "  --attn_shapes=LIST   q_heads/kv_heads/head_dim,... (default: 32/4/64,32/8/128)\n"
      "  --attn_ctx=LIST      context lengths in tokens (default: 512,1024,2048,4096,8192)\n"
      "  --tile_tokens=N      online-softmax tile, a positive multiple of 16 (default: heuristic)\n"
      "  --use_vnni=0|1       AVX-512 path: vpdpbusd for int8 q·K when the CPU has it (default: 1)\n"
      "  --layers=N           consecutive calls per timing, like one decode step's layers (default: 8)\n"
      "  --use_amx=0|1        AVX-512 VNNI path: AMX-INT8 tiles when the CPU and OS allow (default: 0)\n"
      "  --stream_bytes=N     cache rotation footprint per variant (default: 1 GiB)\n"
      "  --ppl_sequences=N    model samples of 512 tokens for the perplexity guard (default: 32)\n"
      "  --residual_groups=N  int8 cache: newest tokens kept FP16, in 64-token groups (default: 1)\n"
      "  --model=PATH         llama2.c checkpoint (default: <build>/testdata/stories260K.bin, a link to native/testdata)\n\n");
}

void parse_lane_flags(int& argc, char** argv) {
  using infeng::bench::parse_positive;
  using infeng::bench::parse_positive_list;
  using infeng::bench::take_flag;
  auto common = infeng::bench::attn::take_common_flags(argc, argv, print_lane_flags);
  g_cfg.threads = common.threads;
  g_cfg.shapes = std::move(common.shapes);
  if (auto v = take_flag(argc, argv, "attn_ctx")) g_cfg.ctx = parse_positive_list("attn_ctx", *v, 1 << 20);
  if (auto v = take_flag(argc, argv, "tile_tokens")) {
    g_cfg.tile_tokens = static_cast<int>(parse_positive("tile_tokens", *v, 1 << 16));
    try {
      (void)at::decode_tile_tokens(g_cfg.tile_tokens, 64);
    } catch (const std::exception& e) {
      usage_error(std::string("--tile_tokens: ") + e.what());
    }
  }
  if (auto v = take_flag(argc, argv, "use_vnni")) {
    if (*v != "0" && *v != "1") usage_error("--use_vnni: expected 0 or 1, got '" + *v + "'");
    g_cfg.use_vnni = *v == "1";
  }
  if (auto v = take_flag(argc, argv, "layers")) g_cfg.layers = static_cast<int>(parse_positive("layers", *v, 256));
  if (auto v = take_flag(argc, argv, "use_amx")) {
    if (*v != "0" && *v != "1") usage_error("--use_amx: expected 0 or 1, got '" + *v + "'");
    g_cfg.use_amx = *v == "1";
  }
  if (auto v = take_flag(argc, argv, "stream_bytes"))
    g_cfg.stream_bytes = static_cast<std::size_t>(parse_positive("stream_bytes", *v, std::int64_t{1} << 36));
  if (auto v = take_flag(argc, argv, "ppl_sequences"))
    g_cfg.ppl_sequences = static_cast<int>(parse_positive("ppl_sequences", *v, 1024));
  if (auto v = take_flag(argc, argv, "residual_groups"))
    g_cfg.quant.residual_groups = static_cast<int>(parse_positive("residual_groups", *v, 16));
  g_cfg.model = infeng::bench::attn::model_path(argc, argv);
  infeng::bench::attn::apply_force_path(argc, argv);
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // the lane runner shows stdout as progress
  parse_lane_flags(argc, argv);
  g_reader = std::make_unique<StreamReader>(g_cfg.threads);

  const auto& f = infeng::cpu_features();
  benchmark::AddCustomContext("path", infeng::path_name(infeng::active_path()));
  benchmark::AddCustomContext("threads", std::to_string(g_cfg.threads));
  benchmark::AddCustomContext("isa_flags", infeng::isa_flags());
  benchmark::AddCustomContext(
      "vnni", g_cfg.use_vnni && f.avx512_vnni && infeng::active_path() == infeng::Path::Avx512 ? "1" : "0");
  benchmark::AddCustomContext("compiler", __VERSION__);
  benchmark::AddCustomContext("probe_isa", StreamReader::isa());
  benchmark::AddCustomContext("stream_bytes", std::to_string(g_cfg.stream_bytes));
  benchmark::AddCustomContext("layers", std::to_string(g_cfg.layers));
  benchmark::AddCustomContext("residual_groups", std::to_string(g_cfg.quant.residual_groups));
  benchmark::AddCustomContext("model", g_cfg.model);

  for (const auto& s : g_cfg.shapes) {
    for (std::int64_t ctx : g_cfg.ctx) {
      const std::string name = "attn_decode/" + infeng::bench::attn::shape_id(s) + "/ctx" + std::to_string(ctx);
      benchmark::RegisterBenchmark(name.c_str(), bm_decode, s, static_cast<int>(ctx))
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
    }
  }
  benchmark::RegisterBenchmark("attn_decode/perplexity", bm_perplexity)->Iterations(1)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("attn_decode/membw", bm_membw)->UseRealTime()->Unit(benchmark::kMillisecond);
  const bool serve = infeng::bench::take_serve_flag(argc, argv);
  infeng::bench::set_serve_reset([] { g_case.reset(); });
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return infeng::bench::kUsageExit;
  const int status = infeng::bench::run_benchmarks(serve);
  benchmark::Shutdown();
  g_case.reset();
  g_reader.reset();
  return status;
}
