//===- DedupKernels.cpp - one module per distinct outlined kernel ---------===//
//
// Docs in Passes.td. Candidates are bucketed by a hash of their modules' op
// names and types in walk order; within a bucket, each is compared with the
// first module of each set by a walk of both in step (locations ignored,
// the kernel's symbol name made equal for the comparison) that lets scalar
// constants differ. A set whose kernels differ in some constants keeps one
// kernel with those constants as arguments, which each launch passes.
//
//===----------------------------------------------------------------------===//

#include "attn/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/IRMapping.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/MapVector.h"

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

/// What the modules of one set share: op names and result types, in walk
/// order (a constant's value is not part of it).
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

/// A constant whose value kernels of one set may differ in: an integer of
/// more than one bit or a float, not an index. Indices (shapes, strides,
/// loop bounds, offsets) and booleans decide the kernel's structure and
/// what LLVM can fold, so kernels that differ in them stay apart; the
/// others are data to the kernel -- a dropout's stream, a scale -- and
/// cost one kernel argument where they differ.
bool isDataConstant(Operation *op) {
  auto constant = dyn_cast<arith::ConstantOp>(op);
  if (!constant)
    return false;
  Type type = constant.getType();
  if (auto integer = dyn_cast<IntegerType>(type))
    return integer.getWidth() > 1;
  return isa<FloatType>(type);
}

/// Compares two modules' code in step. `kept`'s data constants map to the
/// other module's values of them.
class SameCode {
public:
  llvm::MapVector<Operation *, TypedAttr> constants;

  bool regions(Region &a, Region &b) {
    if (a.getBlocks().size() != b.getBlocks().size())
      return false;
    // Successors may name later blocks: every block is mapped first.
    for (auto [x, y] : llvm::zip(a, b)) {
      if (x.getArgumentTypes() != y.getArgumentTypes())
        return false;
      map.map(&x, &y);
      map.map(x.getArguments(), y.getArguments());
    }
    for (auto [x, y] : llvm::zip(a, b)) {
      if (x.getOperations().size() != y.getOperations().size())
        return false;
      for (auto [p, q] : llvm::zip(x, y))
        if (!ops(&p, &q))
          return false;
    }
    return true;
  }

private:
  IRMapping map;

  bool ops(Operation *a, Operation *b) {
    if (a->getName() != b->getName() ||
        a->getNumOperands() != b->getNumOperands() ||
        a->getResultTypes() != b->getResultTypes() ||
        a->getNumRegions() != b->getNumRegions() ||
        a->getNumSuccessors() != b->getNumSuccessors())
      return false;
    if (isDataConstant(a)) {
      constants[a] = cast<arith::ConstantOp>(b).getValue();
    } else if (a->getRawDictionaryAttrs() != b->getRawDictionaryAttrs() ||
               !a->getName().compareOpProperties(a->getPropertiesStorage(),
                                                 b->getPropertiesStorage())) {
      return false;
    }
    for (auto [x, y] : llvm::zip(a->getOperands(), b->getOperands()))
      if (map.lookupOrNull(x) != y)
        return false;
    for (auto [x, y] : llvm::zip(a->getSuccessors(), b->getSuccessors()))
      if (map.lookupOrNull(x) != y)
        return false;
    map.map(a->getResults(), b->getResults());
    for (auto [x, y] : llvm::zip(a->getRegions(), b->getRegions()))
      if (!regions(x, y))
        return false;
    return true;
  }
};

/// `module`'s data constants by `kept`'s constant ops where the two hold
/// the same code but for those values, else nothing.
std::optional<llvm::MapVector<Operation *, TypedAttr>>
sameCode(gpu::GPUModuleOp kept, gpu::GPUModuleOp module) {
  // Modules compiled for other targets (or by another handler) differ.
  if (kept.getTargetsAttr() != module.getTargetsAttr() ||
      kept.getOffloadingHandlerAttr() != module.getOffloadingHandlerAttr())
    return std::nullopt;
  gpu::GPUFuncOp kernel = onlyKernel(module);
  StringAttr name = kernel.getNameAttr();
  SymbolTable::setSymbolName(kernel, onlyKernel(kept).getNameAttr());
  SameCode same;
  bool equal = same.regions(kept.getBodyRegion(), module.getBodyRegion());
  SymbolTable::setSymbolName(kernel, name);
  if (!equal)
    return std::nullopt;
  // Only the kernel takes arguments: a constant that differs elsewhere in
  // the module (a function the kernel calls) keeps the modules apart.
  gpu::GPUFuncOp keptKernel = onlyKernel(kept);
  for (auto &[op, value] : same.constants)
    if (cast<arith::ConstantOp>(op).getValue() != value &&
        op->getParentOfType<gpu::GPUFuncOp>() != keptKernel)
      return std::nullopt;
  return std::move(same.constants);
}

/// Modules holding the same code but for data constants: the first is
/// kept; each other's constants by the first's constant ops.
struct CodeSet {
  gpu::GPUModuleOp kept;
  SmallVector<
      std::pair<gpu::GPUModuleOp, llvm::MapVector<Operation *, TypedAttr>>>
      others;
};

struct DedupKernelsPass
    : public mlir::attn::impl::DedupKernelsBase<DedupKernelsPass> {
  void runOnOperation() override {
    ModuleOp top = getOperation();
    SmallVector<CodeSet> sets;
    // The sets whose modules have each shape (shapeOf).
    llvm::DenseMap<llvm::hash_code, SmallVector<size_t>> setsOfShape;
    for (auto module : top.getOps<gpu::GPUModuleOp>()) {
      if (!onlyKernel(module))
        continue;
      SmallVector<size_t> &candidates = setsOfShape[shapeOf(module)];
      bool placed = false;
      for (size_t set : candidates) {
        if (auto constants = sameCode(sets[set].kept, module)) {
          sets[set].others.emplace_back(module, std::move(*constants));
          placed = true;
          break;
        }
      }
      if (!placed) {
        candidates.push_back(sets.size());
        sets.push_back({module, {}});
      }
    }

    // Each module's launches, by the module's name.
    llvm::DenseMap<StringAttr, SmallVector<gpu::LaunchFuncOp>> launches;
    top.walk([&](gpu::LaunchFuncOp launch) {
      launches[launch.getKernelModuleName()].push_back(launch);
    });
    for (CodeSet &set : sets) {
      if (set.others.empty())
        continue;
      // The kept kernel's constants that some other kernel of the set
      // differs in, in walk order: its new arguments, in that order.
      SmallVector<arith::ConstantOp> differing;
      set.kept.walk([&](arith::ConstantOp c) {
        if (llvm::any_of(set.others, [&](auto &other) {
              auto it = other.second.find(c.getOperation());
              return it != other.second.end() && it->second != c.getValue();
            }))
          differing.push_back(c);
      });
      gpu::GPUFuncOp kernel = onlyKernel(set.kept);
      auto target =
          SymbolRefAttr::get(set.kept.getSymNameAttr(),
                             {FlatSymbolRefAttr::get(kernel.getNameAttr())});
      auto point = [&](gpu::GPUModuleOp module, auto valueOf) {
        for (gpu::LaunchFuncOp launch :
             launches.lookup(module.getSymNameAttr())) {
          OpBuilder b(launch);
          for (arith::ConstantOp c : differing)
            launch.getKernelOperandsMutable().append(
                arith::ConstantOp::create(b, launch.getLoc(), valueOf(c))
                    .getResult());
          launch.setKernelAttr(target);
        }
      };
      point(set.kept, [](arith::ConstantOp c) { return c.getValue(); });
      for (auto &other : set.others)
        point(other.first, [&](arith::ConstantOp c) {
          return other.second.lookup(c.getOperation());
        });
      for (arith::ConstantOp c : differing) {
        unsigned index = kernel.getNumArguments();
        if (failed(kernel.insertArgument(index, c.getType(), {}, c.getLoc())))
          return signalPassFailure();
        c.replaceAllUsesWith(kernel.getArgument(index));
        c.erase();
      }
      for (auto &other : set.others)
        other.first.erase();
    }
  }
};
} // namespace
