//===- Tangents.h - forward-mode derivatives of scalar bodies ---*- C++ -*-===//
//
// The one place that knows the derivatives of scalar arith and math ops.
// Reverse mode uses it twice: for an elementwise linalg.generic (the body's
// derivative in each differentiated input) and for a score region of
// softmax attention (the region's derivative in its score,
// attn/IR/ScoreMod.h).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_IR_TANGENTS_H
#define ATTN_IR_TANGENTS_H

#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"

namespace mlir::attn {

/// The derivative of a body's values in one value, built beside a clone of
/// the body: forward mode over its ops, visited in order after each is
/// cloned; a null tangent stands for zero, so that what does not depend on
/// the seed (index arithmetic, constants) costs nothing.
class BodyTangents {
public:
  BodyTangents(OpBuilder &b, Location loc) : b(b), loc(loc) {}

  /// Whether visit has a rule for `op` (ops without float results need
  /// none): addf, subf, mulf, divf, negf, maximumf, minimumf, maxnumf,
  /// minnumf, select, exp, log, sqrt, tanh and absf.
  static bool hasRule(Operation *op);

  /// The value all derivatives are taken in.
  void seed(Value v) { tangents[v] = constant(v.getType(), 1.0); }

  /// The tangents of `op`'s results from those of its operands (all
  /// already visited); fails on an op that carries a nonzero tangent
  /// without a rule.
  LogicalResult visit(Operation *op);

  /// `v`'s tangent; null where it is zero.
  Value of(Value v) const { return tangents.lookup(v); }

private:
  Value constant(Type type, double v);
  Value plus(Value x, Value y);
  Value times(Value dx, Value y);
  Value negate(Value x);

  OpBuilder &b;
  Location loc;
  DenseMap<Value, Value> tangents;
};

} // namespace mlir::attn

#endif // ATTN_IR_TANGENTS_H
