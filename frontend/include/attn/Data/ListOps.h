//===- ListOps.h - LRA ListOps: generator, tokenizer, loader ------*- C++
//-*-===//
//
// ListOps as Long Range Arena builds it (lra_benchmarks/data/listops.py):
// nested MIN, MAX, MED (median, truncated) and SM (sum mod 10) over digits;
// a child is an operator with probability 0.25 while depth < 10, else a
// digit; 2..10 arguments; kept when 500 < length < 2000 (operators, digits
// and closing brackets count, parentheses do not); deduplicated; written as
// fully parenthesised text to basic_{train,val,test}.tsv with header
// "Source\tTarget".
//
// This library has no MLIR dependency: the runtime and trainer use it.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_DATA_LISTOPS_H
#define ATTN_DATA_LISTOPS_H

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace attn::listops {

struct Example {
  std::string source; ///< fully parenthesised text
  int32_t label;      ///< 0..9
};

//===----------------------------------------------------------------------===//
// Generator
//===----------------------------------------------------------------------===//

struct GeneratorOptions {
  uint64_t seed = 0;
  int64_t train = 96000, val = 2000, test = 2000;
  int maxDepth = 10, maxArgs = 10;
  int64_t minLength = 500, maxLength = 2000; ///< exclusive bounds
  double operatorProbability = 0.25;
};

struct Split {
  std::vector<Example> train, val, test;
};

/// Generates distinct examples until the split is full, in generation order
/// (train first). `progress(done, total)` is called now and then.
Split generate(const GeneratorOptions &options,
               const std::function<void(int64_t, int64_t)> &progress = {});

/// Length as LRA counts it: every token but "(" and ")".
int64_t lraLength(std::string_view source);

/// Writes `examples` in LRA's TSV layout; returns an error message or "".
std::string writeTsv(const std::string &path,
                     const std::vector<Example> &examples);

//===----------------------------------------------------------------------===//
// Tokenizer: the fixed vocabulary, in one place.
//===----------------------------------------------------------------------===//

namespace token {
constexpr int32_t Pad = 0, Unk = 1, Cls = 2;
constexpr int32_t Min = 3, Max = 4, Med = 5, SumMod = 6, Close = 7;
constexpr int32_t Digit0 = 8; ///< digits d map to Digit0 + d
constexpr int32_t VocabSize = 18;
} // namespace token

/// The text of a token id ("[MIN", "]", "7", "<pad>", ...).
std::string_view tokenText(int32_t id);

/// Encodes text: "(" and ")" are dropped, every other whitespace-separated
/// token must be in the vocabulary. With `withCls`, the CLS token comes
/// first. On an unknown token returns std::nullopt and sets `error`.
std::optional<std::vector<int32_t>> encode(std::string_view source,
                                           bool withCls, std::string *error);

/// The value of an encoded expression (CLS and padding skipped): what its
/// label must be. A malformed expression (unbalanced brackets, an operator
/// without arguments, two expressions) gives std::nullopt and `error`.
std::optional<int32_t> evaluate(const std::vector<int32_t> &ids,
                                std::string *error);

/// The tokens of `ids` separated by spaces, without pad and CLS (so that
/// decode(encode(s)) is s without its parentheses).
std::string decode(const std::vector<int32_t> &ids);

//===----------------------------------------------------------------------===//
// Loader
//===----------------------------------------------------------------------===//

struct Dataset {
  std::string path;
  std::vector<std::vector<int32_t>> tokens; ///< encoded, CLS first
  std::vector<int32_t> labels;
  std::vector<int64_t> lines; ///< line of each example in the file
};

/// Reads an LRA-format TSV (ours or LRA's own) from a regular file. Every
/// malformed line -- unknown tokens, unbalanced brackets, a label that is
/// not the expression's value -- is an error naming the file, the line and
/// what was wrong; nothing is dropped. Returns std::nullopt and sets
/// `error` on failure.
std::optional<Dataset> loadTsv(const std::string &path, std::string *error);

/// loadTsv's reading, from a stream; `path` names it in errors.
std::optional<Dataset> parseTsv(std::istream &in, const std::string &path,
                                std::string *error);

struct BatchOptions {
  int64_t batchSize = 32;
  /// The longest sequence the consumer accepts (a compiled model's length);
  /// a longer example is an error, never truncated. 0: no limit.
  int64_t maxLength = 0;
  /// Padded lengths are rounded up to a multiple of this (a block size).
  int64_t roundTo = 1;
  /// Pad every batch to maxLength (for models compiled for one length).
  bool padToMax = false;
  bool shuffle = true;
  uint64_t seed = 0;
  /// Group examples of similar length (within windows of 50 batches) so that
  /// padding is small; batch order is still shuffled.
  bool bucketByLength = true;
};

/// A padded batch: `rows` x `length` ids (row-major), key-padding lengths
/// and labels. The last batch of an epoch may have fewer real examples than
/// rows; its extra rows hold only CLS, length 1 and label -1 (ignored).
struct Batch {
  int64_t rows = 0, length = 0, examples = 0;
  std::vector<int32_t> ids, lengths, labels;
  std::vector<int64_t> indices; ///< dataset index of each real example
};

/// Plans the batches of one epoch; every example appears exactly once.
/// Returns std::nullopt and sets `error` if an example is longer than
/// options.maxLength.
std::optional<std::vector<Batch>> makeBatches(const Dataset &data,
                                              const BatchOptions &options,
                                              int64_t epoch,
                                              std::string *error);

/// What rank `rank` of a data-parallel run of `world` ranks trains on of a
/// global batch: rows rank, rank + world, rank + 2 world, ... (world must
/// divide batch.rows). Strided rather than contiguous, so that the padding
/// rows of an epoch's last batch are spread over the ranks; a shard's real
/// examples stay in front, as in any batch.
Batch shardBatch(const Batch &batch, int64_t rank, int64_t world);

} // namespace attn::listops

#endif // ATTN_DATA_LISTOPS_H
