// What a loaded tokenizer.json becomes: the pieces of the reference's pipeline this
// implementation supports, in the form the encode path wants (raw-byte keys for byte-level
// vocabularies, id tables for single bytes). Internal to src/tokenizer.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "added_tokens.h"
#include "flat_hash.h"
#include "infeng/tokenizer.h"
#include "normalizer.h"
#include "pre_steps.h"
#include "pretokenizer.h"

namespace infeng::tok {

inline constexpr uint32_t kNoId = ~0u;

struct Tokenizer::Model {
  enum class Family { SentencePiece, ByteLevel };
  Family family = Family::ByteLevel;

  // normalizers (applied per segment between added tokens)
  bool nfc = false;
  std::string prepend;        // Prepend normalizer, e.g. "▁"; empty = none
  bool replace_space = false; // Replace ' ' → replace_with
  std::string replace_with;
  // Any other normalizer, as general steps (normalizer.h); non-empty means it runs instead of
  // the fields above.
  std::vector<NormStep> norm_steps;
  bool decode_space = false;  // general steps with a Replace ' ' → replace_with: decode maps it back

  SplitPattern split{3};      // byte-level family, the hand-written pre-tokenizer
  // The general pre-tokenizer (pre_steps.h), when the file's is not the hand-written one's:
  // non-empty means it runs instead of `split` (byte-level) or after normalization
  // (SentencePiece family).
  std::vector<PreStep> pre_steps;
  std::string metaspace;      // a Metaspace pre-tokenizer's replacement ("▁"); empty = none

  // BPE
  StrMap vocab;               // byte-level: raw bytes → id; SentencePiece: token text → id
  PairMap merges;
  uint32_t byte_id[256];      // byte-level: the token of each byte; SentencePiece: <0xNN>
  uint32_t ascii_id[128];     // SentencePiece: the token of each ASCII character (kNoId if none)
  uint32_t replace_id = kNoId;  // SentencePiece: the token of replace_with
  // SentencePiece: no merge joins a left part ending in a non-▁ character to a right part
  // starting with ▁, so a segment splits exactly into words (a ▁ run and what follows it up to
  // the next ▁) that BPE independently and can be cached. Checked on the merges at load.
  bool sp_words = false;
  // Pairs of initial symbols (last of a merge's left part, first of its right part) that some
  // merge joins. Where two adjacent initial symbols are not such a pair, no merge can ever
  // cross between them, so a long piece splits there into independent BPE runs.
  PairMap joinable;
  bool joinable_all = false;  // a merge part whose ends are unknown: never split
  bool byte_fallback = false;
  bool fuse_unk = false;
  // continuing_subword_prefix / end_of_word_suffix, as the file spells them: a piece's
  // initial symbol after its first character is looked up as prefix + character, its last
  // with the suffix appended (affix: either is non-empty). Byte-level: the initial symbol of
  // each byte alone (as a piece of one byte), in the middle, and last (kNoId when the
  // vocabulary lacks it: it becomes the unknown token, or nothing).
  std::string cont_prefix, word_suffix;
  bool affix = false;
  uint32_t byte_only_id[256], byte_mid_id[256], byte_last_id[256];
  bool ignore_merges = false;
  uint32_t unk_id = kNoId;

  AddedTokens added;       // cut out of the raw text
  AddedTokens added_norm;  // "normalized": true, cut out of each normalized segment

  // post-processor template for a single sequence: ids before and after it
  std::vector<uint32_t> template_before, template_after;

  // decode
  std::vector<std::string> id_text;   // bytes each id decodes to (before the strip)
  std::vector<int16_t> id_byte;       // SentencePiece byte-fallback id → its byte, else -1
  std::vector<uint8_t> id_known;      // 1 when the id exists
  bool decode_strip_space = false;    // Strip decoder: one leading ' '
  bool decode_byte_fallback = false;

  size_t vocab_size = 0;

  // Piece caches of encode_batch's workers, one per worker thread (BatchPool's tid), kept
  // between batches so that each stays warm on its thread's core.
  static constexpr size_t kMaxBatchThreads = 256;
  mutable std::unique_ptr<PieceCache> batch_caches[kMaxBatchThreads];

  Model();
  ~Model();
  uint64_t serial = 0;  // unique per loaded tokenizer (keys the per-thread piece caches)
};

// Builds a Model from tokenizer.json text; throws LoadError.
void load_model(std::string_view json_text, Tokenizer::Model& m);

}  // namespace infeng::tok
