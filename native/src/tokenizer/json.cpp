// Recursive-descent JSON parser (RFC 8259). Strings are decoded to UTF-8; \u escapes must form
// valid scalar values (a lone surrogate is an error, as serde_json, the reference's parser,
// treats it), and raw bytes in a string must be valid UTF-8 (serde_json reads a &str): the
// encoder walks normalizer strings such as Prepend's character by character and relies on it.
#include "json.h"

#include "utf8.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

namespace infeng::tok::json {

const Value* Value::find(std::string_view key) const {
  if (type != Type::Object) return nullptr;
  for (const auto& kv : obj)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

namespace {

constexpr int kMaxDepth = 128;

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Value document() {
    Value v = value(0);
    ws();
    if (p_ != s_.size()) fail("trailing characters after the JSON document");
    return v;
  }

 private:
  [[noreturn]] void fail(const char* what) const {
    throw ParseError(std::string("JSON: ") + what + " at byte " + std::to_string(p_));
  }
  void ws() {
    while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\t' || s_[p_] == '\n' || s_[p_] == '\r')) ++p_;
  }
  bool lit(const char* word) {
    size_t n = std::strlen(word);
    if (s_.substr(p_, n) != word) return false;
    p_ += n;
    return true;
  }

  Value value(int depth) {
    if (depth > kMaxDepth) fail("nesting too deep");
    ws();
    if (p_ >= s_.size()) fail("unexpected end of input");
    Value v;
    char c = s_[p_];
    if (c == '{') {
      v.type = Value::Type::Object;
      ++p_;
      ws();
      if (p_ < s_.size() && s_[p_] == '}') { ++p_; return v; }
      for (;;) {
        ws();
        if (p_ >= s_.size() || s_[p_] != '"') fail("expected a string key");
        std::string key = string();
        ws();
        if (p_ >= s_.size() || s_[p_] != ':') fail("expected ':'");
        ++p_;
        v.obj.push_back(Member{std::move(key), value(depth + 1)});
        ws();
        if (p_ >= s_.size()) fail("unexpected end of input in an object");
        if (s_[p_] == ',') { ++p_; continue; }
        if (s_[p_] == '}') { ++p_; return v; }
        fail("expected ',' or '}'");
      }
    }
    if (c == '[') {
      v.type = Value::Type::Array;
      ++p_;
      ws();
      if (p_ < s_.size() && s_[p_] == ']') { ++p_; return v; }
      for (;;) {
        v.arr.push_back(value(depth + 1));
        ws();
        if (p_ >= s_.size()) fail("unexpected end of input in an array");
        if (s_[p_] == ',') { ++p_; continue; }
        if (s_[p_] == ']') { ++p_; return v; }
        fail("expected ',' or ']'");
      }
    }
    if (c == '"') {
      v.type = Value::Type::String;
      v.str = string();
      return v;
    }
    if (lit("true")) { v.type = Value::Type::Bool; v.b = true; return v; }
    if (lit("false")) { v.type = Value::Type::Bool; return v; }
    if (lit("null")) return v;
    if (c == '-' || (c >= '0' && c <= '9')) {
      v.type = Value::Type::Number;
      v.num = number();
      return v;
    }
    fail("unexpected character");
  }

  double number() {
    size_t start = p_;
    if (s_[p_] == '-') ++p_;
    auto digits = [&] {
      size_t d = p_;
      while (p_ < s_.size() && s_[p_] >= '0' && s_[p_] <= '9') ++p_;
      if (p_ == d) fail("malformed number");
    };
    if (p_ < s_.size() && s_[p_] == '0') ++p_; else digits();
    if (p_ < s_.size() && s_[p_] == '.') { ++p_; digits(); }
    if (p_ < s_.size() && (s_[p_] == 'e' || s_[p_] == 'E')) {
      ++p_;
      if (p_ < s_.size() && (s_[p_] == '+' || s_[p_] == '-')) ++p_;
      digits();
    }
    std::string tmp(s_.substr(start, p_ - start));
    return std::strtod(tmp.c_str(), nullptr);
  }

  unsigned hex4() {
    if (p_ + 4 > s_.size()) fail("truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[p_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= unsigned(c - '0');
      else if (c >= 'a' && c <= 'f') v |= unsigned(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= unsigned(c - 'A' + 10);
      else fail("bad hex digit in \\u escape");
    }
    return v;
  }

  static void put_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | (cp >> 18));
      out += char(0x80 | ((cp >> 12) & 0x3F));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }

  std::string string() {
    ++p_;  // opening quote
    std::string out;
    for (;;) {
      // copy the run up to the next quote or backslash in one go: vocabularies are mostly that
      size_t q = p_;
      while (q < s_.size() && s_[q] != '"' && s_[q] != '\\' && static_cast<unsigned char>(s_[q]) >= 0x20) ++q;
      const std::string_view run = s_.substr(p_, q - p_);
      const size_t valid = utf8_valid_prefix(run);
      if (valid != run.size()) {
        p_ += valid;
        fail("invalid UTF-8 in a string");
      }
      out.append(run);
      p_ = q;
      if (p_ >= s_.size()) fail("unterminated string");
      char c = s_[p_++];
      if (c == '"') return out;
      if (c != '\\') { --p_; fail("control character in a string"); }
      if (p_ >= s_.size()) fail("unterminated escape");
      char e = s_[p_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00) {
            if (p_ + 2 > s_.size() || s_[p_] != '\\' || s_[p_ + 1] != 'u') fail("lone surrogate in \\u escape");
            p_ += 2;
            uint32_t lo = hex4();
            if (lo < 0xDC00 || lo >= 0xE000) fail("invalid low surrogate in \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            fail("lone surrogate in \\u escape");
          }
          put_utf8(out, cp);
          break;
        }
        default: fail("invalid escape");
      }
    }
  }

  std::string_view s_;
  size_t p_ = 0;
};

}  // namespace

Value parse(std::string_view text) { return Parser(text).document(); }

}  // namespace infeng::tok::json
