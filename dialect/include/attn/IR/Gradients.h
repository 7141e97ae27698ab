//===- Gradients.h - reverse mode's helpers and models ----*- C++ -*-===//
#ifndef ATTN_IR_GRADIENTS_H
#define ATTN_IR_GRADIENTS_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

namespace mlir {
class DialectRegistry;
namespace attn {

/// A tensor of `type` filled with `value` (tensor.empty + linalg.fill: a
/// memset on the GPU, no constant table).
Value buildFilled(OpBuilder &b, Location loc, RankedTensorType type,
                  double value);
inline Value buildZeros(OpBuilder &b, Location loc, RankedTensorType type) {
  return buildFilled(b, loc, type, 0.0);
}

/// a + b for two tensors of one type (linalg.add): how cotangents that meet
/// at a value are combined.
Value buildAdd(OpBuilder &b, Location loc, Value lhs, Value rhs);

/// Attaches the Differentiable interface to the upstream ops that attn's
/// pipelines produce before differentiation: linalg.add, linalg.transpose,
/// tensor.expand_shape, tensor.collapse_shape and tensor.extract_slice.
void registerVjpExternalModels(DialectRegistry &registry);

} // namespace attn
} // namespace mlir

#endif // ATTN_IR_GRADIENTS_H
