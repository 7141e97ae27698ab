//===- JoinKernelModules.cpp - one gpu.module for a library's kernels ----===//
//
// Docs in Passes.td. Modules are joined into the first of their group (the
// same targets and offloading handler) in the order they appear; a symbol
// of a joined module that the kept one already has is either the same op
// (a constant two kernels both read, copied into each module by the
// outlining, or a declaration of the same intrinsic: the copy is dropped)
// or another one (renamed first, its uses in its own module with it).
// Launches are repointed by the moved symbols' references, so the pass
// works on gpu.func kernels as on the llvm.func ones of converted modules.
// The kept module is then named `kernels` (`kernels_<n>` for a second
// group).
//
//===----------------------------------------------------------------------===//

#include "attn/Conversion/Passes.h"

#include "mlir/IR/SymbolTable.h"

namespace mlir::attn {
#define GEN_PASS_DEF_JOINKERNELMODULES
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {

/// A name of the form `base_<n>` that neither table has.
StringAttr freshName(StringAttr base, SymbolTable &a, SymbolTable &b) {
  MLIRContext *ctx = base.getContext();
  for (unsigned n = 0;; ++n) {
    auto name = StringAttr::get(ctx, base.getValue() + "_" + Twine(n));
    if (!a.lookup(name) && !b.lookup(name))
      return name;
  }
}

/// `@module::@symbol`.
SymbolRefAttr reference(gpu::GPUModuleOp module, StringAttr symbol) {
  return SymbolRefAttr::get(module.getSymNameAttr(),
                            {FlatSymbolRefAttr::get(symbol)});
}

/// What a group of joined modules shares.
struct GroupKey {
  Attribute targets, handler;
  bool operator==(const GroupKey &o) const {
    return targets == o.targets && handler == o.handler;
  }
};

struct JoinKernelModulesPass
    : public mlir::attn::impl::JoinKernelModulesBase<JoinKernelModulesPass> {
  void runOnOperation() override {
    ModuleOp top = getOperation();
    SymbolTable topTable(top);
    // Each group's kept module with its symbol table, in program order.
    SmallVector<std::pair<GroupKey, gpu::GPUModuleOp>> kept;
    llvm::DenseMap<Operation *, std::unique_ptr<SymbolTable>> tables;
    // A moved symbol's old reference -> its new one (what launches name).
    llvm::DenseMap<SymbolRefAttr, SymbolRefAttr> moved;

    for (auto module :
         llvm::make_early_inc_range(top.getOps<gpu::GPUModuleOp>())) {
      GroupKey key{module.getTargetsAttr(), module.getOffloadingHandlerAttr()};
      auto group = llvm::find_if(kept, [&](auto &k) { return k.first == key; });
      if (group == kept.end()) {
        kept.push_back({key, module});
        tables[module] = std::make_unique<SymbolTable>(module);
        continue;
      }
      gpu::GPUModuleOp into = group->second;
      SymbolTable &intoTable = *tables[into];
      SymbolTable fromTable(module);
      Block *dest = into.getBody();
      for (Operation &op :
           llvm::make_early_inc_range(module.getBody()->without_terminator())) {
        auto symbol = dyn_cast<SymbolOpInterface>(op);
        StringAttr oldName = symbol ? symbol.getNameAttr() : StringAttr();
        if (symbol) {
          if (Operation *existing = intoTable.lookup(oldName)) {
            if (OperationEquivalence::isEquivalentTo(
                    existing, &op, OperationEquivalence::IgnoreLocations)) {
              // Uses in `module` name the kept op once moved.
              op.erase();
              moved[reference(module, oldName)] = reference(into, oldName);
              continue;
            }
            // Another op of the same name: renamed with its uses.
            if (failed(fromTable.rename(
                    &op, freshName(oldName, intoTable, fromTable)))) {
              op.emitError("cannot rename this symbol to join its module");
              return signalPassFailure();
            }
          }
        }
        op.moveBefore(dest, dest->without_terminator().end());
        if (!symbol)
          continue;
        intoTable.insert(&op);
        moved[reference(module, oldName)] =
            reference(into, symbol.getNameAttr());
      }
      topTable.erase(module);
    }

    top.walk([&](gpu::LaunchFuncOp launch) {
      if (auto it = moved.find(launch.getKernelAttr()); it != moved.end())
        launch.setKernelAttr(it->second);
    });
    // Each kept module named for what it now holds (its launches renamed
    // with it).
    for (auto &entry : kept) {
      gpu::GPUModuleOp module = entry.second;
      auto name = StringAttr::get(&getContext(), "kernels");
      if (module.getSymNameAttr() == name)
        continue;
      if (topTable.lookup(name))
        name = freshName(name, topTable, topTable);
      if (failed(topTable.rename(module, name))) {
        module.emitError("cannot rename the joined kernel module");
        return signalPassFailure();
      }
    }
  }
};
} // namespace
