//===- LinalgToLoops.cpp - the remaining linalg ops as loops, no folding --===//
//
// Docs in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "attn/Conversion/Passes.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::attn {
#define GEN_PASS_DEF_LINALGTOLOOPS
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {
struct LinalgToLoopsPass
    : public mlir::attn::impl::LinalgToLoopsBase<LinalgToLoopsPass> {
  void runOnOperation() override {
    SmallVector<linalg::LinalgOp> ops;
    getOperation()->walk([&](linalg::LinalgOp op) { ops.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp op : ops) {
      // (linalgOpToLoops asserts buffer semantics rather than failing.)
      rewriter.setInsertionPoint(op);
      if (!op.hasPureBufferSemantics() ||
          failed(linalg::linalgOpToLoops(rewriter, op))) {
        op.emitError("cannot lower this linalg op to loops (it must have "
                     "buffer semantics)");
        return signalPassFailure();
      }
      rewriter.eraseOp(op);
    }
  }
};
} // namespace
