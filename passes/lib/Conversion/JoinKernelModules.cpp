//===- JoinKernelModules.cpp - a few gpu.modules for a library's kernels -===//
//
// Docs in Passes.td. A group's modules (the same targets and offloading
// handler) are dealt into parts, each joined into its first module in the
// order they appear; a symbol of a joined module that the kept one already
// has is either the same op (a constant two kernels both read, copied into
// each module by the outlining, or a declaration of the same intrinsic:
// the copy is dropped) or another one (renamed first, its uses in its own
// module with it). Launches are repointed by the moved symbols'
// references, so the pass works on gpu.func kernels as on the llvm.func
// ones of converted modules. The kept modules are then named `kernels`,
// `kernels_<n>`.
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

/// The ops a module holds: what its translation, optimisation and ptxas
/// take time in proportion to, roughly.
size_t sizeOf(gpu::GPUModuleOp module) {
  size_t ops = 0;
  module.walk([&](Operation *) { ++ops; });
  return ops;
}

struct JoinKernelModulesPass
    : public mlir::attn::impl::JoinKernelModulesBase<JoinKernelModulesPass> {
  using Base::Base;

  void runOnOperation() override {
    if (parts < 1) {
      getOperation().emitError("attn-join-kernel-modules: parts must be at "
                               "least 1");
      return signalPassFailure();
    }
    ModuleOp top = getOperation();
    SymbolTable topTable(top);

    // Each group's modules, in program order.
    SmallVector<std::pair<GroupKey, SmallVector<gpu::GPUModuleOp>>> groups;
    for (auto module : top.getOps<gpu::GPUModuleOp>()) {
      GroupKey key{module.getTargetsAttr(), module.getOffloadingHandlerAttr()};
      auto group =
          llvm::find_if(groups, [&](auto &g) { return g.first == key; });
      if (group == groups.end())
        groups.push_back({key, {module}});
      else
        group->second.push_back(module);
    }

    // A moved symbol's old reference -> its new one (what launches name).
    llvm::DenseMap<SymbolRefAttr, SymbolRefAttr> moved;
    SmallVector<gpu::GPUModuleOp> kept;
    for (auto &group : groups) {
      for (SmallVector<gpu::GPUModuleOp> &part : deal(group.second)) {
        kept.push_back(part.front());
        if (failed(join(part, topTable, moved)))
          return signalPassFailure();
      }
    }

    top.walk([&](gpu::LaunchFuncOp launch) {
      if (auto it = moved.find(launch.getKernelAttr()); it != moved.end())
        launch.setKernelAttr(it->second);
    });
    // Each kept module named for what it now holds (its launches renamed
    // with it).
    for (gpu::GPUModuleOp module : kept) {
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

private:
  /// `modules` dealt into at most `parts` parts of about the same size, the
  /// largest first, each to the smallest part so far (the first on ties);
  /// the parts and each part's modules in program order.
  SmallVector<SmallVector<gpu::GPUModuleOp>>
  deal(ArrayRef<gpu::GPUModuleOp> modules) {
    size_t count = std::min<size_t>(parts, modules.size());
    SmallVector<size_t> sizes = llvm::map_to_vector(modules, sizeOf);
    SmallVector<size_t> bySize =
        llvm::to_vector(llvm::seq<size_t>(0, modules.size()));
    llvm::stable_sort(bySize,
                      [&](size_t a, size_t b) { return sizes[a] > sizes[b]; });
    SmallVector<size_t> load(count, 0);
    SmallVector<size_t> partOf(modules.size());
    for (size_t m : bySize) {
      size_t p = std::min_element(load.begin(), load.end()) - load.begin();
      partOf[m] = p;
      load[p] += sizes[m];
    }
    SmallVector<SmallVector<gpu::GPUModuleOp>> dealt(count);
    for (auto [m, module] : llvm::enumerate(modules))
      dealt[partOf[m]].push_back(module);
    // The parts in the order of their first modules: the program's first
    // kernel is in `kernels`.
    llvm::stable_sort(dealt, [&](auto &a, auto &b) {
      return a.front()->isBeforeInBlock(b.front());
    });
    return dealt;
  }

  /// Moves every module of `part` after the first into the first.
  LogicalResult join(ArrayRef<gpu::GPUModuleOp> part, SymbolTable &topTable,
                     llvm::DenseMap<SymbolRefAttr, SymbolRefAttr> &moved) {
    gpu::GPUModuleOp into = part.front();
    SymbolTable intoTable(into);
    Block *dest = into.getBody();
    for (gpu::GPUModuleOp module : part.drop_front()) {
      SymbolTable fromTable(module);
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
                    &op, freshName(oldName, intoTable, fromTable))))
              return op.emitError("cannot rename this symbol to join its "
                                  "module");
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
    return success();
  }
};
} // namespace
