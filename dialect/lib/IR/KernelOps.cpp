//===- KernelOps.cpp - attention kernels and encoder pieces: verifiers ---===//

#include "VerifyUtils.h"
#include "attn/IR/AttnOps.h"
#include "attn/IR/ScoreMod.h"

#include "llvm/Support/raw_ostream.h"
#include <cmath>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::detail;

std::string mlir::attn::detail::formatShape(ArrayRef<int64_t> shape) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "[";
  llvm::interleaveComma(shape, os, [&](int64_t d) {
    if (ShapedType::isDynamic(d))
      os << "?";
    else
      os << d;
  });
  os << "]";
  return s;
}

LogicalResult mlir::attn::detail::verifyRank(Operation *op, Value value,
                                             int64_t rank, StringRef role,
                                             StringRef layout) {
  auto type = cast<RankedTensorType>(value.getType());
  if (type.getRank() != rank)
    return op->emitOpError()
           << role << " must have rank " << rank << " " << layout
           << ", got shape " << formatShape(type.getShape());
  return success();
}

LogicalResult mlir::attn::detail::verifyShape(Operation *op, Value value,
                                              ArrayRef<int64_t> expected,
                                              StringRef role) {
  auto type = cast<RankedTensorType>(value.getType());
  bool ok = type.getRank() == static_cast<int64_t>(expected.size());
  for (size_t i = 0; ok && i < expected.size(); ++i)
    ok = compatible(type.getDimSize(i), expected[i]);
  if (!ok)
    return op->emitOpError()
           << role << " has shape " << formatShape(type.getShape())
           << ", expected " << formatShape(expected);
  return success();
}

LogicalResult mlir::attn::detail::verifyElementType(Operation *op, Value value,
                                                    Type elementType,
                                                    StringRef role) {
  Type actual = cast<ShapedType>(value.getType()).getElementType();
  if (actual != elementType)
    return op->emitOpError() << role << " has element type " << actual
                             << ", expected " << elementType;
  return success();
}

LogicalResult mlir::attn::detail::verifyEpsilon(Operation *op,
                                                double epsilon) {
  if (!(epsilon > 0) || !std::isfinite(epsilon))
    return op->emitOpError() << "epsilon must be positive and finite, got "
                             << epsilon;
  return success();
}

/// Head dims and SSM state sizes at most this: lowerings hold a row of the
/// head dim (a state's modes) in registers or vectors.
constexpr int64_t kMaxStateOrHeadDim = 1024;

/// Common checks of attention kernels: q, k, v as [B, H, N, D].
static LogicalResult verifyAttentionOperands(Operation *op, Value q, Value k,
                                             Value v, Value out) {
  const char *layout = "[batch, heads, seq, head_dim]";
  if (failed(verifyRank(op, q, 4, "query", layout)) ||
      failed(verifyRank(op, k, 4, "key", layout)) ||
      failed(verifyRank(op, v, 4, "value", layout)))
    return failure();
  Type elem = cast<ShapedType>(q.getType()).getElementType();
  if (failed(verifyElementType(op, k, elem, "key")) ||
      failed(verifyElementType(op, v, elem, "value")) ||
      failed(verifyElementType(op, out, elem, "result")))
    return failure();
  static constexpr StringLiteral kLeadingDims[] = {"batch", "heads"};
  for (auto [i, name] : llvm::enumerate(kLeadingDims))
    if (!compatible(dim(q, i), dim(k, i)) || !compatible(dim(q, i), dim(v, i)))
      return op->emitOpError()
             << name << " differ between query, key and value: "
             << formatShape(cast<RankedTensorType>(q.getType()).getShape())
             << ", "
             << formatShape(cast<RankedTensorType>(k.getType()).getShape())
             << ", "
             << formatShape(cast<RankedTensorType>(v.getType()).getShape());
  if (!compatible(dim(k, 2), dim(v, 2)))
    return op->emitOpError() << "key and value sequence lengths differ ("
                             << dim(k, 2) << " vs " << dim(v, 2) << ")";
  if (!compatible(dim(q, 3), dim(k, 3)))
    return op->emitOpError() << "head dim mismatch: query has " << dim(q, 3)
                             << ", key has " << dim(k, 3);
  for (auto [name, size] : {std::make_pair("query/key", dim(q, 3)),
                            std::make_pair("value", dim(v, 3))})
    if (!ShapedType::isDynamic(size) && size > kMaxStateOrHeadDim)
      return op->emitOpError() << name << " head dim must be at most "
                               << kMaxStateOrHeadDim << ", got " << size;
  return verifyShape(op, out, {dim(q, 0), dim(q, 1), dim(q, 2), dim(v, 3)},
                     "result");
}

//===----------------------------------------------------------------------===//
// sdpa
//===----------------------------------------------------------------------===//

double SdpaOp::getEffectiveScale() {
  if (FloatAttr scale = getScaleAttr())
    return scale.getValueAsDouble();
  return 1.0 / std::sqrt(static_cast<double>(
                   cast<RankedTensorType>(getQuery().getType()).getDimSize(3)));
}

/// The checks attn.sdpa and its gradient share: shapes, scale, mask and
/// schedule.
static LogicalResult verifySdpaLike(Operation *op, Value q, Value k, Value v,
                                    Value out, Value mask, FloatAttr scaleAttr,
                                    ScheduleAttr schedule) {
  if (failed(verifyAttentionOperands(op, q, k, v, out)))
    return failure();
  if (scaleAttr) {
    double scale = scaleAttr.getValueAsDouble();
    if (!(std::isfinite(scale) && scale > 0))
      return op->emitOpError() << "scale must be positive and finite, got "
                               << scale;
  }
  if (!scaleAttr && ShapedType::isDynamic(dim(q, 3)))
    return op->emitOpError(
        "needs an explicit scale when the head dim is dynamic");
  if (schedule && !mask)
    return op->emitOpError("has a schedule but no mask: a schedule lists the "
                           "tiles a mask keeps");
  if (!mask)
    return success();
  if (!getMaskPattern(mask))
    return op->emitOpError("mask must be produced by a mask pattern op");
  if (!compatible(dim(q, 2), dim(k, 2)))
    return op->emitOpError()
           << "a mask needs self-attention, but the query length "
           << dim(q, 2) << " differs from the key length " << dim(k, 2);
  if (!ShapedType::isDynamic(dim(q, 2)) && dim(q, 2) > kMaxMaskExtent)
    return op->emitOpError() << "a masked sequence must be at most "
                             << kMaxMaskExtent << " long, got " << dim(q, 2);
  if (schedule && schedule.getSeqLen() != dim(q, 2))
    return op->emitOpError()
           << "its schedule is for sequences of " << schedule.getSeqLen()
           << ", the query's length is " << dim(q, 2);
  // Key-padding lengths are per batch entry. Each mask op once: a mask
  // graph is a DAG whose paths may be exponentially many.
  SmallVector<Operation *> worklist{mask.getDefiningOp()};
  llvm::SmallPtrSet<Operation *, 16> seen{mask.getDefiningOp()};
  while (!worklist.empty()) {
    Operation *def = worklist.pop_back_val();
    if (auto pad = dyn_cast<KeyPaddingMaskOp>(def);
        pad && !compatible(dim(pad.getLengths(), 0), dim(q, 0)))
      return op->emitOpError()
             << "key-padding lengths have " << dim(pad.getLengths(), 0)
             << " entries but the batch is " << dim(q, 0);
    for (Operation *producer : maskProducers(def))
      if (seen.insert(producer).second)
        worklist.push_back(producer);
  }
  return success();
}

LogicalResult SdpaOp::verify() {
  return verifySdpaLike(*this, getQuery(), getKey(), getValue(), getResult(),
                        getMask(), getScaleAttr(), getScheduleAttr());
}

double SdpaGradOp::getEffectiveScale() {
  if (FloatAttr scale = getScaleAttr())
    return scale.getValueAsDouble();
  return 1.0 / std::sqrt(static_cast<double>(
                   cast<RankedTensorType>(getQuery().getType()).getDimSize(3)));
}

LogicalResult SdpaGradOp::verify() {
  return verifySdpaLike(*this, getQuery(), getKey(), getValue(), getOutput(),
                        getMask(), getScaleAttr(), getScheduleAttr());
}

static constexpr StringLiteral kSdpaScoreSignature =
    "(s: f32, b: index, h: index, q: index, k: index)";

LogicalResult SdpaOp::verifyRegions() {
  return verifyScoreRegion(*this, getScore(), 4, kSdpaScoreSignature);
}

LogicalResult SdpaGradOp::verifyRegions() {
  return verifyScoreRegion(*this, getScore(), 4, kSdpaScoreSignature);
}

//===----------------------------------------------------------------------===//
// linear
//===----------------------------------------------------------------------===//

/// The checks attn.linear and its gradient share.
static LogicalResult verifyLinearLike(Operation *op, Value q, Value k, Value v,
                                      Value out, Value featureMap,
                                      Value keyLengths, bool causal) {
  if (failed(verifyAttentionOperands(op, q, k, v, out)))
    return failure();
  if (!featureMap.getDefiningOp<FeatureMap>())
    return op->emitOpError("feature map must be produced by a feature map op");
  if (keyLengths &&
      failed(verifyShape(op, keyLengths, {dim(q, 0)}, "key_lengths")))
    return failure();
  if (causal && !compatible(dim(q, 2), dim(k, 2)))
    return op->emitOpError()
           << "causal linear attention needs equal query and key lengths, got "
           << dim(q, 2) << " and " << dim(k, 2);
  return success();
}

LogicalResult LinearOp::verify() {
  return verifyLinearLike(*this, getQuery(), getKey(), getValue(), getResult(),
                          getFeatureMap(), getKeyLengths(), getCausal());
}

LogicalResult LinearGradOp::verify() {
  return verifyLinearLike(*this, getQuery(), getKey(), getValue(), getOutput(),
                          getFeatureMap(), getKeyLengths(), getCausal());
}

//===----------------------------------------------------------------------===//
// ssm
//===----------------------------------------------------------------------===//

namespace {
/// attn.ssm's operands, shared by attn.ssm_grad.
LogicalResult verifySsmLike(Operation *op, Value input, Value logAReal,
                            Value cReal, Value logDt, Value lengths,
                            bool bidirectional) {
  if (failed(verifyRank(op, input, 3, "input", "[batch, seq, channels]")))
    return failure();
  Type elem = cast<ShapedType>(input.getType()).getElementType();
  for (Value v : {logAReal, cReal, logDt})
    if (failed(verifyElementType(op, v, elem, "parameter")))
      return failure();
  int64_t channels = dim(input, 2);
  if (failed(verifyRank(op, logAReal, 2, "A", "[channels, state]")))
    return failure();
  int64_t state = dim(logAReal, 1);
  if (failed(verifyShape(op, logAReal, {channels, state}, "A")))
    return failure();
  if (bidirectional) {
    if (failed(verifyShape(op, cReal, {2, channels, state},
                           "C of a bidirectional ssm")))
      return failure();
  } else if (failed(verifyShape(op, cReal, {channels, state}, "C"))) {
    return failure();
  }
  if (lengths &&
      failed(verifyShape(op, lengths, {dim(input, 0)}, "lengths")))
    return failure();
  if (failed(verifyShape(op, logDt, {channels}, "log_dt")))
    return failure();
  // Lowerings divide by these and lay the state out per lane or vector.
  for (auto [name, size] :
       {std::make_pair("batch", dim(input, 0)),
        std::make_pair("channels", channels), std::make_pair("state", state)})
    if (size == 0)
      return op->emitOpError() << "needs a non-empty " << name;
  if (!ShapedType::isDynamic(state) && state > kMaxStateOrHeadDim)
    return op->emitOpError() << "state size must be at most "
                             << kMaxStateOrHeadDim << ", got " << state;
  return success();
}
} // namespace

LogicalResult SsmOp::verify() {
  return verifySsmLike(*this, getInput(), getLogAReal(), getCReal(),
                       getLogDt(), getLengths(), getBidirectional());
}

LogicalResult SsmGradOp::verify() {
  return verifySsmLike(*this, getInput(), getLogAReal(), getCReal(),
                       getLogDt(), getLengths(), getBidirectional());
}

//===----------------------------------------------------------------------===//
// Encoder pieces
//===----------------------------------------------------------------------===//

Value CastOp::castTo(OpBuilder &b, Location loc, Value value, Type elem) {
  auto type = cast<RankedTensorType>(value.getType());
  if (type.getElementType() == elem)
    return value;
  return CastOp::create(b, loc, type.clone(elem), value);
}

OpFoldResult CastOp::fold(FoldAdaptor) {
  if (getInput().getType() == getType())
    return getInput();
  // A widening cast undone: exact, so the value it started from.
  if (auto inner = getInput().getDefiningOp<CastOp>()) {
    auto elem = [](Value v) {
      return cast<ShapedType>(v.getType()).getElementType();
    };
    if (inner.getInput().getType() == getType() &&
        elem(inner.getInput()).getIntOrFloatBitWidth() <=
            elem(inner.getResult()).getIntOrFloatBitWidth())
      return inner.getInput();
  }
  return {};
}

LogicalResult EmbeddingOp::verify() {
  if (failed(verifyRank(*this, getIds(), 2, "ids", "[batch, seq]")) ||
      failed(verifyRank(*this, getTable(), 2, "table", "[vocab, width]")))
    return failure();
  Type elem = cast<ShapedType>(getTable().getType()).getElementType();
  if (failed(verifyElementType(*this, getResult(), elem, "result")))
    return failure();
  return verifyShape(*this, getResult(),
                     {dim(getIds(), 0), dim(getIds(), 1), dim(getTable(), 1)},
                     "result");
}

LogicalResult AddPositionsOp::verify() {
  if (failed(
          verifyRank(*this, getInput(), 3, "input", "[batch, seq, width]")) ||
      failed(verifyRank(*this, getTable(), 2, "table", "[positions, width]")))
    return failure();
  if (failed(verifyElementType(
          *this, getTable(),
          cast<ShapedType>(getInput().getType()).getElementType(), "table")))
    return failure();
  if (!compatible(dim(getInput(), 2), dim(getTable(), 1)))
    return emitOpError() << "position table width " << dim(getTable(), 1)
                         << " differs from the input width "
                         << dim(getInput(), 2);
  int64_t n = dim(getInput(), 1), p = dim(getTable(), 0);
  if (!ShapedType::isDynamic(n) && !ShapedType::isDynamic(p) && n > p)
    return emitOpError() << "sequence length " << n << " exceeds the " << p
                         << " learned positions";
  return success();
}

LogicalResult LayerNormOp::verify() {
  auto type = cast<RankedTensorType>(getInput().getType());
  if (type.getRank() < 1)
    return emitOpError("input must have rank at least 1");
  if (failed(
          verifyElementType(*this, getGamma(), type.getElementType(), "gamma")))
    return failure();
  if (failed(verifyShape(*this, getGamma(), {type.getShape().back()}, "gamma")))
    return failure();
  if (failed(verifyEpsilon(*this, getEpsilon().convertToDouble())))
    return failure();
  return success();
}

/// What attn.batch_norm and its gradient share: x [B, N, D], gamma of x's
/// element type and shape [D], lengths [B], a positive epsilon.
LogicalResult mlir::attn::detail::verifyBatchNorm(Operation *op, Value input,
                                                  Value gamma, Value lengths,
                                                  double epsilon) {
  if (failed(verifyRank(op, input, 3, "input", "[batch, seq, width]")))
    return failure();
  auto type = cast<RankedTensorType>(input.getType());
  if (failed(verifyElementType(op, gamma, type.getElementType(), "gamma")) ||
      failed(verifyShape(op, gamma, {type.getDimSize(2)}, "gamma")))
    return failure();
  if (lengths &&
      failed(verifyShape(op, lengths, {type.getDimSize(0)}, "lengths")))
    return failure();
  return verifyEpsilon(op, epsilon);
}

LogicalResult BatchNormOp::verify() {
  if (failed(verifyBatchNorm(*this, getInput(), getGamma(), getLengths(),
                             getEpsilon().convertToDouble())) ||
      failed(verifyShape(*this, getMean(), {dim(getInput(), 2)}, "mean")))
    return failure();
  // The parser asks for both or neither; a builder may not.
  if (bool(getRunningMean()) != bool(getRunningVariance()))
    return emitOpError("running statistics come as a mean and a variance");
  if (!getRunningMean()) {
    if (getEvaluation())
      return emitOpError("`evaluation` normalises with running statistics: "
                         "give them with `running`");
    return success();
  }
  for (Value running : {getRunningMean(), getRunningVariance()})
    if (running.getType() != getMean().getType())
      return emitOpError() << "running statistics must have the type of "
                              "the statistics it returns, "
                           << getMean().getType() << ", not "
                           << running.getType();
  double momentum = getMomentum().convertToDouble();
  if (!(momentum > 0 && momentum <= 1))
    return emitOpError() << "momentum must be in (0, 1], not " << momentum;
  return success();
}

LogicalResult ProjectOp::verify() {
  auto in = cast<RankedTensorType>(getInput().getType());
  if (in.getRank() < 1)
    return emitOpError("input must have rank at least 1");
  if (failed(verifyRank(*this, getWeight(), 2, "weight", "[in, out]")))
    return failure();
  Type elem = in.getElementType();
  if (failed(verifyElementType(*this, getWeight(), elem, "weight")) ||
      failed(verifyElementType(*this, getResult(), elem, "result")))
    return failure();
  if (!compatible(in.getShape().back(), dim(getWeight(), 0)))
    return emitOpError() << "input width " << in.getShape().back()
                         << " differs from the weight's input size "
                         << dim(getWeight(), 0);
  if (getBias() &&
      (failed(verifyElementType(*this, getBias(), elem, "bias")) ||
       failed(verifyShape(*this, getBias(), {dim(getWeight(), 1)}, "bias"))))
    return failure();
  SmallVector<int64_t> expected(in.getShape());
  expected.back() = dim(getWeight(), 1);
  return verifyShape(*this, getResult(), expected, "result");
}

LogicalResult DropoutOp::verify() {
  double rate = getRate().convertToDouble();
  if (!(rate >= 0.0 && rate < 1.0))
    return emitOpError() << "rate must be in [0, 1), got " << rate;
  return success();
}

LogicalResult PoolOp::verify() {
  if (failed(verifyRank(*this, getInput(), 3, "input", "[batch, seq, width]")))
    return failure();
  if (failed(verifyShape(*this, getResult(),
                         {dim(getInput(), 0), dim(getInput(), 2)}, "result")) ||
      failed(verifyElementType(
          *this, getResult(),
          cast<ShapedType>(getInput().getType()).getElementType(), "result")))
    return failure();
  return verifyPoolLengths(*this, getLengths(), getKind() == PoolKind::mean,
                           dim(getInput(), 0));
}

LogicalResult mlir::attn::detail::verifyPoolLengths(Operation *op,
                                                    Value lengths, bool mean,
                                                    int64_t batch) {
  if (!lengths)
    return success();
  if (!mean)
    return op->emitOpError("lengths are only meaningful for mean pooling");
  return verifyShape(op, lengths, {batch}, "lengths");
}

LogicalResult CrossEntropyOp::verify() {
  if (failed(verifyRank(*this, getLogits(), 2, "logits", "[batch, classes]")))
    return failure();
  // The loss is accumulated in f32 (or f64) whatever the logits' storage.
  return verifyShape(*this, getLabels(), {dim(getLogits(), 0)}, "labels");
}
