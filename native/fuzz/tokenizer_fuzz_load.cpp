// libFuzzer target: tokenizer.json loading. Any input must either load or throw LoadError;
// a crash, a hang, a leak or another exception type is a bug. When it loads, encoding and
// decoding a short text must work too (a model that loads must be usable).
// Seeds: small valid tokenizer.json files in seeds/load (run.sh copies them to the corpus dir),
// among them the general normalizer chains (NFKC, Lowercase, Strip, Replace, Prepend) and BPE
// with continuing_subword_prefix and end_of_word_suffix.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "infeng/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view json(reinterpret_cast<const char*>(data), size);
  try {
    auto tok = infeng::tok::Tokenizer::from_json(json);
    std::vector<uint32_t> ids = tok->encode("Hello, world! 123 <s> é\n", true);
    try {
      tok->decode(ids.data(), ids.size());
    } catch (const std::out_of_range&) {
      // a template id the vocabulary lacks is reported, not a crash
    }
  } catch (const infeng::tok::LoadError&) {
  }
  return 0;
}
