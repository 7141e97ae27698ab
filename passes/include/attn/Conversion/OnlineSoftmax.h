//===- OnlineSoftmax.h - the online-softmax step, written once --*- C++ -*-===//
//
// Softmax attention over key tiles keeps, per query row, the running maximum
// m of its scores, the running sum l of exp(s - m) and the accumulator
// acc = sum_j exp(s_j - m) v_j. A step over new keys with scores S updates
// them (FlashAttention's online softmax):
//
//   m'    = max(m, max_j S_j)
//   base  = m', or 0 where m' = -inf (no key kept yet: -inf - -inf is NaN)
//   alpha = exp(m - base)
//   P_j   = exp(S_j - base)
//   l'    = alpha l + sum_j P_j
//   acc'  = alpha acc + P V
//
// and the finalize writes acc / l, or zeros for a row with no kept key
// (l = 0). Every lowering of attn.softmax_step and attn.softmax_finalize,
// and the statistics the gradient recomputes, run this arithmetic from here.
// Where the scores, P, the statistics and the accumulator live -- a CPU
// vector form's scratch rows, a GPU lane's registers or memory, mma.sync
// fragments whose rows four lanes share -- is a form's: it implements
// SoftmaxRows.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_CONVERSION_ONLINESOFTMAX_H
#define ATTN_CONVERSION_ONLINESOFTMAX_H

#include "attn/IR/ScoreMod.h"

#include "mlir/IR/Builders.h"

namespace mlir {
class RewriterBase;
} // namespace mlir

namespace mlir::attn {

class SoftmaxStepOp;
class SoftmaxGradStepOp;

/// The base of the step's exponentials. Base 2 where a form has scaled its
/// scores by log2(e) (exp2 is one instruction on NVIDIA GPUs); its running
/// maximum is then in that domain too.
enum class ExpBase { E, Two };

/// The rows one step updates, in the storage of one form. Scalars are f32.
class SoftmaxRows {
public:
  virtual ~SoftmaxRows() = default;
  virtual int64_t numRows() const = 0;
  virtual ExpBase expBase() const { return ExpBase::E; }
  /// Row r's running maximum and sum before the step. Where lanes share a
  /// row, the sum may be this lane's part: alpha is the row's, so partial
  /// sums stay partial sums of the same row.
  virtual Value max(OpBuilder &b, Location loc, int64_t r) = 0;
  virtual Value sum(OpBuilder &b, Location loc, int64_t r) = 0;
  /// The largest of row r's new scores, -inf where none is kept.
  virtual Value scoreMax(OpBuilder &b, Location loc, int64_t r) = 0;
  /// P = exp(S - base) for row r's new scores (dropped ones give 0), held
  /// by the form for accumulate; returns their sum (this lane's part).
  virtual Value exponentiate(OpBuilder &b, Location loc, int64_t r,
                             Value base) = 0;
  /// acc_r = alpha_r acc_r + P_r V for every row (nothing without an
  /// accumulator).
  virtual void accumulate(OpBuilder &b, Location loc,
                          ArrayRef<Value> alpha) = 0;
  /// The statistics after the step. Called after every read: a form whose
  /// rows repeat one row (a group's last) reads the old values throughout.
  virtual void setMax(OpBuilder &b, Location loc, int64_t r, Value m) = 0;
  virtual void setSum(OpBuilder &b, Location loc, int64_t r, Value l) = 0;
};

/// One online-softmax step over `rows`.
void emitOnlineSoftmaxStep(OpBuilder &b, Location loc, SoftmaxRows &rows);

/// exp(x) or exp2(x); `x` f32, scalar or vector.
Value emitExp(OpBuilder &b, Location loc, Value x, ExpBase base);

/// 1 / l, or 0 for a row with no kept key (l = 0): what the finalize
/// multiplies the accumulator by.
Value emitInverseSum(OpBuilder &b, Location loc, Value sum);

/// The log-sum-exp of a row's scores in the natural base, m + log l, or
/// +inf for a row with no kept key, so that exp(s - lse) is 0 there. With
/// ExpBase::Two, m is in that base's units (scores times log2(e)), and the
/// result (m + log2 l) ln 2.
Value emitLogSumExp(OpBuilder &b, Location loc, Value max, Value sum,
                    ExpBase base = ExpBase::E);

/// Whether `op`'s mask keeps (query row `row`, key `key`) of its tile
/// (tile-relative indices): its predicate region cloned at `b`. Null where
/// the op has no predicate (every pair of the tile is kept).
Value emitKeptAt(OpBuilder &b, Location loc, SoftmaxStepOp op, Value row,
                 Value key);
Value emitKeptAt(OpBuilder &b, Location loc, SoftmaxGradStepOp op, Value row,
                 Value key);

/// The score the softmax uses for (query row `row`, key `key`) of `op`'s
/// tile (tile-relative indices) given its scaled score `s` = scale q.k:
/// `s` through the op's score region, or `s` itself where it has none.
Value emitScoreAt(OpBuilder &b, Location loc, SoftmaxStepOp op, Value s,
                  Value row, Value key);
/// The same for the gradient, with the region's derivative in s (a null
/// slope where the op has no region: 1).
ScoreWithSlope emitScoreAt(OpBuilder &b, Location loc, SoftmaxGradStepOp op,
                           Value s, Value row, Value key);

/// The gradient of one kept score s = f(scale q.k) given the row's
/// log-sum-exp and D = rowsum(dO * O): p = exp(s - lse) and
/// ds = p (dp - D) f' scale, with dp = dO.v and f' the score region's
/// slope (`slope`, or 1 where null). `score` and `lse` are in `base`'s
/// units (times log2(e) for ExpBase::Two); every form of
/// attn.tile.softmax_grad_step computes its pairs here.
struct ScoreGradient {
  Value p, ds;
};
ScoreGradient emitScoreGradient(OpBuilder &b, Location loc, Value score,
                                Value lse, Value dp, Value delta, double scale,
                                ExpBase base, Value slope = Value());
/// emitScoreGradient's two halves, for a form that has the score before dp
/// (the tensor-core form, whose dp product is still running): p, then ds
/// from p.
Value emitScoreProbability(OpBuilder &b, Location loc, Value score, Value lse,
                           ExpBase base);
Value emitScoreGradientOfProbability(OpBuilder &b, Location loc, Value p,
                                     Value dp, Value delta, double scale,
                                     Value slope = Value());

/// attn.tile.softmax_grad_step a row at a time: its accumulator rows in the
/// outer loop (held as vectors across the inner loop over the other side's
/// rows), each kept pair's dot products as vector reductions. The CPU's
/// form, and a GPU thread's for a tile of one row.
LogicalResult lowerSoftmaxGradStepByRows(SoftmaxGradStepOp op,
                                         RewriterBase &b);

} // namespace mlir::attn

#endif // ATTN_CONVERSION_ONLINESOFTMAX_H
