//===- LayerOps.cpp - encoder layers: parameter schemas and verifiers ----===//

#include "VerifyUtils.h"
#include "attn/IR/AttnOps.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::detail;

using D = ParamDim;
using I = ParamInit;

static constexpr double kWeightStd = 0.02; // BERT's initializer range

// The pieces schemas are made of, in the order their parameters appear.
static const ParamSpec kAttention[] = {
    {"attn.wq", {D::Model, D::Model}, I::Normal, kWeightStd},
    {"attn.bq", {D::Model}, I::Zeros},
    {"attn.wk", {D::Model, D::Model}, I::Normal, kWeightStd},
    {"attn.bk", {D::Model}, I::Zeros},
    {"attn.wv", {D::Model, D::Model}, I::Normal, kWeightStd},
    {"attn.bv", {D::Model}, I::Zeros},
    {"attn.wo", {D::Model, D::Model}, I::Normal, kWeightStd},
    {"attn.bo", {D::Model}, I::Zeros}};
static const ParamSpec kSsm[] = {
    {"ssm.log_a_real", {D::Model, D::State}, I::S4DLogAReal},
    {"ssm.a_imag", {D::Model, D::State}, I::S4DAImag},
    {"ssm.b_real", {D::Model, D::State}, I::Ones},
    {"ssm.b_imag", {D::Model, D::State}, I::Zeros},
    {"ssm.c_real", {D::Directions, D::Model, D::State}, I::S4DC},
    {"ssm.c_imag", {D::Directions, D::Model, D::State}, I::S4DC},
    {"ssm.log_dt", {D::Model}, I::S4DLogDt},
    {"ssm.d", {D::Model}, I::Ones}};
static const ParamSpec kSsmOutput[] = {
    {"out.w", {D::Model, D::Model}, I::Normal, kWeightStd},
    {"out.b", {D::Model}, I::Zeros}};
static const ParamSpec kSsmGate[] = {
    {"gate.w", {D::Model, D::Model}, I::Normal, kWeightStd},
    {"gate.b", {D::Model}, I::Zeros}};
static const ParamSpec kSpadeMerge[] = {
    {"merge.w", {D::TwiceModel, D::Model}, I::Normal, kWeightStd},
    {"merge.b", {D::Model}, I::Zeros}};
static const ParamSpec kMixerNorm[] = {{"ln1.gamma", {D::Model}, I::Ones},
                                       {"ln1.beta", {D::Model}, I::Zeros}};
static const ParamSpec kFeedForward[] = {
    {"ffn.w1", {D::Model, D::Hidden}, I::Normal, kWeightStd},
    {"ffn.b1", {D::Hidden}, I::Zeros},
    {"ffn.w2", {D::Hidden, D::Model}, I::Normal, kWeightStd},
    {"ffn.b2", {D::Model}, I::Zeros},
    {"ln2.gamma", {D::Model}, I::Ones},
    {"ln2.beta", {D::Model}, I::Zeros}};

/// The parts one after another, then the mixer's norm and, with
/// `feedForward`, the feed-forward sublayer.
static SmallVector<ParamSpec> schema(ArrayRef<ArrayRef<ParamSpec>> mixer,
                                     bool feedForward) {
  SmallVector<ParamSpec> specs;
  for (ArrayRef<ParamSpec> part : mixer)
    llvm::append_range(specs, part);
  llvm::append_range(specs, ArrayRef(kMixerNorm));
  if (feedForward)
    llvm::append_range(specs, ArrayRef(kFeedForward));
  return specs;
}

ArrayRef<ParamSpec> mlir::attn::attentionLayerParams(bool feedForward) {
  static const SmallVector<ParamSpec> forms[] = {schema({kAttention}, false),
                                                 schema({kAttention}, true)};
  return forms[feedForward];
}

ArrayRef<ParamSpec> mlir::attn::ssmLayerParams(bool feedForward, bool glu) {
  static const SmallVector<ParamSpec> forms[] = {
      schema({kSsm, kSsmOutput}, false), schema({kSsm, kSsmOutput}, true),
      schema({kSsm, kSsmOutput, kSsmGate}, false),
      schema({kSsm, kSsmOutput, kSsmGate}, true)};
  return forms[2 * glu + feedForward];
}

ArrayRef<ParamSpec> mlir::attn::spadeLayerParams(bool feedForward) {
  static const SmallVector<ParamSpec> forms[] = {
      schema({kSsm, kAttention, kSpadeMerge}, false),
      schema({kSsm, kAttention, kSpadeMerge}, true)};
  return forms[feedForward];
}

ArrayRef<ParamSpec> mlir::attn::layerBuffers(bool batchNorm, bool feedForward) {
  static const ParamSpec running[] = {
      {"ln1.running_mean", {D::Model}, I::Zeros},
      {"ln1.running_var", {D::Model}, I::Ones},
      {"ln2.running_mean", {D::Model}, I::Zeros},
      {"ln2.running_var", {D::Model}, I::Ones}};
  if (!batchNorm)
    return {};
  return ArrayRef(running).take_front(feedForward ? 4 : 2);
}

std::string mlir::attn::stringifyParamInit(ParamInit init, double scale) {
  switch (init) {
  case I::Normal: {
    std::string s;
    llvm::raw_string_ostream(s) << "normal:" << llvm::format("%g", scale);
    return s;
  }
  case I::Zeros:
    return "zeros";
  case I::Ones:
    return "ones";
  case I::S4DLogAReal:
    return "s4d_log_a_real";
  case I::S4DAImag:
    return "s4d_a_imag";
  case I::S4DLogDt:
    return "s4d_log_dt";
  case I::S4DC:
    return "s4d_c";
  }
  llvm_unreachable("unknown initialisation");
}

SmallVector<int64_t, 3> mlir::attn::concreteShape(const ParamSpec &spec,
                                                  const LayerDims &dims) {
  SmallVector<int64_t, 3> shape;
  for (ParamDim d : spec.shape) {
    switch (d) {
    case D::Model:
      shape.push_back(dims.model);
      break;
    case D::Hidden:
      shape.push_back(dims.hidden);
      break;
    case D::State:
      shape.push_back(dims.state);
      break;
    case D::TwiceModel:
      shape.push_back(2 * dims.model);
      break;
    case D::Directions:
      if (dims.bidirectional)
        shape.push_back(2);
      break;
    }
  }
  return shape;
}

namespace {
/// What the layer verifiers share.
struct LayerOperands {
  Value input;
  OperandRange params;
  OperandRange buffers;
  ResultRange updatedBuffers;
  Value lengths;
  double dropout;
};
} // namespace

/// Reads the sizes a schema leaves free (F, S) off the parameters that
/// introduce them, then checks every parameter against the schema.
static LogicalResult verifyLayer(Operation *op, const LayerOperands &operands,
                                 ArrayRef<ParamSpec> specs, bool bidirectional,
                                 std::optional<int64_t> heads) {
  auto layer = cast<EncoderLayer>(op);
  ArrayRef<ParamSpec> bufferSpecs = layer.getBufferSpecs();
  if (failed(verifyRank(op, operands.input, 3, "input", "[batch, seq, width]")))
    return failure();
  auto inType = cast<RankedTensorType>(operands.input.getType());
  LayerDims dims;
  dims.model = inType.getDimSize(2);
  dims.bidirectional = bidirectional;
  if (ShapedType::isDynamic(dims.model))
    return op->emitOpError(
        "model width (the input's last dimension) must be static");
  if (heads && (*heads <= 0 || dims.model % *heads != 0))
    return op->emitOpError() << "heads must be positive and divide the model "
                                "width "
                             << dims.model << ", got " << *heads;
  if (operands.params.size() != specs.size())
    return op->emitOpError() << "expects " << specs.size()
                             << " parameters, got " << operands.params.size();
  // Free sizes come from the first parameter that mentions them.
  for (auto [spec, param] : llvm::zip(specs, operands.params)) {
    ArrayRef<int64_t> shape =
        cast<RankedTensorType>(param.getType()).getShape();
    size_t pos = 0;
    for (ParamDim d : spec.shape) {
      if (d == D::Directions && !bidirectional)
        continue;
      if (pos == shape.size())
        break;
      if (d == D::Hidden && dims.hidden == 0)
        dims.hidden = shape[pos];
      if (d == D::State && dims.state == 0)
        dims.state = shape[pos];
      ++pos;
    }
  }
  for (auto [i, spec, param] : llvm::enumerate(specs, operands.params)) {
    auto type = cast<RankedTensorType>(param.getType());
    if (type.getElementType() != inType.getElementType())
      return op->emitOpError() << "parameter #" << i << " (" << spec.name
                               << ") has element type " << type.getElementType()
                               << ", expected " << inType.getElementType();
    SmallVector<int64_t, 3> expected = concreteShape(spec, dims);
    if (type.getShape() != ArrayRef<int64_t>(expected))
      return op->emitOpError() << "parameter #" << i << " (" << spec.name
                               << ") has shape " << formatShape(type.getShape())
                               << ", expected " << formatShape(expected);
  }
  // Buffers are f32 whatever the layer computes in: running averages
  // over thousands of steps.
  if (operands.buffers.size() != bufferSpecs.size())
    return op->emitOpError()
           << "expects " << bufferSpecs.size() << " buffers"
           << (bufferSpecs.empty() ? ""
                                   : " (its batch norms' running "
                                     "statistics)")
           << ", got " << operands.buffers.size();
  for (auto [i, spec, buffer] :
       llvm::enumerate(bufferSpecs, operands.buffers)) {
    auto type = cast<RankedTensorType>(buffer.getType());
    SmallVector<int64_t, 3> expected = concreteShape(spec, dims);
    if (!type.getElementType().isF32() ||
        type.getShape() != ArrayRef<int64_t>(expected))
      return op->emitOpError()
             << "buffer #" << i << " (" << spec.name << ") has type " << type
             << ", expected f32 of shape " << formatShape(expected);
  }
  if (!llvm::equal(operands.updatedBuffers.getTypes(),
                   operands.buffers.getTypes()))
    return op->emitOpError("returns its buffers updated: the updated "
                           "buffers' types must be the buffers'");
  if (operands.lengths &&
      failed(
          verifyShape(op, operands.lengths, {inType.getDimSize(0)}, "lengths")))
    return failure();
  if (!(operands.dropout >= 0.0 && operands.dropout < 1.0))
    return op->emitOpError()
           << "dropout must be in [0, 1), got " << operands.dropout;
  return success();
}

static LogicalResult verifyPositive(Operation *op, StringRef name,
                                    int64_t value) {
  if (value <= 0)
    return op->emitOpError() << name << " must be positive, got " << value;
  return success();
}

template <class LayerOp> static LayerOperands operandsOf(LayerOp op) {
  return {op.getInput(),   op.getParams(),
          op.getBuffers(), op.getUpdatedBuffers(),
          op.getLengths(), op.getDropout().convertToDouble()};
}

ArrayRef<ParamSpec> FullLayerOp::getParamSpecs() {
  return attentionLayerParams(getFeedForward());
}
LogicalResult FullLayerOp::verify() {
  return verifyLayer(*this, operandsOf(*this), getParamSpecs(), false,
                     getHeads());
}

ArrayRef<ParamSpec> WindowLayerOp::getParamSpecs() {
  return attentionLayerParams(getFeedForward());
}
LogicalResult WindowLayerOp::verify() {
  if (getRadius() < 0)
    return emitOpError() << "radius must be non-negative, got " << getRadius();
  if (std::optional<int64_t> block = getBlock();
      block && (*block <= 0 || !llvm::isPowerOf2_64(*block)))
    return emitOpError() << "block size must be a positive power of two, got "
                         << *block;
  return verifyLayer(*this, operandsOf(*this), getParamSpecs(), false,
                     getHeads());
}

ArrayRef<ParamSpec> ChunkLayerOp::getParamSpecs() {
  return attentionLayerParams(getFeedForward());
}
LogicalResult ChunkLayerOp::verify() {
  if (failed(verifyPositive(*this, "chunk size", getSize())))
    return failure();
  return verifyLayer(*this, operandsOf(*this), getParamSpecs(), false,
                     getHeads());
}

ArrayRef<ParamSpec> BigBirdLayerOp::getParamSpecs() {
  return attentionLayerParams(getFeedForward());
}
LogicalResult BigBirdLayerOp::verify() {
  if (getBlock() <= 0 || !llvm::isPowerOf2_64(getBlock()))
    return emitOpError() << "block size must be a positive power of two, got "
                         << getBlock();
  if (getWindow() < 0 || getGlobal() < 0 || getRandom() < 0)
    return emitOpError() << "window, global and random block counts must be "
                            "non-negative, got "
                         << getWindow() << ", " << getGlobal() << ", "
                         << getRandom();
  return verifyLayer(*this, operandsOf(*this), getParamSpecs(), false,
                     getHeads());
}

ArrayRef<ParamSpec> LinearLayerOp::getParamSpecs() {
  return attentionLayerParams(getFeedForward());
}
LogicalResult LinearLayerOp::verify() {
  bool favor = getFeatureMap() == FeatureMapKind::favor;
  if (favor && (!getFeatures() || !getSeedFeatures()))
    return emitOpError("the favor feature map needs 'features' and "
                       "'seed_features'");
  if (!favor && (getFeatures() || getSeedFeatures()))
    return emitOpError() << "'features' and 'seed_features' only apply to the "
                            "favor feature map, not "
                         << stringifyFeatureMapKind(getFeatureMap());
  if (favor && failed(verifyPositive(*this, "features", *getFeatures())))
    return failure();
  return verifyLayer(*this, operandsOf(*this), getParamSpecs(), false,
                     getHeads());
}

ArrayRef<ParamSpec> SsmLayerOp::getParamSpecs() {
  return ssmLayerParams(getFeedForward(), getGlu());
}
LogicalResult SsmLayerOp::verify() {
  return verifyLayer(*this, operandsOf(*this), getParamSpecs(),
                     getBidirectional(), std::nullopt);
}

ArrayRef<ParamSpec> SpadeLayerOp::getParamSpecs() {
  return spadeLayerParams(getFeedForward());
}
LogicalResult SpadeLayerOp::verify() {
  if (failed(verifyPositive(*this, "local_size", getLocalSize())))
    return failure();
  return verifyLayer(*this, operandsOf(*this), getParamSpecs(),
                     getBidirectional(), getHeads());
}
