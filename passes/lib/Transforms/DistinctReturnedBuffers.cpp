//===- DistinctReturnedBuffers.cpp - one buffer per returned result -------===//

#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"

namespace mlir::attn {
#define GEN_PASS_DEF_DISTINCTRETURNEDBUFFERS
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {

struct DistinctReturnedBuffersPass
    : public mlir::attn::impl::DistinctReturnedBuffersBase<
          DistinctReturnedBuffersPass> {
  void runOnOperation() override {
    getOperation().walk([](func::ReturnOp ret) {
      DenseSet<Value> seen;
      OpBuilder b(ret);
      for (OpOperand &operand : ret->getOpOperands()) {
        auto type = dyn_cast<MemRefType>(operand.get().getType());
        // The buffer beneath casts, subviews and other views.
        if (!type || seen.insert(memref::skipViewLikeOps(
                                     cast<MemrefValue>(operand.get())))
                         .second)
          continue;
        // A later position of a buffer returned already: its own copy.
        SmallVector<Value> sizes;
        for (int64_t d = 0; d < type.getRank(); ++d)
          if (type.isDynamicDim(d))
            sizes.push_back(
                memref::DimOp::create(b, ret.getLoc(), operand.get(), d));
        Value copy = memref::AllocOp::create(
            b, ret.getLoc(),
            MemRefType::get(type.getShape(), type.getElementType()), sizes);
        memref::CopyOp::create(b, ret.getLoc(), operand.get(), copy);
        Value result = copy;
        if (copy.getType() != type)
          result = memref::CastOp::create(b, ret.getLoc(), type, copy);
        operand.set(result);
      }
    });
  }
};

} // namespace
