//===- GradientOps.cpp - verifiers of the encoder ops' gradient ops -------===//

#include "VerifyUtils.h"
#include "attn/IR/AttnOps.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::detail;

static Type elementTypeOf(Value v) {
  return cast<ShapedType>(v.getType()).getElementType();
}

LogicalResult EmbeddingGradOp::verify() {
  if (failed(verifyRank(*this, getIds(), 2, "ids", "[batch, seq]")) ||
      failed(verifyRank(*this, getGrad(), 3, "grad", "[batch, seq, width]")) ||
      failed(verifyRank(*this, getResult(), 2, "result", "[vocab, width]")))
    return failure();
  if (failed(verifyShape(
          *this, getGrad(),
          {dim(getIds(), 0), dim(getIds(), 1), dim(getResult(), 1)}, "grad")))
    return failure();
  return verifyElementType(*this, getResult(), elementTypeOf(getGrad()),
                           "result");
}

LogicalResult LayerNormGradOp::verify() {
  auto type = cast<RankedTensorType>(getInput().getType());
  if (type.getRank() < 1)
    return emitOpError("input must have rank at least 1");
  if (failed(verifyElementType(*this, getGamma(), type.getElementType(),
                               "gamma")) ||
      failed(verifyShape(*this, getGamma(), {type.getShape().back()}, "gamma")))
    return failure();
  return verifyEpsilon(*this, getEpsilon().convertToDouble());
}

LogicalResult BatchNormGradOp::verify() {
  return verifyBatchNorm(*this, getInput(), getGamma(), getLengths(),
                         getEpsilon().convertToDouble());
}

LogicalResult PoolGradOp::verify() {
  if (failed(verifyRank(*this, getGrad(), 2, "grad", "[batch, width]")) ||
      failed(
          verifyRank(*this, getResult(), 3, "result", "[batch, seq, width]")))
    return failure();
  if (failed(verifyShape(
          *this, getResult(),
          {dim(getGrad(), 0), ShapedType::kDynamic, dim(getGrad(), 1)},
          "result")) ||
      failed(verifyElementType(*this, getResult(), elementTypeOf(getGrad()),
                               "result")))
    return failure();
  return verifyPoolLengths(*this, getLengths(), getKind() == PoolKind::mean,
                           dim(getGrad(), 0));
}

LogicalResult CrossEntropyGradOp::verify() {
  if (failed(verifyRank(*this, getLogits(), 2, "logits", "[batch, classes]")))
    return failure();
  return verifyShape(*this, getLabels(), {dim(getLogits(), 0)}, "labels");
}
