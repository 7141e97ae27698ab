//===- GenerateBackward.cpp - reverse mode over the Differentiable interface
//
// For f(inputs, params) -> (loss, others...), builds
//   f_grad(inputs, params[, loss cotangent]) -> (loss, others..., dparams...)
// by walking f's ops backwards from the loss. Activity analysis keeps the
// walk to the ops between the parameters and the loss: a value is varied
// when it depends on a parameter, useful when the loss depends on it, and
// only values that are both (and are float tensors) get cotangents.
//
//===----------------------------------------------------------------------===//

#include "attn/IR/Gradients.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir::attn {
#define GEN_PASS_DEF_GENERATEBACKWARD
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

bool isFloatTensor(Type type) {
  auto t = dyn_cast<RankedTensorType>(type);
  return t && isa<FloatType>(t.getElementType());
}

bool hasParams(func::FuncOp fn) {
  for (unsigned i = 0; i < fn.getNumArguments(); ++i)
    if (fn.getArgAttr(i, "attn.param"))
      return true;
  return false;
}

/// The values an op reads: its operands and what its regions use from
/// above.
SetVector<Value> valuesRead(Operation *op) {
  SetVector<Value> read(op->getOperands().begin(), op->getOperands().end());
  if (op->getNumRegions())
    getUsedValuesDefinedAbove(op->getRegions(), read);
  return read;
}

class Differentiator {
public:
  Differentiator(func::FuncOp fn) : fn(fn) {}

  LogicalResult run() {
    Block &body = fn.front();
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    SmallVector<Operation *> ops;
    for (Operation &op : body.without_terminator())
      ops.push_back(&op);
    analyseActivity(ops, ret.getOperand(0));

    OpBuilder b(ret);
    Location loc = ret.getLoc();
    Value loss = ret.getOperand(0);
    auto lossType = cast<RankedTensorType>(loss.getType());
    Value seed;
    if (lossType.getRank() == 0) {
      // A fill of ones (a memset on the GPU) rather than a constant table.
      seed = buildFilled(b, loc, lossType, 1.0);
    } else {
      // The cotangent of a non-scalar result is the caller's.
      unsigned index = fn.getNumArguments();
      std::string name = "grad.result";
      if (auto output = fn.getResultAttrOfType<StringAttr>(0, "attn.output"))
        name = ("grad." + output.getValue()).str();
      if (failed(fn.insertArgument(index, lossType,
                                   b.getDictionaryAttr(b.getNamedAttr(
                                       "attn.input", b.getStringAttr(name))),
                                   loc)))
        return failure();
      seed = fn.getArgument(index);
    }
    if (active(loss))
      cotangents[loss] = seed;

    for (Operation *op : llvm::reverse(ops))
      if (failed(pullBack(b, op)))
        return failure();

    SmallVector<Value> results(ret.getOperands());
    SmallVector<DictionaryAttr> resultAttrs;
    for (unsigned i = 0; i < fn.getNumResults(); ++i)
      resultAttrs.push_back(fn.getResultAttrDict(i) ? fn.getResultAttrDict(i)
                                                    : b.getDictionaryAttr({}));
    for (BlockArgument arg : fn.getArguments()) {
      auto param =
          fn.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "attn.param");
      if (!param)
        continue;
      if (!isFloatTensor(arg.getType()))
        return fn.emitOpError() << "parameter '" << param.getValue()
                                << "' is not a float tensor";
      // A parameter the loss does not depend on has a zero gradient.
      Value grad = cotangents.lookup(arg);
      if (!grad)
        grad = buildZeros(b, loc, cast<RankedTensorType>(arg.getType()));
      results.push_back(grad);
      resultAttrs.push_back(b.getDictionaryAttr(b.getNamedAttr(
          "attn.output", b.getStringAttr("grad." + param.getValue()))));
    }
    func::ReturnOp::create(b, loc, results);
    ret.erase();
    fn.setType(FunctionType::get(fn.getContext(), fn.getArgumentTypes(),
                                 ValueRange(results).getTypes()));
    fn.setAllResultAttrs(resultAttrs);
    return success();
  }

private:
  void analyseActivity(ArrayRef<Operation *> ops, Value loss) {
    for (BlockArgument arg : fn.getArguments())
      if (fn.getArgAttr(arg.getArgNumber(), "attn.param"))
        varied.insert(arg);
    for (Operation *op : ops)
      if (llvm::any_of(valuesRead(op),
                       [&](Value v) { return varied.contains(v); }))
        varied.insert(op->getResults().begin(), op->getResults().end());
    useful.insert(loss);
    for (Operation *op : llvm::reverse(ops))
      if (llvm::any_of(op->getResults(),
                       [&](Value v) { return useful.contains(v); }))
        for (Value v : valuesRead(op))
          useful.insert(v);
  }

  bool active(Value v) const {
    return varied.contains(v) && useful.contains(v) &&
           isFloatTensor(v.getType());
  }

  /// Adds the cotangents of `op`'s operands, given those of its results.
  LogicalResult pullBack(OpBuilder &b, Operation *op) {
    SmallVector<Value> resultGrads;
    bool any = false;
    for (Value r : op->getResults()) {
      resultGrads.push_back(cotangents.lookup(r));
      any |= bool(resultGrads.back());
    }
    if (!any)
      return success();
    SmallVector<bool> wanted;
    for (Value v : op->getOperands())
      wanted.push_back(active(v));
    bool readsAboveActive = false;
    if (op->getNumRegions()) {
      SetVector<Value> above;
      getUsedValuesDefinedAbove(op->getRegions(), above);
      readsAboveActive =
          llvm::any_of(above, [&](Value v) { return active(v); });
    }
    auto differentiable = dyn_cast<Differentiable>(op);
    if (!differentiable || readsAboveActive)
      return op->emitOpError()
             << "has no vector-Jacobian product: attn-generate-backward "
                "cannot differentiate the path from the parameters to the "
                "loss through it";
    if (llvm::none_of(wanted, [](bool w) { return w; }))
      return success();
    SmallVector<Value> operandGrads;
    if (failed(differentiable.buildVjp(b, resultGrads, wanted, operandGrads)))
      return failure();
    if (operandGrads.size() != op->getNumOperands())
      return op->emitOpError()
             << "buildVjp gave " << operandGrads.size() << " cotangents for "
             << op->getNumOperands() << " operands";
    for (auto [i, operand] : llvm::enumerate(op->getOperands())) {
      if (!wanted[i])
        continue;
      Value grad = operandGrads[i];
      if (!grad)
        return op->emitOpError() << "gives no cotangent for operand #" << i
                                 << ", which depends on a parameter";
      if (grad.getType() != operand.getType())
        return op->emitOpError()
               << "buildVjp gave a cotangent of type " << grad.getType()
               << " for operand #" << i << " of type " << operand.getType();
      Value &slot = cotangents[operand];
      slot = slot ? buildAdd(b, op->getLoc(), slot, grad) : grad;
    }
    return success();
  }

  func::FuncOp fn;
  DenseSet<Value> varied, useful;
  DenseMap<Value, Value> cotangents;
};

struct GenerateBackwardPass
    : public mlir::attn::impl::GenerateBackwardBase<GenerateBackwardPass> {
  using Base::Base;

  void getDependentDialects(DialectRegistry &registry) const override {
    Base::getDependentDialects(registry);
    registerVjpExternalModels(registry);
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> targets;
    if (!function.empty()) {
      auto fn = module.lookupSymbol<func::FuncOp>(function);
      if (!fn) {
        emitError(module.getLoc())
            << "attn-generate-backward: no function named '" << function << "'";
        return signalPassFailure();
      }
      if (fn.isExternal() || fn.getNumResults() == 0 ||
          !isFloatTensor(fn.getResultTypes()[0]) || !hasParams(fn)) {
        fn.emitOpError() << "cannot be differentiated: it needs a body, a "
                            "float tensor as its first result and "
                            "parameters (arguments with attn.param)";
        return signalPassFailure();
      }
      targets.push_back(fn);
    } else {
      for (auto fn : module.getOps<func::FuncOp>()) {
        if (!fn.isPrivate() && !fn.isExternal() && fn.getNumResults() > 0 &&
            isFloatTensor(fn.getResultTypes()[0]) && hasParams(fn))
          targets.push_back(fn);
      }
    }

    SymbolTable symbols(module);
    for (func::FuncOp fn : targets) {
      std::string name = (fn.getName() + "_grad").str();
      if (symbols.lookup(name)) {
        fn.emitOpError() << "cannot get a gradient function: '@" << name
                         << "' exists already";
        return signalPassFailure();
      }
      if (!fn.getBody().hasOneBlock()) {
        fn.emitOpError("reverse mode needs a function of one block");
        return signalPassFailure();
      }
      auto grad = fn.clone();
      grad.setName(name);
      // attn-generate-train-step finds gradient functions by this.
      grad->setAttr("attn.gradient_of", FlatSymbolRefAttr::get(fn));
      symbols.insert(grad, std::next(Block::iterator(fn)));
      if (failed(Differentiator(grad).run()))
        return signalPassFailure();
    }
  }
};

} // namespace
