//===- OpLowering.h - one-op lowerings as rewrite patterns ------*- C++ -*-===//
//
// Most conversions lower one op at a time (the tile ops for the CPU, the
// SSM's tile ops for the GPU, the encoder ops to linalg): each lowering is
// a function (op, rewriter) -> success, which replaces the op through the
// rewriter, or fails with an error on it. This wraps such functions as
// rewrite patterns for populate...Patterns functions, and applies a set of
// them, failing where an op they are for is left. Internal to the
// conversion passes.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_CONVERSION_OPLOWERING_H
#define ATTN_CONVERSION_OPLOWERING_H

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/STLExtras.h"

#include <functional>

namespace mlir::attn {

/// One op's lowering as a rewrite pattern.
template <typename Op> struct LowerOneOp : OpRewritePattern<Op> {
  using Lowering = std::function<LogicalResult(Op, RewriterBase &)>;
  LowerOneOp(MLIRContext *context, Lowering lower)
      : OpRewritePattern<Op>(context), lower(std::move(lower)) {}
  LogicalResult matchAndRewrite(Op op,
                                PatternRewriter &rewriter) const override {
    return lower(op, rewriter);
  }
  Lowering lower;
};

/// Adds `lower`, a callable (SomeOp, RewriterBase &) -> LogicalResult, as
/// the pattern of SomeOp.
template <typename Lower>
void addLowering(RewritePatternSet &patterns, Lower lower) {
  using Op = typename llvm::function_traits<Lower>::template arg_t<0>;
  patterns.add<LowerOneOp<Op>>(patterns.getContext(), std::move(lower));
}

/// Applies `patterns` to every op below `root` once (a lowering's own ops
/// are not revisited), then fails where an op that one of them is for is
/// left: its lowering failed and said why.
inline LogicalResult applyLowerings(Operation *root,
                                    RewritePatternSet &&patterns) {
  llvm::SmallDenseSet<OperationName> lowered;
  for (const std::unique_ptr<RewritePattern> &p : patterns.getNativePatterns())
    if (std::optional<OperationName> op = p->getRootKind())
      lowered.insert(*op);
  walkAndApplyPatterns(root, std::move(patterns));
  WalkResult left = root->walk([&](Operation *op) {
    return lowered.contains(op->getName()) ? WalkResult::interrupt()
                                           : WalkResult::advance();
  });
  return failure(left.wasInterrupted());
}

} // namespace mlir::attn

#endif // ATTN_CONVERSION_OPLOWERING_H
