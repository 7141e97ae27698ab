//===- SsmTilesToGPU.cpp - the SSM's scan on the GPU ----------------------===//
//
// attn-tile gives each instance (a warp, under attn-map-loops-to-gpu with
// lanes-per-iteration=32) one batch entry and a group of channels of an
// attn.ssm. Its tile.ssm_scan runs the diagonal recurrence along the
// sequence with the state in registers:
//
// - the S complex modes of a channel are split over k lanes (k the smallest
//   power of two that leaves each lane at most kScanMaxModesPerLane modes;
//   mode n on lane n mod k), so a warp scans 32 / k channels at once and
//   loops over the group's channels in passes of that many (attn-tile's GPU
//   form makes groups of that many by default);
// - each lane keeps its modes' state and their coefficients (Abar, W) as
//   scalars, loaded once per pass;
// - the inputs come kSteps time steps at a time, the next block's loads
//   issued before this block is computed (a step depends on its input only,
//   so their latency overlaps the recurrence);
// - each step's output is the sum over the channel's k lanes (xor shuffles
//   within the k-lane group), written (or added, for the reverse direction
//   that accumulates) by the group's first lane.
//
// The sequential scan keeps all B x C x S recurrences in flight at once;
// it does S complex multiply-adds per output on CUDA cores in f32.
//
//===----------------------------------------------------------------------===//

#include "GPUTiles.h"
#include "attn/Transforms/SsmScanLayout.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/Support/MathExtras.h"

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

LogicalResult lowerSsmScan(SsmScanOp op) {
  auto coeffType = cast<MemRefType>(op.getAbarReal().getType());
  const int64_t modes = coeffType.getDimSize(1);
  if (ShapedType::isDynamic(modes))
    return op.emitOpError("the GPU scan needs a static state size");
  if (!cast<MemRefType>(op.getInput().getType()).getElementType().isF32() ||
      !coeffType.getElementType().isF32())
    return op.emitOpError("the GPU scan computes on f32 inputs");
  auto launch = op->getParentOfType<gpu::LaunchOp>();
  if (!launch || !reachedByWholeBlock(op, launch))
    return op.emitOpError("needs a whole warp: attn-map-loops-to-gpu "
                          "(lanes-per-iteration=32) maps attn-tile's scan "
                          "instances to warps");

  const int64_t lanesPerChannel = ssmLanesPerChannel(modes);
  const int64_t modesPerLane = llvm::divideCeil(modes, lanesPerChannel);
  const int64_t channelsPerPass = ssmChannelsPerWarp(modes);
  const bool reverse = op.getReverse(), accumulate = op.getAccumulate();

  OpBuilder b(op);
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

  // This lane's modes n = sub + k j: coefficients, zero past the state.
  auto coefficients = [&](Value buffer) {
    SmallVector<Value> v;
    for (int64_t j = 0; j < modesPerLane; ++j) {
      Value n = e.add(sub, e.idx(j * lanesPerChannel));
      Value inRange = e.cmp(P::ult, n, e.idx(modes));
      Value safe = e.select(inRange, n, e.idx(0));
      v.push_back(e.select(inRange, e.load(buffer, {c, safe}), zero));
    }
    return v;
  };
  SmallVector<Value> aRe = coefficients(op.getAbarReal()),
                     aIm = coefficients(op.getAbarImag()),
                     wRe = coefficients(op.getWReal()),
                     wIm = coefficients(op.getWImag());
  SmallVector<Value> aImNeg;
  for (Value a : aIm)
    aImNeg.push_back(arith::NegFOp::create(b, loc, a));

  // Step s of the scan is position t(s) = s (forward) or L - 1 - s.
  auto position = [&](Value s) {
    return reverse ? e.sub(e.sub(length, e.idx(1)), s) : s;
  };
  // The inputs of steps [s0, s0 + kSteps): zeros past the sequence and for
  // inactive lanes. Needs L > 0 (row 0 is read in place of missing ones).
  auto loadBlock = [&](Value s0) {
    SmallVector<Value> u;
    for (int64_t i = 0; i < kSteps; ++i) {
      Value s = e.add(s0, e.idx(i));
      Value inRange = e.cmp(P::ult, s, length);
      Value t = e.select(inRange, position(s), e.idx(0));
      u.push_back(e.select(e.andi(inRange, active),
                           e.load(op.getInput(), {t, c}), zero));
    }
    return u;
  };

  auto nonEmpty = scf::IfOp::create(b, loc, e.cmp(P::sgt, length, e.idx(0)),
                                    /*withElseRegion=*/false);
  b.setInsertionPointToStart(nonEmpty.thenBlock());
  SmallVector<Value> init(2 * modesPerLane, zero);
  llvm::append_range(init, loadBlock(e.idx(0)));
  auto blocks =
      scf::ForOp::create(b, loc, e.idx(0), length, e.idx(kSteps), init);
  b.setInsertionPointToStart(blocks.getBody());
  Value s0 = blocks.getInductionVar();
  ValueRange args = blocks.getRegionIterArgs();
  SmallVector<Value> xRe(args.begin(), args.begin() + modesPerLane);
  SmallVector<Value> xIm(args.begin() + modesPerLane,
                         args.begin() + 2 * modesPerLane);
  SmallVector<Value> u(args.begin() + 2 * modesPerLane, args.end());
  SmallVector<Value> next = loadBlock(e.add(s0, e.idx(kSteps)));
  for (int64_t i = 0; i < kSteps; ++i) {
    Value s = e.add(s0, e.idx(i));
    // forward: x = Abar x + W u, y = 2 Re sum x
    // reverse: y = 2 Re sum r, then r = Abar r + W u
    SmallVector<Value> newRe, newIm;
    for (int64_t j = 0; j < modesPerLane; ++j) {
      newRe.push_back(e.fma(wRe[j], u[i],
                            e.fma(aRe[j], xRe[j], e.mulf(aImNeg[j], xIm[j]))));
      newIm.push_back(
          e.fma(wIm[j], u[i], e.fma(aRe[j], xIm[j], e.mulf(aIm[j], xRe[j]))));
    }
    Value y = pairwiseSum(e, reverse ? xRe : newRe);
    for (int64_t offset = lanesPerChannel / 2; offset >= 1; offset /= 2)
      y = e.addf(y, gpu::ShuffleOp::create(b, loc, y, offset, kWarpLanes,
                                           gpu::ShuffleMode::XOR)
                        .getShuffleResult());
    xRe = std::move(newRe);
    xIm = std::move(newIm);
    Value writes = e.andi(e.andi(e.cmp(P::eq, sub, e.idx(0)), active),
                          e.cmp(P::ult, s, length));
    e.ifThen(writes, [&] {
      Value t = position(s);
      Value out = e.mulf(y, e.cst(2));
      if (accumulate)
        out = e.addf(out, e.load(op.getOutput(), {t, c}));
      e.store(out, op.getOutput(), {t, c});
    });
  }
  SmallVector<Value> yielded = xRe;
  llvm::append_range(yielded, xIm);
  llvm::append_range(yielded, next);
  scf::YieldOp::create(b, loc, yielded);
  op.erase();
  return success();
}

} // namespace

LogicalResult mlir::attn::gpu_tiles::lowerSsmTiles(func::FuncOp fn) {
  SmallVector<SsmScanOp> scans;
  fn.walk([&](SsmScanOp op) { scans.push_back(op); });
  for (SsmScanOp op : scans)
    if (failed(lowerSsmScan(op)))
      return failure();
  return success();
}
