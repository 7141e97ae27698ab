//===- GenerateTrainStep.cpp - forward, backward and AdamW in one function
//-===//
//
//   f_grad(inputs, params, buffers) -> (loss, others..., buffers'...,
//                                       dparams...)
// becomes
//   f_train_step(inputs, params, buffers, m..., v..., step)
//     -> (loss, others..., grad_norm, lr, params' and buffers'..., m'...,
//         v'..., step')
// with step' = step + 1, lr = lr_schedule(step'), grad_norm the global norm
// of the gradients and (p', m', v') = adamw(p, dp, m, v, lr, step',
// grad_norm) for every parameter. Buffers (arguments with attn.buffer: state
// f updates itself, such as batch norms' running statistics) are f's
// results `buffer.<name>`, moved among the new state in argument order.
//
//===----------------------------------------------------------------------===//

#include "attn/IR/Collectives.h"
#include "attn/IR/Gradients.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::attn {
#define GEN_PASS_DEF_GENERATETRAINSTEP
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// The buffer whose updated value the forward's result `i` is (its
/// `attn.output` reads "buffer.<name>"); none for other results.
std::optional<StringRef> updatedBuffer(func::FuncOp fn, unsigned i) {
  auto output = fn.getResultAttrOfType<StringAttr>(i, "attn.output");
  if (!output || !output.getValue().starts_with("buffer."))
    return std::nullopt;
  return output.getValue().drop_front(StringRef("buffer.").size());
}

struct GenerateTrainStepPass
    : public mlir::attn::impl::GenerateTrainStepBase<GenerateTrainStepPass> {
  using Base::Base;

  // Options are checked when the pipeline starts, also for a module
  // without a gradient function, by the checks of the ops they become.
  LogicalResult initialize(MLIRContext *context) override {
    auto fail = [&](const Twine &problem) {
      return emitError(UnknownLoc::get(context))
             << "attn-generate-train-step: " << problem;
    };
    if (!symbolizeDecayKind(decay))
      return fail("decay '" + decay +
                  "' is not one of constant, linear, cosine");
    std::string problem =
        LrScheduleOp::checkParameters(lr, warmup, totalSteps, finalFraction);
    if (problem.empty())
      problem = AdamWOp::checkHyperparameters(beta1, beta2, epsilon,
                                              weightDecay, maxGradNorm, 1.0);
    if (!problem.empty())
      return fail(problem);
    if (exchangeBf16 && !dataParallel)
      return fail("exchange-bf16 is the data-parallel exchange's type: it "
                  "needs data-parallel");
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::optional<DecayKind> decayKind = symbolizeDecayKind(decay);
    SmallVector<func::FuncOp> gradients;
    for (auto fn : module.getOps<func::FuncOp>())
      if (fn->hasAttr("attn.gradient_of"))
        gradients.push_back(fn);
    SymbolTable symbols(module);
    for (func::FuncOp grad : gradients) {
      auto forward = symbols.lookup<func::FuncOp>(
          grad->getAttrOfType<FlatSymbolRefAttr>("attn.gradient_of")
              .getValue());
      if (!forward) {
        grad.emitOpError("is the gradient of a function that is gone");
        return signalPassFailure();
      }
      std::string name = (forward.getName() + "_train_step").str();
      if (symbols.lookup(name)) {
        grad.emitOpError() << "cannot get a training step: '@" << name
                           << "' exists already";
        return signalPassFailure();
      }
      if (forward.getNumArguments() != grad.getNumArguments()) {
        grad.emitOpError("differentiates a result that is not a loss (it "
                         "takes a cotangent): no training step for it");
        return signalPassFailure();
      }
      auto step = grad.clone();
      step.setName(name);
      step->removeAttr("attn.gradient_of");
      symbols.insert(step, std::next(Block::iterator(grad)));
      if (failed(build(step, forward.getNumResults(), *decayKind)))
        return signalPassFailure();
    }
  }

  /// Each gradient averaged over the ranks: a start right after the op that
  /// gives the gradient its final value, so that the backward's later work
  /// overlaps the exchange of its earlier gradients, and one wait at `b`.
  SmallVector<Value> averageOverRanks(ArrayRef<Value> grads, OpBuilder &b,
                                      Location loc) {
    SmallVector<Value> started;
    for (Value grad : grads) {
      OpBuilder::InsertionGuard guard(b);
      if (Operation *def = grad.getDefiningOp())
        b.setInsertionPointAfter(def);
      else
        b.setInsertionPointToStart(grad.getParentBlock());
      // In bf16 the exchange moves half the bytes; the average is widened
      // back to the gradient's type after the wait.
      Value sent = exchangeBf16
                       ? CastOp::castTo(b, grad.getLoc(), grad, b.getBF16Type())
                       : grad;
      started.push_back(
          AllReduceStartOp::create(b, grad.getLoc(), sent).getResult());
    }
    SmallVector<Value> averaged(
        AllReduceWaitOp::create(b, loc, started).getResults());
    for (auto [avg, grad] : llvm::zip(averaged, grads))
      avg = CastOp::castTo(
          b, loc, avg, cast<RankedTensorType>(grad.getType()).getElementType());
    return averaged;
  }

  LogicalResult build(func::FuncOp fn, unsigned numForwardResults,
                      DecayKind decayKind) {
    Block &body = fn.front();
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    OpBuilder b(ret);
    Location loc = ret.getLoc();
    MLIRContext *ctx = &getContext();

    SmallVector<BlockArgument> params;
    SmallVector<StringAttr> names;
    // The parameters and buffers in argument order: the new state's order.
    SmallVector<std::pair<StringAttr, bool>> model; // name, is a buffer
    for (BlockArgument arg : fn.getArguments()) {
      unsigned argNo = arg.getArgNumber();
      if (auto name = fn.getArgAttrOfType<StringAttr>(argNo, "attn.param")) {
        params.push_back(arg);
        names.push_back(name);
        model.push_back({name, false});
      } else if (auto buffer =
                     fn.getArgAttrOfType<StringAttr>(argNo, "attn.buffer")) {
        model.push_back({buffer, true});
      }
    }
    // Each buffer's new value: f's result `buffer.<name>`.
    llvm::StringMap<unsigned> bufferResults;
    for (unsigned i = 0; i < numForwardResults; ++i)
      if (std::optional<StringRef> buffer = updatedBuffer(fn, i))
        bufferResults[*buffer] = i;
    for (auto [name, isBuffer] : model) {
      if (!isBuffer)
        continue;
      if (!bufferResults.count(name.getValue()))
        return fn.emitOpError() << "has buffer '" << name.getValue()
                                << "' but no result 'buffer." << name.getValue()
                                << "' with its new value";
      if (dataParallel)
        return fn.emitOpError()
               << "has buffer '" << name.getValue()
               << "': data-parallel training of a model with buffers (batch "
                  "norms' running statistics) is not supported -- each rank "
                  "would update its own";
    }
    auto named = [&](StringRef key, const Twine &value) {
      return b.getDictionaryAttr(
          b.getNamedAttr(key, b.getStringAttr(value.str())));
    };
    for (auto [param, name] : llvm::zip(params, names)) {
      if (!cast<RankedTensorType>(param.getType()).getElementType().isF32())
        return fn.emitOpError() << "parameter '" << name.getValue()
                                << "' is not f32: AdamW keeps f32 master "
                                   "weights";
    }
    // The optimizer state after the existing arguments.
    auto appendArg = [&](Type type, DictionaryAttr attrs) -> Value {
      unsigned index = fn.getNumArguments();
      if (failed(fn.insertArgument(index, type, attrs, loc)))
        return {};
      return fn.getArgument(index);
    };
    SmallVector<Value> firstMoments, secondMoments;
    for (auto [param, name] : llvm::zip(params, names))
      firstMoments.push_back(appendArg(
          param.getType(), named("attn.state", "m." + name.getValue())));
    for (auto [param, name] : llvm::zip(params, names))
      secondMoments.push_back(appendArg(
          param.getType(), named("attn.state", "v." + name.getValue())));
    auto stepType = RankedTensorType::get({}, b.getI64Type());
    Value stepsTaken = appendArg(stepType, named("attn.state", "step"));

    // step' = step + 1
    AffineMap none = AffineMap::get(0, 0, {}, ctx);
    Value newStep =
        linalg::GenericOp::create(
            b, loc, TypeRange{stepType}, ValueRange{stepsTaken},
            ValueRange{tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{},
                                               b.getI64Type())},
            ArrayRef<AffineMap>{none, none}, ArrayRef<utils::IteratorType>{},
            [](OpBuilder &nb, Location l, ValueRange a) {
              Value one =
                  arith::ConstantOp::create(nb, l, nb.getI64IntegerAttr(1));
              linalg::YieldOp::create(
                  nb, l, ValueRange{arith::AddIOp::create(nb, l, a[0], one)});
            })
            .getResult(0);
    Value lr = LrScheduleOp::create(
        b, loc, newStep, b.getF64FloatAttr(this->lr),
        b.getI64IntegerAttr(warmup), b.getI64IntegerAttr(totalSteps),
        DecayKindAttr::get(ctx, decayKind), b.getF64FloatAttr(finalFraction));
    SmallVector<Value> grads(ret.getOperands().drop_front(numForwardResults));
    if (dataParallel)
      grads = averageOverRanks(grads, b, loc);
    Value norm = GlobalNormOp::create(b, loc, grads);

    SmallVector<Value> newParams, newFirst, newSecond;
    for (auto [i, param] : llvm::enumerate(params)) {
      // A parameter's own weight decay and rate scale, where it has them.
      double decay = weightDecay, scale = 1.0;
      unsigned argNo = param.getArgNumber();
      if (auto a = fn.getArgAttrOfType<FloatAttr>(argNo, kWeightDecayAttr))
        decay = a.getValueAsDouble();
      if (auto a = fn.getArgAttrOfType<FloatAttr>(argNo, kLrScaleAttr))
        scale = a.getValueAsDouble();
      auto update = AdamWOp::create(
          b, loc, param, grads[i], firstMoments[i], secondMoments[i], lr,
          newStep, norm, b.getF64FloatAttr(beta1), b.getF64FloatAttr(beta2),
          b.getF64FloatAttr(epsilon), b.getF64FloatAttr(decay),
          b.getF64FloatAttr(maxGradNorm), b.getF64FloatAttr(scale));
      newParams.push_back(update.getNewParam());
      newFirst.push_back(update.getNewFirstMoment());
      newSecond.push_back(update.getNewSecondMoment());
    }

    // f's results but its buffers', which join the state.
    SmallVector<Value> results;
    SmallVector<DictionaryAttr> attrs;
    for (unsigned i = 0; i < numForwardResults; ++i) {
      if (updatedBuffer(fn, i))
        continue;
      results.push_back(ret.getOperand(i));
      attrs.push_back(fn.getResultAttrDict(i) ? fn.getResultAttrDict(i)
                                              : b.getDictionaryAttr({}));
    }
    auto add = [&](Value v, const Twine &output) {
      results.push_back(v);
      attrs.push_back(named("attn.output", output));
    };
    add(norm, "grad_norm");
    add(lr, "lr");
    for (size_t next = 0; auto [name, isBuffer] : model) {
      if (isBuffer)
        add(ret.getOperand(bufferResults.lookup(name.getValue())),
            "buffer." + name.getValue());
      else
        add(newParams[next++], "param." + name.getValue());
    }
    for (auto [v, name] : llvm::zip(newFirst, names))
      add(v, "m." + name.getValue());
    for (auto [v, name] : llvm::zip(newSecond, names))
      add(v, "v." + name.getValue());
    add(newStep, "step");
    func::ReturnOp::create(b, loc, results);
    ret.erase();
    fn.setType(FunctionType::get(ctx, fn.getArgumentTypes(),
                                 ValueRange(results).getTypes()));
    fn.setAllResultAttrs(attrs);
    fn->setAttr(kOptimizerAttr, optimizerAttr(b, decayKind));
    return success();
  }

  /// The settings compiled into the step, by the options' flag names.
  DictionaryAttr optimizerAttr(Builder &b, DecayKind decayKind) {
    auto f64 = [&](double v) { return b.getF64FloatAttr(v); };
    return b.getDictionaryAttr({
        b.getNamedAttr("lr", f64(lr)),
        b.getNamedAttr("warmup", b.getI64IntegerAttr(warmup)),
        b.getNamedAttr("total-steps", b.getI64IntegerAttr(totalSteps)),
        b.getNamedAttr("decay", b.getStringAttr(stringifyDecayKind(decayKind))),
        b.getNamedAttr("final-lr", f64(finalFraction)),
        b.getNamedAttr("beta1", f64(beta1)),
        b.getNamedAttr("beta2", f64(beta2)),
        b.getNamedAttr("epsilon", f64(epsilon)),
        b.getNamedAttr("weight-decay", f64(weightDecay)),
        b.getNamedAttr("max-grad-norm", f64(maxGradNorm)),
    });
  }
};

} // namespace
