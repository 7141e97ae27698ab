//===- OptimizerOps.cpp - verifiers of the optimizer ops ------------------===//

#include "attn/IR/AttnOps.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn;

LogicalResult LrScheduleOp::verify() {
  double peak = getPeak().convertToDouble();
  if (!(peak > 0 && std::isfinite(peak)))
    return emitOpError() << "peak learning rate must be positive and finite, "
                            "got "
                         << peak;
  if (getWarmup() < 0)
    return emitOpError() << "warmup must be non-negative, got " << getWarmup();
  if (getTotal() < getWarmup())
    return emitOpError() << "total steps (" << getTotal()
                         << ") must be at least the warmup (" << getWarmup()
                         << ")";
  double final = getFinal().convertToDouble();
  if (!(final >= 0 && final <= 1))
    return emitOpError() << "final fraction must be in [0, 1], got " << final;
  return success();
}

LogicalResult GlobalNormOp::verify() {
  if (getInputs().empty())
    return emitOpError("needs at least one tensor");
  return success();
}

LogicalResult AdamWOp::verify() {
  auto inUnit = [](double x) { return x >= 0 && x < 1; };
  double beta1 = getBeta1().convertToDouble(),
         beta2 = getBeta2().convertToDouble();
  if (!inUnit(beta1) || !inUnit(beta2))
    return emitOpError() << "betas must be in [0, 1), got " << beta1 << " and "
                         << beta2;
  double eps = getEpsilon().convertToDouble();
  if (!(eps > 0 && std::isfinite(eps)))
    return emitOpError() << "epsilon must be positive, got " << eps;
  double scale = getLrScale().convertToDouble();
  if (!(scale >= 0 && std::isfinite(scale)))
    return emitOpError() << "lr_scale must be non-negative, got " << scale;
  double decay = getWeightDecay().convertToDouble();
  if (!(decay >= 0 && std::isfinite(decay)))
    return emitOpError() << "weight decay must be non-negative, got " << decay;
  double maxNorm = getMaxNorm().convertToDouble();
  if (!(maxNorm >= 0 && std::isfinite(maxNorm)))
    return emitOpError() << "max_norm must be non-negative (0: no clipping), "
                            "got "
                         << maxNorm;
  if (!cast<ShapedType>(getParam().getType()).getElementType().isF32())
    return emitOpError("updates f32 parameters (master weights are f32)");
  return success();
}
