// The native tokenizer's entry points: load, encode (the pipeline is encoder.h, in the
// reference's order: cut out added tokens leftmost-longest on the raw text, normalize each
// remaining segment (NFC, or SentencePiece's Prepend ▁ + Replace ' ' → ▁, or any chain of
// general normalizer steps, normalizer.h), pre-tokenize, BPE each piece; then the
// post-processor template), the prefix cache, batches on threads, and decode.
//
// Design, and what was measured (2-core AVX-512 runner shared with other builds, clang-16;
// MB/s per corpus file are Google Benchmark medians from infeng_tokenizer_bench, single
// thread, warm piece cache; "×" are same-run ratios against Hugging Face tokenizers 0.23.2 from
// the lane, `npx infeng-perf run --lanes tokenizer`):
//  - No regex engine for the Llama-3/Qwen Split pattern: it is decided per character class
//    (pretokenizer.cpp), checked against Oniguruma's splits (fixtures, and the vendored
//    engine on the whole corpus). Any other pre-tokenizer runs through the vendored Oniguruma
//    6.9.10, the reference's engine (pre_steps.h, pattern_regex.h); the path is chosen at load.
//  - Byte-level BPE runs on raw bytes: the vocabulary is re-keyed from GPT-2's printable
//    alphabet to the bytes it stands for at load, so no text is mapped per encode.
//  - ignore_merges (Llama-3): a piece that is itself a token is one hash lookup.
//  - Per-thread piece cache (PieceCache), pieces up to 256 bytes. At 48 bytes, Chinese and
//    Japanese sentences (one letter run, one piece) missed it: llama3 cjk.txt 149 → 255 MB/s.
//  - SentencePiece (Llama-2) has no pre-tokenizer, so the reference runs BPE over a whole
//    segment. Cutting it into words before each ▁ that follows another character is exact
//    when no merge joins a part ending in another character to a part starting with ▁ (checked
//    at load; true for Llama-2) and makes words cacheable: prose.txt 9.8 → 139 MB/s, code.txt
//    9.4 → 113 MB/s.
//  - Long pieces are cut where no merge can join the two neighbouring initial symbols (a pair
//    set built from the merges at load): llama2 repeated.txt 18.6 → 59 MB/s, cjk.txt 82 → 110.
//  - Merge loop (bpe.h): rank array for pieces up to 64 symbols; for longer ones "rounds" (all
//    occurrences of the lowest rank per pass) and the heap when rounds turn lean. repeated.txt
//    (runs of one character) with the heap alone: 13-15 MB/s; with rounds: llama3 84, qwen3 73.
//  - NFC (Qwen) only around code points the quick check flags, the rest copied: qwen3
//    prose.txt (a few decomposed accents) 22 → 147 MB/s.
//  - Added tokens by a byte trie: llama3 chat.txt 44 → 169 MB/s (256 specials share "<|").
// Tried and dropped:
//  - Rounds only for "monotone" merge tables (every merge ranked after the merges making its
//    parts): Llama-2 and Llama-3 are not (10,312 and 49,630 merges rank before a merge that
//    makes one of their parts, because a token has several producing merges). Replaced by
//    ending a pass where the reference's queue would diverge, exact for any table.
//  - A rounds budget of n·(16 + 2·log2 n) scan steps before the heap: diverse 65-symbol words
//    paid the whole budget and then the heap (llama2 chat.txt 72 → 33 MB/s). Replaced by
//    counting lean rounds (fewer than n/32 merges): 178 MB/s.
//  - encode_batch on the shared spin-waiting thread pool (common/thread_pool): on a busy host
//    two threads ran 2.5× slower than one (35 → 15 MB/s) because the spinning waiter took the
//    core from the worker. Then threads started per batch, taking piece caches from a shared
//    free list: still no gain (a cache went cold moving to the other core, and appending to
//    neighbouring result vectors shared their cache lines). Now: persistent workers parked on
//    a condition variable (batch_pool.h), one piece cache per worker, each text encoded into
//    a thread-local buffer and copied out once. Idle runner, 652 paragraphs (200 KB), llama3:
//    1.47 → 0.82 ms, 1.8× (two threads encoding independently reach 1.85× on this VM).
//    Through the addon the JavaScript-thread part stays serial: 1.45-1.65×; converting the
//    strings while the workers already encode (encode_batch_streaming) gives 1.63-1.70× (the
//    result arrays are still made on that thread; lane metric batch_scaling_2t).
//  - The first eight key bytes (and a lone id) inline in the hash slots, and the piece cache
//    asked before Llama-3's vocabulary (A/B against the previous build, interleaved, medians
//    of 3): llama3 prose.txt +15 %, but code.txt −9 % and qwen3 code.txt −7 % (32-byte slots
//    make the cache and the vocabulary tables larger). Kept the 24-byte slots.
// Lane, quick profile, 7 repetitions (same-run medians; the reference ran at 2.5-4.4 MB/s):
// llama2 82-88 MB/s = 20.6-21.7× the reference, llama3 99-101 MB/s = 29.6-32.5×,
// qwen3 92-100 MB/s = 34.3-37.1×.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <list>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "batch_pool.h"
#include "encoder.h"
#include "infeng/tokenizer.h"
#include "model.h"
#include "piece_cache.h"
#include "utf8.h"

namespace infeng::tok {

// ---------------------------------------------------------------------------------------------
// Prefix cache (see tokenizer.h). An entry holds the ids of the text's first L bytes, where L is
// a boundary whose encoding the rest of the text cannot change: the end of an added token, or
// the end of a pre-tokenizer piece followed by a character that starts a new NFC segment; and
// far enough inside the K-byte key that every decision up to L read only key bytes (the
// pre-tokenizer looks one character past a piece; an added-token match is at most max_len long).
struct PrefixCache::Impl {
  struct Entry {
    std::vector<uint32_t> ids;
    size_t cut = 0;
    bool mid_segment = false;
  };
  size_t k;
  size_t max_entries;
  std::unordered_map<std::string, Entry> map;
  std::list<std::string> order;  // insertion order, for eviction
  uint64_t hits = 0, lookups = 0;
};

PrefixCache::PrefixCache(size_t prefix_bytes, size_t max_entries) : impl_(new Impl) {
  impl_->k = prefix_bytes;
  impl_->max_entries = std::max<size_t>(1, max_entries);
}
PrefixCache::~PrefixCache() = default;
size_t PrefixCache::prefix_bytes() const { return impl_->k; }
uint64_t PrefixCache::hits() const { return impl_->hits; }
uint64_t PrefixCache::lookups() const { return impl_->lookups; }
void PrefixCache::clear() {
  impl_->map.clear();
  impl_->order.clear();
  impl_->hits = impl_->lookups = 0;
}

// ---------------------------------------------------------------------------------------------
namespace {
std::atomic<uint64_t> g_next_serial{1};

// This thread's piece cache for tokenizer `serial`; a cache of another tokenizer is cleared
// (serials are never reused, unlike addresses).
PieceCache& thread_cache(uint64_t serial) {
  thread_local std::unique_ptr<PieceCache> cache;
  thread_local uint64_t owner = 0;
  if (!cache) cache.reset(new PieceCache);
  if (owner != serial) {
    cache->clear();
    owner = serial;
  }
  return *cache;
}
}  // namespace

Tokenizer::Tokenizer() : m_(new Model) {}

Tokenizer::Model::Model() = default;
Tokenizer::Model::~Model() = default;
Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::from_json(std::string_view json) {
  std::unique_ptr<Tokenizer> t(new Tokenizer);
  load_model(json, *t->m_);
  t->m_->serial = g_next_serial.fetch_add(1);
  return t;
}

std::unique_ptr<Tokenizer> Tokenizer::from_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw LoadError("cannot open " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str();
  try {
    return from_json(text);
  } catch (const LoadError& e) {
    throw LoadError(path + ": " + e.what());
  }
}

size_t Tokenizer::vocab_size() const { return m_->vocab_size; }

const char* Tokenizer::family() const {
  return m_->family == Model::Family::ByteLevel ? "byte-level-bpe" : "sentencepiece-bpe";
}

const char* Tokenizer::pre_tokenizer() const {
  if (!m_->pre_steps.empty()) return "regex";
  return m_->family == Model::Family::ByteLevel ? "hand-written" : "none";
}

const char* Tokenizer::unicode_version_classes() { return unicode::kUnicodeVersion; }
const char* Tokenizer::unicode_version_normalization() { return unicode::kNormUnicodeVersion; }
const char* Tokenizer::unicode_version_lowercase() { return unicode::kLowercaseUnicodeVersion; }

std::unique_ptr<PieceCache, void (*)(PieceCache*)> Tokenizer::make_piece_cache() const {
  return {new PieceCache, [](PieceCache* c) { delete c; }};
}

void Tokenizer::encode(std::string_view text, bool add_special_tokens, std::vector<uint32_t>& out,
                       PieceCache* cache, PrefixCache* prefix) const {
  std::string repaired;
  if (utf8_valid_prefix(text) != text.size()) {
    repaired = utf8_repair(text);
    text = repaired;
  }
  if (add_special_tokens) out.insert(out.end(), m_->template_before.begin(), m_->template_before.end());
  size_t from = 0;
  bool mid = false;
  if (prefix && text.size() > prefix->impl_->k && prefix->impl_->k > 0) {
    PrefixCache::Impl& pc = *prefix->impl_;
    ++pc.lookups;
    // The key ends on a character boundary: the encoder reads whole UTF-8 sequences.
    size_t k = pc.k;
    while (k > 0 && (uint8_t(text[k]) & 0xC0) == 0x80) --k;
    std::string key(text.substr(0, k));
    auto it = pc.map.find(key);
    if (it != pc.map.end()) {
      ++pc.hits;
    } else {
      // Encode the key alone, recording boundaries; keep the last one the rest cannot move.
      PrefixCache::Impl::Entry e;
      std::vector<Boundary> bounds;
      Encoder enc(*m_, e.ids, cache, &bounds);
      enc.run(key, 0, false);
      const size_t slack = std::max(m_->added.max_len(), m_->added_norm.max_len()) + 1;
      const Boundary* best = nullptr;
      for (const Boundary& b : bounds) {
        if (b.end + slack > key.size()) break;
        if (b.mid && m_->nfc) {
          size_t len;
          uint32_t cp = utf8_decode(reinterpret_cast<const uint8_t*>(key.data()), b.end, &len);
          if (unicode::class_of(cp) & unicode::kNfcCheck) continue;
        }
        best = &b;
      }
      if (best) {
        e.ids.resize(best->ids);
        e.cut = best->end;
        e.mid_segment = best->mid;
      } else {
        e.ids.clear();
      }
      if (pc.map.size() >= pc.max_entries) {
        pc.map.erase(pc.order.front());
        pc.order.pop_front();
      }
      pc.order.push_back(key);
      it = pc.map.emplace(std::move(key), std::move(e)).first;
    }
    out.insert(out.end(), it->second.ids.begin(), it->second.ids.end());
    from = it->second.cut;
    mid = it->second.mid_segment;
  }
  Encoder enc(*m_, out, cache, nullptr);
  enc.run(text, from, mid);
  if (add_special_tokens) out.insert(out.end(), m_->template_after.begin(), m_->template_after.end());
}


std::vector<uint32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  std::vector<uint32_t> out;
  out.reserve(text.size() / 3 + 4);
  encode(text, add_special_tokens, out, &thread_cache(m_->serial), nullptr);
  return out;
}

std::vector<std::vector<uint32_t>> Tokenizer::encode_batch(const std::vector<std::string_view>& texts, int threads,
                                                           bool add_special_tokens) const {
  std::vector<std::string_view> copy = texts;
  return encode_batch_streaming(copy, threads, add_special_tokens,
                                [&](std::atomic<size_t>& ready) { ready.store(copy.size(), std::memory_order_release); });
}

std::vector<std::vector<uint32_t>> Tokenizer::encode_batch_streaming(
    std::vector<std::string_view>& texts, int threads, bool add_special_tokens,
    const std::function<void(std::atomic<size_t>& ready)>& produce) const {
  const size_t n = texts.size();
  std::vector<std::vector<uint32_t>> results(n);
  threads = std::max(1, std::min<int>({threads, int(std::max<size_t>(n, 1)), int(Model::kMaxBatchThreads)}));
  // Texts are handed out one at a time from a shared counter: their lengths vary, and a static
  // split would leave one thread idle while the other finishes a long text.
  std::atomic<size_t> next{0};
  std::atomic<size_t> ready{0};
  BatchPool::instance().run(threads, [&](int tid) {
    if (tid == 0) produce(ready);
    // Slot tid is only touched by worker tid, and batches run one at a time.
    std::unique_ptr<PieceCache>& slot = m_->batch_caches[size_t(tid)];
    if (!slot) slot = std::make_unique<PieceCache>();
    PieceCache* cache = slot.get();
    // Each text is encoded into this thread's own buffer and copied out once: appending to
    // results[i] directly would write its end pointer per token, on a cache line shared with
    // the neighbouring results that other threads are filling.
    std::vector<uint32_t> ids;
    for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) {
      while (ready.load(std::memory_order_acquire) <= i) std::this_thread::yield();  // not produced yet
      ids.clear();
      encode(texts[i], add_special_tokens, ids, cache, nullptr);
      results[i].assign(ids.begin(), ids.end());
    }
  });
  return results;
}

std::string Tokenizer::decode(const uint32_t* ids, size_t n) const {
  const Model& m = *m_;
  std::string bytes;
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    uint32_t id = ids[i];
    if (id >= m.vocab_size || !m.id_known[id]) throw std::out_of_range("decode: id " + std::to_string(id) + " is not in the vocabulary");
    if (m.decode_byte_fallback && m.id_byte[id] >= 0) {
      // ByteFallback: a run of <0xNN> tokens becomes its bytes when they are valid UTF-8, else
      // one U+FFFD per token, as the reference's decoder does.
      size_t j = i;
      bytes.clear();
      while (j < n && ids[j] < m.vocab_size && m.id_byte[ids[j]] >= 0) bytes += char(m.id_byte[ids[j++]]);
      if (utf8_valid_prefix(bytes) == bytes.size()) out += bytes;
      else for (size_t k = i; k < j; ++k) out += "\xEF\xBF\xBD";
      i = j - 1;
      continue;
    }
    out += m.id_text[id];
  }
  if (m.decode_strip_space && !out.empty() && out[0] == ' ') out.erase(0, 1);
  if (m.family == Model::Family::ByteLevel && utf8_valid_prefix(out) != out.size()) out = utf8_repair(out);
  return out;
}

}  // namespace infeng::tok
