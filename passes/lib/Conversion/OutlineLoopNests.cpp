//===- OutlineLoopNests.cpp - a function per top-level loop nest ----------===//
//
// A lowered training step is one function of hundreds of loop nests in a
// row (every op of the forward, of the backward and of the optimizer), and
// LLVM's loop passes are not linear in the length of such a function:
// ScalarEvolution proves a loop's entry conditions by walking back through
// every block that dominates it (isBasicBlockEntryGuardedByCond), so each
// query in IndVarSimplify visits all the loops before it. On
// Hybrid-BERT-Mini's CPU training library the forward function alone
// (11,000 lines of LLVM IR) took 1.5 s of O3, the training step (50,000
// lines) 56 s; IndVarSimplify took 52 of the whole module's 62 s. Code
// generation behaves alike.
//
// So each top-level op of a function that holds a loop becomes a private
// function of its own, called where the op was: the per-function analyses
// see one loop nest at a time. The outlined functions are internal and
// noinline (LLVM's inliner would put a once-called internal function back).
// What the op reads from its function is passed in, except what can be
// made again inside at no cost: constants and every other pure,
// region-free op (memref views, index arithmetic) are cloned in, their own
// operands passed instead -- so loop bounds and shapes stay constants for
// the vectorizer, and a strided view needs no descriptor in the signature
// (the CPU pipeline passes memrefs as bare pointers: identity layouts
// only). An op whose arguments would still include such a memref is left
// where it is.
//
//===----------------------------------------------------------------------===//

#include "attn/Conversion/Passes.h"

#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/LoopLikeInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir::attn {
#define GEN_PASS_DEF_OUTLINELOOPNESTS
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {

/// Whether `op` holds a loop that stays in its function when lowered.
/// omp.parallel is outlined by the OpenMP translation already.
bool holdsLoop(Operation *op) {
  if (op->getNumRegions() == 0 || isa<omp::ParallelOp>(op))
    return false;
  if (isa<LoopLikeOpInterface>(op))
    return true;
  WalkResult found = op->walk([&](Operation *inner) {
    if (inner != op && isa<LoopLikeOpInterface>(inner) &&
        !inner->getParentOfType<omp::ParallelOp>())
      return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return found.wasInterrupted();
}

/// Whether a value of `type` can be an argument or a result of a function
/// lowered with bare pointers for memrefs.
bool passable(Type type) {
  auto memref = dyn_cast<MemRefType>(type);
  return !memref ||
         (memref.hasStaticShape() && memref.getLayout().isIdentity());
}

/// Ops defined outside `op` that are made again inside its function.
bool rematerializable(Operation *def) {
  return def && def->getNumRegions() == 0 && def->getNumResults() > 0 &&
         isPure(def);
}

/// What the outlined op needs from its function: `clones` (in an order
/// that defines every operand before its use) and `arguments`.
struct Captures {
  SetVector<Operation *> clones;
  SetVector<Value> arguments;
};

void capture(Value value, Captures &captures) {
  Operation *def = value.getDefiningOp();
  if (!rematerializable(def)) {
    captures.arguments.insert(value);
    return;
  }
  if (captures.clones.contains(def))
    return;
  for (Value operand : def->getOperands())
    capture(operand, captures);
  captures.clones.insert(def);
}

struct OutlineLoopNestsPass
    : public mlir::attn::impl::OutlineLoopNestsBase<OutlineLoopNestsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    SmallVector<func::FuncOp> functions(module.getOps<func::FuncOp>());
    for (func::FuncOp fn : functions) {
      if (fn.isExternal() || !fn.getBody().hasOneBlock())
        continue;
      SmallVector<Operation *> nests;
      for (Operation &op : fn.getBody().front())
        if (holdsLoop(&op))
          nests.push_back(&op);
      // One nest is the function already.
      if (nests.size() < 2)
        continue;
      // The new functions follow their parent, in the nests' order.
      Operation *after = fn;
      unsigned index = 0;
      for (Operation *nest : nests)
        outline(nest, fn, symbols, index, after);
    }
  }

  void outline(Operation *nest, func::FuncOp parent, SymbolTable &symbols,
               unsigned &index, Operation *&after) {
    Captures captures;
    for (Value operand : nest->getOperands())
      capture(operand, captures);
    SetVector<Value> above;
    getUsedValuesDefinedAbove(nest->getRegions(), above);
    for (Value value : above)
      capture(value, captures);
    if (!llvm::all_of(captures.arguments,
                      [](Value v) { return passable(v.getType()); }) ||
        !llvm::all_of(nest->getResultTypes(), passable))
      return;

    OpBuilder b(parent->getContext());
    b.setInsertionPointAfter(after);
    SmallVector<Type> argumentTypes;
    for (Value value : captures.arguments)
      argumentTypes.push_back(value.getType());
    auto type = b.getFunctionType(argumentTypes, nest->getResultTypes());
    auto fn = func::FuncOp::create(
        b, nest->getLoc(),
        (parent.getSymName() + "_loop_nest_" + Twine(index++)).str(), type);
    fn.setPrivate();
    // Internal: not exported from the library; noinline: see the header.
    fn->setAttr("llvm.linkage", LLVM::LinkageAttr::get(
                                    b.getContext(), LLVM::Linkage::Internal));
    fn->setAttr("passthrough", b.getArrayAttr({b.getStringAttr("noinline")}));
    symbols.insert(fn);
    after = fn;

    Block *entry = fn.addEntryBlock();
    b.setInsertionPointToStart(entry);
    IRMapping mapping;
    for (auto [value, argument] :
         llvm::zip_equal(captures.arguments, entry->getArguments()))
      mapping.map(value, argument);
    for (Operation *def : captures.clones)
      b.clone(*def, mapping);
    Operation *inner = b.clone(*nest, mapping);
    func::ReturnOp::create(b, nest->getLoc(), inner->getResults());

    b.setInsertionPoint(nest);
    auto call = func::CallOp::create(b, nest->getLoc(), fn,
                                     captures.arguments.getArrayRef());
    nest->replaceAllUsesWith(call.getResults());
    nest->erase();
  }
};

} // namespace
