//===- SetTarget.cpp - the module's GPU as attn.target ---------------------===//

#include "attn/IR/AttnOps.h"
#include "attn/Transforms/Passes.h"

#include "mlir/IR/BuiltinOps.h"

namespace mlir::attn {
#define GEN_PASS_DEF_SETTARGET
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {
struct SetTargetPass
    : public mlir::attn::impl::SetTargetBase<SetTargetPass> {
  using SetTargetBase::SetTargetBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    TargetAttr target = TargetAttr::getChecked(
        [&] { return module.emitError() << "attn-set-target: "; },
        &getContext(), StringRef(chip), int64_t(multiprocessors));
    if (!target)
      return signalPassFailure();
    module->setAttr(TargetAttr::kAttrName, target);
  }
};
} // namespace
