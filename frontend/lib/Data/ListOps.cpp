//===- ListOps.cpp - LRA ListOps: generator, tokenizer, loader ------------===//

#include "attn/Data/ListOps.h"
#include "attn/Support/Random.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <unordered_set>

namespace attn::listops {

//===----------------------------------------------------------------------===//
// Generator
//===----------------------------------------------------------------------===//

namespace {
constexpr std::array<const char *, 4> kOperators = {"[MIN", "[MAX", "[MED",
                                                    "[SM"};

/// The value of operator `op` (0 MIN, 1 MAX, 2 MED, 3 SM) on `count`
/// values (reordered).
int apply(int op, int *values, int count) {
  switch (op) {
  case 0:
    return *std::min_element(values, values + count);
  case 1:
    return *std::max_element(values, values + count);
  case 2: {
    std::sort(values, values + count);
    // np.median, then int(): the mean of the middle pair, truncated.
    return count % 2 ? values[count / 2]
                     : (values[count / 2 - 1] + values[count / 2]) / 2;
  }
  default:
    return std::accumulate(values, values + count, 0) % 10;
  }
}

/// Generates one tree into `text`, LRA's way, but stops as soon as the tree
/// is too long to be kept (the distribution of kept trees is unchanged).
class TreeGenerator {
public:
  TreeGenerator(const GeneratorOptions &options, uint64_t seed)
      : options(options), rng(seed) {}

  /// Returns true and fills text/label when the tree is kept.
  bool next(std::string &text, int32_t &label) {
    text.clear();
    length = 0;
    tooLong = false;
    out = &text;
    int value = node(1);
    if (tooLong || length <= options.minLength || length >= options.maxLength)
      return false;
    label = value;
    return true;
  }

private:
  int node(int depth) {
    bool isOperator =
        depth < options.maxDepth && rng.uniform() < options.operatorProbability;
    if (!isOperator) {
      int digit = static_cast<int>(rng.below(10));
      emit(std::to_string(digit));
      ++length;
      return digit;
    }
    int op = static_cast<int>(rng.below(kOperators.size()));
    int args = 2 + static_cast<int>(rng.below(options.maxArgs - 1));
    length += 2; // the operator and its closing bracket
    // LRA nests binary tuples: n arguments open n + 1 parentheses.
    for (int i = 0; i <= args; ++i)
      emit("(");
    emit(kOperators[op]);
    int values[16];
    for (int i = 0; i < args; ++i) {
      values[i] = node(depth + 1);
      if (tooLong)
        return 0;
      emit(")");
    }
    emit("]");
    emit(")");
    if (length >= options.maxLength)
      tooLong = true;
    return apply(op, values, args);
  }

  void emit(const char *token) {
    if (!out->empty())
      out->push_back(' ');
    out->append(token);
  }
  void emit(const std::string &token) { emit(token.c_str()); }

  const GeneratorOptions &options;
  SplitMix64 rng;
  std::string *out = nullptr;
  int64_t length = 0;
  bool tooLong = false;
};
} // namespace

Split generate(const GeneratorOptions &options,
               const std::function<void(int64_t, int64_t)> &progress) {
  const int64_t total = options.train + options.val + options.test;
  std::vector<Example> all;
  all.reserve(total);
  std::unordered_set<std::string> seen;
  seen.reserve(total * 2);
  TreeGenerator gen(options, mixSeed(options.seed, 0x115705u));
  std::string text;
  int32_t label = 0;
  while (static_cast<int64_t>(all.size()) < total) {
    if (!gen.next(text, label) || !seen.insert(text).second)
      continue;
    all.push_back({text, label});
    if (progress && (all.size() % 1000 == 0 || (int64_t)all.size() == total))
      progress(all.size(), total);
  }
  Split split;
  auto take = [&](std::vector<Example> &dst, int64_t begin, int64_t count) {
    dst.assign(std::make_move_iterator(all.begin() + begin),
               std::make_move_iterator(all.begin() + begin + count));
  };
  take(split.train, 0, options.train);
  take(split.val, options.train, options.val);
  take(split.test, options.train + options.val, options.test);
  return split;
}

int64_t lraLength(std::string_view source) {
  int64_t n = 0;
  std::istringstream in{std::string(source)};
  std::string tok;
  while (in >> tok)
    n += tok != "(" && tok != ")";
  return n;
}

std::string writeTsv(const std::string &path,
                     const std::vector<Example> &examples) {
  std::ofstream out(path, std::ios::binary);
  if (!out)
    return "cannot open " + path + " for writing";
  out << "Source\tTarget\n";
  for (const Example &e : examples)
    out << e.source << '\t' << e.label << '\n';
  out.close();
  if (!out)
    return "error while writing " + path;
  return "";
}

//===----------------------------------------------------------------------===//
// Tokenizer
//===----------------------------------------------------------------------===//

namespace {
constexpr std::array<std::string_view, token::VocabSize> kTokenText = {
    "<pad>", "<unk>", "<cls>", "[MIN", "[MAX", "[MED", "[SM", "]", "0",
    "1",     "2",     "3",     "4",    "5",    "6",    "7",   "8", "9"};

std::optional<int32_t> lookup(std::string_view tok) {
  for (int32_t id = token::Min; id < token::VocabSize; ++id)
    if (kTokenText[id] == tok)
      return id;
  return std::nullopt;
}
} // namespace

std::string_view tokenText(int32_t id) {
  if (id < 0 || id >= token::VocabSize)
    return "<invalid>";
  return kTokenText[id];
}

std::optional<std::vector<int32_t>> encode(std::string_view source,
                                           bool withCls, std::string *error) {
  std::vector<int32_t> ids;
  if (withCls)
    ids.push_back(token::Cls);
  size_t i = 0;
  while (i < source.size()) {
    while (i < source.size() && std::isspace((unsigned char)source[i]))
      ++i;
    size_t j = i;
    while (j < source.size() && !std::isspace((unsigned char)source[j]))
      ++j;
    if (j == i)
      break;
    std::string_view tok = source.substr(i, j - i);
    i = j;
    if (tok == "(" || tok == ")")
      continue;
    std::optional<int32_t> id = lookup(tok);
    if (!id) {
      if (error)
        *error = "unknown token '" + std::string(tok) + "'";
      return std::nullopt;
    }
    ids.push_back(*id);
  }
  return ids;
}

std::optional<int32_t> evaluate(const std::vector<int32_t> &ids,
                                std::string *error) {
  auto fail = [&](const std::string &what) -> std::optional<int32_t> {
    if (error)
      *error = what;
    return std::nullopt;
  };
  // An explicit stack of open operators and their arguments' values: deep
  // nesting costs memory, not the call stack.
  struct Frame {
    int op;
    std::vector<int> values;
  };
  std::vector<Frame> open;
  std::optional<int> result;
  auto give = [&](int value) -> bool {
    if (!open.empty()) {
      open.back().values.push_back(value);
      return true;
    }
    if (result)
      return false; // a second top-level value
    result = value;
    return true;
  };
  for (int32_t id : ids) {
    if (id == token::Cls || id == token::Pad)
      continue;
    if (id >= token::Min && id <= token::SumMod) {
      open.push_back({id - token::Min, {}});
    } else if (id >= token::Digit0 && id < token::Digit0 + 10) {
      if (!give(id - token::Digit0))
        return fail("more than one expression");
    } else if (id == token::Close) {
      if (open.empty())
        return fail("']' closes no operator");
      Frame frame = std::move(open.back());
      open.pop_back();
      if (frame.values.empty())
        return fail("an operator without arguments");
      if (!give(apply(frame.op, frame.values.data(),
                      static_cast<int>(frame.values.size()))))
        return fail("more than one expression");
    } else {
      return fail("unexpected token '" + std::string(tokenText(id)) + "'");
    }
  }
  if (!open.empty())
    return fail(std::to_string(open.size()) + " operator(s) not closed");
  if (!result)
    return fail("no expression");
  return *result;
}

std::string decode(const std::vector<int32_t> &ids) {
  std::string out;
  for (int32_t id : ids) {
    if (id == token::Pad || id == token::Cls)
      continue;
    if (!out.empty())
      out.push_back(' ');
    out.append(tokenText(id));
  }
  return out;
}

//===----------------------------------------------------------------------===//
// Loader
//===----------------------------------------------------------------------===//

namespace {
/// Undoes csv.writer's quoting of a field, if it is quoted.
bool unquote(std::string &field) {
  if (field.empty() || field.front() != '"')
    return true;
  if (field.size() < 2 || field.back() != '"')
    return false;
  std::string out;
  for (size_t i = 1; i + 1 < field.size(); ++i) {
    out.push_back(field[i]);
    if (field[i] == '"') {
      if (field[i + 1] != '"' || i + 2 >= field.size())
        return false;
      ++i;
    }
  }
  field = out;
  return true;
}
} // namespace

std::optional<Dataset> loadTsv(const std::string &path, std::string *error) {
  std::ifstream in(path, std::ios::binary);
  auto fail = [&](const std::string &what) {
    if (error)
      *error = path + ": " + what;
    return std::nullopt;
  };
  if (!in)
    return fail("cannot open the file");
  // A device or pipe (/dev/zero) may never end a line.
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return fail("not a regular file");
  return parseTsv(in, path, error);
}

std::optional<Dataset> parseTsv(std::istream &in, const std::string &path,
                                std::string *error) {
  auto fail = [&](int64_t line, const std::string &what) {
    if (error)
      *error =
          path + (line > 0 ? ":" + std::to_string(line) : "") + ": " + what;
    return std::nullopt;
  };
  Dataset data;
  data.path = path;
  std::string line;
  int64_t lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (lineNo == 1) {
      if (line != "Source\tTarget")
        return fail(1, "expected the header 'Source<TAB>Target', got '" + line +
                           "'");
      continue;
    }
    if (line.empty()) {
      if (in.peek() == EOF)
        break; // a final blank line
      return fail(lineNo, "empty line");
    }
    size_t tab = line.find('\t');
    if (tab == std::string::npos)
      return fail(lineNo, "missing tab between source and target");
    if (line.find('\t', tab + 1) != std::string::npos)
      return fail(lineNo, "more than two tab-separated fields");
    std::string source = line.substr(0, tab), target = line.substr(tab + 1);
    if (!unquote(source) || !unquote(target))
      return fail(lineNo, "malformed quoting");
    if (target.size() != 1 || target[0] < '0' || target[0] > '9')
      return fail(lineNo, "label must be a digit 0-9, got '" + target + "'");
    std::string why;
    std::optional<std::vector<int32_t>> ids = encode(source, true, &why);
    if (!ids)
      return fail(lineNo, why);
    if (ids->size() == 1)
      return fail(lineNo, "empty source");
    // The label is the expression's value: a malformed expression or a
    // wrong label would train on noise.
    std::optional<int32_t> value = evaluate(*ids, &why);
    if (!value)
      return fail(lineNo, "malformed expression: " + why);
    if (*value != target[0] - '0')
      return fail(lineNo, "label " + target + " but the expression's value is " +
                              std::to_string(*value));
    data.tokens.push_back(std::move(*ids));
    data.labels.push_back(target[0] - '0');
    data.lines.push_back(lineNo);
  }
  if (lineNo == 0)
    return fail(0, "empty file (expected the header 'Source<TAB>Target')");
  return data;
}

std::optional<std::vector<Batch>> makeBatches(const Dataset &data,
                                              const BatchOptions &options,
                                              int64_t epoch,
                                              std::string *error) {
  const int64_t n = static_cast<int64_t>(data.tokens.size());
  const int64_t rows = options.batchSize;
  // Bounds before anything is sized by them: a batch is rows x length ids.
  constexpr int64_t kMaxRows = int64_t(1) << 20, kMaxLength = int64_t(1) << 24,
                    kMaxIds = int64_t(1) << 31;
  auto bad = [&](const std::string &what) {
    if (error)
      *error = what;
    return std::nullopt;
  };
  if (rows <= 0 || rows > kMaxRows)
    return bad("batch size must be in [1, " + std::to_string(kMaxRows) +
               "], got " + std::to_string(rows));
  if (options.maxLength < 0 || options.maxLength > kMaxLength)
    return bad("maximum length must be in [0, " + std::to_string(kMaxLength) +
               "], got " + std::to_string(options.maxLength));
  if (options.roundTo < 0 || options.roundTo > kMaxLength)
    return bad("round-to must be in [0, " + std::to_string(kMaxLength) +
               "], got " + std::to_string(options.roundTo));
  if (options.padToMax && options.maxLength == 0)
    return bad("padding to the maximum length needs a maximum length");
  for (int64_t i = 0; i < n; ++i) {
    int64_t len = static_cast<int64_t>(data.tokens[i].size());
    if (options.maxLength > 0 && len > options.maxLength) {
      if (error)
        *error = data.path + ":" + std::to_string(data.lines[i]) +
                 ": example has " + std::to_string(len) +
                 " tokens (CLS included), more than the maximum length " +
                 std::to_string(options.maxLength);
      return std::nullopt;
    }
  }
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  SplitMix64 rng(mixSeed(options.seed, static_cast<uint64_t>(epoch), 0xBA7C4));
  auto shuffle = [&](auto begin, auto end) {
    for (auto size = end - begin; size > 1; --size)
      std::swap(begin[size - 1], begin[rng.below(size)]);
  };
  if (options.shuffle)
    shuffle(order.begin(), order.end());
  if (options.bucketByLength) {
    const int64_t window = rows * 50;
    for (int64_t s = 0; s < n; s += window)
      std::stable_sort(order.begin() + s,
                       order.begin() + std::min(n, s + window),
                       [&](int64_t a, int64_t b) {
                         return data.tokens[a].size() < data.tokens[b].size();
                       });
  }
  std::vector<std::vector<int64_t>> groups;
  for (int64_t s = 0; s < n; s += rows)
    groups.emplace_back(order.begin() + s,
                        order.begin() + std::min(n, s + rows));
  if (options.shuffle && options.bucketByLength)
    shuffle(groups.begin(), groups.end());

  std::vector<Batch> batches;
  batches.reserve(groups.size());
  for (const std::vector<int64_t> &group : groups) {
    Batch b;
    b.rows = rows;
    b.examples = static_cast<int64_t>(group.size());
    int64_t longest = 1;
    for (int64_t i : group)
      longest = std::max<int64_t>(longest, data.tokens[i].size());
    int64_t round = std::max<int64_t>(1, options.roundTo);
    int64_t length = (longest + round - 1) / round * round;
    if (options.maxLength > 0)
      length = options.padToMax ? options.maxLength
                                : std::min(length, options.maxLength);
    if (rows * length > kMaxIds)
      return bad("a batch of " + std::to_string(rows) + " x " +
                 std::to_string(length) + " ids is larger than 2^31");
    b.length = length;
    b.ids.assign(rows * length, token::Pad);
    b.lengths.assign(rows, 1);
    b.labels.assign(rows, -1);
    for (int64_t r = 0; r < rows; ++r) {
      if (r >= b.examples) {
        b.ids[r * length] = token::Cls;
        continue;
      }
      int64_t i = group[r];
      const std::vector<int32_t> &toks = data.tokens[i];
      std::copy(toks.begin(), toks.end(), b.ids.begin() + r * length);
      b.lengths[r] = static_cast<int32_t>(toks.size());
      b.labels[r] = data.labels[i];
      b.indices.push_back(i);
    }
    batches.push_back(std::move(b));
  }
  return batches;
}

Batch shardBatch(const Batch &batch, int64_t rank, int64_t world) {
  assert(world > 0 && rank >= 0 && rank < world && batch.rows % world == 0);
  Batch shard;
  shard.rows = batch.rows / world;
  shard.length = batch.length;
  for (int64_t i = 0; i < shard.rows; ++i) {
    int64_t row = rank + i * world;
    shard.ids.insert(shard.ids.end(), batch.ids.begin() + row * batch.length,
                     batch.ids.begin() + (row + 1) * batch.length);
    shard.lengths.push_back(batch.lengths[row]);
    shard.labels.push_back(batch.labels[row]);
    if (row < batch.examples) {
      shard.indices.push_back(batch.indices[row]);
      ++shard.examples;
    }
  }
  return shard;
}

} // namespace attn::listops
