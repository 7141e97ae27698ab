//===- NameKernels.cpp - kernels named by function, place and kind --------===//
//
// gpu-kernel-outlining names every kernel of a function `<f>_kernel` in its
// own module `<f>_kernel_<n>`: the driver, the profilers and libattnrt's
// profile, which see kernel names only, cannot tell them apart. This pass
// names each launch before outlining (docs in Passes.td).
//
//===----------------------------------------------------------------------===//

#include "attn/Conversion/Passes.h"

namespace mlir::attn {
#define GEN_PASS_DEF_NAMEKERNELS
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {
struct NameKernelsPass
    : public mlir::attn::impl::NameKernelsBase<NameKernelsPass> {
  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    int64_t n = 0;
    fn.walk<WalkOrder::PreOrder>([&](gpu::LaunchOp launch) {
      auto kind =
          launch->getAttrOfType<StringAttr>(mlir::attn::kKernelKindAttr);
      launch->removeAttr(mlir::attn::kKernelKindAttr);
      std::string name = (fn.getSymName() + "_" + Twine(n++) + "_" +
                          (kind ? kind.getValue() : StringRef("kernel")))
                             .str();
      if (!launch.getFunctionAttr())
        launch.setFunctionAttr(
            FlatSymbolRefAttr::get(launch.getContext(), name));
      return WalkResult::skip();
    });
  }
};
} // namespace
