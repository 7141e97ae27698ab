//===- SsmTilesToGPU.cpp - the SSM's scan on the GPU ----------------------===//
//
// attn-tile gives each instance (a warp, under attn-map-loops-to-gpu with
// lanes-per-iteration=32) one batch entry and a group of channels of an
// attn.ssm -- of the whole sequence, or of one chunk of it. Its
// tile.ssm_scan runs the diagonal recurrence along its rows with the state
// in registers:
//
// - the S complex modes of a channel are split over k lanes (k the smallest
//   power of two that leaves each lane at most kScanMaxModesPerLane modes;
//   mode n on lane n mod k), so a warp scans 32 / k channels at once and
//   loops over the group's channels in passes of that many (attn-tile's GPU
//   form makes groups of that many by default);
// - each lane keeps its modes' state and their coefficients (Abar, W) as
//   scalars, loaded once per pass, the state from `from` or zero;
// - the inputs come kSteps time steps at a time (twice that for a scan
//   without outputs, whose steps are shorter), the next block's loads
//   issued before this block is computed (a step depends on its input only,
//   so their latency overlaps the recurrence); the last L mod kSteps steps
//   follow the loop, where a kept state must not move past the rows; a
//   chunk's state from zero scans z = Abar z + u and multiplies by W once;
// - each step's output is the sum over the channel's k lanes (xor shuffles
//   within the k-lane group), written by the group's first lane -- or added,
//   for the reverse direction that accumulates, to the value it loaded with
//   the block's inputs (the same lane wrote it in the forward scan); a scan
//   that only keeps its final state (a chunk's, from zero) does none of that.
//
// tile.ssm_adjoint (the gradient's sums P and Q) lays a group's modes over
// lanes as the scan does and walks the rows against the scan's direction,
// each lane carrying its modes' recurrences (independent of each other, so
// a lane's steps overlap) with the rows' inputs loaded a block ahead; the
// two share that layout (ModeLanes) and the walk in blocks
// (sweepInBlocks).
//
// tile.ssm_carry, between the chunks' two scans, walks each (channel, mode)
// of a group over the chunks on its own lane.
//
// The sequential scan keeps all B x C x S recurrences in flight at once;
// it does S complex multiply-adds per output on CUDA cores in f32. Chunks
// multiply the warps by L / T for about 1.5 times the work (the chunk's
// state, then its outputs).
//
//===----------------------------------------------------------------------===//

#include "GPUTiles.h"
#include "OpLowering.h"
#include "attn/Conversion/Passes.h"
#include "attn/Transforms/SsmScanLayout.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/MathExtras.h"

namespace mlir::attn {
#define GEN_PASS_DEF_CONVERTSSMTILESTOGPU
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_tiles;

namespace {

/// Time steps whose inputs are loaded together.
constexpr int64_t kSteps = 8;

/// Pairwise sum (a short dependency chain).
Value pairwiseSum(ScalarEmitter &e, ArrayRef<Value> terms) {
  SmallVector<Value> v(terms);
  while (v.size() > 1) {
    SmallVector<Value> next;
    for (size_t i = 0; i + 1 < v.size(); i += 2)
      next.push_back(e.addf(v[i], v[i + 1]));
    if (v.size() % 2)
      next.push_back(v.back());
    v = std::move(next);
  }
  return v.front();
}

/// The scan's and the carry's preconditions: f32 operands, and a whole
/// warp to run on.
LogicalResult checkF32OnWarp(Operation *op, StringRef what) {
  for (Value v : op->getOperands())
    if (!cast<MemRefType>(v.getType()).getElementType().isF32())
      return op->emitOpError() << "the GPU " << what << " computes on f32";
  auto launch = op->getParentOfType<gpu::LaunchOp>();
  if (!launch || !reachedByWholeBlock(op, launch))
    return op->emitOpError() << "needs a whole warp: attn-map-loops-to-gpu "
                                "(lanes-per-iteration=32) maps attn-tile's "
                             << what << " instances to warps";
  return success();
}

/// A channel group's (channel, mode) pairs over a warp's lanes, as the scan
/// and the adjoint lay them out: k lanes share a channel (the smallest power
/// of two that leaves each at most `maxModesPerLane` modes), mode n on lane
/// n mod k of its channel, a pass over 32 / k channels at a time.
struct ModeLanes {
  ModeLanes(ScalarEmitter &e, int64_t modes, int64_t maxModesPerLane)
      : e(e), modes(modes),
        lanesPerChannel(ssmLanesPerChannel(modes, maxModesPerLane)),
        modesPerLane(llvm::divideCeil(modes, lanesPerChannel)),
        channelsPerPass(kScanWarpLanes / lanesPerChannel) {
    Value lane = gpu::LaneIdOp::create(e.b, e.loc, IntegerAttr());
    sub = arith::RemUIOp::create(e.b, e.loc, lane, e.idx(lanesPerChannel));
    channelInPass =
        arith::DivUIOp::create(e.b, e.loc, lane, e.idx(lanesPerChannel));
  }

  /// Opens the loop over passes at the builder: sets this lane's channel `c`
  /// (0 where it has none) and `active`. Passes are uniform over the warp,
  /// so every lane takes part in each step's shuffles.
  void openPasses(Value channels) {
    auto passes = scf::ForOp::create(e.b, e.loc, e.idx(0), channels,
                                     e.idx(channelsPerPass));
    e.b.setInsertionPointToStart(passes.getBody());
    Value channel = e.add(passes.getInductionVar(), channelInPass);
    active = e.cmp(arith::CmpIPredicate::ult, channel, channels);
    c = e.select(active, channel, e.idx(0));
  }

  /// This lane's j-th mode, sub + k j.
  Value mode(int64_t j) { return e.add(sub, e.idx(j * lanesPerChannel)); }
  Value hasMode(int64_t j) {
    return e.cmp(arith::CmpIPredicate::ult, mode(j), e.idx(modes));
  }
  /// This lane's modes of a [C, S] buffer, zero past the state.
  SmallVector<Value> perMode(Value buffer) {
    SmallVector<Value> v;
    for (int64_t j = 0; j < modesPerLane; ++j) {
      Value inRange = hasMode(j);
      Value safe = e.select(inRange, mode(j), e.idx(0));
      v.push_back(e.select(inRange, e.load(buffer, {c, safe}), e.cst(0)));
    }
    return v;
  }
  /// Stores v[j] to this lane's modes of a [C, S] buffer, those it has.
  void storePerMode(ValueRange v, Value buffer) {
    for (int64_t j = 0; j < modesPerLane; ++j)
      e.ifThen(e.andi(active, hasMode(j)), [&] {
        e.store(v[j], buffer, {c, mode(j)});
      });
  }

  ScalarEmitter &e;
  const int64_t modes, lanesPerChannel, modesPerLane, channelsPerPass;
  Value sub, channelInPass, c, active;
};

/// A block of steps' inputs, loaded together from step s0 (values per step
/// in the loader's own order).
using BlockLoader = function_ref<SmallVector<Value>(Value s0)>;
/// Step s, the i-th of its block, on the carried values; `tail` marks the
/// steps after the whole blocks, which may lie past the sequence.
using BlockStep =
    function_ref<void(SmallVector<Value> &carried, ArrayRef<Value> block,
                      int64_t i, Value s, bool tail)>;

/// Walks steps [0, length) carrying `init`: whole blocks of `blockSteps` in a
/// loop, each block's inputs loaded while the block before is computed (a
/// step depends on its inputs only, so their latency overlaps the
/// recurrence); then the last length mod blockSteps steps, as the tail. An
/// empty sequence keeps `init`; `load` may read row 0 in place of rows past
/// the sequence (it is called only where length > 0). Returns the carried
/// values at the end.
SmallVector<Value> sweepInBlocks(ScalarEmitter &e, Value length,
                                 int64_t blockSteps, ValueRange init,
                                 BlockLoader load, BlockStep step) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  const size_t n = init.size();
  auto nonEmpty =
      scf::IfOp::create(b, loc, TypeRange(init),
                        e.cmp(arith::CmpIPredicate::sgt, length, e.idx(0)),
                        /*withElseRegion=*/true);
  b.setInsertionPointToStart(nonEmpty.elseBlock());
  scf::YieldOp::create(b, loc, init);
  b.setInsertionPointToStart(nonEmpty.thenBlock());
  Value wholeEnd =
      e.sub(length, arith::RemUIOp::create(b, loc, length, e.idx(blockSteps)));
  SmallVector<Value> loopInit(init);
  llvm::append_range(loopInit, load(e.idx(0)));
  auto blocks = scf::ForOp::create(b, loc, e.idx(0), wholeEnd,
                                   e.idx(blockSteps), loopInit);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(blocks.getBody());
    Value s0 = blocks.getInductionVar();
    ValueRange args = blocks.getRegionIterArgs();
    SmallVector<Value> carried(args.take_front(n)), block(args.drop_front(n));
    SmallVector<Value> next = load(e.add(s0, e.idx(blockSteps)));
    for (int64_t i = 0; i < blockSteps; ++i)
      step(carried, block, i, e.add(s0, e.idx(i)), /*tail=*/false);
    llvm::append_range(carried, next);
    scf::YieldOp::create(b, loc, carried);
  }
  ValueRange results = blocks.getResults();
  SmallVector<Value> carried(results.take_front(n)),
      block(results.drop_front(n));
  for (int64_t i = 0; i + 1 < blockSteps; ++i)
    step(carried, block, i, e.add(wholeEnd, e.idx(i)), /*tail=*/true);
  scf::YieldOp::create(b, loc, carried);
  b.setInsertionPointAfter(nonEmpty);
  return nonEmpty.getResults();
}

LogicalResult lowerSsmScan(SsmScanOp op, RewriterBase &b) {
  auto coeffType = cast<MemRefType>(op.getAbarReal().getType());
  const int64_t modes = coeffType.getDimSize(1);
  if (ShapedType::isDynamic(modes))
    return op.emitOpError("the GPU scan needs a static state size");
  if (failed(checkF32OnWarp(op, "scan")))
    return failure();

  const bool reverse = op.getReverse(), accumulate = op.getAccumulate();
  Value output = op.getOutput();
  const bool keepsState = bool(op.getStateReal());
  // A chunk's state from zero is W times the scan of u alone,
  // z = Abar z + u: 4 multiply-adds a mode a step instead of 6, W applied
  // once at the end. Without outputs a step is short: twice the steps of
  // inputs are loaded ahead (the first pass over them reads DRAM).
  const bool factored = !output && !op.getInitReal();
  const int64_t blockSteps = output ? kSteps : 2 * kSteps;

  b.setInsertionPoint(op);
  Location loc = op.getLoc();
  ScalarEmitter e{b, loc};
  ModeLanes lanes(e, modes, kScanMaxModesPerLane);
  const int64_t lanesPerChannel = lanes.lanesPerChannel,
                modesPerLane = lanes.modesPerLane;
  Value length = e.dim(op.getInput(), 0);
  Value zero = e.cst(0);
  using P = arith::CmpIPredicate;

  // A lane past the group's channels scans zeros and writes nothing.
  lanes.openPasses(e.dim(op.getInput(), 1));
  Value c = lanes.c, active = lanes.active;
  SmallVector<Value> aRe = lanes.perMode(op.getAbarReal()),
                     aIm = lanes.perMode(op.getAbarImag()),
                     wRe = lanes.perMode(op.getWReal()),
                     wIm = lanes.perMode(op.getWImag());
  SmallVector<Value> aImNeg;
  for (Value a : aIm)
    aImNeg.push_back(arith::NegFOp::create(b, loc, a));
  SmallVector<Value> x0(2 * modesPerLane, zero);
  if (op.getInitReal()) {
    x0 = lanes.perMode(op.getInitReal());
    llvm::append_range(x0, lanes.perMode(op.getInitImag()));
  }

  // Step s of the scan is position t(s) = s (forward) or L - 1 - s.
  auto position = [&](Value s) {
    return reverse ? e.sub(e.sub(length, e.idx(1)), s) : s;
  };
  // The inputs of steps [s0, s0 + blockSteps): zeros past the sequence and for
  // inactive lanes; then, where the scan accumulates, the outputs it adds
  // to (loaded ahead too: a load at the step would stall it).
  auto loadBlock = [&](Value s0) {
    SmallVector<Value> u, prior;
    for (int64_t i = 0; i < blockSteps; ++i) {
      Value s = e.add(s0, e.idx(i));
      Value inRange = e.cmp(P::ult, s, length);
      Value t = e.select(inRange, position(s), e.idx(0));
      Value valid = e.andi(inRange, active);
      u.push_back(e.select(valid, e.load(op.getInput(), {t, c}), zero));
      if (accumulate)
        prior.push_back(e.select(valid, e.load(output, {t, c}), zero));
    }
    llvm::append_range(u, prior);
    return u;
  };
  // Step s on the state x = (re..., im...) with the block's input (and the
  // output's prior value, accumulating). In the tail the state stays put
  // past the sequence where it is kept.
  auto step = [&](SmallVector<Value> &x, ArrayRef<Value> block, int64_t i,
                  Value s, bool tail) {
    // forward: x = Abar x + W u, y = 2 Re sum x
    // reverse: y = 2 Re sum r, then r = Abar r + W u
    ArrayRef<Value> xRe = ArrayRef<Value>(x).take_front(modesPerLane),
                    xIm = ArrayRef<Value>(x).drop_front(modesPerLane);
    Value u = block[i];
    Value inRange = tail ? e.cmp(P::ult, s, length) : Value();
    SmallVector<Value> newRe, newIm;
    for (int64_t j = 0; j < modesPerLane; ++j) {
      if (factored) {
        newRe.push_back(e.fma(aRe[j], xRe[j], e.fma(aImNeg[j], xIm[j], u)));
        newIm.push_back(e.fma(aRe[j], xIm[j], e.mulf(aIm[j], xRe[j])));
      } else {
        newRe.push_back(
            e.fma(wRe[j], u, e.fma(aRe[j], xRe[j], e.mulf(aImNeg[j], xIm[j]))));
        newIm.push_back(
            e.fma(wIm[j], u, e.fma(aRe[j], xIm[j], e.mulf(aIm[j], xRe[j]))));
      }
      if (tail && keepsState) {
        newRe.back() = e.select(inRange, newRe.back(), xRe[j]);
        newIm.back() = e.select(inRange, newIm.back(), xIm[j]);
      }
    }
    if (output) {
      Value y = pairwiseSum(e, reverse ? xRe : ArrayRef<Value>(newRe));
      for (int64_t offset = lanesPerChannel / 2; offset >= 1; offset /= 2)
        y = e.addf(y, gpu::ShuffleOp::create(b, loc, y, offset, kWarpLanes,
                                             gpu::ShuffleMode::XOR)
                          .getShuffleResult());
      Value writes = e.andi(e.cmp(P::eq, lanes.sub, e.idx(0)), active);
      if (tail)
        writes = e.andi(writes, inRange);
      e.ifThen(writes, [&] {
        Value t = position(s);
        Value out = e.mulf(y, e.cst(2));
        if (accumulate)
          out = e.addf(out, block[blockSteps + i]);
        e.store(out, output, {t, c});
      });
    }
    x = std::move(newRe);
    llvm::append_range(x, newIm);
  };
  SmallVector<Value> x =
      sweepInBlocks(e, length, blockSteps, x0, loadBlock, step);
  if (keepsState) {
    SmallVector<Value> xRe(ArrayRef<Value>(x).take_front(modesPerLane)),
        xIm(ArrayRef<Value>(x).drop_front(modesPerLane));
    if (factored) {
      // x = W z
      for (int64_t j = 0; j < modesPerLane; ++j) {
        Value re = e.fma(wRe[j], xRe[j],
                         arith::NegFOp::create(b, loc, e.mulf(wIm[j], xIm[j])));
        xIm[j] = e.fma(wRe[j], xIm[j], e.mulf(wIm[j], xRe[j]));
        xRe[j] = re;
      }
    }
    lanes.storePerMode(xRe, op.getStateReal());
    lanes.storePerMode(xIm, op.getStateImag());
  }
  b.eraseOp(op);
  return success();
}

/// One (channel, mode) of a [channels, modes] group per lane, in passes of
/// a warp: opens the passes' loop at the builder and gives this lane's
/// element in the pass (0, 0 where the lane has none) and whether it has
/// one.
struct LaneElement {
  Value channel, mode, active;
};
LaneElement laneElements(ScalarEmitter &e, Value channels, Value modes) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value elements = arith::MulIOp::create(b, loc, channels, modes);
  Value lane = gpu::LaneIdOp::create(b, loc, IntegerAttr());
  auto passes =
      scf::ForOp::create(b, loc, e.idx(0), elements, e.idx(kWarpLanes));
  b.setInsertionPointToStart(passes.getBody());
  Value element = e.add(passes.getInductionVar(), lane);
  Value active = e.cmp(arith::CmpIPredicate::ult, element, elements);
  Value safe = e.select(active, element, e.idx(0));
  return {arith::DivUIOp::create(b, loc, safe, modes),
          arith::RemUIOp::create(b, loc, safe, modes), active};
}

// tile.ssm_carry: a lane per (channel, mode) of the group, in passes of 32;
// each walks the chunks in order, their states loaded kSteps at a time
// ahead of the dependent multiply-adds.
LogicalResult lowerSsmCarry(SsmCarryOp op, RewriterBase &b) {
  if (failed(checkF32OnWarp(op, "carry")))
    return failure();
  b.setInsertionPoint(op);
  Location loc = op.getLoc();
  ScalarEmitter e{b, loc};
  using P = arith::CmpIPredicate;
  Value re = op.getStatesReal(), im = op.getStatesImag();
  Value chunks = e.dim(re, 0);
  LaneElement el = laneElements(e, e.dim(re, 1), e.dim(re, 2));
  Value c = el.channel, n = el.mode, active = el.active;
  Value mr = e.load(op.getMultiplierReal(), {c, n});
  Value mi = e.load(op.getMultiplierImag(), {c, n});
  Value miNeg = arith::NegFOp::create(b, loc, mi);
  auto blocks = scf::ForOp::create(b, loc, e.idx(0), chunks, e.idx(kSteps),
                                   ValueRange{e.cst(0), e.cst(0)});
  b.setInsertionPointToStart(blocks.getBody());
  Value k0 = blocks.getInductionVar();
  SmallVector<Value> ks, inRange, sRe, sIm;
  for (int64_t i = 0; i < kSteps; ++i) {
    Value s = e.add(k0, e.idx(i));
    inRange.push_back(e.cmp(P::ult, s, chunks));
    Value k = op.getReverse() ? e.sub(e.sub(chunks, e.idx(1)), s) : s;
    ks.push_back(e.select(inRange.back(), k, e.idx(0)));
    sRe.push_back(e.load(re, {ks.back(), c, n}));
    sIm.push_back(e.load(im, {ks.back(), c, n}));
  }
  Value cr = blocks.getRegionIterArgs()[0], ci = blocks.getRegionIterArgs()[1];
  for (int64_t i = 0; i < kSteps; ++i) {
    e.ifThen(e.andi(active, inRange[i]), [&] {
      e.store(cr, re, {ks[i], c, n});
      e.store(ci, im, {ks[i], c, n});
    });
    // carry = M carry + s
    Value nr = e.fma(mr, cr, e.fma(miNeg, ci, sRe[i]));
    Value ni = e.fma(mr, ci, e.fma(mi, cr, sIm[i]));
    cr = e.select(inRange[i], nr, cr);
    ci = e.select(inRange[i], ni, ci);
  }
  scf::YieldOp::create(b, loc, ValueRange{cr, ci});
  b.eraseOp(op);
  return success();
}

// tile.ssm_adjoint: the scan's layout of (channel, mode) pairs over lanes,
// at most kAdjointMaxModesPerLane modes a lane (eight carried values each;
// attn-tile's GPU form gives the adjoint groups of as many channels as one
// pass takes, ssmAdjointChannelsPerWarp),
// each lane walking the rows against the scan's direction with its modes'
// recurrences in registers -- independent, so a lane's steps overlap -- and
// the rows' inputs and gradients loaded a block ahead.
LogicalResult lowerSsmAdjoint(SsmAdjointOp op, RewriterBase &b) {
  const int64_t modes =
      cast<MemRefType>(op.getAbarReal().getType()).getDimSize(1);
  if (ShapedType::isDynamic(modes))
    return op.emitOpError("the GPU ssm adjoint needs a static state size");
  if (failed(checkF32OnWarp(op, "ssm adjoint")))
    return failure();
  b.setInsertionPoint(op);
  Location loc = op.getLoc();
  ScalarEmitter e{b, loc};
  using P = arith::CmpIPredicate;
  constexpr unsigned kCarried = SsmAdjointOp::kCarried;
  ModeLanes lanes(e, modes, kAdjointMaxModesPerLane);
  const int64_t modesPerLane = lanes.modesPerLane;
  Value rows = e.dim(op.getInput(), 0);
  lanes.openPasses(e.dim(op.getInput(), 1));
  SmallVector<Value> aRe = lanes.perMode(op.getAbarReal()),
                     aIm = lanes.perMode(op.getAbarImag());

  // Against the scan: a forward scan's adjoint runs backwards. The lanes of
  // a channel read the same row values (one broadcast load).
  auto loadBlock = [&](Value s0) {
    SmallVector<Value> u, g;
    for (int64_t i = 0; i < kSteps; ++i) {
      Value s = e.add(s0, e.idx(i));
      Value inRange = e.cmp(P::ult, s, rows);
      Value t = op.getReverse() ? s : e.sub(e.sub(rows, e.idx(1)), s);
      t = e.select(inRange, t, e.idx(0));
      u.push_back(e.load(op.getInput(), {t, lanes.c}));
      g.push_back(e.load(op.getOutputGrad(), {t, lanes.c}));
    }
    llvm::append_range(u, g);
    return u;
  };
  // Mode j's values are carried[kCarried j + k]. In the tail a step past
  // the rows leaves them.
  auto step = [&](SmallVector<Value> &carried, ArrayRef<Value> block, int64_t i,
                  Value s, bool tail) {
    Value inRange = tail ? e.cmp(P::ult, s, rows) : Value();
    for (int64_t j = 0; j < modesPerLane; ++j) {
      MutableArrayRef<Value> mine =
          MutableArrayRef<Value>(carried).slice(kCarried * j, kCarried);
      SmallVector<Value> next =
          op.buildStep(b, loc, aRe[j], aIm[j], block[i], block[kSteps + i],
                       SmallVector<Value>(mine));
      for (unsigned k = 0; k < kCarried; ++k)
        mine[k] = tail ? e.select(inRange, next[k], mine[k]) : next[k];
    }
  };
  SmallVector<Value> init(kCarried * modesPerLane, e.cst(0));
  SmallVector<Value> sums =
      sweepInBlocks(e, rows, kSteps, init, loadBlock, step);
  // P and Q (re, im) follow rho and sigma in each mode's carried values.
  Value outs[] = {op.getPReal(), op.getPImag(), op.getQReal(), op.getQImag()};
  for (auto [k, out] : llvm::enumerate(outs)) {
    SmallVector<Value> perMode;
    for (int64_t j = 0; j < modesPerLane; ++j)
      perMode.push_back(sums[kCarried * j + 4 + k]);
    lanes.storePerMode(perMode, out);
  }
  b.eraseOp(op);
  return success();
}

} // namespace

void mlir::attn::populateSsmTilesToGPUPatterns(RewritePatternSet &patterns) {
  addLowering(patterns, lowerSsmScan);
  addLowering(patterns, lowerSsmCarry);
  addLowering(patterns, lowerSsmAdjoint);
}

namespace {
struct ConvertSsmTilesToGPUPass
    : public mlir::attn::impl::ConvertSsmTilesToGPUBase<
          ConvertSsmTilesToGPUPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateSsmTilesToGPUPatterns(patterns);
    if (failed(applyLowerings(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
