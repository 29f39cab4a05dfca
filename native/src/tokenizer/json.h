// A small JSON reader for tokenizer.json: a DOM of the whole file, strict about syntax (a
// truncated or corrupt file is an error with its byte offset, never a partial model), with a
// nesting limit so hostile input cannot exhaust the stack. Only what the loader needs.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace infeng::tok::json {

struct ParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Member;

struct Value {
  enum class Type : uint8_t { Null, Bool, Number, String, Array, Object };
  Type type = Type::Null;
  bool b = false;
  double num = 0;
  std::string str;                                   // String
  std::vector<Value> arr;                            // Array
  std::vector<Member> obj;                           // Object, in file order

  bool is_null() const { return type == Type::Null; }
  bool is_string() const { return type == Type::String; }
  bool is_array() const { return type == Type::Array; }
  bool is_object() const { return type == Type::Object; }
  bool is_number() const { return type == Type::Number; }
  bool is_bool() const { return type == Type::Bool; }
  // Member lookup; null when absent or when this is not an object.
  const Value* find(std::string_view key) const;
};

struct Member {
  std::string first;
  Value second;
};

// Throws ParseError naming the byte offset.
Value parse(std::string_view text);

}  // namespace infeng::tok::json
