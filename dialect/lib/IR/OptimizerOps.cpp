//===- OptimizerOps.cpp - verifiers of the optimizer ops ------------------===//

#include "attn/IR/AttnOps.h"

#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn;

std::string LrScheduleOp::checkParameters(double peak, int64_t warmup,
                                          int64_t total, double final) {
  std::string message;
  llvm::raw_string_ostream os(message);
  if (!(peak > 0 && std::isfinite(peak)))
    os << "peak learning rate must be positive and finite, got " << peak;
  else if (warmup < 0)
    os << "warmup must be non-negative, got " << warmup;
  else if (total < warmup)
    os << "total steps (" << total << ") must be at least the warmup ("
       << warmup << ")";
  else if (!(final >= 0 && final <= 1))
    os << "final fraction must be in [0, 1], got " << final;
  return message;
}

LogicalResult LrScheduleOp::verify() {
  std::string problem =
      checkParameters(getPeak().convertToDouble(), getWarmup(), getTotal(),
                      getFinal().convertToDouble());
  if (!problem.empty())
    return emitOpError() << problem;
  return success();
}

LogicalResult GlobalNormOp::verify() {
  if (getInputs().empty())
    return emitOpError("needs at least one tensor");
  return success();
}

std::string AdamWOp::checkHyperparameters(double beta1, double beta2,
                                          double epsilon, double weightDecay,
                                          double maxNorm, double lrScale) {
  std::string message;
  llvm::raw_string_ostream os(message);
  auto inUnit = [](double x) { return x >= 0 && x < 1; };
  if (!inUnit(beta1) || !inUnit(beta2))
    os << "betas must be in [0, 1), got " << beta1 << " and " << beta2;
  else if (!(epsilon > 0 && std::isfinite(epsilon)))
    os << "epsilon must be positive, got " << epsilon;
  else if (!(lrScale >= 0 && std::isfinite(lrScale)))
    os << "lr_scale must be non-negative, got " << lrScale;
  else if (!(weightDecay >= 0 && std::isfinite(weightDecay)))
    os << "weight decay must be non-negative, got " << weightDecay;
  else if (!(maxNorm >= 0 && std::isfinite(maxNorm)))
    os << "max_norm must be non-negative (0: no clipping), got " << maxNorm;
  return message;
}

LogicalResult AdamWOp::verify() {
  std::string problem = checkHyperparameters(
      getBeta1().convertToDouble(), getBeta2().convertToDouble(),
      getEpsilon().convertToDouble(), getWeightDecay().convertToDouble(),
      getMaxNorm().convertToDouble(), getLrScale().convertToDouble());
  if (!problem.empty())
    return emitOpError() << problem;
  if (!cast<ShapedType>(getParam().getType()).getElementType().isF32())
    return emitOpError("updates f32 parameters (master weights are f32)");
  return success();
}
