//===- OutlineKernels.cpp - gpu-kernel-outlining, launch hints kept -------===//
//
// Upstream's gpu-kernel-outlining makes each gpu.launch a gpu.func and drops
// the launch's discardable attributes. One of them matters to ptxas: how
// many blocks of the kernel should fit on a multiprocessor at once
// (kMinBlocksPerSMAttr, set by the conversion that chose the launch's
// shape). Without it ptxas may spend registers until one block fills the
// register file: the projections' 128 x 128 matmuls took 137 registers a
// thread, one 256-thread block a multiprocessor, where their tiling
// counted on two (with `.minnctapersm 2`: 128, no spills). So this pass
// runs the upstream outlining and then puts each launch's count on its
// kernel as `nvvm.minctasm`, which the NVVM conversion and NVPTX turn into
// `.minnctapersm`; likewise a launch's registers a thread starts with
// (kMaxRegistersAttr, where warpgroups then move registers between them by
// setmaxnreg, which needs it) as `nvvm.maxnreg`. Launches are matched to
// kernels by name: attn-name- kernels has named every launch before this pass,
// and the outlined kernel takes its launch's name.
//
//===----------------------------------------------------------------------===//

#include "attn/Conversion/Passes.h"

#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/StringMap.h"

namespace mlir::attn {
#define GEN_PASS_DEF_OUTLINEKERNELS
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {
struct OutlineKernelsPass
    : public mlir::attn::impl::OutlineKernelsBase<OutlineKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // Each launch's hints, by its kernel's name: attribute on the launch ->
    // (attribute on the kernel, value).
    const std::pair<StringRef, StringRef> hints[] = {
        {mlir::attn::kMinBlocksPerSMAttr, "nvvm.minctasm"},
        {mlir::attn::kMaxRegistersAttr, "nvvm.maxnreg"}};
    llvm::StringMap<SmallVector<std::pair<StringRef, int64_t>>> kept;
    WalkResult named = module.walk([&](gpu::LaunchOp launch) {
      for (auto [onLaunch, onKernel] : hints) {
        auto count = launch->getAttrOfType<IntegerAttr>(onLaunch);
        if (!count)
          continue;
        if (!launch.getFunctionAttr()) {
          launch.emitOpError()
              << "has " << onLaunch
              << " but no kernel name: run attn-name-kernels first";
          return WalkResult::interrupt();
        }
        kept[launch.getFunctionAttr().getValue()].push_back(
            {onKernel, count.getInt()});
      }
      return WalkResult::advance();
    });
    if (named.wasInterrupted())
      return signalPassFailure();

    OpPassManager outlining(ModuleOp::getOperationName());
    outlining.addPass(createGpuKernelOutliningPass());
    if (failed(runPipeline(outlining, module)))
      return signalPassFailure();

    Builder b(module.getContext());
    module.walk([&](gpu::GPUFuncOp kernel) {
      auto it = kept.find(kernel.getName());
      if (!kernel.isKernel() || it == kept.end())
        return;
      for (auto [name, value] : it->second)
        kernel->setAttr(name, b.getI32IntegerAttr(static_cast<int32_t>(value)));
    });
  }
};
} // namespace
