//===- Gradients.h - reverse mode's helpers and models ----*- C++ -*-===//
#ifndef ATTN_IR_GRADIENTS_H
#define ATTN_IR_GRADIENTS_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringRef.h"

namespace mlir {
class DialectRegistry;
namespace attn {
class FeatureMap;
class LinearGradOp;

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

/// Argument attributes of a parameter (beside `attn.param`) that
/// attn-generate-train-step reads: its own AdamW weight decay (an F64
/// overriding the pass's `weight-decay`) and a factor on the scheduled
/// learning rate (F64, default 1).
constexpr llvm::StringLiteral kWeightDecayAttr = "attn.weight_decay";
constexpr llvm::StringLiteral kLrScaleAttr = "attn.lr_scale";
/// On a training step (attn-generate-train-step): the optimizer and schedule
/// compiled into it, a dictionary of the pass's options by their flag names
/// (lr, warmup, total-steps, decay, final-lr, beta1, beta2, epsilon,
/// weight-decay, max-grad-norm), so that a caller can tell which settings a
/// compiled step trains with (attn-compile puts it in the step's signature).
constexpr llvm::StringLiteral kOptimizerAttr = "attn.optimizer";

/// Attaches the Differentiable interface to the upstream ops that attn's
/// pipelines produce before differentiation: linalg.add, linalg.transpose,
/// tensor.expand_shape, tensor.collapse_shape, tensor.extract_slice and
/// elementwise linalg.generic.
void registerVjpExternalModels(DialectRegistry &registry);

/// attn.linear_grad as linalg.generics on tensors, in f32 (bf16 and f16
/// operands widened, the cotangents rounded back): every form (causal or
/// not, every feature map, key padding). Returns the cotangents of query,
/// key and value, null for a result without uses; the caller replaces the
/// op's results. attn-tile's form where no tiled one applies.
FailureOr<SmallVector<Value, 3>> decomposeLinearGrad(OpBuilder &b,
                                                     LinearGradOp op);

/// phi'(x) of an elementwise feature map with input scale `scale`:
/// body'(scale x) scale, for a float scalar or a vector of them (the
/// gradient's generics, the CPU's vector code and the GPU's lanes alike).
Value buildFeatureSlope(OpBuilder &b, Location loc, FeatureMap map, Value x,
                        double scale);

} // namespace attn
} // namespace mlir

#endif // ATTN_IR_GRADIENTS_H
