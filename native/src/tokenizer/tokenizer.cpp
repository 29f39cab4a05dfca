// The encode pipeline, in the reference's order: cut out added tokens (leftmost-longest, on the
// raw text), normalize each remaining segment (NFC, or SentencePiece's Prepend ▁ + Replace
// ' ' → ▁), pre-tokenize (byte-level family), BPE each piece, then the post-processor template.
//
// Design, and what was measured (2-core AVX-512 runner shared with other builds, clang-16;
// MB/s per corpus file are Google Benchmark medians from infeng_tokenizer_bench, single
// thread, warm piece cache; "×" are same-run ratios against Hugging Face tokenizers 0.23.2 from
// the lane, `npx infeng-perf run --lanes tokenizer`):
//  - No regex engine: the Split pattern is decided per character class (pretokenizer.cpp),
//    checked against Oniguruma's splits recorded as fixtures.
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
//    core from the worker. Own threads with a blocking join: no collapse (62 → 56 MB/s under
//    the same load). Two-thread scaling is only measurable on an idle runner.
// Lane, quick profile, 7 repetitions, load average ~2 (one core busy with other jobs):
// llama2 48.7 MB/s = 19.8× the reference, llama3 107 MB/s = 34.6×, qwen3 101 MB/s = 44.6×.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <list>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "bpe.h"
#include "infeng/tokenizer.h"
#include "model.h"
#include "nfc.h"
#include "utf8.h"

namespace infeng::tok {

// ---------------------------------------------------------------------------------------------
// Piece cache: piece bytes → ids. Cleared wholesale when full: simpler than LRU, and a cleared
// cache refills with the frequent pieces within a few kilobytes of text.
class PieceCache {
 public:
  static constexpr size_t kMaxPiece = 256;
  static constexpr size_t kSlots = 1 << 15;
  static constexpr size_t kMaxEntries = kSlots / 2;

  PieceCache() : slots_(kSlots) {}

  // Pointer to the cached ids (and their count), or null.
  const uint32_t* find(const uint8_t* p, size_t n, uint64_t h, uint32_t* count) const {
    for (size_t i = h & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
      const Slot& s = slots_[i];
      if (s.len == 0) return nullptr;
      if (s.hash == h && s.len == n && std::memcmp(keys_.data() + s.key_off, p, n) == 0) {
        *count = s.n_ids;
        return ids_.data() + s.ids_off;
      }
    }
  }
  void insert(const uint8_t* p, size_t n, uint64_t h, const uint32_t* ids, size_t count) {
    if (entries_ >= kMaxEntries) clear();
    for (size_t i = h & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
      Slot& s = slots_[i];
      if (s.len == 0) {
        s = {h, uint32_t(keys_.size()), uint32_t(ids_.size()), uint16_t(n), uint16_t(count)};  // n ≤ kMaxPiece
        keys_.insert(keys_.end(), p, p + n);
        ids_.insert(ids_.end(), ids, ids + count);
        ++entries_;
        return;
      }
    }
  }
  void clear() {
    std::fill(slots_.begin(), slots_.end(), Slot{});
    keys_.clear();
    ids_.clear();
    entries_ = 0;
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t key_off = 0, ids_off = 0;
    uint16_t len = 0, n_ids = 0;
  };
  std::vector<Slot> slots_;
  std::vector<uint8_t> keys_;
  std::vector<uint32_t> ids_;
  size_t entries_ = 0;
};

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

using Model = Tokenizer::Model;

// BPE of a piece's initial symbols. A long piece is first cut where no merge can join the two
// neighbouring symbols (Model::joinable), and each run merges on its own: the runs are
// shorter, often repeat (and the rounds algorithm likes them), and the result is the same.
void merge_runs(const Model& m, std::vector<uint32_t>& syms, std::vector<uint32_t>& run) {
  const size_t n = syms.size();
  if (n <= kBpeShortLimit || m.joinable_all) {
    bpe_merge(m.merges, syms);
    return;
  }
  size_t w = 0, start = 0;
  for (size_t i = 1; i <= n; ++i) {
    if (i < n && m.joinable.find(syms[i - 1], syms[i])) continue;
    run.assign(syms.begin() + start, syms.begin() + i);
    bpe_merge(m.merges, run);
    for (uint32_t id : run) syms[w++] = id;
    start = i;
  }
  syms.resize(w);
}

// A point after which encoding can restart: byte offset, ids emitted so far, and whether it is
// inside a segment (so the restart must not apply segment-start normalization).
struct Boundary {
  size_t end, ids;
  bool mid;
};

struct Encoder {
  const Model& m;
  std::vector<uint32_t>& out;
  PieceCache* cache;
  std::vector<Boundary>* bounds;  // recorded only when computing a prefix-cache entry
  std::vector<uint32_t> syms, runbuf;
  std::string norm;

  // SentencePiece: the initial symbols of one character (bytes c[0..n)).
  void sp_char(const uint8_t* c, size_t n, bool& last_unk) {
    uint32_t id = kNoId;
    if (n == 1) id = m.ascii_id[c[0]];
    else id = m.vocab.find(std::string_view(reinterpret_cast<const char*>(c), n));
    if (id != kNoId) {
      syms.push_back(id);
      last_unk = false;
      return;
    }
    if (m.byte_fallback) {
      bool all = true;
      for (size_t k = 0; k < n; ++k) all &= m.byte_id[c[k]] != kNoId;
      if (all) {
        for (size_t k = 0; k < n; ++k) syms.push_back(m.byte_id[c[k]]);
        last_unk = false;
        return;
      }
    }
    if (m.unk_id != kNoId) {
      if (!(m.fuse_unk && last_unk)) syms.push_back(m.unk_id);
      last_unk = true;
    }
  }

  // SentencePiece: BPE of one word (or of a whole segment), given as normalized bytes.
  void sp_word(const uint8_t* w, size_t n, bool cacheable) {
    uint64_t h = 0;
    cacheable = cacheable && cache && n <= PieceCache::kMaxPiece;
    if (cacheable) {
      h = hash_bytes(w, n);
      uint32_t count;
      if (const uint32_t* ids = cache->find(w, n, h, &count)) {
        out.insert(out.end(), ids, ids + count);
        return;
      }
    }
    syms.clear();
    bool last_unk = false;
    for (size_t i = 0; i < n;) {
      size_t len = utf8_len(w[i]);
      if (len == m.replace_with.size() && std::memcmp(w + i, m.replace_with.data(), len) == 0 && m.replace_id != kNoId) {
        syms.push_back(m.replace_id);
        last_unk = false;
      } else {
        sp_char(w + i, len, last_unk);
      }
      i += len;
    }
    merge_runs(m, syms, runbuf);
    if (cacheable) cache->insert(w, n, h, syms.data(), syms.size());
    out.insert(out.end(), syms.begin(), syms.end());
  }

  // SentencePiece family: normalize the segment (Prepend, Replace ' '), then BPE it whole, or
  // word by word when the merges allow (Model::sp_words).
  void sp_segment(std::string_view seg, bool segment_start) {
    norm.clear();
    auto put = [&](std::string_view part) {  // Replace applies to the prepended text too
      if (!m.replace_space) { norm.append(part); return; }
      for (char c : part) {
        if (c == ' ') norm += m.replace_with;
        else norm += c;
      }
    };
    if (segment_start && !seg.empty()) put(m.prepend);
    put(seg);
    const auto* s = reinterpret_cast<const uint8_t*>(norm.data());
    const size_t n = norm.size();
    if (!m.sp_words) {
      sp_word(s, n, false);
      return;
    }
    const std::string& w = m.replace_with;
    auto is_space = [&](size_t i) { return i + w.size() <= n && std::memcmp(s + i, w.data(), w.size()) == 0; };
    size_t start = 0;
    bool in_word = false;  // a non-▁ character has been seen since start
    for (size_t i = 0; i < n;) {
      if (is_space(i)) {
        if (in_word) {
          sp_word(s + start, i - start, true);
          start = i;
          in_word = false;
        }
        i += w.size();
      } else {
        in_word = true;
        i += utf8_len(s[i]);
      }
    }
    if (start < n) sp_word(s + start, n - start, true);
  }

  // Byte-level family: one pre-tokenized piece.
  void bl_piece(const uint8_t* p, size_t n) {
    if (n == 1) {
      out.push_back(m.byte_id[p[0]]);
      return;
    }
    if (m.ignore_merges) {
      uint32_t id = m.vocab.find(std::string_view(reinterpret_cast<const char*>(p), n));
      if (id != StrMap::kNone) {
        out.push_back(id);
        return;
      }
    }
    uint64_t h = 0;
    if (cache && n <= PieceCache::kMaxPiece) {
      h = hash_bytes(p, n);
      uint32_t count;
      if (const uint32_t* ids = cache->find(p, n, h, &count)) {
        out.insert(out.end(), ids, ids + count);
        return;
      }
    }
    syms.resize(n);
    for (size_t i = 0; i < n; ++i) syms[i] = m.byte_id[p[i]];
    merge_runs(m, syms, runbuf);
    if (cache && n <= PieceCache::kMaxPiece) cache->insert(p, n, h, syms.data(), syms.size());
    out.insert(out.end(), syms.begin(), syms.end());
  }

  // `base` is the segment's offset in the whole text (for boundaries).
  void bl_segment(std::string_view seg, size_t base) {
    std::string normalized;
    bool identity = true;
    if (m.nfc && !nfc_quick_check(seg)) {
      normalized = nfc(seg);
      identity = normalized == seg;
      seg = normalized;
    }
    const auto* s = reinterpret_cast<const uint8_t*>(seg.data());
    split_pieces(seg, m.split, [&](size_t b, size_t e) {
      bl_piece(s + b, e - b);
      if (bounds && identity && e < seg.size()) bounds->push_back({base + e, out.size(), true});
    });
  }

  void segment(std::string_view seg, size_t base, bool segment_start) {
    if (seg.empty()) return;
    if (m.family == Model::Family::ByteLevel) bl_segment(seg, base);
    else sp_segment(seg, segment_start);
  }

  // Encodes text[from..], where `from` is 0 or a boundary (mid: inside a segment).
  void run(std::string_view text, size_t from, bool mid) {
    size_t pos = from;
    AddedTokens::Match match;
    while (pos < text.size()) {
      bool found = m.added.find(text, pos, &match);
      size_t seg_end = found ? match.begin : text.size();
      segment(text.substr(pos, seg_end - pos), pos, !(mid && pos == from));
      if (!found) break;
      out.push_back(match.id);
      pos = match.begin + match.len;
      if (bounds) bounds->push_back({pos, out.size(), false});
    }
  }
};

}  // namespace

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

std::unique_ptr<PieceCache> Tokenizer::Model::take_cache() const {
  std::lock_guard<std::mutex> lk(caches_mu);
  if (caches.empty()) return std::make_unique<PieceCache>();
  std::unique_ptr<PieceCache> c = std::move(caches.back());
  caches.pop_back();
  return c;
}

void Tokenizer::Model::return_cache(std::unique_ptr<PieceCache> c) const {
  std::lock_guard<std::mutex> lk(caches_mu);
  caches.push_back(std::move(c));
}

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
      Encoder enc{*m_, e.ids, cache, &bounds, {}};
      enc.run(key, 0, false);
      const size_t slack = m_->added.max_len() + 1;
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
  Encoder enc{*m_, out, cache, nullptr, {}};
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
  std::vector<std::vector<uint32_t>> results(texts.size());
  threads = std::max(1, std::min<int>(threads, int(texts.size())));
  // Texts are handed out one at a time from a shared counter: their lengths vary, and a static
  // split would leave one thread idle while the other finishes a long text.
  std::atomic<size_t> next{0};
  auto work = [&] {
    std::unique_ptr<PieceCache> cache = m_->take_cache();
    for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < texts.size();) {
      results[i].reserve(texts[i].size() / 3 + 4);
      encode(texts[i], add_special_tokens, results[i], cache.get(), nullptr);
    }
    m_->return_cache(std::move(cache));
  };
  // Threads of its own rather than the shared spinning pool: a batch is milliseconds, so a
  // thread start (tens of microseconds) is cheap, and on an oversubscribed or busy machine
  // a blocked join gives the core to the workers where spin-waiting would take it from them.
  std::vector<std::thread> pool;
  pool.reserve(size_t(threads - 1));
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
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
