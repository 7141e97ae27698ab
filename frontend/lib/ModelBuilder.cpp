//===- ModelBuilder.cpp - model specs to attn IR --------------------------===//

#include "attn/Frontend/ModelBuilder.h"
#include "attn/IR/AttnOps.h"
#include "attn/IR/Gradients.h"
#include "attn/IR/LayerParams.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mlir::attn;
using ::attn::LayerKind;
using ::attn::LayerSpec;
using ::attn::ModelSpec;

namespace {

/// The SSM parameters S4 trains at their own rate without weight decay:
/// A (its real and imaginary parts) and B. The step size log dt trains at
/// the full rate (undecayed, as every vector): S4's grouping for LRA
/// (`lr: {dt: null, A: 0.001, B: 0.001}` beside 0.01).
bool isSsmDynamics(StringRef name) {
  return name == "ssm.log_a_real" || name == "ssm.a_imag" ||
         name == "ssm.b_real" || name == "ssm.b_imag";
}
/// The attention projections' parameters (`attn.wq` ... `attn.bo`), which
/// train at the spec's `attention_lr_scale`.
bool isAttentionProjection(StringRef name) { return name.starts_with("attn."); }
/// A parameter argument before the function exists.
struct Param {
  std::string name;
  RankedTensorType type;
  std::string init;
  /// AdamW's weight decay for it, where not the run's; its rate's factor.
  std::optional<double> weightDecay;
  double lrScale = 1.0;
};

/// Collects parameters in argument order, then hands them out in the same
/// order while the body is built.
class Params {
public:
  /// Vectors (biases, norms' gains and shifts, the SSM's skip and step
  /// sizes) are not decayed, as usual for AdamW.
  void add(std::string name, RankedTensorType type, std::string init,
           double lrScale = 1.0) {
    Param p{std::move(name), type, std::move(init), std::nullopt, lrScale};
    if (type.getRank() == 1)
      p.weightDecay = 0.0;
    params.push_back(std::move(p));
  }
  /// The SSM's dynamics: no decay, their own rate.
  void addDynamics(std::string name, RankedTensorType type, std::string init,
                   double lrScale) {
    params.push_back(
        {std::move(name), type, std::move(init), 0.0, lrScale});
  }
  ArrayRef<Param> all() const { return params; }
  /// The next `count` parameters in `compute`, the type the model runs in:
  /// a master parameter of another type (f32 under bf16) is cast where it
  /// is taken, and reverse mode casts its gradient back.
  SmallVector<Value> take(OpBuilder &b, Location loc, Block &entry,
                          size_t count, Type compute) {
    SmallVector<Value> out;
    for (size_t i = 0; i < count; ++i)
      out.push_back(CastOp::castTo(b, loc, entry.getArgument(firstArg + next++),
                                   compute));
    return out;
  }
  unsigned firstArg = 0;

private:
  std::vector<Param> params;
  size_t next = 0;
};

ArrayRef<ParamSpec> schemaOf(const ModelSpec &spec, const LayerSpec &layer) {
  const bool feedForward = spec.ffn > 0;
  switch (layer.kind) {
  case LayerKind::Ssm:
    return ssmLayerParams(feedForward, layer.glu);
  case LayerKind::Spade:
    return spadeLayerParams(feedForward);
  default:
    return attentionLayerParams(feedForward);
  }
}

ArrayRef<ParamSpec> buffersOf(const ModelSpec &spec) {
  return layerBuffers(spec.normKind == "batch", spec.ffn > 0);
}

LayerDims dimsOf(const ModelSpec &spec, const LayerSpec &layer) {
  LayerDims dims;
  dims.model = spec.width;
  dims.hidden = spec.ffn;
  dims.state = layer.state;
  dims.bidirectional = layer.bidirectional;
  return dims;
}

/// The layer's result, then its updated buffers.
template <class Op>
ValueRange createLayer(OpBuilder &b, Location loc, Value x, ValueRange params,
                       ValueRange buffers, Value lengths, Value seed,
                       SmallVector<NamedAttribute> attrs) {
  SmallVector<Value> operands{x};
  llvm::append_range(operands, params);
  llvm::append_range(operands, buffers);
  operands.push_back(lengths);
  operands.push_back(seed);
  attrs.push_back(b.getNamedAttr(
      "operandSegmentSizes",
      b.getDenseI32ArrayAttr({1, static_cast<int32_t>(params.size()),
                              static_cast<int32_t>(buffers.size()), 1, 1})));
  SmallVector<Type> types{x.getType()};
  llvm::append_range(types, buffers.getTypes());
  return Op::create(b, loc, types, operands, attrs)->getResults();
}

ValueRange buildLayer(OpBuilder &b, Location loc, const ModelSpec &spec,
                      const LayerSpec &layer, Value x, ValueRange params,
                      ValueRange buffers, Value lengths, Value seed) {
  auto i64 = [&](int64_t v) { return b.getI64IntegerAttr(v); };
  SmallVector<NamedAttribute> attrs{
      b.getNamedAttr("dropout", b.getF64FloatAttr(spec.dropout))};
  if (spec.norm == "pre")
    attrs.push_back(b.getNamedAttr("prenorm", b.getUnitAttr()));
  if (spec.ffn == 0)
    attrs.push_back(b.getNamedAttr("feed_forward", b.getBoolAttr(false)));
  if (spec.normKind == "batch")
    attrs.push_back(b.getNamedAttr(
        "norm", NormKindAttr::get(b.getContext(), NormKind::batch)));
  auto add = [&](StringRef name, Attribute value) {
    attrs.push_back(b.getNamedAttr(name, value));
  };
  if (layer.kind != LayerKind::Ssm)
    add("heads", i64(spec.heads));
  switch (layer.kind) {
  case LayerKind::Full:
    return createLayer<FullLayerOp>(b, loc, x, params, buffers, lengths, seed,
                                    attrs);
  case LayerKind::Window:
    add("radius", i64(layer.radius));
    if (layer.block)
      add("block", i64(*layer.block));
    return createLayer<WindowLayerOp>(b, loc, x, params, buffers, lengths, seed,
                                      attrs);
  case LayerKind::Chunk:
    add("size", i64(layer.size));
    return createLayer<ChunkLayerOp>(b, loc, x, params, buffers, lengths, seed,
                                     attrs);
  case LayerKind::BigBird:
    add("block", i64(*layer.block));
    add("window", i64(layer.window));
    add("global", i64(layer.global));
    add("random", i64(layer.random));
    add("seed_blocks", i64(layer.seed));
    return createLayer<BigBirdLayerOp>(b, loc, x, params, buffers, lengths,
                                       seed, attrs);
  case LayerKind::Linear:
    add("feature_map",
        FeatureMapKindAttr::get(b.getContext(),
                                *symbolizeFeatureMapKind(layer.featureMap)));
    if (layer.features)
      add("features", i64(*layer.features));
    if (layer.featureSeed)
      add("seed_features", i64(*layer.featureSeed));
    if (layer.causal)
      add("causal", b.getUnitAttr());
    return createLayer<LinearLayerOp>(b, loc, x, params, buffers, lengths, seed,
                                      attrs);
  case LayerKind::Ssm:
    if (layer.bidirectional)
      add("bidirectional", b.getUnitAttr());
    if (layer.glu)
      add("glu", b.getUnitAttr());
    return createLayer<SsmLayerOp>(b, loc, x, params, buffers, lengths, seed,
                                   attrs);
  case LayerKind::Spade:
    add("local",
        LocalKindAttr::get(b.getContext(), *symbolizeLocalKind(layer.local)));
    add("local_size", i64(layer.size));
    if (layer.bidirectional)
      add("bidirectional", b.getUnitAttr());
    return createLayer<SpadeLayerOp>(b, loc, x, params, buffers, lengths, seed,
                                     attrs);
  }
  llvm_unreachable("unknown layer kind");
}
} // namespace

func::FuncOp mlir::attn::buildModel(ModuleOp module, const ModelSpec &spec,
                                    int64_t length) {
  MLIRContext *ctx = module.getContext();
  OpBuilder b(ctx);
  Location loc = NameLoc::get(b.getStringAttr(spec.name));
  // Activations and products run in `elem`; parameters (the optimizer's
  // masters) are f32 whatever it is.
  Type elem = spec.dtype == "bf16" ? Type(b.getBF16Type()) : b.getF32Type();
  Type master = b.getF32Type();
  auto tensor = [&](ArrayRef<int64_t> shape, Type t) {
    return RankedTensorType::get(shape, t);
  };
  assert(length >= 0 && length <= spec.seqLen && "length past seq_len");
  const int64_t B = spec.batch, N = length ? length : spec.seqLen,
                D = spec.width;
  const std::string normal = stringifyParamInit(ParamInit::Normal, 0.02);

  Params params;
  params.add("embed.tokens", tensor({spec.vocab, D}, master), normal);
  const bool learnedPositions = spec.positions == "learned";
  if (learnedPositions)
    params.add("embed.positions", tensor({spec.seqLen, D}, master), normal);
  params.add("embed.ln.gamma", tensor({D}, master), "ones");
  params.add("embed.ln.beta", tensor({D}, master), "zeros");
  for (auto [i, layer] : llvm::enumerate(spec.layers))
    for (const ParamSpec &p : schemaOf(spec, layer)) {
      std::string name = "layers." + std::to_string(i) + "." + p.name;
      auto type = tensor(concreteShape(p, dimsOf(spec, layer)), master);
      std::string init = stringifyParamInit(p.init, p.scale);
      if (isSsmDynamics(p.name))
        params.addDynamics(name, type, init, spec.ssmLrScale);
      else
        params.add(name, type, init,
                   isAttentionProjection(p.name) ? spec.attentionLrScale : 1.0);
    }
  const bool prenorm = spec.norm == "pre";
  if (prenorm) {
    params.add("final_ln.gamma", tensor({D}, master), "ones");
    params.add("final_ln.beta", tensor({D}, master), "zeros");
  }
  params.add("classifier.w", tensor({D, spec.classes}, master), normal);
  params.add("classifier.b", tensor({spec.classes}, master), "zeros");
  // Buffers after the parameters, f32 whatever the model computes in.
  std::vector<Param> buffers;
  for (auto [i, layer] : llvm::enumerate(spec.layers))
    for (const ParamSpec &p : buffersOf(spec))
      buffers.push_back({"layers." + std::to_string(i) + "." + p.name,
                         tensor(concreteShape(p, dimsOf(spec, layer)), master),
                         stringifyParamInit(p.init, p.scale), std::nullopt,
                         1.0});

  Type i32 = b.getI32Type();
  SmallVector<Type> argTypes{tensor({B, N}, i32), tensor({B}, i32),
                             tensor({B}, i32), b.getI64Type()};
  SmallVector<StringRef> inputNames{"ids", "lengths", "labels", "seed"};
  params.firstArg = argTypes.size();
  for (const Param &p : params.all())
    argTypes.push_back(p.type);
  const unsigned firstBuffer = argTypes.size();
  SmallVector<Type> bufferTypes;
  for (const Param &p : buffers)
    bufferTypes.push_back(p.type);
  llvm::append_range(argTypes, bufferTypes);
  // Logits and loss in f32 whatever `elem`: the classifier's product is
  // cast, and the loss's softmax and the runtime read f32.
  Type logitsType = tensor({B, spec.classes}, master);
  Type lossType = tensor({}, b.getF32Type());
  SmallVector<Type> resultTypes{lossType, logitsType};
  llvm::append_range(resultTypes, bufferTypes);
  auto fnType = b.getFunctionType(argTypes, resultTypes);

  b.setInsertionPointToEnd(module.getBody());
  auto fn = func::FuncOp::create(b, loc, "forward", fnType);
  for (auto [i, name] : llvm::enumerate(inputNames))
    fn.setArgAttr(i, kInputAttr, b.getStringAttr(name));
  for (auto [i, p] : llvm::enumerate(params.all())) {
    fn.setArgAttr(params.firstArg + i, kParamAttr, b.getStringAttr(p.name));
    fn.setArgAttr(params.firstArg + i, kInitAttr, b.getStringAttr(p.init));
    if (p.weightDecay)
      fn.setArgAttr(params.firstArg + i, kWeightDecayAttr,
                    b.getF64FloatAttr(*p.weightDecay));
    if (p.lrScale != 1.0)
      fn.setArgAttr(params.firstArg + i, kLrScaleAttr,
                    b.getF64FloatAttr(p.lrScale));
  }
  for (auto [i, p] : llvm::enumerate(buffers)) {
    fn.setArgAttr(firstBuffer + i, kBufferAttr, b.getStringAttr(p.name));
    fn.setArgAttr(firstBuffer + i, kInitAttr, b.getStringAttr(p.init));
    fn.setResultAttr(2 + i, "attn.output", b.getStringAttr("buffer." + p.name));
  }
  Block &entry = *fn.addEntryBlock();
  b.setInsertionPointToStart(&entry);
  Value ids = entry.getArgument(0), lengths = entry.getArgument(1),
        labels = entry.getArgument(2), seed = entry.getArgument(3);
  Type hidden = tensor({B, N, D}, elem);

  SmallVector<Value> embed =
      params.take(b, loc, entry, learnedPositions ? 4 : 3, elem);
  Value x = EmbeddingOp::create(b, loc, hidden, ids, embed[0]);
  if (learnedPositions)
    x = AddPositionsOp::create(b, loc, x, embed[1]);
  x = LayerNormOp::create(b, loc, x, embed[embed.size() - 2], embed.back(),
                          b.getF64FloatAttr(1e-12));
  if (spec.dropout > 0)
    x = DropoutOp::create(b, loc, x, seed, b.getF64FloatAttr(spec.dropout),
                          b.getI64IntegerAttr(0));
  SmallVector<Value> updatedBuffers;
  const size_t buffersPerLayer = buffersOf(spec).size();
  for (auto [i, layer] : llvm::enumerate(spec.layers)) {
    SmallVector<Value> layerParams =
        params.take(b, loc, entry, schemaOf(spec, layer).size(), elem);
    ValueRange bufferArgs = entry.getArguments().slice(
        firstBuffer + i * buffersPerLayer, buffersPerLayer);
    ValueRange results = buildLayer(b, loc, spec, layer, x, layerParams,
                                    bufferArgs, lengths, seed);
    x = results.front();
    llvm::append_range(updatedBuffers, results.drop_front());
  }
  // Pre-LN layers leave the residual stream as it is: normed once here.
  if (prenorm) {
    SmallVector<Value> final = params.take(b, loc, entry, 2, elem);
    x = LayerNormOp::create(b, loc, x, final[0], final[1],
                            b.getF64FloatAttr(1e-12));
  }
  bool cls = spec.pool == "cls";
  Value pooled = PoolOp::create(b, loc, tensor({B, D}, elem), x,
                                cls ? PoolKind::cls : PoolKind::mean,
                                cls ? Value() : lengths);
  SmallVector<Value> head = params.take(b, loc, entry, 2, elem);
  Value logits =
      CastOp::castTo(b, loc,
                     ProjectOp::create(b, loc, tensor({B, spec.classes}, elem),
                                       pooled, head[0], head[1]),
                     master);
  Value loss = CrossEntropyOp::create(b, loc, lossType, logits, labels);
  SmallVector<Value> results{loss, logits};
  llvm::append_range(results, updatedBuffers);
  func::ReturnOp::create(b, loc, results);
  return fn;
}
