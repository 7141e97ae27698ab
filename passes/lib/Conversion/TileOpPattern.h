//===- TileOpPattern.h - tile-op lowerings as rewrite patterns --*- C++ -*-===//
//
// The conversions of attn.tile.* ops lower one op at a time: each lowering
// is a function (op, rewriter) -> success, which replaces the op through
// the rewriter, or fails with an error on it. This wraps such functions as
// rewrite patterns for populate...Patterns functions, and applies a set of
// them with a conversion target's illegal ops reported if any is left.
// Internal to the conversion passes.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_CONVERSION_TILEOPPATTERN_H
#define ATTN_CONVERSION_TILEOPPATTERN_H

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/DialectConversion.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"
#include "llvm/ADT/STLExtras.h"

#include <functional>

namespace mlir::attn {

/// A tile op's lowering as a rewrite pattern.
template <typename Op>
struct LowerTileOp : OpRewritePattern<Op> {
  using Lowering = std::function<LogicalResult(Op, RewriterBase &)>;
  LowerTileOp(MLIRContext *context, Lowering lower)
      : OpRewritePattern<Op>(context), lower(std::move(lower)) {}
  LogicalResult matchAndRewrite(Op op,
                                PatternRewriter &rewriter) const override {
    return lower(op, rewriter);
  }
  Lowering lower;
};

/// Adds `lower`, a callable (SomeTileOp, RewriterBase &) -> LogicalResult,
/// as the pattern of SomeTileOp.
template <typename Lower>
void addTileLowering(RewritePatternSet &patterns, Lower lower) {
  using Op = typename llvm::function_traits<Lower>::template arg_t<0>;
  patterns.add<LowerTileOp<Op>>(patterns.getContext(), std::move(lower));
}

/// Applies `patterns` to every op below `root` once (a lowering's own ops
/// are not revisited), then fails where an op `target` marks illegal is
/// left: its lowering failed and said why.
inline LogicalResult applyTileLowerings(Operation *root,
                                        RewritePatternSet &&patterns,
                                        const ConversionTarget &target) {
  walkAndApplyPatterns(root, std::move(patterns));
  WalkResult left = root->walk([&](Operation *op) {
    return target.isIllegal(op) ? WalkResult::interrupt()
                                : WalkResult::advance();
  });
  return failure(left.wasInterrupted());
}

} // namespace mlir::attn

#endif // ATTN_CONVERSION_TILEOPPATTERN_H
