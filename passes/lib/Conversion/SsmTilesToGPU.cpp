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
// tile.ssm_adjoint (the gradient's sums P and Q) walks each (channel, mode)
// on its own lane too, against the scan's direction.
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
#include "TileOpPattern.h"
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
Value pairwiseSum(ScalarEmitter &e, SmallVector<Value> v) {
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

LogicalResult lowerSsmScan(SsmScanOp op, RewriterBase &b) {
  auto coeffType = cast<MemRefType>(op.getAbarReal().getType());
  const int64_t modes = coeffType.getDimSize(1);
  if (ShapedType::isDynamic(modes))
    return op.emitOpError("the GPU scan needs a static state size");
  if (failed(checkF32OnWarp(op, "scan")))
    return failure();

  const int64_t lanesPerChannel = ssmLanesPerChannel(modes);
  const int64_t modesPerLane = llvm::divideCeil(modes, lanesPerChannel);
  const int64_t channelsPerPass = ssmChannelsPerWarp(modes);
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
  Value lane = gpu::LaneIdOp::create(b, loc, IntegerAttr());
  Value sub = arith::RemUIOp::create(b, loc, lane, e.idx(lanesPerChannel));
  Value channelInPass =
      arith::DivUIOp::create(b, loc, lane, e.idx(lanesPerChannel));
  Value length = e.dim(op.getInput(), 0);
  Value channels = e.dim(op.getInput(), 1);
  Value zero = e.cst(0);
  using P = arith::CmpIPredicate;

  // Channel passes and time blocks are uniform over the warp: every lane
  // takes part in each step's shuffles. A lane past the group's channels
  // scans zeros and writes nothing.
  auto passes =
      scf::ForOp::create(b, loc, e.idx(0), channels, e.idx(channelsPerPass));
  b.setInsertionPointToStart(passes.getBody());
  Value channel = e.add(passes.getInductionVar(), channelInPass);
  Value active = e.cmp(P::ult, channel, channels);
  Value c = e.select(active, channel, e.idx(0));

  // This lane's modes n = sub + k j of a [C, S] buffer: zero past the
  // state; and stores back to one, of the modes it has.
  auto mode = [&](int64_t j) { return e.add(sub, e.idx(j * lanesPerChannel)); };
  auto perMode = [&](Value buffer) {
    SmallVector<Value> v;
    for (int64_t j = 0; j < modesPerLane; ++j) {
      Value inRange = e.cmp(P::ult, mode(j), e.idx(modes));
      Value safe = e.select(inRange, mode(j), e.idx(0));
      v.push_back(e.select(inRange, e.load(buffer, {c, safe}), zero));
    }
    return v;
  };
  auto storePerMode = [&](ValueRange v, Value buffer) {
    for (int64_t j = 0; j < modesPerLane; ++j)
      e.ifThen(e.andi(active, e.cmp(P::ult, mode(j), e.idx(modes))), [&] {
        e.store(v[j], buffer, {c, mode(j)});
      });
  };
  SmallVector<Value> aRe = perMode(op.getAbarReal()),
                     aIm = perMode(op.getAbarImag()),
                     wRe = perMode(op.getWReal()), wIm = perMode(op.getWImag());
  SmallVector<Value> aImNeg;
  for (Value a : aIm)
    aImNeg.push_back(arith::NegFOp::create(b, loc, a));
  SmallVector<Value> x0Re(modesPerLane, zero), x0Im(modesPerLane, zero);
  if (op.getInitReal()) {
    x0Re = perMode(op.getInitReal());
    x0Im = perMode(op.getInitImag());
  }

  // Step s of the scan is position t(s) = s (forward) or L - 1 - s.
  auto position = [&](Value s) {
    return reverse ? e.sub(e.sub(length, e.idx(1)), s) : s;
  };
  // The inputs of steps [s0, s0 + blockSteps): zeros past the sequence and for
  // inactive lanes; then, where the scan accumulates, the outputs it adds
  // to (loaded ahead too: a load at the step would stall it). Needs L > 0
  // (row 0 is read in place of missing ones).
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
  // Step s with input u (and the output's prior value, accumulating). In
  // the tail (steps that may lie past the sequence) the state stays put
  // past it where it is kept.
  auto step = [&](SmallVector<Value> &xRe, SmallVector<Value> &xIm, Value u,
                  Value prior, Value s, bool tail) {
    // forward: x = Abar x + W u, y = 2 Re sum x
    // reverse: y = 2 Re sum r, then r = Abar r + W u
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
      Value y = pairwiseSum(e, reverse ? xRe : newRe);
      for (int64_t offset = lanesPerChannel / 2; offset >= 1; offset /= 2)
        y = e.addf(y, gpu::ShuffleOp::create(b, loc, y, offset, kWarpLanes,
                                             gpu::ShuffleMode::XOR)
                          .getShuffleResult());
      Value writes = e.andi(e.cmp(P::eq, sub, e.idx(0)), active);
      if (tail)
        writes = e.andi(writes, inRange);
      e.ifThen(writes, [&] {
        Value t = position(s);
        Value out = e.mulf(y, e.cst(2));
        if (accumulate)
          out = e.addf(out, prior);
        e.store(out, output, {t, c});
      });
    }
    xRe = std::move(newRe);
    xIm = std::move(newIm);
  };

  // Whole blocks of blockSteps, the next block's inputs loaded ahead; then the
  // last L mod blockSteps steps. An empty sequence keeps the initial state.
  SmallVector<Type> stateTypes(2 * modesPerLane, b.getF32Type());
  auto nonEmpty =
      scf::IfOp::create(b, loc, stateTypes, e.cmp(P::sgt, length, e.idx(0)),
                        /*withElseRegion=*/true);
  SmallVector<Value> x0 = x0Re;
  llvm::append_range(x0, x0Im);
  b.setInsertionPointToStart(nonEmpty.elseBlock());
  scf::YieldOp::create(b, loc, x0);
  b.setInsertionPointToStart(nonEmpty.thenBlock());
  Value wholeEnd =
      e.sub(length, arith::RemUIOp::create(b, loc, length, e.idx(blockSteps)));
  SmallVector<Value> init = x0;
  llvm::append_range(init, loadBlock(e.idx(0)));
  auto blocks =
      scf::ForOp::create(b, loc, e.idx(0), wholeEnd, e.idx(blockSteps), init);
  auto prior = [&](ArrayRef<Value> block, int64_t i) {
    return accumulate ? block[blockSteps + i] : Value();
  };
  auto split = [&](ValueRange values, SmallVector<Value> &xRe,
                   SmallVector<Value> &xIm, SmallVector<Value> &u) {
    xRe.assign(values.begin(), values.begin() + modesPerLane);
    xIm.assign(values.begin() + modesPerLane,
               values.begin() + 2 * modesPerLane);
    u.assign(values.begin() + 2 * modesPerLane, values.end());
  };
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(blocks.getBody());
    Value s0 = blocks.getInductionVar();
    SmallVector<Value> xRe, xIm, u;
    split(blocks.getRegionIterArgs(), xRe, xIm, u);
    SmallVector<Value> next = loadBlock(e.add(s0, e.idx(blockSteps)));
    for (int64_t i = 0; i < blockSteps; ++i)
      step(xRe, xIm, u[i], prior(u, i), e.add(s0, e.idx(i)), /*tail=*/false);
    SmallVector<Value> yielded = xRe;
    llvm::append_range(yielded, xIm);
    llvm::append_range(yielded, next);
    scf::YieldOp::create(b, loc, yielded);
  }
  SmallVector<Value> xRe, xIm, u;
  split(blocks.getResults(), xRe, xIm, u);
  for (int64_t i = 0; i + 1 < blockSteps; ++i)
    step(xRe, xIm, u[i], prior(u, i), e.add(wholeEnd, e.idx(i)),
         /*tail=*/true);
  SmallVector<Value> final = xRe;
  llvm::append_range(final, xIm);
  scf::YieldOp::create(b, loc, final);
  b.setInsertionPointAfter(nonEmpty);
  if (keepsState) {
    ValueRange x = nonEmpty.getResults();
    SmallVector<Value> xRe(x.take_front(modesPerLane)),
        xIm(x.drop_front(modesPerLane));
    if (factored) {
      // x = W z
      for (int64_t j = 0; j < modesPerLane; ++j) {
        Value re = e.fma(wRe[j], xRe[j],
                         arith::NegFOp::create(b, loc, e.mulf(wIm[j], xIm[j])));
        xIm[j] = e.fma(wRe[j], xIm[j], e.mulf(wIm[j], xRe[j]));
        xRe[j] = re;
      }
    }
    storePerMode(xRe, op.getStateReal());
    storePerMode(xIm, op.getStateImag());
  }
  b.eraseOp(op);
  return success();
}

/// A lane per (channel, mode) of the group, in passes of 32; each walks the
/// chunks in order, their states loaded kSteps at a time ahead of the
/// dependent multiply-adds.
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


// tile.ssm_adjoint: each (channel, mode) of the group on its own lane, in
// passes of a warp, walks the rows against the scan's direction with its
// carried values in registers; the rows' inputs and gradients come kSteps
// at a time, loaded before the block is computed. The lanes of a channel
// read the same row values (one broadcast load).
LogicalResult lowerSsmAdjoint(SsmAdjointOp op, RewriterBase &b) {
  if (failed(checkF32OnWarp(op, "ssm adjoint")))
    return failure();
  b.setInsertionPoint(op);
  Location loc = op.getLoc();
  ScalarEmitter e{b, loc};
  using P = arith::CmpIPredicate;
  Value rows = e.dim(op.getInput(), 0);
  LaneElement el =
      laneElements(e, e.dim(op.getAbarReal(), 0), e.dim(op.getAbarReal(), 1));
  Value c = el.channel, n = el.mode, active = el.active;
  Value ar = e.load(op.getAbarReal(), {c, n});
  Value ai = e.load(op.getAbarImag(), {c, n});
  SmallVector<Value> init(SsmAdjointOp::kCarried, e.cst(0));
  auto blocks =
      scf::ForOp::create(b, loc, e.idx(0), rows, e.idx(kSteps), init);
  b.setInsertionPointToStart(blocks.getBody());
  Value s0 = blocks.getInductionVar();
  SmallVector<Value> inRange, us, gs;
  for (int64_t i = 0; i < kSteps; ++i) {
    Value s = e.add(s0, e.idx(i));
    inRange.push_back(e.cmp(P::ult, s, rows));
    // Against the scan: a forward scan's adjoint runs backwards.
    Value t = op.getReverse() ? s : e.sub(e.sub(rows, e.idx(1)), s);
    t = e.select(inRange.back(), t, e.idx(0));
    us.push_back(e.load(op.getInput(), {t, c}));
    gs.push_back(e.load(op.getOutputGrad(), {t, c}));
  }
  SmallVector<Value> carried(blocks.getRegionIterArgs());
  for (int64_t i = 0; i < kSteps; ++i) {
    SmallVector<Value> next =
        op.buildStep(b, loc, ar, ai, us[i], gs[i], carried);
    for (unsigned k = 0; k < SsmAdjointOp::kCarried; ++k)
      carried[k] = e.select(inRange[i], next[k], carried[k]);
  }
  scf::YieldOp::create(b, loc, carried);
  b.setInsertionPointAfter(blocks);
  Value outs[] = {op.getPReal(), op.getPImag(), op.getQReal(), op.getQImag()};
  e.ifThen(active, [&] {
    for (auto [i, out] : llvm::enumerate(outs))
      e.store(blocks.getResult(4 + i), out, {c, n});
  });
  b.eraseOp(op);
  return success();
}

} // namespace

void mlir::attn::populateSsmTilesToGPUPatterns(RewritePatternSet &patterns) {
  addTileLowering(patterns, lowerSsmScan);
  addTileLowering(patterns, lowerSsmCarry);
  addTileLowering(patterns, lowerSsmAdjoint);
}

namespace {
struct ConvertSsmTilesToGPUPass
    : public mlir::attn::impl::ConvertSsmTilesToGPUBase<
          ConvertSsmTilesToGPUPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateSsmTilesToGPUPatterns(patterns);
    ConversionTarget target(getContext());
    target.addIllegalOp<SsmScanOp, SsmCarryOp, SsmAdjointOp>();
    if (failed(applyTileLowerings(getOperation(), std::move(patterns), target)))
      signalPassFailure();
  }
};
} // namespace
