//===- DedupKernels.cpp - one module per distinct outlined kernel ---------===//
//
// Docs in Passes.td. Candidates are bucketed by a hash of their kernels'
// op names and types in walk order; within a bucket, each is compared with
// the bucket's kept modules by OperationEquivalence (locations ignored),
// the kernel's symbol name made equal for the comparison.
//
//===----------------------------------------------------------------------===//

#include "attn/Conversion/Passes.h"

#include "llvm/ADT/DenseMap.h"

namespace mlir::attn {
#define GEN_PASS_DEF_DEDUPKERNELS
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {

/// The module's only kernel, or null (modules with more are left alone).
gpu::GPUFuncOp onlyKernel(gpu::GPUModuleOp module) {
  gpu::GPUFuncOp kernel;
  for (auto f : module.getOps<gpu::GPUFuncOp>()) {
    if (kernel || !f.isKernel())
      return nullptr;
    kernel = f;
  }
  return kernel;
}

/// What identical modules share: op names and result types, in walk order.
llvm::hash_code shapeOf(gpu::GPUModuleOp module) {
  llvm::hash_code h = llvm::hash_value(0);
  module.walk([&](Operation *op) {
    h = llvm::hash_combine(h, op->getName().getAsOpaquePointer(),
                           op->getNumRegions(), op->getNumOperands());
    for (Type t : op->getResultTypes())
      h = llvm::hash_combine(h, t.getAsOpaquePointer());
  });
  return h;
}

/// Whether `a` and `b` (each with one kernel) hold the same code.
bool sameCode(gpu::GPUModuleOp a, gpu::GPUModuleOp b) {
  // Modules compiled for other targets (or by another handler) differ.
  if (a.getTargetsAttr() != b.getTargetsAttr() ||
      a.getOffloadingHandlerAttr() != b.getOffloadingHandlerAttr())
    return false;
  auto opsA = a.getBody()->without_terminator();
  auto opsB = b.getBody()->without_terminator();
  if (std::distance(opsA.begin(), opsA.end()) !=
      std::distance(opsB.begin(), opsB.end()))
    return false;
  gpu::GPUFuncOp kernelB = onlyKernel(b);
  StringAttr nameB = kernelB.getNameAttr();
  SymbolTable::setSymbolName(kernelB, onlyKernel(a).getNameAttr());
  bool same = llvm::all_of(llvm::zip(opsA, opsB), [](auto pair) {
    return OperationEquivalence::isEquivalentTo(
        &std::get<0>(pair), &std::get<1>(pair),
        OperationEquivalence::IgnoreLocations);
  });
  SymbolTable::setSymbolName(kernelB, nameB);
  return same;
}

struct DedupKernelsPass
    : public mlir::attn::impl::DedupKernelsBase<DedupKernelsPass> {
  void runOnOperation() override {
    ModuleOp top = getOperation();
    // Each duplicate module's name -> the kept module's kernel.
    llvm::DenseMap<StringAttr, SymbolRefAttr> keptFor;
    llvm::DenseMap<llvm::hash_code, SmallVector<gpu::GPUModuleOp>> kept;
    SmallVector<gpu::GPUModuleOp> duplicates;
    for (auto module : top.getOps<gpu::GPUModuleOp>()) {
      if (!onlyKernel(module))
        continue;
      SmallVector<gpu::GPUModuleOp> &bucket = kept[shapeOf(module)];
      auto same = llvm::find_if(
          bucket, [&](gpu::GPUModuleOp k) { return sameCode(k, module); });
      if (same == bucket.end()) {
        bucket.push_back(module);
        continue;
      }
      keptFor[module.getSymNameAttr()] = SymbolRefAttr::get(
          same->getSymNameAttr(),
          {FlatSymbolRefAttr::get(onlyKernel(*same).getNameAttr())});
      duplicates.push_back(module);
    }
    top.walk([&](gpu::LaunchFuncOp launch) {
      auto it = keptFor.find(launch.getKernelModuleName());
      if (it != keptFor.end())
        launch.setKernelAttr(it->second);
    });
    for (gpu::GPUModuleOp module : duplicates)
      module.erase();
  }
};
} // namespace
