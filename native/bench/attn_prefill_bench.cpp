// The attn-prefill lane: causal GQA attention over a whole prompt, the tiled online-softmax
// kernel against the naive form that materialises every head's n×n scores, on the same inputs,
// timed round-robin in the same rounds; the FP32 FMA peak of the cores, measured in this run,
// as the yardstick of the tiled kernel's FLOP rate; and the real model's perplexity with tiled
// vs reference prefill. A case whose outputs disagree is skipped with an error, never timed.
//
// Benchmark names are a contract with the lane adapter (src/lanes/attn-prefill.ts):
// attn_prefill/<q..kv..d..>/n<N> and attn_prefill/perplexity.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "attention/synthetic_kv.h"
#include "attn_bench_common.h"
#include "bench_flags.h"
#include "serve.h"
#include "call_stats.h"
#include "fma_peak.h"
#include "infeng/attention.h"
#include "infeng/model.h"

namespace {

namespace at = infeng::attn;
using infeng::bench::median_of;
using infeng::bench::rotations_per_iteration;
using infeng::bench::usage_error;
using infeng::bench::attn::quiesce;

struct Config {
  int threads = 1;
  std::vector<at::Shape> shapes;
  std::vector<std::int64_t> seq = {512, 1024, 2048, 4096};
  int tile = 0;
  int ppl_sequences = 8;
  std::string model;
};
Config g_cfg;
double g_peak_gflops = 0;

struct CaseData {
  at::Shape shape;
  int n = 0;
  std::vector<float> q, k, v, out_tiled, out_ref;
  at::PrefillOptions opt;
  at::PrefillInfo info;
  std::size_t ref_scratch = 0;
  double l2 = 0;
  bool checked = false;  // the reference ran and the tiled output was compared with it
  std::string error;
  int rotation = 0;
};
std::unique_ptr<CaseData> g_case;

CaseData& case_for(const at::Shape& s, int n) {
  if (g_case && g_case->n == n && g_case->shape.n_q_heads == s.n_q_heads &&
      g_case->shape.n_kv_heads == s.n_kv_heads && g_case->shape.head_dim == s.head_dim) {
    return *g_case;
  }
  g_case.reset();
  auto c = std::make_unique<CaseData>();
  c->shape = s;
  c->n = n;
  auto kv = at::synthetic::make_kv(n, s.n_kv_heads, s.head_dim, 0xABCDu + n);
  c->k = std::move(kv.k);
  c->v = std::move(kv.v);
  c->q = at::synthetic::make_queries(n * s.n_q_heads * s.head_dim, 0x1234u + n);
  c->out_tiled.resize(c->q.size());
  c->out_ref.resize(c->q.size());
  c->opt.threads = g_cfg.threads;
  c->opt.tile = g_cfg.tile;
  c->opt.path = infeng::active_path();
  try {
    c->info = at::prefill_tiled(s, c->q.data(), c->k.data(), c->v.data(), n, c->out_tiled.data(), c->opt);
    // A later A/B round skips the check: the first round compared the same binary's output on
    // the same inputs, and the naive reference at n = 2048 costs more than the round's timing.
    if (infeng::bench::later_ab_round()) {
      g_case = std::move(c);
      return *g_case;
    }
    c->checked = true;
    c->ref_scratch = at::prefill_reference(s, c->q.data(), c->k.data(), c->v.data(), n, c->out_ref.data(), g_cfg.threads);
    c->l2 = infeng::bench::attn::nmse(c->out_tiled.data(), c->out_ref.data(), c->q.size());
    // Both are FP32 over the same sums in other orders: ~1e-12; 1e-8 is a wrong answer.
    if (!(c->l2 < 1e-8)) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "tiled and reference outputs differ (normalised L2 %.3g); refusing "
                    "to report speed for a wrong answer", c->l2);
      c->error = buf;
    }
  } catch (const std::exception& e) {
    c->error = std::string("kernel failed: ") + e.what();
  }
  g_case = std::move(c);
  return *g_case;
}

// In an A/B round after the first (INFENG_BENCH_AB_ROUND=1, set by the lane runner) the naive
// reference is not timed: the A/B verdicts judge the tiled kernel's own rates, the first round
// times the reference for the seed's gate, and timing it took most of the lane's time (n² scores
// per head). Its output is still computed once per case to check the tiled one.
void bm_prefill(benchmark::State& state, at::Shape s, int n) {
  const bool time_reference = !infeng::bench::later_ab_round();
  CaseData& c = case_for(s, n);
  if (!c.error.empty()) {
    state.SkipWithError(c.error.c_str());
    return;
  }
  std::vector<double> calls[2];  // per variant, every call's time (call_stats.h)
  const int variants = time_reference ? 2 : 1;
  // the tiled kernel gets the minimum number of calls; the slow reference one per iteration
  const int tiled_calls = rotations_per_iteration(static_cast<long long>(state.max_iterations));
  const auto timed = [&](int v) {
    quiesce();
    const auto t0 = std::chrono::steady_clock::now();
    if (v == 0) {
      at::prefill_tiled(s, c.q.data(), c.k.data(), c.v.data(), n, c.out_tiled.data(), c.opt);
    } else {
      at::prefill_reference(s, c.q.data(), c.k.data(), c.v.data(), n, c.out_ref.data(), g_cfg.threads);
    }
    calls[v].push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  };
  for (auto _ : state) {
    for (int j = 0; j < variants; ++j) {
      const int v = variants == 1 ? 0 : (c.rotation + j) % 2;
      for (int k = 0; k < (v == 0 ? tiled_calls : 1); ++k) timed(v);
    }
    c.rotation ^= 1;
  }
  if (state.iterations() <= 0) return;
  const double tt = median_of(calls[0]), tr = median_of(calls[1]);
  // Causal: query i meets i + 1 keys; two products of 2·D FLOPs per (query head, pair).
  const double pairs = 0.5 * static_cast<double>(n) * (n + 1);
  const double flops = 4.0 * s.head_dim * pairs * s.n_q_heads;
  auto& k = state.counters;
  k["tiled_ms"] = tt * 1e3;
  if (time_reference) {
    k["reference_ms"] = tr * 1e3;
    k["speedup_vs_reference"] = tr / tt;
    k["reference_gflops"] = flops / tr * 1e-9;
  }
  k["tiled_gflops"] = flops / tt * 1e-9;
  k["peak_gflops"] = g_peak_gflops;
  if (g_peak_gflops > 0) k["peak_pct"] = 100.0 * flops / tt * 1e-9 / g_peak_gflops;
  k["tokens_per_s"] = n / tt;
  k["scratch_bytes"] = static_cast<double>(c.info.scratch_bytes);
  if (c.checked) {
    k["reference_scratch_bytes"] = static_cast<double>(c.ref_scratch);
    k["scratch_ratio"] = static_cast<double>(c.info.scratch_bytes) / static_cast<double>(c.ref_scratch);
    k["l2_diff"] = c.l2;
  }
  k["tile"] = c.info.tile;
  char label[96];
  std::snprintf(label, sizeof label, "path=%s tile=%d", infeng::path_name(c.info.path), c.info.tile);
  state.SetLabel(label);
}

void bm_perplexity(benchmark::State& state) {
  static double ref = 0, tiled = 0, tokens = 0;
  static std::string error;
  if (ref == 0 && error.empty()) {
    try {
      namespace md = infeng::model;
      const md::LlamaWeights w = md::load_llama(g_cfg.model);
      const auto seqs = md::sample_sequences(w, g_cfg.ppl_sequences, w.config.seq_len, 2024);
      at::PrefillOptions opt;
      opt.threads = g_cfg.threads;
      opt.tile = g_cfg.tile;
      const auto r = md::perplexity_prefill(w, seqs, md::PrefillMode::Reference, opt);
      const auto t = md::perplexity_prefill(w, seqs, md::PrefillMode::Tiled, opt);
      ref = r.value();
      tiled = t.value();
      tokens = static_cast<double>(t.tokens);
    } catch (const std::exception& e) {
      error = std::string("perplexity: ") + e.what();
    }
  }
  if (!error.empty()) {
    state.SkipWithError(error.c_str());
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(ref);
  state.counters["ppl_reference"] = ref;
  state.counters["ppl_tiled"] = tiled;
  state.counters["perplexity_delta_pct"] = 100.0 * (tiled / ref - 1.0);
  state.counters["ppl_tokens"] = tokens;
}

void print_lane_flags() {
  std::printf(
      "infeng_attn_prefill_bench lane flags (taken before the Google Benchmark flags below):\n"
      "  --force_path=auto|scalar|avx2|avx512  kernel path (default: auto, or INFENG_FORCE_PATH)\n"
      "  --threads=N          threads for both kernels and the FMA peak probe (default: cores)\n"
      "  --attn_shapes=LIST   q_heads/kv_heads/head_dim,... (default: 32/4/64,32/8/128)\n"
      "  --attn_seq=LIST      prompt lengths (default: 512,1024,2048,4096)\n"
      "  --tile=N             query/key rows per tile, a multiple of 16 (default: heuristic)\n"
      "  --ppl_sequences=N    model samples of 512 tokens for the perplexity guard (default: 8)\n"
      "  --model=PATH         llama2.c checkpoint (default: <build>/testdata/stories260K.bin, a link to native/testdata)\n\n");
}

void parse_lane_flags(int& argc, char** argv) {
  using infeng::bench::parse_positive;
  using infeng::bench::parse_positive_list;
  using infeng::bench::take_flag;
  auto common = infeng::bench::attn::take_common_flags(argc, argv, print_lane_flags);
  g_cfg.threads = common.threads;
  g_cfg.shapes = std::move(common.shapes);
  if (auto v = take_flag(argc, argv, "attn_seq")) g_cfg.seq = parse_positive_list("attn_seq", *v, 1 << 16);
  if (auto v = take_flag(argc, argv, "tile")) {
    g_cfg.tile = static_cast<int>(parse_positive("tile", *v, 256));
    if (g_cfg.tile % 16 != 0) usage_error("--tile: " + *v + " is not a multiple of 16");
  }
  if (auto v = take_flag(argc, argv, "ppl_sequences"))
    g_cfg.ppl_sequences = static_cast<int>(parse_positive("ppl_sequences", *v, 1024));
  g_cfg.model = infeng::bench::attn::model_path(argc, argv);
  infeng::bench::attn::apply_force_path(argc, argv);
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  parse_lane_flags(argc, argv);
  g_peak_gflops = infeng::bench::fma_peak_gflops(infeng::active_path(), g_cfg.threads);
  benchmark::AddCustomContext("path", infeng::path_name(infeng::active_path()));
  benchmark::AddCustomContext("threads", std::to_string(g_cfg.threads));
  benchmark::AddCustomContext("isa_flags", infeng::isa_flags());
  benchmark::AddCustomContext("compiler", __VERSION__);
  benchmark::AddCustomContext("peak_gflops", std::to_string(g_peak_gflops));
  benchmark::AddCustomContext("model", g_cfg.model);
  for (const auto& s : g_cfg.shapes) {
    for (std::int64_t n : g_cfg.seq) {
      const std::string name = "attn_prefill/" + infeng::bench::attn::shape_id(s) + "/n" + std::to_string(n);
      benchmark::RegisterBenchmark(name.c_str(), bm_prefill, s, static_cast<int>(n))
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  benchmark::RegisterBenchmark("attn_prefill/perplexity", bm_perplexity)->Iterations(1)->Unit(benchmark::kMillisecond);
  const bool serve = infeng::bench::take_serve_flag(argc, argv);
  infeng::bench::set_serve_reset([] { g_case.reset(); });
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return infeng::bench::kUsageExit;
  const int status = infeng::bench::run_benchmarks(serve);
  benchmark::Shutdown();
  g_case.reset();
  return status;
}
