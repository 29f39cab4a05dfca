// Native-only profiling of the tokenizer: one benchmark per (tokenizer file, corpus text),
// single-threaded with a warm piece cache, plus the whole corpus as a batch across a thread
// sweep. The lane's speedup against the reference comes from the Node process instead
// (native/addon/tokenizer_lane_child.mjs); this binary is for perf, VTune and quick A/B runs.
//
//   infeng_tokenizer_bench [--tokenizer_models=llama2,llama3,qwen3] [--tokenizer_threads=1,2]
//                          [--tokenizer_corpus=<dir>] [Google Benchmark flags]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "infeng/tokenizer.h"

namespace {

using infeng::tok::Tokenizer;

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Loaded {
  std::string name;
  std::unique_ptr<Tokenizer> tok;
};

}  // namespace

int main(int argc, char** argv) {
  std::string models = "llama2,llama3,qwen3", threads = "1,2", corpus = INFENG_TOKENIZER_CORPUS_DIR;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    auto take = [&](const char* flag, std::string& into) {
      std::string f = std::string("--") + flag + "=";
      if (a.rfind(f, 0) != 0) return false;
      into = a.substr(f.size());
      return true;
    };
    if (take("tokenizer_models", models) || take("tokenizer_threads", threads) || take("tokenizer_corpus", corpus)) continue;
    rest.push_back(argv[i]);
  }
  int rest_argc = int(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());

  static std::vector<Loaded> loaded;
  static std::vector<std::pair<std::string, std::string>> texts;  // (file name, contents)
  for (const auto& e : std::filesystem::directory_iterator(corpus))
    if (e.path().extension() == ".txt") texts.emplace_back(e.path().filename().string(), slurp(e.path()));
  std::sort(texts.begin(), texts.end());
  for (const std::string& m : split_list(models)) {
    std::string path = std::string(INFENG_TOKENIZER_MODELS_DIR) + "/tokenizer-" + m + "/models/tokenizer.json";
    loaded.push_back({m, Tokenizer::from_file(path)});
  }

  for (const Loaded& l : loaded) {
    size_t total = 0;
    for (const auto& [file, text] : texts) {
      total += text.size();
      benchmark::RegisterBenchmark(("tokenizer/" + l.name + "/encode/" + file).c_str(),
                                   [&l, &text](benchmark::State& st) {
                                     auto cache = l.tok->make_piece_cache();
                                     std::vector<uint32_t> ids;
                                     for (auto _ : st) {
                                       ids.clear();
                                       l.tok->encode(text, false, ids, cache.get());
                                       benchmark::DoNotOptimize(ids.data());
                                     }
                                     st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(text.size()));
                                     st.counters["tokens_per_s"] = benchmark::Counter(
                                         double(ids.size()) * double(st.iterations()), benchmark::Counter::kIsRate);
                                   });
    }
    for (const std::string& t : split_list(threads)) {
      int n = std::stoi(t);
      // The batch: the corpus cut into paragraphs of at most 2 KB, four times over, as the lane
      // does: many requests, so threads share the work evenly and a thread start is noise.
      benchmark::RegisterBenchmark(("tokenizer/" + l.name + "/batch/threads:" + t).c_str(),
                                   [&l, n, total](benchmark::State& st) {
                                     std::vector<std::string_view> views;
                                     for (int copy = 0; copy < 4; ++copy)
                                     for (const auto& kv : texts) {
                                       std::string_view rest = kv.second;
                                       while (!rest.empty()) {
                                         size_t cut = rest.find("\n\n");
                                         cut = cut == std::string_view::npos ? rest.size() : cut + 2;
                                         cut = std::min<size_t>(cut, 2048);
                                         views.push_back(rest.substr(0, cut));
                                         rest.remove_prefix(cut);
                                       }
                                     }
                                     for (auto _ : st) benchmark::DoNotOptimize(l.tok->encode_batch(views, n));
                                     st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(4 * total));
                                     st.counters["texts"] = double(views.size());
                                   })
          ->UseRealTime();
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
