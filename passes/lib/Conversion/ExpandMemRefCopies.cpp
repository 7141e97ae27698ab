//===- ExpandMemRefCopies.cpp - memref.copy as linalg.copy ----------------===//

#include "attn/Conversion/Passes.h"

namespace mlir::attn {
#define GEN_PASS_DEF_EXPANDMEMREFCOPIES
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {
struct ExpandMemRefCopiesPass
    : public mlir::attn::impl::ExpandMemRefCopiesBase<ExpandMemRefCopiesPass> {
  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation()->walk([&](memref::CopyOp op) { copies.push_back(op); });
    for (memref::CopyOp op : copies) {
      OpBuilder b(op);
      linalg::CopyOp::create(b, op.getLoc(), op.getSource(), op.getTarget());
      op.erase();
    }
  }
};
} // namespace
