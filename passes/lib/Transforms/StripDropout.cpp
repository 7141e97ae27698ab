//===- StripDropout.cpp - the model in evaluation mode --------------------===//

#include "attn/Transforms/Passes.h"

namespace mlir::attn {
#define GEN_PASS_DEF_STRIPDROPOUT
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {
struct StripDropoutPass
    : public mlir::attn::impl::StripDropoutBase<StripDropoutPass> {
  void runOnOperation() override {
    getOperation().walk([](Operation *op) {
      if (auto dropout = dyn_cast<DropoutOp>(op)) {
        dropout.replaceAllUsesWith(dropout.getInput());
        dropout.erase();
      } else if (isa<EncoderLayer>(op) && op->hasAttr("dropout")) {
        // Layers drop out when attn-expand-layers expands them.
        op->setAttr("dropout",
                    FloatAttr::get(Float64Type::get(op->getContext()), 0.0));
      }
    });
  }
};
} // namespace
