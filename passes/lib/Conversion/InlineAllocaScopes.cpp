//===- InlineAllocaScopes.cpp - alloca scopes to stack save/restore -------===//

#include "attn/Conversion/Passes.h"

namespace mlir::attn {
#define GEN_PASS_DEF_INLINEALLOCASCOPES
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {
struct InlineAllocaScopesPass
    : public mlir::attn::impl::InlineAllocaScopesBase<InlineAllocaScopesPass> {
  void runOnOperation() override {
    SmallVector<memref::AllocaScopeOp> scopes;
    // Post-order: inner scopes are inlined into outer ones first.
    getOperation()->walk(
        [&](memref::AllocaScopeOp op) { scopes.push_back(op); });
    for (memref::AllocaScopeOp scope : scopes) {
      Region &body = scope.getBodyRegion();
      if (!body.hasOneBlock()) {
        scope.emitOpError("attn-inline-alloca-scopes expects a single block; "
                          "run it before lowering scf to control flow");
        return signalPassFailure();
      }
      OpBuilder b(scope);
      Location loc = scope.getLoc();
      auto ptr = LLVM::LLVMPointerType::get(b.getContext());
      Value saved = LLVM::StackSaveOp::create(b, loc, ptr);
      Block &block = body.front();
      auto ret = cast<memref::AllocaScopeReturnOp>(block.getTerminator());
      SmallVector<Value> results(ret.getResults());
      ret.erase();
      scope->getBlock()->getOperations().splice(Block::iterator(scope),
                                                block.getOperations());
      b.setInsertionPoint(scope);
      LLVM::StackRestoreOp::create(b, loc, saved);
      scope.replaceAllUsesWith(results);
      scope.erase();
    }
  }
};
} // namespace
