//===- VerifyUtils.h - shape checks shared by attn verifiers ----*- C++ -*-===//
#ifndef ATTN_LIB_IR_VERIFYUTILS_H
#define ATTN_LIB_IR_VERIFYUTILS_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Operation.h"
#include <string>

namespace mlir::attn::detail {

/// "[2, 4, ?, 64]"
std::string formatShape(ArrayRef<int64_t> shape);

/// Two extents agree unless both are static and differ.
inline bool compatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

/// Extent i of a shaped value.
inline int64_t dim(Value v, unsigned i) {
  return cast<ShapedType>(v.getType()).getDimSize(i);
}

/// Checks that `value` is a ranked tensor of rank `rank`; `role` and `layout`
/// name it in the message ("query", "[batch, heads, seq, head_dim]").
LogicalResult verifyRank(Operation *op, Value value, int64_t rank,
                         StringRef role, StringRef layout);

/// Checks that `value`'s shape is compatible with `expected` (use
/// ShapedType::kDynamic for "any").
LogicalResult verifyShape(Operation *op, Value value,
                          ArrayRef<int64_t> expected, StringRef role);

/// Checks that every value has `elementType`.
LogicalResult verifyElementType(Operation *op, Value value, Type elementType,
                                StringRef role);

/// Masked sequence lengths, mask parameters (radii, counts, sizes, blocks)
/// and schedule fields are at most this: masks multiply two of them and add
/// a few in int64, and schedules hold them in int32 tables.
constexpr int64_t kMaxMaskExtent = (int64_t(1) << 31) - 1;

/// The mask ops whose results `op` takes as masks.
SmallVector<Operation *> maskProducers(Operation *op);

/// A layer norm's epsilon: positive and finite (an infinite one normalises
/// everything to the bias).
LogicalResult verifyEpsilon(Operation *op, double epsilon);

/// Pooling's optional lengths (attn.pool and attn.pool_grad): only for mean
/// pooling, one per batch entry.
LogicalResult verifyPoolLengths(Operation *op, Value lengths, bool mean,
                                int64_t batch);

/// attn.batch_norm and attn.batch_norm_grad: input [B, N, D], gamma [D] of
/// its element type, lengths [B], a positive finite epsilon.
LogicalResult verifyBatchNorm(Operation *op, Value input, Value gamma,
                              Value lengths, double epsilon);

} // namespace mlir::attn::detail

#endif // ATTN_LIB_IR_VERIFYUTILS_H
