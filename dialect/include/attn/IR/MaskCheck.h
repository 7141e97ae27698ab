//===- MaskCheck.h - checking a pattern's answers against its predicate -*- C++
//-*-===//
//
// A pattern op answers classifyTile, keyRanges and buildPredicate
// analytically; its evaluate is the definition. These checks compare the
// first three with the last by enumeration, and name the innermost op at
// fault: where a combinator answers wrongly although its operands answer
// right, the combinator; otherwise the operand. Used by
// `attn-schedule-blocks=verify` (attn-compile --verify-masks) and by the
// pattern test helper (test/support/MaskPatternCheck.h).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_IR_MASKCHECK_H
#define ATTN_IR_MASKCHECK_H

#include "attn/IR/AttnOps.h"

#include <memory>
#include <optional>
#include <string>

namespace mlir::attn {

/// A pattern op whose answer contradicts its predicate, and how:
/// "classifies the tile of queries [0, 64) and keys [64, 128) as empty, but
/// (q=3, k=70) is kept".
struct MaskDefect {
  Operation *op;
  std::string message;
};

class MaskChecker {
public:
  /// Checks `pattern` at `ctx`: without runtime data, the answers within the
  /// key limit; with it, the exact answers for ctx.batch.
  MaskChecker(MaskPattern pattern, const MaskContext &ctx);
  ~MaskChecker();

  /// classifyTile(t) against the kinds of t's pairs.
  std::optional<MaskDefect> checkClass(const TileRange &t);
  /// keyRanges(qBegin, qEnd) against every key of each query in `queries`
  /// (inside [qBegin, qEnd)).
  std::optional<MaskDefect> checkKeyRanges(int64_t qBegin, int64_t qEnd,
                                           ArrayRef<int64_t> queries);
  /// buildPredicate's IR, interpreted, against evaluate on every pair of t
  /// (`defined`, where given, answers for evaluate: callers that have
  /// enumerated the pairs already). Predicates that read runtime operands
  /// are checked only with runtime data.
  std::optional<MaskDefect>
  checkPredicate(const TileRange &t,
                 llvm::function_ref<bool(int64_t q, int64_t k)> defined = {});

  /// A schedule of the pattern (its own block sizes and length) against the
  /// predicate: the tiles of `schedule.seqLen` query rows are checked
  /// against every key -- each listed tile by all its pairs, its partial
  /// tiles' predicate IR too, and keys outside the listed tiles on those
  /// rows -- where rows x seqLen is at most `maxPairs`; above that, an
  /// evenly spread sample of rows (the first and last included) and the
  /// listed tiles of their query tiles.
  std::optional<MaskDefect> checkSchedule(ScheduleAttr schedule,
                                          int64_t maxPairs);

private:
  struct Predicate;
  Predicate *predicateOf(MaskPattern pattern);
  std::optional<MaskDefect> explainClass(MaskPattern pattern,
                                         const TileRange &t);
  std::optional<MaskDefect> explainKeyRanges(MaskPattern pattern,
                                             int64_t qBegin, int64_t qEnd,
                                             int64_t q, int64_t k);
  std::optional<MaskDefect> explainPredicate(MaskPattern pattern, int64_t q,
                                             int64_t k);

  MaskPattern pattern;
  MaskContext ctx;
  llvm::DenseMap<Operation *, std::unique_ptr<Predicate>> predicates;
};

} // namespace mlir::attn

#endif // ATTN_IR_MASKCHECK_H
