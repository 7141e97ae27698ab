//===- TileOps.cpp - tile-level ops and the schedule attribute: verifiers -===//

#include "VerifyUtils.h"
#include "attn/IR/AttnOps.h"
#include "attn/IR/ScoreMod.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::detail;

static int64_t dimOf(Value v, unsigned i) {
  return cast<MemRefType>(v.getType()).getDimSize(i);
}

/// `a` dim i and `b` dim j agree (or either is dynamic).
static LogicalResult sameExtent(Operation *op, Value a, unsigned i,
                                StringRef aName, Value b, unsigned j,
                                StringRef bName) {
  if (!compatible(dimOf(a, i), dimOf(b, j)))
    return op->emitOpError() << aName << " (" << dimOf(a, i) << ") and "
                             << bName << " (" << dimOf(b, j) << ") differ";
  return success();
}

static LogicalResult requireF32(Operation *op, Value v, StringRef name) {
  if (!cast<MemRefType>(v.getType()).getElementType().isF32())
    return op->emitOpError() << name << " must hold f32";
  return success();
}

LogicalResult SoftmaxStepOp::verify() {
  if (failed(sameExtent(*this, getQuery(), 1, "query head dim", getKey(), 1,
                        "key head dim")) ||
      failed(sameExtent(*this, getKey(), 0, "key rows", getValue(), 0,
                        "value rows")) ||
      failed(sameExtent(*this, getQuery(), 0, "query rows", getMax(), 0,
                        "max rows")) ||
      failed(sameExtent(*this, getQuery(), 0, "query rows", getSum(), 0,
                        "sum rows")) ||
      failed(sameExtent(*this, getQuery(), 0, "query rows", getAcc(), 0,
                        "acc rows")) ||
      failed(sameExtent(*this, getValue(), 1, "value head dim", getAcc(), 1,
                        "acc columns")))
    return failure();
  return success(succeeded(requireF32(*this, getMax(), "max")) &&
                 succeeded(requireF32(*this, getAcc(), "acc")));
}

/// A tile op's predicate region: empty, or (q: index, k: index) -> i1.
static LogicalResult verifyPredicateRegion(Operation *op, Region &region) {
  if (region.empty())
    return success();
  Block &body = region.front();
  if (body.getNumArguments() != 2 ||
      !llvm::all_of(body.getArgumentTypes(),
                    [](Type t) { return t.isIndex(); }))
    return op->emitOpError("predicate region must take (q: index, k: index)");
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield || yield.getValues().size() != 1 ||
      !yield.getValues()[0].getType().isInteger(1))
    return op->emitOpError(
        "predicate region must end with 'attn.yield' of an i1");
  return success();
}

static constexpr StringLiteral kTileScoreSignature =
    "(s: f32, q: index, k: index)";

LogicalResult SoftmaxStepOp::verifyRegions() {
  if (failed(verifyPredicateRegion(*this, getPredicate())))
    return failure();
  return verifyScoreRegion(*this, getScore(), 2, kTileScoreSignature);
}

LogicalResult SoftmaxGradStepOp::verify() {
  if (failed(sameExtent(*this, getQuery(), 1, "query head dim", getKey(), 1,
                        "key head dim")) ||
      failed(sameExtent(*this, getKey(), 0, "key rows", getValue(), 0,
                        "value rows")) ||
      failed(sameExtent(*this, getQuery(), 0, "query rows", getOutGrad(), 0,
                        "out_grad rows")) ||
      failed(sameExtent(*this, getValue(), 1, "value head dim", getOutGrad(),
                        1, "out_grad columns")) ||
      failed(sameExtent(*this, getQuery(), 0, "query rows", getLse(), 0,
                        "lse rows")) ||
      failed(sameExtent(*this, getQuery(), 0, "query rows", getDelta(), 0,
                        "delta rows")) ||
      failed(requireF32(*this, getLse(), "lse")) ||
      failed(requireF32(*this, getDelta(), "delta")))
    return failure();
  if (!(getQueryGrad() || getKeyGrad()) ||
      static_cast<bool>(getKeyGrad()) != static_cast<bool>(getValueGrad()))
    return emitOpError("accumulates query_grad (the query form), key_grad "
                       "and value_grad (the key form), or all three (the "
                       "fused form)");
  if (Value dq = getQueryGrad())
    if (failed(sameExtent(*this, getQuery(), 0, "query rows", dq, 0,
                          "query_grad rows")) ||
        failed(sameExtent(*this, getQuery(), 1, "query head dim", dq, 1,
                          "query_grad columns")) ||
        failed(requireF32(*this, dq, "query_grad")))
      return failure();
  if (!getKeyGrad())
    return success();
  return success(
      succeeded(sameExtent(*this, getKey(), 0, "key rows", getKeyGrad(), 0,
                           "key_grad rows")) &&
      succeeded(sameExtent(*this, getKey(), 1, "key head dim", getKeyGrad(), 1,
                           "key_grad columns")) &&
      succeeded(sameExtent(*this, getValue(), 0, "value rows", getValueGrad(),
                           0, "value_grad rows")) &&
      succeeded(sameExtent(*this, getValue(), 1, "value head dim",
                           getValueGrad(), 1, "value_grad columns")) &&
      succeeded(requireF32(*this, getKeyGrad(), "key_grad")) &&
      succeeded(requireF32(*this, getValueGrad(), "value_grad")));
}

LogicalResult SoftmaxGradStepOp::verifyRegions() {
  if (failed(verifyPredicateRegion(*this, getPredicate())))
    return failure();
  return verifyScoreRegion(*this, getScore(), 2, kTileScoreSignature);
}

LogicalResult SoftmaxFinalizeOp::verify() {
  if (failed(sameExtent(*this, getSum(), 0, "sum rows", getAcc(), 0,
                        "acc rows")) ||
      failed(sameExtent(*this, getAcc(), 0, "acc rows", getOutput(), 0,
                        "output rows")) ||
      failed(sameExtent(*this, getAcc(), 1, "acc columns", getOutput(), 1,
                        "output columns")))
    return failure();
  if (static_cast<bool>(getMax()) != static_cast<bool>(getLse()))
    return emitOpError("takes the running maximum and the log-sum-exp's "
                       "output together");
  if (getLse() &&
      (failed(sameExtent(*this, getSum(), 0, "sum rows", getMax(), 0,
                         "max rows")) ||
       failed(sameExtent(*this, getSum(), 0, "sum rows", getLse(), 0,
                         "lse rows")) ||
       failed(requireF32(*this, getLse(), "lse"))))
    return failure();
  return requireF32(*this, getAcc(), "acc");
}

/// Feature dimension F of a linear-attention state, checked against the
/// feature map's projection when there is one. The state holds f32, or
/// with `stateOfInputType` also the inputs' element type.
static LogicalResult verifyFeatures(Operation *op, Value keyOrQuery,
                                    Value projection, Value state, Value norm,
                                    bool stateOfInputType = false) {
  if (failed(sameExtent(op, state, 0, "state rows", norm, 0, "norm size")))
    return failure();
  if (projection) {
    if (failed(sameExtent(op, projection, 1, "projection columns", keyOrQuery,
                          1, "head dim")) ||
        failed(sameExtent(op, projection, 0, "projection rows", state, 0,
                          "state rows")))
      return failure();
  } else if (failed(sameExtent(op, keyOrQuery, 1, "head dim", state, 0,
                               "state rows"))) {
    return failure();
  }
  Type stateElem = cast<MemRefType>(state.getType()).getElementType();
  if (!(stateOfInputType &&
        stateElem == cast<MemRefType>(keyOrQuery.getType()).getElementType()) &&
      failed(requireF32(op, state, "state")))
    return failure();
  return requireF32(op, norm, "norm");
}

LogicalResult LinearStateOp::verify() {
  if (failed(sameExtent(*this, getKey(), 0, "key rows", getValue(), 0,
                        "value rows")) ||
      failed(sameExtent(*this, getValue(), 1, "value head dim", getState(), 1,
                        "state columns")))
    return failure();
  if (Value w = getWeights();
      w && (failed(sameExtent(*this, getKey(), 0, "key rows", w, 0,
                              "weights size")) ||
            failed(requireF32(*this, w, "weights"))))
    return failure();
  return verifyFeatures(*this, getKey(), getProjection(), getState(),
                        getNorm());
}

LogicalResult LinearOutputOp::verify() {
  if (failed(sameExtent(*this, getQuery(), 0, "query rows", getOutput(), 0,
                        "output rows")) ||
      failed(sameExtent(*this, getState(), 1, "state columns", getOutput(), 1,
                        "output columns")))
    return failure();
  if (bool(getKey()) != bool(getValue()) ||
      bool(getKey()) != bool(getDiagonal()))
    return emitOpError("the causal form needs key, value and diagonal");
  if (getKey() &&
      (failed(sameExtent(*this, getKey(), 0, "key rows", getValue(), 0,
                         "value rows")) ||
       failed(sameExtent(*this, getValue(), 1, "value head dim", getOutput(), 1,
                         "output columns"))))
    return failure();
  return verifyFeatures(*this, getQuery(), getProjection(), getState(),
                        getNorm(), /*stateOfInputType=*/true);
}

/// The tile gradient ops take elementwise feature maps: query_grad and
/// key_grad are phi's derivative times the features' cotangents.
static LogicalResult verifyElementwiseMap(Operation *op, Value featureMap) {
  auto map = featureMap.getDefiningOp<FeatureMap>();
  if (!map)
    return op->emitOpError("feature map must be produced by a feature map op");
  if (map.hasProjection())
    return op->emitOpError("takes elementwise feature maps, not one with a "
                           "projection");
  return success();
}

LogicalResult LinearQueryGradOp::verify() {
  Value q = getQuery();
  if (failed(verifyElementwiseMap(*this, getFeatureMap())) ||
      failed(verifyFeatures(*this, q, Value(), getState(), getNorm())) ||
      failed(sameExtent(*this, q, 0, "query rows", getNormWeights(), 0,
                        "norm_weights size")) ||
      failed(requireF32(*this, getNormWeights(), "norm_weights")))
    return failure();
  for (auto [v, name] : {std::pair(getOutput(), "output"),
                         std::pair(getOutputGrad(), "output_grad"),
                         std::pair(getQueryGrad(), "query_grad"),
                         std::pair(getScaledGrad(), "scaled_grad")})
    if (failed(sameExtent(*this, q, 0, "query rows", v, 0,
                          (Twine(name) + " rows").str())))
      return failure();
  for (auto [v, name] : {std::pair(getOutput(), "output"),
                         std::pair(getOutputGrad(), "output_grad"),
                         std::pair(getScaledGrad(), "scaled_grad")})
    if (failed(sameExtent(*this, getState(), 1, "state columns", v, 1,
                          (Twine(name) + " columns").str())))
      return failure();
  if (failed(sameExtent(*this, q, 1, "head dim", getQueryGrad(), 1,
                        "query_grad columns")))
    return failure();
  Type elem = cast<MemRefType>(q.getType()).getElementType();
  for (Value v :
       {getOutput(), getOutputGrad(), getQueryGrad(), getScaledGrad()})
    if (cast<MemRefType>(v.getType()).getElementType() != elem)
      return emitOpError("needs one element type for query, output, "
                         "output_grad, query_grad and scaled_grad");
  return success();
}

LogicalResult LinearKeyGradOp::verify() {
  Value k = getKey();
  if (failed(verifyElementwiseMap(*this, getFeatureMap())) ||
      failed(
          verifyFeatures(*this, k, Value(), getStateGrad(), getNormGrad())) ||
      failed(
          sameExtent(*this, k, 0, "key rows", getValue(), 0, "value rows")) ||
      failed(sameExtent(*this, k, 0, "key rows", getKeyGrad(), 0,
                        "key_grad rows")) ||
      failed(sameExtent(*this, k, 0, "key rows", getValueGrad(), 0,
                        "value_grad rows")) ||
      failed(sameExtent(*this, k, 1, "head dim", getKeyGrad(), 1,
                        "key_grad columns")) ||
      failed(sameExtent(*this, getStateGrad(), 1, "state_grad columns",
                        getValue(), 1, "value columns")) ||
      failed(sameExtent(*this, getStateGrad(), 1, "state_grad columns",
                        getValueGrad(), 1, "value_grad columns")))
    return failure();
  Type elem = cast<MemRefType>(k.getType()).getElementType();
  for (Value v : {getValue(), getKeyGrad(), getValueGrad()})
    if (cast<MemRefType>(v.getType()).getElementType() != elem)
      return emitOpError("needs one element type for key, value, key_grad "
                         "and value_grad");
  return success();
}

LogicalResult LinearPrefixOp::verify() {
  Value prefix = getPrefix(), norm = getPrefixNorm();
  if (failed(sameExtent(*this, getKey(), 0, "key rows", getValue(), 0,
                        "value rows")) ||
      failed(sameExtent(*this, getValue(), 1, "value head dim", prefix, 2,
                        "prefix columns")) ||
      failed(sameExtent(*this, prefix, 0, "prefix chunks", norm, 0,
                        "prefix_norm chunks")) ||
      failed(sameExtent(*this, prefix, 1, "prefix features", norm, 1,
                        "prefix_norm features")))
    return failure();
  if (Value p = getProjection()) {
    if (failed(sameExtent(*this, p, 1, "projection columns", getKey(), 1,
                          "head dim")) ||
        failed(sameExtent(*this, p, 0, "projection rows", prefix, 1,
                          "prefix features")))
      return failure();
  } else if (failed(sameExtent(*this, getKey(), 1, "head dim", prefix, 1,
                               "prefix features"))) {
    return failure();
  }
  if (cast<MemRefType>(prefix.getType()).getElementType() !=
          cast<MemRefType>(getKey().getType()).getElementType() &&
      failed(requireF32(*this, prefix, "prefix")))
    return failure();
  return requireF32(*this, norm, "prefix_norm");
}

LogicalResult SsmScanOp::verify() {
  Value in = getInput(), coeff = getAbarReal();
  if (failed(sameExtent(*this, in, 1, "input channels", coeff, 0,
                        "coefficient rows")))
    return failure();
  if (!getOutput() && !getStateReal())
    return emitOpError("writes nothing: needs `into` an output, a `state`, "
                       "or both");
  if (getAccumulate() && !getOutput())
    return emitOpError("accumulates into an output it does not have");
  if (Value out = getOutput())
    if (failed(sameExtent(*this, in, 0, "input length", out, 0,
                          "output length")) ||
        failed(sameExtent(*this, in, 1, "input channels", out, 1,
                          "output channels")))
      return failure();
  // Optional operands: the pairs' checks ODS cannot make.
  if (bool(getInitReal()) != bool(getInitImag()) ||
      bool(getStateReal()) != bool(getStateImag()))
    return emitOpError("states are complex: real and imaginary parts go "
                       "together");
  struct Named {
    Value state;
    const char *rows, *modes;
  };
  for (Named s :
       {Named{getInitReal(), "initial state rows", "initial state modes"},
        Named{getInitImag(), "initial state rows", "initial state modes"},
        Named{getStateReal(), "final state rows", "final state modes"},
        Named{getStateImag(), "final state rows", "final state modes"}})
    if (s.state && (failed(sameExtent(*this, s.state, 0, s.rows, coeff, 0,
                                      "coefficient rows")) ||
                    failed(sameExtent(*this, s.state, 1, s.modes, coeff, 1,
                                      "coefficient modes"))))
      return failure();
  return success();
}

LogicalResult SsmCarryOp::verify() {
  Value states = getStatesReal(), mult = getMultiplierReal();
  if (failed(sameExtent(*this, states, 1, "state channels", mult, 0,
                        "multiplier rows")) ||
      failed(sameExtent(*this, states, 2, "state modes", mult, 1,
                        "multiplier modes")))
    return failure();
  return success();
}

LogicalResult SsmAdjointOp::verify() {
  Value in = getInput(), grad = getOutputGrad(), coeff = getAbarReal();
  if (failed(sameExtent(*this, in, 0, "input length", grad, 0,
                        "gradient length")) ||
      failed(sameExtent(*this, in, 1, "input channels", grad, 1,
                        "gradient channels")) ||
      failed(sameExtent(*this, in, 1, "input channels", coeff, 0,
                        "coefficient rows")))
    return failure();
  return success();
}

SmallVector<Value> SsmAdjointOp::buildStep(OpBuilder &b, Location loc,
                                           Value aRe, Value aIm, Value u,
                                           Value g, ValueRange carried) {
  // Products and sums may contract into multiply-adds: the step is twelve
  // of them a mode, and a GPU lane's modes are bound by their issue.
  constexpr auto contract = arith::FastMathFlags::contract;
  auto mul = [&](Value x, Value y) {
    return arith::MulFOp::create(b, loc, x, y, contract).getResult();
  };
  auto add = [&](Value x, Value y) {
    return arith::AddFOp::create(b, loc, x, y, contract).getResult();
  };
  auto sub = [&](Value x, Value y) {
    return arith::SubFOp::create(b, loc, x, y, contract).getResult();
  };
  Value rhoRe = carried[0], rhoIm = carried[1], sigRe = carried[2],
        sigIm = carried[3], pRe = carried[4], pIm = carried[5],
        qRe = carried[6], qIm = carried[7];
  // P += u rho, Q += u sigma, with rho and sigma of this row: after the
  // update against a forward scan (rho_t includes g_t), before it against
  // a reverse one (rho_t stops at g_{t-1}).
  auto accumulate = [&] {
    pRe = add(pRe, mul(u, rhoRe));
    pIm = add(pIm, mul(u, rhoIm));
    qRe = add(qRe, mul(u, sigRe));
    qIm = add(qIm, mul(u, sigIm));
  };
  if (getReverse())
    accumulate();
  // sigma = a sigma + rho; rho = a rho + g
  Value nsRe = add(sub(mul(aRe, sigRe), mul(aIm, sigIm)), rhoRe);
  Value nsIm = add(add(mul(aRe, sigIm), mul(aIm, sigRe)), rhoIm);
  Value nrRe = add(sub(mul(aRe, rhoRe), mul(aIm, rhoIm)), g);
  Value nrIm = add(mul(aRe, rhoIm), mul(aIm, rhoRe));
  rhoRe = nrRe;
  rhoIm = nrIm;
  sigRe = nsRe;
  sigIm = nsIm;
  if (!getReverse())
    accumulate();
  return {rhoRe, rhoIm, sigRe, sigIm, pRe, pIm, qRe, qIm};
}

//===----------------------------------------------------------------------===//
// TargetAttr
//===----------------------------------------------------------------------===//

/// The largest SM count a target may name: grids are sized from it.
constexpr int64_t kMaxMultiprocessors = 4096;

std::string TargetAttr::check(StringRef chip, int64_t multiprocessors) {
  std::string problem;
  llvm::raw_string_ostream os(problem);
  StringRef digits = chip;
  unsigned capability = 0;
  bool named = digits.consume_front("sm_");
  digits.consume_back("a");
  if (!named || digits.getAsInteger(10, capability) || capability < 80)
    os << "target chip must be sm_80 or later (sm_<capability>[a]), got '"
       << chip << "'";
  else if (multiprocessors < 1 || multiprocessors > kMaxMultiprocessors)
    os << "target multiprocessors must be in [1, " << kMaxMultiprocessors
       << "], got " << multiprocessors;
  return problem;
}

LogicalResult BufferTensorMapOp::verify() {
  auto type = getSource().getType();
  ArrayRef<int64_t> box = getBox();
  if (static_cast<int64_t>(box.size()) != type.getRank())
    return emitOpError() << "box has " << box.size()
                         << " dimensions; the source has " << type.getRank();
  for (int64_t d : box)
    if (d < 1 || d > 256)
      return emitOpError() << "box dimensions must lie in [1, 256], not " << d;
  int64_t swizzle = getSwizzle();
  if (!llvm::is_contained({0, 32, 64, 128}, swizzle))
    return emitOpError() << "swizzle must be 0, 32, 64 or 128 bytes, not "
                         << swizzle;
  int64_t rowBytes = box.back() * type.getElementTypeBitWidth() / 8;
  if (rowBytes % 16)
    return emitOpError() << "the box's rows (" << rowBytes
                         << " bytes) must be whole 16-byte chunks";
  if (swizzle && rowBytes > swizzle)
    return emitOpError() << "the box's rows (" << rowBytes
                         << " bytes) exceed the swizzle's span (" << swizzle
                         << " bytes)";
  return success();
}

LogicalResult TargetAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 StringRef chip, int64_t multiprocessors) {
  std::string problem = check(chip, multiprocessors);
  if (!problem.empty())
    return emitError() << problem;
  return success();
}

TargetAttr TargetAttr::getDefault(MLIRContext *context) {
  return TargetAttr::get(context, "sm_90a", 132);
}

int64_t TargetAttr::getSharedMemoryPerBlock() const {
  StringRef capability = getChip().drop_front(3); // sm_
  capability.consume_back("a");
  if (llvm::is_contained({"90", "100", "101", "103"}, capability))
    return 227 * 1024;
  if (llvm::is_contained({"80", "87"}, capability))
    return 163 * 1024;
  return 99 * 1024;
}

TargetAttr TargetAttr::lookup(Operation *op) {
  for (Operation *p = op; p; p = p->getParentOp())
    if (auto target = p->getAttrOfType<TargetAttr>(kAttrName))
      return target;
  return getDefault(op->getContext());
}


LogicalResult ScheduleAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                   int64_t blockQ, int64_t blockK,
                                   int64_t seqLen,
                                   DenseI32ArrayAttr fullOffsets,
                                   DenseI32ArrayAttr fullBlocks,
                                   DenseI32ArrayAttr partialOffsets,
                                   DenseI32ArrayAttr partialBlocks) {
  if (blockQ <= 0 || blockK <= 0 || seqLen <= 0 || blockQ > kMaxMaskExtent ||
      blockK > kMaxMaskExtent || seqLen > kMaxMaskExtent)
    return emitError() << "schedule needs block sizes and a length in [1, "
                       << kMaxMaskExtent << "], got block_q = " << blockQ
                       << ", block_k = " << blockK
                       << ", seq_len = " << seqLen;
  int64_t rows = (seqLen + blockQ - 1) / blockQ;
  int64_t cols = (seqLen + blockK - 1) / blockK;
  for (auto [offsets, blocks, name] :
       {std::make_tuple(fullOffsets, fullBlocks, "full"),
        std::make_tuple(partialOffsets, partialBlocks, "partial")}) {
    ArrayRef<int32_t> o = offsets.asArrayRef(), b = blocks.asArrayRef();
    if (static_cast<int64_t>(o.size()) != rows + 1 || o.front() != 0 ||
        o.back() != static_cast<int64_t>(b.size()) || !llvm::is_sorted(o))
      return emitError() << "schedule's " << name << "_offsets must be "
                         << rows + 1 << " non-decreasing entries from 0 to "
                         << b.size();
    if (llvm::any_of(b, [&](int32_t k) { return k < 0 || k >= cols; }))
      return emitError() << "schedule's " << name << "_blocks must lie in [0, "
                         << cols << ")";
  }
  // Each query tile lists a key tile at most once, in one class: key tiles
  // strictly increasing in each list, and no tile both full and partial.
  ArrayRef<int32_t> fo = fullOffsets.asArrayRef(), fb = fullBlocks.asArrayRef(),
                    po = partialOffsets.asArrayRef(),
                    pb = partialBlocks.asArrayRef();
  for (int64_t i = 0; i < rows; ++i) {
    ArrayRef<int32_t> full = fb.slice(fo[i], fo[i + 1] - fo[i]),
                      partial = pb.slice(po[i], po[i + 1] - po[i]);
    for (ArrayRef<int32_t> list : {full, partial})
      for (size_t t = 1; t < list.size(); ++t)
        if (list[t] <= list[t - 1])
          return emitError() << "schedule's query tile " << i
                             << " lists its key tiles out of order or twice";
    for (int32_t k : full)
      if (llvm::is_contained(partial, k))
        return emitError() << "schedule's query tile " << i << " lists key tile "
                           << k << " as both full and partial";
  }
  return success();
}

double ScheduleAttr::getTileDensity() const {
  double visited = getFullBlocks().size() + getPartialBlocks().size();
  return visited / double(getNumQueryTiles() * getNumKeyTiles());
}
