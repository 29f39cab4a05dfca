// The native tokenizer: loads a Hugging Face tokenizer.json and encodes text to exactly the ids
// Hugging Face tokenizers gives, many times faster. Two model families are supported, the ones
// the engine serves: SentencePiece-style BPE (Llama-2: Prepend/Replace normalizers, byte
// fallback, fused unknowns, no pre-tokenizer) and byte-level BPE behind the GPT-4-style Split
// pattern (Llama-3, Qwen). Anything else in the file is a load error naming the component, so
// an unsupported tokenizer never encodes silently differently.
#pragma once
#include <atomic>
#include <cstddef>
#include <functional>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace infeng::tok {

// A tokenizer.json that cannot be loaded: malformed JSON, a missing field, or a component
// (normalizer, pre-tokenizer, model, post-processor option) this implementation does not have.
struct LoadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Memo of BPE results per pre-tokenized piece. Not thread-safe: one per thread.
class PieceCache;

// Repeated prompt prefixes (chat templates): remembers, per distinct first `prefix_bytes`
// bytes of a text, the ids of its leading part up to a point where encoding provably does not
// depend on what follows, so that part is not encoded again. Not thread-safe.
class PrefixCache {
 public:
  PrefixCache(size_t prefix_bytes, size_t max_entries);
  ~PrefixCache();
  PrefixCache(const PrefixCache&) = delete;
  PrefixCache& operator=(const PrefixCache&) = delete;
  size_t prefix_bytes() const;
  uint64_t hits() const;
  uint64_t lookups() const;
  void clear();
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  friend class Tokenizer;
};

class Tokenizer {
 public:
  // Throws LoadError.
  static std::unique_ptr<Tokenizer> from_json(std::string_view json);
  static std::unique_ptr<Tokenizer> from_file(const std::string& path);
  ~Tokenizer();

  // Appends the ids of `text` to `out`. add_special_tokens applies the post-processor's
  // template (Llama-2's BOS). Text must be UTF-8; invalid bytes are encoded as the reference
  // encodes U+FFFD. `cache` may be null; `prefix` may be null.
  void encode(std::string_view text, bool add_special_tokens, std::vector<uint32_t>& out,
              PieceCache* cache = nullptr, PrefixCache* prefix = nullptr) const;
  std::vector<uint32_t> encode(std::string_view text, bool add_special_tokens = false) const;

  // Encodes every text on `threads` threads (each with its own piece cache), in order.
  std::vector<std::vector<uint32_t>> encode_batch(const std::vector<std::string_view>& texts,
                                                  int threads, bool add_special_tokens = false) const;

  // The same, for a caller that produces the texts while the workers already encode (the Node
  // addon converts JavaScript strings on its own thread): `produce` runs first on the calling
  // thread, sets texts[i] and then `ready` to i + 1, in order; the calling thread then joins
  // the encoding. texts must be sized to the batch beforehand.
  std::vector<std::vector<uint32_t>> encode_batch_streaming(
      std::vector<std::string_view>& texts, int threads, bool add_special_tokens,
      const std::function<void(std::atomic<size_t>& ready)>& produce) const;

  // Ids → text, as the reference decodes with skip_special_tokens = false. Throws
  // std::out_of_range for an id outside the vocabulary.
  std::string decode(const uint32_t* ids, size_t n) const;

  size_t vocab_size() const;
  // "sentencepiece-bpe" or "byte-level-bpe"
  const char* family() const;
  // How text is pre-tokenized: "hand-written" (the fast path for the Llama-3/Qwen pattern),
  // "regex" (the general pre-tokenizer through Oniguruma), or "none".
  const char* pre_tokenizer() const;
  // The Unicode versions of the data the tokenizer uses, each the reference's for that part:
  // the pre-tokenizer's character classes (its regex engine's), NFC/NFKC (its normalization
  // crate's) and Lowercase (Rust's).
  static const char* unicode_version_classes();
  static const char* unicode_version_normalization();
  static const char* unicode_version_lowercase();

  // A piece cache for this tokenizer (for callers that encode many texts on one thread).
  std::unique_ptr<PieceCache, void (*)(PieceCache*)> make_piece_cache() const;

  struct Model;

 private:
  Tokenizer();
  std::unique_ptr<Model> m_;
};

}  // namespace infeng::tok
