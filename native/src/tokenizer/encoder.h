// One encode call's working state: walks a text segment by segment (added tokens cut out),
// normalizes, pre-tokenizes and runs BPE per piece, appending ids. Internal to src/tokenizer;
// the public entry points are in tokenizer.cpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bpe.h"
#include "model.h"
#include "nfc.h"
#include "normalizer.h"
#include "piece_cache.h"
#include "pre_steps.h"
#include "pretokenizer.h"
#include "utf8.h"

namespace infeng::tok {

using Model = Tokenizer::Model;

// BPE of a piece's initial symbols. A long piece is first cut where no merge can join the two
// neighbouring symbols (Model::joinable), and each run merges on its own: the runs are
// shorter, often repeat (and the rounds algorithm likes them), and the result is the same.
inline void merge_runs(const Model& m, std::vector<uint32_t>& syms, std::vector<uint32_t>& run) {
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

// Working buffers, reused by every encode call on this thread (a call must not allocate for
// a short text; one Encoder at a time per thread).
struct EncoderScratch {
  std::vector<uint32_t> syms, runbuf;
  std::string norm, norm_tmp;
  PreStepScratch pre;
};
inline EncoderScratch& encoder_scratch() {
  thread_local EncoderScratch s;
  return s;
}

struct Encoder {
  Encoder(const Model& model, std::vector<uint32_t>& ids, PieceCache* piece_cache, std::vector<Boundary>* boundaries)
      : m(model), out(ids), cache(piece_cache), bounds(boundaries) {}

  const Model& m;
  std::vector<uint32_t>& out;
  PieceCache* cache;
  std::vector<Boundary>* bounds;  // recorded only when computing a prefix-cache entry
  EncoderScratch& scratch = encoder_scratch();
  std::vector<uint32_t>& syms = scratch.syms;
  std::vector<uint32_t>& runbuf = scratch.runbuf;
  std::string& norm = scratch.norm;

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

  // An initial symbol the vocabulary lacks: the unknown token (fused with a preceding one
  // when fuse_unk), or nothing, as the reference's BPE does.
  void unknown_symbol(bool& last_unk) {
    if (m.unk_id == kNoId) return;
    if (!(m.fuse_unk && last_unk)) syms.push_back(m.unk_id);
    last_unk = true;
  }

  // SentencePiece family with continuing_subword_prefix / end_of_word_suffix: the initial
  // symbols of word w, each character looked up with its affixes; byte fallback covers the
  // affixed string's bytes, as the reference's does.
  void sp_affixed_symbols(const uint8_t* w, size_t n) {
    thread_local std::string s;
    bool last_unk = false;
    for (size_t i = 0; i < n;) {
      size_t len = utf8_len(w[i]);
      s.clear();
      if (i > 0) s += m.cont_prefix;
      s.append(reinterpret_cast<const char*>(w + i), len);
      if (i + len >= n) s += m.word_suffix;
      i += len;
      uint32_t id = m.vocab.find(s);
      if (id != kNoId) {
        syms.push_back(id);
        last_unk = false;
        continue;
      }
      if (m.byte_fallback) {
        bool all = true;
        for (char c : s) all &= m.byte_id[uint8_t(c)] != kNoId;
        if (all) {
          for (char c : s) syms.push_back(m.byte_id[uint8_t(c)]);
          last_unk = false;
          continue;
        }
      }
      unknown_symbol(last_unk);
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
    if (m.affix) sp_affixed_symbols(w, n);
    for (size_t i = 0; i < n && !m.affix;) {
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
  // `base` is the segment's offset in the whole text (for prefix-cache boundaries: the start
  // of each word, where the continuation begins with the space and no Prepend).
  void sp_segment(std::string_view seg, size_t base, bool segment_start) {
    if (!m.norm_steps.empty()) {
      // the general normalizer; no boundary inside the segment is recorded
      normalize(m.norm_steps, seg, norm, scratch.norm_tmp);
      if (norm.empty()) return;
      if (!m.pre_steps.empty()) {
        run_pre_steps(m.pre_steps, norm, base == 0 && segment_start, scratch.pre);
        const auto* b = reinterpret_cast<const uint8_t*>(scratch.pre.buf.data());
        for (const PrePiece& p : scratch.pre.pieces) sp_word(b + p.begin, p.end - p.begin, true);
      } else {
        sp_word(reinterpret_cast<const uint8_t*>(norm.data()), norm.size(), false);
      }
      return;
    }
    norm.clear();
    auto put = [&](std::string_view part) {  // Replace applies to the prepended text too
      if (!m.replace_space) { norm.append(part); return; }
      for (char c : part) {
        if (c == ' ') norm += m.replace_with;
        else norm += c;
      }
    };
    if (segment_start && !seg.empty()) put(m.prepend);
    const size_t pre = norm.size();  // normalized bytes that stand for no input byte
    put(seg);
    const auto* s = reinterpret_cast<const uint8_t*>(norm.data());
    const size_t n = norm.size();
    if (!m.pre_steps.empty()) {
      // the general pre-tokenizer (Metaspace, Split, ...) cuts the normalized segment
      run_pre_steps(m.pre_steps, norm, base == 0 && segment_start, scratch.pre);
      const auto* b = reinterpret_cast<const uint8_t*>(scratch.pre.buf.data());
      for (const PrePiece& p : scratch.pre.pieces) sp_word(b + p.begin, p.end - p.begin, true);
      return;
    }
    if (!m.sp_words) {
      sp_word(s, n, false);
      return;
    }
    const std::string& w = m.replace_with;
    auto is_space = [&](size_t i) { return i + w.size() <= n && std::memcmp(s + i, w.data(), w.size()) == 0; };
    size_t start = 0;
    size_t orig = 0;       // input bytes of seg behind normalized position i (i ≥ pre)
    bool in_word = false;  // a non-▁ character has been seen since start
    for (size_t i = 0; i < n;) {
      if (is_space(i)) {
        if (in_word) {
          sp_word(s + start, i - start, true);
          start = i;
          in_word = false;
          if (bounds && i >= pre) bounds->push_back({base + orig, out.size(), true});
        }
        if (i >= pre) orig += seg[orig] == ' ' ? 1 : w.size();  // a space, or a literal ▁
        i += w.size();
      } else {
        size_t len = utf8_len(s[i]);
        if (i >= pre) orig += len;
        in_word = true;
        i += len;
      }
    }
    if (start < n) sp_word(s + start, n - start, true);
  }

  // Byte-level family: one pre-tokenized piece.
  void bl_piece(const uint8_t* p, size_t n) {
    if (n == 1 && !m.affix) {
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
    if (!m.affix) {
      syms.resize(n);
      for (size_t i = 0; i < n; ++i) syms[i] = m.byte_id[p[i]];
    } else {
      syms.clear();
      bool last_unk = false;
      for (size_t i = 0; i < n; ++i) {
        uint32_t id = n == 1 ? m.byte_only_id[p[i]]
                      : i == 0 ? m.byte_id[p[i]]
                      : i + 1 == n ? m.byte_last_id[p[i]]
                                   : m.byte_mid_id[p[i]];
        if (id != kNoId) {
          syms.push_back(id);
          last_unk = false;
        } else {
          unknown_symbol(last_unk);
        }
      }
    }
    merge_runs(m, syms, runbuf);
    if (cache && n <= PieceCache::kMaxPiece) cache->insert(p, n, h, syms.data(), syms.size());
    out.insert(out.end(), syms.begin(), syms.end());
  }

  // `base` is the segment's offset in the whole text (for boundaries).
  void bl_segment(std::string_view seg, size_t base, bool segment_start) {
    std::string normalized;
    bool identity = true;
    if (m.nfc && !nfc_quick_check(seg)) {
      normalized = nfc(seg);
      identity = normalized == seg;
      seg = normalized;
    } else if (!m.norm_steps.empty()) {
      // the general normalizer: its steps (Strip, Replace) may depend on the whole segment,
      // so no boundary inside it is recorded
      normalize(m.norm_steps, seg, norm, scratch.norm_tmp);
      seg = norm;
      identity = false;
      if (seg.empty()) return;
    }
    const auto* s = reinterpret_cast<const uint8_t*>(seg.data());
    if (!m.pre_steps.empty()) {
      // The general pre-tokenizer: its patterns may look anywhere in the segment, so no
      // boundary inside it is recorded for the prefix cache.
      run_pre_steps(m.pre_steps, seg, base == 0 && segment_start, scratch.pre);
      const auto* b = reinterpret_cast<const uint8_t*>(scratch.pre.buf.data());
      for (const PrePiece& p : scratch.pre.pieces) bl_piece(b + p.begin, p.end - p.begin);
      return;
    }
    split_pieces(seg, m.split, [&](size_t b, size_t e) {
      bl_piece(s + b, e - b);
      if (bounds && identity && e < seg.size()) bounds->push_back({base + e, out.size(), true});
    });
  }

  void normalized_segment(std::string_view seg, size_t base, bool segment_start) {
    if (seg.empty()) return;
    if (m.family == Model::Family::ByteLevel) bl_segment(seg, base, segment_start);
    else sp_segment(seg, base, segment_start);
  }

  // A segment between raw-text added tokens. Added tokens marked "normalized" are cut out of
  // it next (the loader allows them only when normalization changes nothing, so the raw
  // segment is the normalized one).
  void segment(std::string_view seg, size_t base, bool segment_start) {
    if (m.added_norm.empty()) {
      normalized_segment(seg, base, segment_start);
      return;
    }
    size_t pos = 0;
    AddedTokens::Match match;
    while (pos < seg.size()) {
      bool found = m.added_norm.find(seg, pos, &match);
      size_t end = found ? match.begin : seg.size();
      normalized_segment(seg.substr(pos, end - pos), base + pos, segment_start || pos > 0);
      if (!found) break;
      out.push_back(match.id);
      pos = match.begin + match.len;
      if (bounds) bounds->push_back({base + pos, out.size(), false});
    }
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

}  // namespace infeng::tok
