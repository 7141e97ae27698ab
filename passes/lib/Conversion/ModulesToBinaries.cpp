//===- ModulesToBinaries.cpp - gpu.modules serialized at once -------------===//
//
// Docs in Passes.td. Upstream's gpu-module-to-binary serializes the modules
// one after the other; each serialization (TargetAttrInterface::
// serializeToObject) builds its own LLVM context, target machine, temporary
// files and ptxas process, and only reads its own module (NVVM's sets two
// timing attributes on it), so the modules can be serialized at once. The
// binaries replace the modules afterwards, on this thread.
//
//===----------------------------------------------------------------------===//

#include "attn/Conversion/Passes.h"

#include "mlir/Dialect/GPU/IR/CompilationInterfaces.h"
#include "mlir/IR/Threading.h"

#include "llvm/ADT/StringSwitch.h"

namespace mlir::attn {
#define GEN_PASS_DEF_MODULESTOBINARIES
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {

struct ModulesToBinariesPass
    : public mlir::attn::impl::ModulesToBinariesBase<ModulesToBinariesPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp top = getOperation();
    std::optional<gpu::CompilationTarget> compilationTarget =
        mlir::attn::binaryFormat(format);
    if (!compilationTarget) {
      top.emitError() << "attn-modules-to-binaries: unknown format '" << format
                      << "' (expected bin, isa, fatbin or llvm)";
      return signalPassFailure();
    }
    SmallVector<gpu::GPUModuleOp> modules =
        llvm::to_vector(top.getOps<gpu::GPUModuleOp>());
    for (gpu::GPUModuleOp module : modules)
      if (!module.getTargetsAttr() || module.getTargetsAttr().empty()) {
        module.emitError("the module has no target attributes "
                         "(gpu-nvvm-attach-target)");
        return signalPassFailure();
      }
    // Built before the threads start, for targets that look symbols up.
    SymbolTable table(top);
    auto symbols = [&]() -> SymbolTable * { return &table; };
    gpu::TargetOptions options(toolkit, /*librariesToLink=*/{}, cmdOptions,
                               /*elfSection=*/{}, *compilationTarget, symbols);

    // Each module's objects, one per target.
    SmallVector<SmallVector<Attribute>> objects(modules.size());
    LogicalResult serialized = failableParallelForEachN(
        &getContext(), 0, modules.size(), [&](size_t i) -> LogicalResult {
          gpu::GPUModuleOp module = modules[i];
          for (Attribute attr : module.getTargetsAttr()) {
            auto target = dyn_cast<gpu::TargetAttrInterface>(attr);
            if (!target)
              return module.emitError()
                     << "target " << attr << " cannot serialize a module";
            std::optional<SmallVector<char, 0>> object =
                target.serializeToObject(module, options);
            if (!object)
              return module.emitError("serializing the module failed");
            Attribute made = target.createObject(module, *object, options);
            if (!made)
              return module.emitError("making the module's object failed");
            objects[i].push_back(made);
          }
          return success();
        });
    if (failed(serialized))
      return signalPassFailure();

    for (auto [module, moduleObjects] : llvm::zip(modules, objects)) {
      OpBuilder b(module->getContext());
      b.setInsertionPointAfter(module);
      auto handler =
          dyn_cast_or_null<gpu::OffloadingLLVMTranslationAttrInterface>(
              module.getOffloadingHandlerAttr());
      gpu::BinaryOp::create(b, module.getLoc(), module.getName(), handler,
                            b.getArrayAttr(moduleObjects));
      module.erase();
    }
  }
};
} // namespace

std::optional<gpu::CompilationTarget> mlir::attn::binaryFormat(StringRef name) {
  // gpu-module-to-binary's short names for them.
  return llvm::StringSwitch<std::optional<gpu::CompilationTarget>>(name)
      .Case("llvm", gpu::CompilationTarget::Offload)
      .Case("isa", gpu::CompilationTarget::Assembly)
      .Case("bin", gpu::CompilationTarget::Binary)
      .Case("fatbin", gpu::CompilationTarget::Fatbin)
      .Default(std::nullopt);
}
