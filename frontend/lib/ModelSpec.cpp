//===- ModelSpec.cpp - parsing model specs --------------------------------===//

#include "attn/Frontend/ModelSpec.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

namespace json = llvm::json;

namespace attn {

const char *stringifyLayerKind(LayerKind kind) {
  switch (kind) {
  case LayerKind::Full:
    return "full";
  case LayerKind::Window:
    return "window";
  case LayerKind::Chunk:
    return "chunk";
  case LayerKind::BigBird:
    return "bigbird";
  case LayerKind::Linear:
    return "linear";
  case LayerKind::Ssm:
    return "ssm";
  case LayerKind::Spade:
    return "spade";
  }
  return "?";
}

namespace {
std::string gFormat(double v) {
  std::string s;
  llvm::raw_string_ostream(s) << llvm::format("%g", v);
  return s;
}

/// Reads one JSON object, remembering the first problem with its path.
class Reader {
public:
  Reader(const json::Object &obj, json::Path path) : obj(obj), path(path) {}

  /// Rejects keys that are not in `allowed`.
  bool onlyKeys(std::initializer_list<llvm::StringRef> allowed) {
    llvm::StringSet<> set;
    for (llvm::StringRef k : allowed)
      set.insert(k);
    for (const auto &kv : obj) {
      if (!set.contains(kv.first)) {
        std::string known;
        llvm::raw_string_ostream os(known);
        llvm::interleaveComma(allowed, os);
        path.field(kv.first).report("unknown key");
        hint = "known keys: " + known;
        return false;
      }
    }
    return true;
  }

  bool integer(llvm::StringRef key, int64_t &out, bool required,
               int64_t min = INT64_MIN) {
    const json::Value *v = obj.get(key);
    if (!v)
      return !required || fail(key, "is required");
    std::optional<int64_t> i = v->getAsInteger();
    if (!i)
      return fail(key, "expected an integer");
    if (*i < min)
      return fail(key, llvm::formatv("must be at least {0}", min).str());
    out = *i;
    return true;
  }
  bool optionalInteger(llvm::StringRef key, std::optional<int64_t> &out,
                       int64_t min) {
    if (!obj.get(key))
      return true;
    int64_t v = 0;
    if (!integer(key, v, true, min))
      return false;
    out = v;
    return true;
  }
  bool number(llvm::StringRef key, double &out, double lo, double hi) {
    const json::Value *v = obj.get(key);
    if (!v)
      return true;
    std::optional<double> d = v->getAsNumber();
    if (!d)
      return fail(key, "expected a number");
    if (!(*d >= lo && *d < hi))
      return fail(key, (llvm::Twine("must be in [") + gFormat(lo) + ", " +
                        gFormat(hi) + "), got " + gFormat(*d))
                           .str());
    out = *d;
    return true;
  }
  bool boolean(llvm::StringRef key, bool &out) {
    const json::Value *v = obj.get(key);
    if (!v)
      return true;
    std::optional<bool> b = v->getAsBoolean();
    if (!b)
      return fail(key, "expected true or false");
    out = *b;
    return true;
  }
  bool string(llvm::StringRef key, std::string &out, bool required,
              std::initializer_list<llvm::StringRef> choices = {}) {
    const json::Value *v = obj.get(key);
    if (!v)
      return !required || fail(key, "is required");
    std::optional<llvm::StringRef> s = v->getAsString();
    if (!s)
      return fail(key, "expected a string");
    if (choices.size() && llvm::find(choices, *s) == choices.end()) {
      std::string list;
      llvm::raw_string_ostream os(list);
      llvm::interleaveComma(choices, os);
      return fail(key, "expected one of " + list + ", got '" + s->str() + "'");
    }
    out = s->str();
    return true;
  }
  bool fail(llvm::StringRef key, const std::string &message) {
    detail = message;
    path.field(key).report("invalid value");
    return false;
  }

  const json::Object &obj;
  json::Path path;
  std::string detail, hint;
};

bool parseLayer(const json::Value &value, json::Path path, LayerSpec &layer,
                std::string &detail) {
  const json::Object *obj = value.getAsObject();
  if (!obj) {
    path.report("expected an object");
    return false;
  }
  Reader r(*obj, path);
  auto done = [&](bool ok) {
    if (!ok)
      detail = r.detail.empty() ? r.hint : r.detail;
    return ok;
  };
  std::string kind;
  if (!r.string(
          "kind", kind, true,
          {"full", "window", "chunk", "bigbird", "linear", "ssm", "spade"}))
    return done(false);
  layer.kind = llvm::StringSwitch<LayerKind>(kind)
                   .Case("full", LayerKind::Full)
                   .Case("window", LayerKind::Window)
                   .Case("chunk", LayerKind::Chunk)
                   .Case("bigbird", LayerKind::BigBird)
                   .Case("linear", LayerKind::Linear)
                   .Case("ssm", LayerKind::Ssm)
                   .Case("spade", LayerKind::Spade);
  switch (layer.kind) {
  case LayerKind::Full:
    return done(r.onlyKeys({"kind"}));
  case LayerKind::Window:
    return done(r.onlyKeys({"kind", "radius", "block"}) &&
                r.integer("radius", layer.radius, true, 0) &&
                r.optionalInteger("block", layer.block, 1));
  case LayerKind::Chunk:
    return done(r.onlyKeys({"kind", "size"}) &&
                r.integer("size", layer.size, true, 1));
  case LayerKind::BigBird:
    return done(
        r.onlyKeys({"kind", "block", "window", "global", "random", "seed"}) &&
        r.optionalInteger("block", layer.block, 1) &&
        (layer.block || r.fail("block", "is required")) &&
        r.integer("window", layer.window, false, 0) &&
        r.integer("global", layer.global, false, 0) &&
        r.integer("random", layer.random, false, 0) &&
        r.integer("seed", layer.seed, false, 0));
  case LayerKind::Linear:
    return done(r.onlyKeys({"kind", "feature_map", "features", "feature_seed",
                            "causal"}) &&
                r.string("feature_map", layer.featureMap, false,
                         {"elu_plus_one", "relu", "identity", "favor"}) &&
                r.optionalInteger("features", layer.features, 1) &&
                r.optionalInteger("feature_seed", layer.featureSeed, 0) &&
                r.boolean("causal", layer.causal));
  case LayerKind::Ssm:
    return done(r.onlyKeys({"kind", "state", "bidirectional", "glu"}) &&
                r.integer("state", layer.state, false, 1) &&
                r.boolean("bidirectional", layer.bidirectional) &&
                r.boolean("glu", layer.glu));
  case LayerKind::Spade:
    return done(
        r.onlyKeys({"kind", "state", "bidirectional", "local", "size"}) &&
        r.integer("state", layer.state, false, 1) &&
        r.boolean("bidirectional", layer.bidirectional) &&
        r.string("local", layer.local, false, {"window", "chunk"}) &&
        r.integer("size", layer.size, true, 1));
  }
  return false;
}
} // namespace

/// What llvm::json::parse accepts but a spec must not be: nesting deeper
/// than kMaxDepth (the parser recurses: 40,000 levels overflowed the stack)
/// and an object with a key twice (the parser keeps the last silently).
/// Returns the problem and its line, or nothing. A scan of the raw text:
/// strings skipped with their escapes; malformed JSON is left to the parser.
static std::optional<std::string> structuralProblem(llvm::StringRef text) {
  constexpr size_t kMaxDepth = 64;
  struct Frame {
    bool object;
    llvm::StringSet<> keys;
  };
  std::vector<Frame> stack;
  int64_t line = 1;
  auto at = [&](const std::string &what) {
    return "line " + std::to_string(line) + ": " + what;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') {
      ++line;
    } else if (c == '{' || c == '[') {
      if (stack.size() == kMaxDepth)
        return at("nested more than " + std::to_string(kMaxDepth) +
                  " levels deep");
      stack.push_back({c == '{', {}});
    } else if (c == '}' || c == ']') {
      if (!stack.empty())
        stack.pop_back();
    } else if (c == '"') {
      size_t start = ++i;
      while (i < text.size() && text[i] != '"')
        i += text[i] == '\\' ? 2 : 1;
      llvm::StringRef str = text.slice(start, std::min(i, text.size()));
      size_t next = text.find_first_not_of(" \t\r\n", i + 1);
      bool isKey = next != llvm::StringRef::npos && text[next] == ':' &&
                   !stack.empty() && stack.back().object;
      if (isKey && !stack.back().keys.insert(str).second)
        return at("key \"" + str.str() + "\" appears twice in one object");
    }
  }
  return std::nullopt;
}

llvm::Expected<ModelSpec> parseModelSpec(llvm::StringRef text,
                                         llvm::StringRef filename) {
  if (std::optional<std::string> problem = structuralProblem(text))
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   llvm::formatv("{0}: {1}", filename,
                                                 *problem));
  llvm::Expected<json::Value> parsed = json::parse(text);
  if (!parsed)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        llvm::formatv("{0}: not valid JSON: {1}", filename,
                      llvm::toString(parsed.takeError())));
  // Paths keep pointers to their parents: every path below derives from
  // this one, which outlives them.
  json::Path::Root root("spec");
  json::Path rootPath(root);
  auto error = [&](const std::string &detail) {
    std::string context;
    llvm::raw_string_ostream os(context);
    llvm::Error e = root.getError();
    os << filename << ": " << llvm::toString(std::move(e));
    if (!detail.empty())
      os << ": " << detail;
    return llvm::createStringError(llvm::inconvertibleErrorCode(), context);
  };
  const json::Object *obj = parsed->getAsObject();
  if (!obj) {
    rootPath.report("the spec must be a JSON object");
    return error("");
  }
  ModelSpec spec;
  Reader r(*obj, rootPath);
  bool ok = r.onlyKeys({"name", "task", "vocab", "classes", "batch", "seq_len",
                        "width", "heads", "ffn", "dropout", "pool", "norm",
                        "norm_kind", "dtype", "ssm_lr_scale",
                        "attention_lr_scale", "positions", "layers"}) &&
            r.string("name", spec.name, true) &&
            r.string("task", spec.task, false) &&
            r.integer("vocab", spec.vocab, true, 1) &&
            r.integer("classes", spec.classes, true, 2) &&
            r.integer("batch", spec.batch, true, 1) &&
            r.integer("seq_len", spec.seqLen, true, 1) &&
            r.integer("width", spec.width, true, 1) &&
            r.integer("heads", spec.heads, false, 1) &&
            r.integer("ffn", spec.ffn, true, 0) &&
            r.number("dropout", spec.dropout, 0.0, 1.0) &&
            r.string("pool", spec.pool, false, {"cls", "mean"}) &&
            r.string("norm", spec.norm, false, {"post", "pre"}) &&
            r.string("norm_kind", spec.normKind, false, {"layer", "batch"}) &&
            r.string("dtype", spec.dtype, false, {"f32", "bf16"}) &&
            r.number("ssm_lr_scale", spec.ssmLrScale, 0.0, 1e3) &&
            r.number("attention_lr_scale", spec.attentionLrScale, 0.0, 1e3) &&
            r.string("positions", spec.positions, false, {"learned", "none"});
  if (!ok)
    return error(r.detail.empty() ? r.hint : r.detail);
  if (spec.heads && spec.width % spec.heads != 0) {
    rootPath.field("heads").report("invalid value");
    return error(llvm::formatv("{0} heads do not divide the width {1}",
                               spec.heads, spec.width)
                     .str());
  }
  // Pre-norm models end in a norm of their own, which is a layer norm.
  if (spec.normKind == "batch" && spec.norm == "pre") {
    rootPath.field("norm_kind").report("invalid value");
    return error("batch norms need \"norm\": \"post\" (a pre-norm model "
                 "ends in a layer norm)");
  }
  const json::Array *layers = obj->getArray("layers");
  if (!layers || layers->empty()) {
    rootPath.field("layers").report("invalid value");
    return error("expected a non-empty array of layers");
  }
  const json::Path layersPath = rootPath.field("layers");
  for (size_t i = 0; i < layers->size(); ++i) {
    LayerSpec layer;
    std::string detail;
    if (!parseLayer((*layers)[i], layersPath.index(i), layer, detail))
      return error(detail);
    // Attention layers need heads; a stack of SSM layers does not.
    if (layer.kind != LayerKind::Ssm && spec.heads == 0) {
      rootPath.field("heads").report("invalid value");
      return error(llvm::formatv("is required: layer {0} ({1}) attends",
                                 i, stringifyLayerKind(layer.kind))
                       .str());
    }
    spec.layers.push_back(layer);
  }
  return spec;
}

} // namespace attn
