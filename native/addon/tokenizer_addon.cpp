// Node binding of the native tokenizer (node-addon-api). Built by CMake into
// <build>/addon/infeng_tokenizer.node (build/native/release/addon/ for the release preset).
//
//   const { Tokenizer } = require('.../infeng_tokenizer.node');
//   const t = Tokenizer.fromFile('tokenizer.json');          // throws on a load error
//   t.encode(text, addSpecialTokens = false) → Uint32Array
//   t.encodeBatch(texts, threads = 1, addSpecialTokens = false) → Uint32Array[]
//   t.decode(ids: Uint32Array | number[]) → string            // throws on an unknown id
//   t.setPrefixCache(prefixBytes, entries)   // 0 bytes turns it off; resets the statistics
//   t.prefixCacheStats() → { hits, lookups }
//   t.vocabSize, t.family, t.preTokenizer
//   hostPath, isaFlags: the host's best ISA path and flags (for the lane's gates)
//   unicodeVersions: {classes, normalization, lowercase}, the Unicode data's versions
//
// Calls are synchronous: encoding a few kilobytes takes microseconds, less than a round trip
// through the libuv pool would cost. encodeBatch runs on the native thread pool.
#include <napi.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "infeng/dispatch.h"
#include "infeng/tokenizer.h"

namespace {

// Per environment: the class, and the helper that cuts encodeBatch's flat result into views.
struct AddonData {
  Napi::FunctionReference ctor;
  Napi::FunctionReference views;
};

using infeng::tok::PrefixCache;
using infeng::tok::Tokenizer;

Napi::Uint32Array to_array(Napi::Env env, const std::vector<uint32_t>& ids) {
  auto arr = Napi::Uint32Array::New(env, ids.size());
  if (!ids.empty()) std::memcpy(arr.Data(), ids.data(), ids.size() * sizeof(uint32_t));
  return arr;
}

class TokenizerWrap : public Napi::ObjectWrap<TokenizerWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Tokenizer",
                       {
                           StaticMethod<&TokenizerWrap::FromFile>("fromFile"),
                           InstanceMethod<&TokenizerWrap::Encode>("encode"),
                           InstanceMethod<&TokenizerWrap::EncodeBatch>("encodeBatch"),
                           InstanceMethod<&TokenizerWrap::Decode>("decode"),
                           InstanceMethod<&TokenizerWrap::SetPrefixCache>("setPrefixCache"),
                           InstanceMethod<&TokenizerWrap::PrefixCacheStats>("prefixCacheStats"),
                           InstanceAccessor<&TokenizerWrap::VocabSize>("vocabSize"),
                           InstanceAccessor<&TokenizerWrap::Family>("family"),
                           InstanceAccessor<&TokenizerWrap::PreTokenizer>("preTokenizer"),
                       });
  }

  explicit TokenizerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TokenizerWrap>(info) {
    if (info.Length() != 1 || !info[0].IsString())
      throw Napi::TypeError::New(info.Env(), "use Tokenizer.fromFile(path)");
    try {
      tok_ = Tokenizer::from_file(info[0].As<Napi::String>().Utf8Value());
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), e.what());
    }
    cache_ = std::make_unique<decltype(tok_->make_piece_cache())>(tok_->make_piece_cache());
  }

 private:
  static Napi::Value FromFile(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsString())
      throw Napi::TypeError::New(info.Env(), "fromFile(path): path must be a string");
    return info.Env().GetInstanceData<AddonData>()->ctor.New({info[0]});
  }

  static bool flag(const Napi::CallbackInfo& info, size_t i) {
    return info.Length() > i && !info[i].IsUndefined() && info[i].ToBoolean().Value();
  }

  Napi::Value Encode(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsString())
      throw Napi::TypeError::New(info.Env(), "encode(text, addSpecialTokens): text must be a string");
    std::string text = info[0].As<Napi::String>().Utf8Value();
    ids_.clear();
    tok_->encode(text, flag(info, 1), ids_, cache_->get(), prefix_.get());
    return to_array(info.Env(), ids_);
  }

  // The parts that run on the JavaScript thread (reading the strings, making the result
  // arrays) do not scale with threads, so they are kept lean: the texts are converted once
  // into one buffer, and the results are views into one ArrayBuffer.
  Napi::Value EncodeBatch(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray())
      throw Napi::TypeError::New(env, "encodeBatch(texts, threads, addSpecialTokens): texts must be an array");
    auto arr = info[0].As<Napi::Array>();
    int threads = 1;
    if (info.Length() > 1 && info[1].IsNumber()) threads = info[1].As<Napi::Number>().Int32Value();
    if (threads < 1 || threads > 256) throw Napi::RangeError::New(env, "encodeBatch: threads must be 1..256");
    const uint32_t count = arr.Length();
    // Each text gets room for its worst case (3 UTF-8 bytes per UTF-16 unit, which only needs
    // the length) and is converted once, straight into place.
    std::vector<napi_value> values(count);
    std::vector<size_t> slots(count + 1, 0);
    for (uint32_t i = 0; i < count; ++i) {
      NAPI_THROW_IF_FAILED(env, napi_get_element(env, arr, i, &values[i]), Napi::Value());
      size_t units = 0;
      if (napi_get_value_string_utf16(env, values[i], nullptr, 0, &units) != napi_ok)
        throw Napi::TypeError::New(env, "encodeBatch: every text must be a string");
      slots[i + 1] = slots[i] + 3 * units + 1;
    }
    text_buf_.resize(slots[count]);
    std::vector<std::string_view> views(count);
    // Conversion runs on this thread while the workers already encode the converted texts.
    auto results = tok_->encode_batch_streaming(views, threads, flag(info, 2), [&](std::atomic<size_t>& ready) {
      for (uint32_t i = 0; i < count; ++i) {
        size_t written = 0;
        napi_get_value_string_utf8(env, values[i], text_buf_.data() + slots[i], slots[i + 1] - slots[i], &written);
        views[i] = std::string_view(text_buf_.data() + slots[i], written);
        ready.store(i + 1, std::memory_order_release);
      }
    });
    // One Uint32Array holds every text's ids and a second one the offsets; the per-text views
    // are made by a JavaScript helper (AddonData::views), one call where creating each view
    // and setting it through N-API cost two calls a text on this serial part.
    size_t total = 0;
    for (const auto& r : results) total += r.size();
    auto ids = Napi::Uint32Array::New(env, total);
    auto offsets = Napi::Uint32Array::New(env, size_t{count} + 1);
    uint32_t* dst = ids.Data();
    uint32_t* off = offsets.Data();
    size_t at = 0;
    for (uint32_t i = 0; i < count; ++i) {
      off[i] = static_cast<uint32_t>(at);
      if (!results[i].empty()) std::memcpy(dst + at, results[i].data(), results[i].size() * sizeof(uint32_t));
      at += results[i].size();
    }
    off[count] = static_cast<uint32_t>(at);
    return info.Env().GetInstanceData<AddonData>()->views.Call({ids, offsets});
  }

  Napi::Value Decode(const Napi::CallbackInfo& info) {
    std::vector<uint32_t> ids;
    if (info.Length() >= 1 && info[0].IsTypedArray() &&
        info[0].As<Napi::TypedArray>().TypedArrayType() == napi_uint32_array) {
      auto a = info[0].As<Napi::Uint32Array>();
      ids.assign(a.Data(), a.Data() + a.ElementLength());
    } else if (info.Length() >= 1 && info[0].IsArray()) {
      auto a = info[0].As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); ++i) {
        Napi::Value v = a[i];
        double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
        if (!(d >= 0 && d < 4294967296.0) || d != static_cast<double>(static_cast<uint32_t>(d)))
          throw Napi::RangeError::New(info.Env(), "decode: ids must be non-negative integers");
        ids.push_back(static_cast<uint32_t>(d));
      }
    } else {
      throw Napi::TypeError::New(info.Env(), "decode(ids): ids must be a Uint32Array or an array of numbers");
    }
    try {
      return Napi::String::New(info.Env(), tok_->decode(ids.data(), ids.size()));
    } catch (const std::out_of_range& e) {
      throw Napi::RangeError::New(info.Env(), e.what());
    }
  }

  Napi::Value SetPrefixCache(const Napi::CallbackInfo& info) {
    double k = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0;
    double n = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : 64;
    if (!(k >= 0 && k <= (1 << 20)) || !(n >= 1 && n <= (1 << 20)))
      throw Napi::RangeError::New(info.Env(), "setPrefixCache(prefixBytes 0..1Mi, entries 1..1Mi)");
    prefix_.reset(k > 0 ? new PrefixCache(static_cast<size_t>(k), static_cast<size_t>(n)) : nullptr);
    return info.Env().Undefined();
  }

  Napi::Value PrefixCacheStats(const Napi::CallbackInfo& info) {
    auto o = Napi::Object::New(info.Env());
    o.Set("hits", Napi::Number::New(info.Env(), prefix_ ? double(prefix_->hits()) : 0));
    o.Set("lookups", Napi::Number::New(info.Env(), prefix_ ? double(prefix_->lookups()) : 0));
    return o;
  }

  Napi::Value VocabSize(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), double(tok_->vocab_size()));
  }
  Napi::Value Family(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), tok_->family()); }
  Napi::Value PreTokenizer(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), tok_->pre_tokenizer());
  }

  std::unique_ptr<Tokenizer> tok_;
  std::unique_ptr<decltype(std::declval<Tokenizer>().make_piece_cache())> cache_;
  std::unique_ptr<PrefixCache> prefix_;
  std::vector<uint32_t> ids_;
  std::vector<char> text_buf_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = TokenizerWrap::Init(env);
  auto* data = new AddonData{Napi::Persistent(ctor), {}};
  napi_value source = Napi::String::New(
      env,
      "(function views(ids, offsets) {"
      "  const out = new Array(offsets.length - 1);"
      "  for (let i = 0; i < out.length; i++) out[i] = ids.subarray(offsets[i], offsets[i + 1]);"
      "  return out;"
      "})");
  napi_value fn = nullptr;
  NAPI_THROW_IF_FAILED(env, napi_run_script(env, source, &fn), exports);
  data->views = Napi::Persistent(Napi::Function(env, fn));
  env.SetInstanceData(data);
  exports.Set("Tokenizer", ctor);
  // The best ISA path of this host ("scalar" | "avx2" | "avx512"): the tokenizer has no
  // per-ISA code, but the lane's gates are chosen by host class.
  exports.Set("hostPath", Napi::String::New(env, infeng::path_name(infeng::best_path())));
  exports.Set("isaFlags", Napi::String::New(env, infeng::isa_flags()));
  Napi::Object unicode = Napi::Object::New(env);
  unicode.Set("classes", Napi::String::New(env, Tokenizer::unicode_version_classes()));
  unicode.Set("normalization", Napi::String::New(env, Tokenizer::unicode_version_normalization()));
  unicode.Set("lowercase", Napi::String::New(env, Tokenizer::unicode_version_lowercase()));
  exports.Set("unicodeVersions", unicode);
  return exports;
}

}  // namespace

NODE_API_MODULE(infeng_tokenizer, Init)
