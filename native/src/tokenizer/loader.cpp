// tokenizer.json → Model. Every component of the file is either understood exactly or refused
// with a LoadError that names it: a tokenizer this code does not fully implement must not load
// and then encode differently from the reference.
#include <cmath>
#include <cstdio>
#include <string>

#include "json.h"
#include "normalizer.h"
#include "pre_steps.h"
#include "pattern_regex.h"
#include "model.h"
#include "utf8.h"

namespace infeng::tok {

namespace {

using json::Value;

[[noreturn]] void fail(const std::string& what) { throw LoadError("tokenizer.json: " + what); }

const Value& need(const Value& obj, const char* key, const char* where) {
  const Value* v = obj.find(key);
  if (!v) fail(std::string(where) + ": missing \"" + key + "\"");
  return *v;
}

std::string type_of(const Value& v, const char* where) {
  if (!v.is_object()) fail(std::string(where) + " is not an object");
  const Value* t = v.find("type");
  if (!t || !t->is_string()) fail(std::string(where) + ": missing \"type\"");
  return t->str;
}

bool flag(const Value& obj, const char* key, bool dflt = false) {
  const Value* v = obj.find(key);
  if (!v || v->is_null()) return dflt;
  if (!v->is_bool()) fail(std::string("\"") + key + "\" is not a boolean");
  return v->b;
}

uint32_t id_value(const Value& v, const std::string& where) {
  if (!v.is_number() || v.num < 0 || v.num >= 4294967295.0 || v.num != std::floor(v.num))
    fail(where + ": id is not a non-negative integer");
  return uint32_t(v.num);
}

// GPT-2's byte ↔ printable-character table: bytes that are printable stay themselves, the
// others map to U+0100 onwards in byte order.
struct ByteAlphabet {
  uint32_t to_cp[256];
  int16_t to_byte[0x180];
  ByteAlphabet() {
    for (auto& b : to_byte) b = -1;
    uint32_t extra = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      to_cp[b] = printable ? uint32_t(b) : 256 + extra++;
      to_byte[to_cp[b]] = int16_t(b);
    }
  }
  // The raw bytes a byte-level token string stands for; false if it has a character outside
  // the alphabet (such a token can never come out of byte-level BPE).
  bool unmap(const std::string& tok, std::string* out) const {
    const auto* s = reinterpret_cast<const uint8_t*>(tok.data());
    out->clear();
    for (size_t i = 0; i < tok.size();) {
      size_t len;
      uint32_t cp = utf8_decode(s, i, &len);
      if (cp >= 0x180 || to_byte[cp] < 0) return false;
      *out += char(to_byte[cp]);
      i += len;
    }
    return true;
  }
};

std::shared_ptr<const Regex> compile(std::string_view pattern, const std::string& where);

// The normalizer tree, flattened into steps (Sequences opened, in order).
void flatten_normalizer(const Value& v, const std::string& where, std::vector<NormStep>& out) {
  if (v.is_null()) return;
  std::string t = type_of(v, where.c_str());
  NormStep st;
  if (t == "Sequence") {
    const Value& list = need(v, "normalizers", (where + " Sequence").c_str());
    if (!list.is_array()) fail(where + " Sequence: \"normalizers\" is not an array");
    for (size_t i = 0; i < list.arr.size(); ++i)
      flatten_normalizer(list.arr[i], where + "[" + std::to_string(i) + "]", out);
    return;
  }
  if (t == "NFC") {
    st.kind = NormStep::Kind::NFC;
  } else if (t == "NFKC") {
    st.kind = NormStep::Kind::NFKC;
  } else if (t == "Lowercase") {
    st.kind = NormStep::Kind::Lowercase;
  } else if (t == "Strip") {
    st.kind = NormStep::Kind::Strip;
    for (const char* key : {"strip_left", "strip_right"}) {
      const Value& f = need(v, key, (where + " Strip").c_str());
      if (!f.is_bool()) fail(where + " Strip: \"" + key + "\" is not a boolean");
      (key[6] == 'l' ? st.left : st.right) = f.b;
    }
  } else if (t == "Prepend") {
    const Value& p = need(v, "prepend", (where + " Prepend").c_str());
    if (!p.is_string()) fail(where + " Prepend: \"prepend\" is not a string");
    st.kind = NormStep::Kind::Prepend;
    st.content = p.str;
  } else if (t == "Replace") {
    const Value& pat = need(v, "pattern", (where + " Replace").c_str());
    const Value& content = need(v, "content", (where + " Replace").c_str());
    if (!content.is_string()) fail(where + " Replace: \"content\" is not a string");
    const Value* re = pat.find("Regex");
    const Value* str = pat.find("String");
    st.kind = NormStep::Kind::Replace;
    st.content = content.str;
    if (re && re->is_string()) st.re = compile(re->str, where + " Replace");
    else if (str && str->is_string()) st.re = Regex::literal(str->str);
    else fail(where + " Replace: \"pattern\" is neither {\"Regex\": ...} nor {\"String\": ...}");
    // the pattern's text, for recognising SentencePiece's Replace ' ' → ▁ below
    if (str && str->is_string()) st.re_literal = str->str, st.is_literal = true;
  } else {
    fail(where + ": normalizer " + t +
         " is not supported (supported: NFC, NFKC, Lowercase, Strip, Replace, Prepend, Sequence)");
  }
  out.push_back(std::move(st));
}

// The normalizer (read after the pre-tokenizer): NFC alone before a byte-level
// pre-tokenizer, and SentencePiece's [Prepend] + Replace(' ' → x) without a pre-tokenizer, keep
// their dedicated paths; any other chain runs as general steps (normalizer.h).
void load_normalizer(const Value& v, Tokenizer::Model& m) {
  std::vector<NormStep> steps;
  flatten_normalizer(v, "normalizer", steps);
  using K = NormStep::Kind;
  const bool byte_level = m.family == Tokenizer::Model::Family::ByteLevel;
  if (byte_level && steps.size() == 1 && steps[0].kind == K::NFC) {
    m.nfc = true;
    return;
  }
  if (byte_level || !m.metaspace.empty() || !m.pre_steps.empty()) {
    m.norm_steps = std::move(steps);
    return;
  }
  // SentencePiece family: a Replace ' ' → x among general steps still names the character
  // that the decoder's Replace turns back into a space
  auto general = [&] {
    for (const NormStep& st : steps)
      if (st.kind == K::Replace && st.is_literal && st.re_literal == " " && !st.content.empty()) {
        m.replace_with = st.content;
        m.decode_space = true;
      }
    m.norm_steps = std::move(steps);
  };
  auto space_replace = [](const NormStep& st) {
    return st.kind == K::Replace && st.is_literal && st.re_literal == " " && !st.content.empty();
  };
  size_t i = 0;
  std::string prepend;
  if (i < steps.size() && steps[i].kind == K::Prepend && !steps[i].content.empty()) prepend = steps[i++].content;
  if (i + 1 == steps.size() && space_replace(steps[i])) {
    m.prepend = prepend;
    m.replace_space = true;
    m.replace_with = steps[i].content;
    return;
  }
  if (!steps.empty() && steps.size() == 1 && steps[0].kind == K::Prepend && !steps[0].content.empty()) {
    m.prepend = steps[0].content;
    return;
  }
  general();
}

// The pre-tokenizer tree, flattened: Sequences opened, in order.
void flatten_pre(const Value& v, const std::string& where, std::vector<std::pair<const Value*, std::string>>& out) {
  std::string t = type_of(v, where.c_str());
  if (t == "Sequence") {
    const Value& list = need(v, "pretokenizers", (where + " Sequence").c_str());
    if (!list.is_array()) fail(where + " Sequence: \"pretokenizers\" is not an array");
    for (size_t i = 0; i < list.arr.size(); ++i)
      flatten_pre(list.arr[i], where + "[" + std::to_string(i) + "]", out);
    return;
  }
  out.emplace_back(&v, where);
}

std::shared_ptr<const Regex> compile(std::string_view pattern, const std::string& where) {
  try {
    return std::make_shared<const Regex>(pattern);
  } catch (const RegexError& e) {
    fail(where + ": pattern does not compile (" + e.what() + "): " + std::string(pattern));
  }
}

PreStep split_step(std::shared_ptr<const Regex> re, SplitBehavior b, bool invert) {
  PreStep st;
  st.kind = PreStep::Kind::Split;
  st.re = std::move(re);
  st.behavior = b;
  st.invert = invert;
  return st;
}


// A Split the hand-written pre-tokenizer reproduces: a pattern it knows, with a behaviour
// that keeps every match as its own piece. The known patterns match every character, so
// there is no text between matches, and Isolated (either invert) and Removed with invert
// (gpt-3.5's file) all give exactly the matches.
bool fast_split(const Value& split, SplitPattern* out) {
  const Value* pat = split.find("pattern");
  const Value* re = pat ? pat->find("Regex") : nullptr;
  if (!re || !re->is_string() || !recognize_split_pattern(re->str, out)) return false;
  const Value* beh = split.find("behavior");
  if (!beh || !beh->is_string()) return false;
  const Value* inv = split.find("invert");
  bool invert = inv && inv->is_bool() && inv->b;
  return beh->str == "Isolated" || (beh->str == "Removed" && invert);
}

void load_pre_tokenizer(const Value& v, Tokenizer::Model& m) {
  m.family = Tokenizer::Model::Family::SentencePiece;
  if (v.is_null()) return;
  std::vector<std::pair<const Value*, std::string>> parts;
  flatten_pre(v, "pre_tokenizer", parts);
  // The fast path: [Split(known pattern), ByteLevel without its own regex or prefix space].
  if (parts.size() == 2 && type_of(*parts[0].first, "pre_tokenizer") == "Split" &&
      type_of(*parts[1].first, "pre_tokenizer") == "ByteLevel" && fast_split(*parts[0].first, &m.split) &&
      !flag(*parts[1].first, "add_prefix_space") && !flag(*parts[1].first, "use_regex", true)) {
    m.family = Tokenizer::Model::Family::ByteLevel;
    return;
  }
  // ... and [ByteLevel with its own (GPT-2) regex, without prefix space].
  if (parts.size() == 1 && type_of(*parts[0].first, "pre_tokenizer") == "ByteLevel" &&
      flag(*parts[0].first, "use_regex", true) && !flag(*parts[0].first, "add_prefix_space")) {
    m.split.gpt2 = true;
    m.family = Tokenizer::Model::Family::ByteLevel;
    return;
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    const Value& p = *parts[i].first;
    const std::string& where = parts[i].second;
    std::string t = type_of(p, where.c_str());
    if (m.family == Tokenizer::Model::Family::ByteLevel)
      fail(where + ": " + t + " after ByteLevel is not supported (ByteLevel must come last)");
    if (t == "Split") {
      const Value& pat = need(p, "pattern", (where + " Split").c_str());
      const Value* re = pat.find("Regex");
      const Value* str = pat.find("String");
      std::shared_ptr<const Regex> rx;
      if (re && re->is_string()) rx = compile(re->str, where + " Split");
      else if (str && str->is_string()) rx = Regex::literal(str->str);
      else fail(where + " Split: \"pattern\" is neither {\"Regex\": ...} nor {\"String\": ...}");
      const Value& beh = need(p, "behavior", (where + " Split").c_str());
      SplitBehavior b;
      if (!beh.is_string() || !parse_split_behavior(beh.str, &b))
        fail(where + " Split: unknown \"behavior\"" + (beh.is_string() ? ": " + beh.str : std::string()));
      m.pre_steps.push_back(split_step(std::move(rx), b, flag(p, "invert")));
    } else if (t == "ByteLevel") {
      if (flag(p, "add_prefix_space")) {
        PreStep st;
        st.kind = PreStep::Kind::PrefixSpace;
        m.pre_steps.push_back(st);
      }
      if (flag(p, "use_regex", true))
        m.pre_steps.push_back(split_step(compile(kGpt2Pattern, where), SplitBehavior::Isolated, false));
      m.family = Tokenizer::Model::Family::ByteLevel;
    } else if (t == "Whitespace") {
      m.pre_steps.push_back(split_step(compile("\\w+|[^\\w\\s]+", where), SplitBehavior::Removed, true));
    } else if (t == "WhitespaceSplit") {
      // char::is_whitespace is the White_Space property, which is Oniguruma's \s
      m.pre_steps.push_back(split_step(compile("\\s", where), SplitBehavior::Removed, false));
    } else if (t == "Digits") {
      bool individual = flag(p, "individual_digits");
      m.pre_steps.push_back(split_step(compile("\\p{N}", where),
                                       individual ? SplitBehavior::Isolated : SplitBehavior::Contiguous, false));
    } else if (t == "Punctuation") {
      SplitBehavior b = SplitBehavior::Isolated;
      const Value* beh = p.find("behavior");
      if (beh && !beh->is_null() && (!beh->is_string() || !parse_split_behavior(beh->str, &b)))
        fail(where + " Punctuation: unknown \"behavior\"");
      // Rust's is_ascii_punctuation (which includes ASCII symbols) or a Unicode P* category
      m.pre_steps.push_back(split_step(compile("[\\p{P}!-/:-@\\[-`{-~]", where), b, false));
    } else if (t == "Metaspace") {
      const Value& rep = need(p, "replacement", (where + " Metaspace").c_str());
      if (!rep.is_string() || rep.str.empty() || utf8_len(uint8_t(rep.str[0])) != rep.str.size())
        fail(where + " Metaspace: \"replacement\" is not one character");
      PreStep st;
      st.kind = PreStep::Kind::Metaspace;
      st.replacement = rep.str;
      const Value* scheme = p.find("prepend_scheme");
      if (scheme && !scheme->is_null()) {
        if (!scheme->is_string()) fail(where + " Metaspace: \"prepend_scheme\" is not a string");
        if (scheme->str == "always") st.scheme = PreStep::Prepend::Always;
        else if (scheme->str == "first") st.scheme = PreStep::Prepend::First;
        else if (scheme->str == "never") st.scheme = PreStep::Prepend::Never;
        else fail(where + " Metaspace: unknown \"prepend_scheme\": " + scheme->str);
      } else {
        // files older than prepend_scheme say add_prefix_space
        st.scheme = flag(p, "add_prefix_space", true) ? PreStep::Prepend::Always : PreStep::Prepend::Never;
      }
      m.pre_steps.push_back(st);
      if (flag(p, "split", true))
        m.pre_steps.push_back(split_step(Regex::literal(rep.str), SplitBehavior::MergedWithNext, false));
      if (m.metaspace.empty()) m.metaspace = rep.str;
    } else {
      fail(where + ": pre-tokenizer " + t +
           " is not supported (supported: Split, ByteLevel, Whitespace, WhitespaceSplit, Digits, Punctuation, "
           "Metaspace, Sequence)");
    }
  }
}

void load_post_processor(const Value& v, const json::Value& root, Tokenizer::Model& m) {
  if (v.is_null()) return;
  std::string t = type_of(v, "post_processor");
  if (t == "Sequence") {
    const Value& list = need(v, "processors", "post_processor Sequence");
    if (!list.is_array()) fail("post_processor Sequence: \"processors\" is not an array");
    for (const Value& p : list.arr) load_post_processor(p, root, m);
    return;
  }
  if (t == "ByteLevel") return;  // offsets only; ids unchanged
  if (t != "TemplateProcessing") fail("post_processor " + t + " is not supported");
  if (!m.template_before.empty() || !m.template_after.empty())
    fail("post_processor: more than one TemplateProcessing");
  const Value& single = need(v, "single", "post_processor TemplateProcessing");
  const Value& specials = need(v, "special_tokens", "post_processor TemplateProcessing");
  if (!single.is_array()) fail("post_processor TemplateProcessing: \"single\" is not an array");
  bool seen_a = false;
  for (const Value& piece : single.arr) {
    if (const Value* seq = piece.find("Sequence")) {
      const Value* id = seq->find("id");
      if (!id || !id->is_string() || id->str != "A" || seen_a)
        fail("post_processor TemplateProcessing: unsupported sequence in \"single\"");
      seen_a = true;
      continue;
    }
    const Value* sp = piece.find("SpecialToken");
    const Value* name = sp ? sp->find("id") : nullptr;
    if (!name || !name->is_string()) fail("post_processor TemplateProcessing: unsupported piece in \"single\"");
    const Value* tok = specials.find(name->str);
    const Value* ids = tok ? tok->find("ids") : nullptr;
    if (!ids || !ids->is_array())
      fail("post_processor TemplateProcessing: special token " + name->str + " is not defined");
    for (const Value& id : ids->arr)
      (seen_a ? m.template_after : m.template_before).push_back(id_value(id, "post_processor " + name->str));
  }
  if (!seen_a) fail("post_processor TemplateProcessing: \"single\" has no sequence A");
}

void load_decoder(const Value& v, Tokenizer::Model& m) {
  if (v.is_null()) return;
  std::string t = type_of(v, "decoder");
  bool byte_level = m.family == Tokenizer::Model::Family::ByteLevel;
  if (t == "ByteLevel") {
    if (!byte_level) fail("decoder ByteLevel needs a ByteLevel pre-tokenizer");
    return;
  }
  if (byte_level) fail("decoder " + t + " is not supported with a ByteLevel pre-tokenizer");
  if (t != "Sequence") fail("decoder " + t + " is not supported");
  const Value& list = need(v, "decoders", "decoder Sequence");
  if (!list.is_array()) fail("decoder Sequence: \"decoders\" is not an array");
  // The SentencePiece chain: Replace(▁ → ' '), ByteFallback, Fuse, Strip(' ', 1, 0).
  for (const Value& d : list.arr) {
    std::string dt = type_of(d, "decoder Sequence item");
    if (dt == "Replace") {
      const Value* s = need(d, "pattern", "decoder Replace").find("String");
      const Value& c = need(d, "content", "decoder Replace");
      if (!s || !s->is_string() || s->str != m.replace_with || !c.is_string() || c.str != " ")
        fail("decoder Replace: only the inverse of the normalizer's Replace is supported");
    } else if (dt == "ByteFallback") {
      m.decode_byte_fallback = true;
    } else if (dt == "Fuse") {
    } else if (dt == "Strip") {
      const Value& c = need(d, "content", "decoder Strip");
      const Value& start = need(d, "start", "decoder Strip");
      const Value& stop = need(d, "stop", "decoder Strip");
      if (!c.is_string() || c.str != " " || !start.is_number() || start.num != 1 || !stop.is_number() || stop.num != 0)
        fail("decoder Strip: only Strip(' ', 1, 0) is supported");
      m.decode_strip_space = true;
    } else {
      fail("decoder " + dt + " is not supported");
    }
  }
}

}  // namespace

void load_model(std::string_view text, Tokenizer::Model& m) {
  Value root;
  try {
    root = json::parse(text);
  } catch (const json::ParseError& e) {
    fail(e.what());
  }
  if (!root.is_object()) fail("the document is not an object");
  for (const char* key : {"truncation", "padding"}) {
    const Value* v = root.find(key);
    if (v && !v->is_null()) fail(std::string(key) + " is not supported");
  }
  const Value& model = need(root, "model", "document");
  std::string mt = type_of(model, "model");
  if (mt != "BPE") fail("model type " + mt + " is not supported (only BPE)");
  const Value* dropout = model.find("dropout");
  if (dropout && !dropout->is_null()) fail("model BPE: dropout is not supported");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const Value* v = model.find(key);
    if (!v || v->is_null()) continue;
    if (!v->is_string()) fail(std::string("model BPE: \"") + key + "\" is not a string");
    (key[0] == 'c' ? m.cont_prefix : m.word_suffix) = v->str;
  }
  m.affix = !m.cont_prefix.empty() || !m.word_suffix.empty();
  m.byte_fallback = flag(model, "byte_fallback");
  m.fuse_unk = flag(model, "fuse_unk");
  m.ignore_merges = flag(model, "ignore_merges");

  const Value* pre = root.find("pre_tokenizer");
  load_pre_tokenizer(pre ? *pre : Value(), m);
  const Value* norm = root.find("normalizer");
  if (norm) load_normalizer(*norm, m);
  const bool byte_level = m.family == Tokenizer::Model::Family::ByteLevel;
  if (!m.metaspace.empty()) m.replace_with = m.metaspace;  // its token is looked up once
  const bool identity_normalizer = !m.nfc && m.prepend.empty() && !m.replace_space && m.norm_steps.empty();

  // Vocabulary: the file's token strings, then the keys the encoder uses.
  const Value& vocab = need(model, "vocab", "model");
  if (!vocab.is_object()) fail("model.vocab is not an object");
  StrMap by_text;
  by_text.reserve(vocab.obj.size());
  uint32_t max_id = 0;
  for (const auto& [tok, idv] : vocab.obj) {
    uint32_t id = id_value(idv, "model.vocab");
    if (id >= (1u << 24)) fail("model.vocab: id " + std::to_string(id) + " is too large");
    by_text.insert(tok, id);
    max_id = std::max(max_id, id);
  }
  const Value* added = root.find("added_tokens");
  if (added && !added->is_null() && !added->is_array()) fail("added_tokens is not an array");
  if (added && added->is_array()) {
    for (size_t i = 0; i < added->arr.size(); ++i) {
      const Value& t = added->arr[i];
      std::string where = "added_tokens[" + std::to_string(i) + "]";
      const Value& content = need(t, "content", where.c_str());
      if (!content.is_string()) fail(where + ": content is not a string");
      uint32_t id = id_value(need(t, "id", where.c_str()), where);
      if (id >= (1u << 24)) fail(where + ": id is too large");
      for (const char* key : {"single_word", "lstrip", "rstrip"})
        if (flag(t, key)) fail(where + ": " + key + " = true is not supported");
      // The reference cuts "normalized" tokens out of the normalized text, after the others
      // are cut out of the raw text: exact here only while normalization changes nothing.
      bool normalized = flag(t, "normalized", !flag(t, "special"));
      if (normalized && identity_normalizer) {
        m.added_norm.add(content.str, id);
      } else {
        if (normalized) fail(where + ": normalized = true with a normalizer is not supported");
        m.added.add(content.str, id);
      }
      max_id = std::max(max_id, id);
    }
  }
  m.added.build();
  m.added_norm.build();
  m.vocab_size = size_t(max_id) + 1;

  ByteAlphabet alpha;
  std::vector<std::string> text_of(m.vocab_size);
  m.id_text.assign(m.vocab_size, std::string());
  m.id_byte.assign(m.vocab_size, -1);
  m.id_known.assign(m.vocab_size, 0);
  m.vocab.reserve(vocab.obj.size());
  for (auto& b : m.byte_id) b = kNoId;
  for (auto& b : m.ascii_id) b = kNoId;
  std::string raw;
  for (const auto& [tok, idv] : vocab.obj) {
    uint32_t id = by_text.find(tok);  // the id that won for this string
    text_of[id] = tok;
    m.id_known[id] = 1;
    if (byte_level) {
      if (alpha.unmap(tok, &raw)) {
        m.vocab.insert(raw, id);
        if (raw.size() == 1) m.byte_id[uint8_t(raw[0])] = id;
        m.id_text[id] = raw;
      } else {
        m.id_text[id] = tok;  // the reference decodes such a token as its own UTF-8
      }
    } else {
      m.vocab.insert(tok, id);
      if (tok.size() == 1 && uint8_t(tok[0]) < 0x80) m.ascii_id[uint8_t(tok[0])] = id;
      unsigned byte;
      char tail;
      if (tok.size() == 6 && std::sscanf(tok.c_str(), "<0x%2X%c", &byte, &tail) == 2 && tail == '>') {
        char canon[8];
        std::snprintf(canon, sizeof canon, "<0x%02X>", byte);
        if (tok == canon) {
          m.byte_id[byte] = id;
          m.id_byte[id] = int16_t(byte);
        }
      }
      std::string dec;
      for (size_t i = 0; i < tok.size();) {
        if ((m.replace_space || m.decode_space) && tok.compare(i, m.replace_with.size(), m.replace_with) == 0) {
          dec += ' ';
          i += m.replace_with.size();
        } else {
          dec += tok[i++];
        }
      }
      m.id_text[id] = dec;
    }
  }
  for (const AddedTokens* set : {&m.added, &m.added_norm})
    for (const auto& t : set->tokens()) {
      m.id_text[t.id] = t.content;
      m.id_byte[t.id] = -1;
      m.id_known[t.id] = 1;
      if (text_of[t.id].empty()) text_of[t.id] = t.content;
    }
  if (byte_level) {
    for (int b = 0; b < 256; ++b)
      if (m.byte_id[b] == kNoId) fail("model.vocab: byte-level vocabulary lacks the token of byte " + std::to_string(b));
  } else {
    if (!m.replace_with.empty()) m.replace_id = m.vocab.find(m.replace_with);
  }
  const Value* unk = model.find("unk_token");
  if (unk && !unk->is_null()) {
    if (!unk->is_string()) fail("model.unk_token is not a string");
    m.unk_id = by_text.find(unk->str);
    if (m.unk_id == StrMap::kNone) fail("model.unk_token " + unk->str + " is not in the vocabulary");
  }

  // Merges: "a b" strings or [a, b] pairs; the merged token must be in the vocabulary.
  const Value& merges = need(model, "merges", "model");
  if (!merges.is_array()) fail("model.merges is not an array");
  m.merges.reserve(merges.arr.size());
  std::string a, b;
  bool crosses_words = false;
  std::vector<std::pair<uint32_t, uint32_t>> merge_pairs;
  merge_pairs.reserve(merges.arr.size());
  for (size_t i = 0; i < merges.arr.size(); ++i) {
    const Value& e = merges.arr[i];
    if (e.is_string()) {
      size_t sp = e.str.find(' ');
      if (sp == std::string::npos || e.str.find(' ', sp + 1) != std::string::npos)
        fail("model.merges[" + std::to_string(i) + "] is not \"a b\"");
      a = e.str.substr(0, sp);
      b = e.str.substr(sp + 1);
    } else if (e.is_array() && e.arr.size() == 2 && e.arr[0].is_string() && e.arr[1].is_string()) {
      a = e.arr[0].str;
      b = e.arr[1].str;
    } else {
      fail("model.merges[" + std::to_string(i) + "] is neither \"a b\" nor [a, b]");
    }
    // the reference drops the prefix's length from the right part: "a" + "##b" makes "ab"
    const size_t plen = m.cont_prefix.size();
    if (b.size() < plen)
      fail("model.merges[" + std::to_string(i) + "]: \"" + b + "\" is shorter than continuing_subword_prefix");
    uint32_t ia = by_text.find(a), ib = by_text.find(b), in = by_text.find(a + b.substr(plen));
    if (ia == StrMap::kNone || ib == StrMap::kNone || in == StrMap::kNone)
      fail("model.merges[" + std::to_string(i) + "]: a token of \"" + a + " " + b + "\" is not in the vocabulary");
    m.merges.insert(ia, ib, {uint32_t(i), in});
    merge_pairs.emplace_back(ia, ib);
    if (!byte_level && m.replace_space) {
      const std::string& w = m.replace_with;
      bool a_ends_word = !(a.size() >= w.size() && a.compare(a.size() - w.size(), w.size(), w) == 0);
      bool b_starts_space = b.compare(0, w.size(), w) == 0;
      if (a_ends_word && b_starts_space) crosses_words = true;
    }
  }
  m.sp_words = !byte_level && m.replace_space && m.replace_id != kNoId && !crosses_words && !m.affix;
  if (byte_level && m.affix) {
    for (int b = 0; b < 256; ++b) {
      std::string c;
      utf8_append(c, alpha.to_cp[b]);
      m.byte_only_id[b] = by_text.find(c + m.word_suffix);
      m.byte_mid_id[b] = by_text.find(m.cont_prefix + c);
      m.byte_last_id[b] = by_text.find(m.cont_prefix + c + m.word_suffix);
    }
  }
  // With affixes the initial symbols depend on their position: no cutting of long pieces.
  if (m.affix) m.joinable_all = true;

  // Initial symbols a token's text starts and ends with, as the encoder would make them.
  if (!m.affix) {
    auto initial = [&](std::string_view piece) -> uint32_t {
      if (byte_level) return m.byte_id[uint8_t(piece[0])];
      uint32_t id = m.vocab.find(piece);
      if (id != kNoId) return id;
      if (m.byte_fallback && m.byte_id[uint8_t(piece[0])] != kNoId) return m.byte_id[uint8_t(piece[0])];
      return m.unk_id;
    };
    auto ends = [&](uint32_t id, uint32_t* first, uint32_t* last) {
      if (m.id_byte[id] >= 0 || id == m.unk_id) {  // byte-fallback and unknown tokens stand alone
        *first = *last = id;
        return;
      }
      const std::string& t = byte_level ? m.id_text[id] : text_of[id];
      if (t.empty()) { *first = *last = kNoId; return; }
      if (byte_level) {
        *first = m.byte_id[uint8_t(t.front())];
        *last = m.byte_id[uint8_t(t.back())];
        return;
      }
      size_t len0 = utf8_len(uint8_t(t[0]));
      size_t lastpos = t.size() - 1;
      while (lastpos > 0 && (uint8_t(t[lastpos]) & 0xC0) == 0x80) --lastpos;
      *first = initial(std::string_view(t).substr(0, len0));
      // a character without its own token falls back to bytes: its last byte's token
      std::string_view lc = std::string_view(t).substr(lastpos);
      uint32_t l = m.vocab.find(lc);
      if (l == kNoId && m.byte_fallback) l = m.byte_id[uint8_t(lc.back())];
      *last = l == kNoId ? m.unk_id : l;
    };
    m.joinable.reserve(merges.arr.size());
    for (const auto& [a_id, b_id] : merge_pairs) {
      uint32_t fa, la, fb, lb;
      ends(a_id, &fa, &la);
      ends(b_id, &fb, &lb);
      if (la == kNoId || fb == kNoId) { m.joinable_all = true; continue; }
      m.joinable.insert(la, fb, {0, 0});
    }
  }

  const Value* post = root.find("post_processor");
  load_post_processor(post ? *post : Value(), root, m);
  for (uint32_t id : m.template_before)
    if (id >= m.vocab_size) fail("post_processor: id out of range");
  for (uint32_t id : m.template_after)
    if (id >= m.vocab_size) fail("post_processor: id out of range");
  const Value* dec = root.find("decoder");
  load_decoder(dec ? *dec : Value(), m);
}

}  // namespace infeng::tok
