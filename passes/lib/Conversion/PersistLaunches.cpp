//===- PersistLaunches.cpp - attention's launches as loops over tiles -----===//
//
// A launch of attention's tiles runs a block per (query or key) tile: each
// block sets up its barriers, starts its first copies and waits for them,
// and its multiprocessor idles between one block's end and the next one's
// first product. This pass makes such a launch persistent: its grid is one
// row of blocks, each walking the original grid's blocks about in order
// (block b takes b, then the second row's b-th block from its end, ...),
// so that whatever is set up once a launch
// (attn-stage-block-tiles' producer rings and their barriers) is set up
// once a block, and a producer warpgroup (attn-specialize-warps) copies the
// next tile's keys while the consumers finish this one. The grid keeps one
// block per original block until attn-specialize-warps, which knows how
// many blocks fit a multiprocessor, shrinks it (docs in Passes.td).
//
//===----------------------------------------------------------------------===//

#include "LaunchAccess.h"
#include "WarpgroupMma.h"

#include "attn/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir::attn {
#define GEN_PASS_DEF_PERSISTLAUNCHES
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// Which of attention's launches `launch` is: "forward" (softmax steps and
/// finalizes), "gradient" (softmax gradient steps), or nothing (any other
/// tile op, or none).
std::optional<StringRef> attentionKind(gpu::LaunchOp launch) {
  AttentionTiles tiles = attentionTilesOf(launch);
  if (!tiles.onlySoftmax() || tiles.forward == tiles.gradient)
    return std::nullopt;
  return tiles.forward ? StringRef("forward") : StringRef("gradient");
}

struct PersistLaunchesPass
    : public mlir::attn::impl::PersistLaunchesBase<PersistLaunchesPass> {
  using PersistLaunchesBase::PersistLaunchesBase;

  void runOnOperation() override {
    if (launches != "forward" && launches != "gradient" && launches != "all") {
      emitError(getOperation().getLoc())
          << "attn-persist-launches: launches must be forward, gradient or "
             "all, not '"
          << launches << "'";
      return signalPassFailure();
    }
    SmallVector<gpu::LaunchOp> chosen;
    getOperation().walk([&](gpu::LaunchOp launch) {
      std::optional<StringRef> kind = attentionKind(launch);
      // Only where a producer may come: without one, nothing set up once a
      // launch is worth carrying from tile to tile.
      if (kind && (launches == "all" || launches == *kind) &&
          gpu_tiles::takesProducer(launch, /*forward=*/*kind == "forward") &&
          launch.getBody().hasOneBlock())
        chosen.push_back(launch);
    });
    for (gpu::LaunchOp launch : chosen)
      persist(launch);
  }

  /// The tile that block `block` of `blocks` takes at the persistent
  /// loop's index `index` (its r-th iteration: index = r blocks + block):
  /// `index` itself on even iterations, the tile mirrored within the
  /// iteration's tiles on odd ones (block 0 takes the iteration's last
  /// tile, block 1 the one before, ...). Why: a schedule issues query tiles
  /// heaviest first, and in plain order the same blocks would take the
  /// heavier tiles of most iterations. In a model of a causal launch on 132
  /// blocks (B H = 64, 128-row tiles, a tile costing one more than its key
  /// tiles) the busiest block has 12% (N = 4096) and 5% (N = 16384) more
  /// work than the average in plain order, 3% at both in this one.
  static Value snakeOrder(OpBuilder &b, Location loc, Value index, Value block,
                          Value blocks, Value total) {
    Value first = arith::SubIOp::create(b, loc, index, block);
    // The iteration's parity in 32 bits: grids are smaller than 2^31
    // blocks, and an index division by a value known only at run time is
    // a 64-bit division (a call of some 200 instructions, in the producer
    // and in the consumers).
    Type i32 = b.getI32Type();
    Value first32 = arith::IndexCastUIOp::create(b, loc, i32, first);
    Value blocks32 = arith::IndexCastUIOp::create(b, loc, i32, blocks);
    Value round = arith::DivUIOp::create(b, loc, first32, blocks32);
    Value bit = arith::ConstantIntOp::create(b, loc, i32, 1);
    Value odd =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                              arith::AndIOp::create(b, loc, round, bit), bit);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    // The iteration's tiles are [first, end): a whole row of blocks but
    // on the last iteration, which has only the tiles left.
    Value end = arith::MinUIOp::create(
        b, loc, arith::AddIOp::create(b, loc, first, blocks), total);
    Value mirrored = arith::SubIOp::create(
        b, loc, arith::SubIOp::create(b, loc, end, one), block);
    return arith::SelectOp::create(b, loc, odd, mirrored, index);
  }

  /// Rewrites `launch` of grid (X, Y, Z) as one of X Y Z blocks along x
  /// whose body is a loop, marked kPersistentAttr, over s = blockIdx.x,
  /// blockIdx.x + gridDim.x, ... < X Y Z, each iteration the old body for
  /// block (v mod X, v / X mod Y, v / (X Y)) of tile v = snakeOrder(s): the
  /// order in which the old grid's blocks were issued, every other row of
  /// blocks mirrored. The body's static allocas stay before the
  /// loop, in the launch's entry block, where LLVM keeps them in registers
  /// (every iteration sets them before it reads them, as each block did).
  void persist(gpu::LaunchOp launch) {
    Block &body = launch.getBody().front();
    SmallVector<Operation *> work;
    for (Operation &op : body.without_terminator()) {
      auto alloca = dyn_cast<memref::AllocaOp>(op);
      if (alloca && alloca.getType().hasStaticShape())
        continue;
      work.push_back(&op);
    }
    if (work.empty())
      return;

    Location loc = launch.getLoc();
    OpBuilder host(launch);
    gpu::KernelDim3 grid = launch.getGridSizeOperandValues();
    Value plane = arith::MulIOp::create(host, loc, grid.x, grid.y);
    Value total = arith::MulIOp::create(host, loc, plane, grid.z);
    Value one = arith::ConstantIndexOp::create(host, loc, 1);

    // Inside, the grid's sizes are the old ones, but for the step.
    gpu::KernelDim3 sizes = launch.getGridSize();
    sizes.x.replaceAllUsesWith(grid.x);
    sizes.y.replaceAllUsesWith(grid.y);
    sizes.z.replaceAllUsesWith(grid.z);
    launch.getGridSizeXMutable().assign(total);
    launch.getGridSizeYMutable().assign(one);
    launch.getGridSizeZMutable().assign(one);

    OpBuilder b(body.getTerminator());
    gpu::KernelDim3 ids = launch.getBlockIds();
    auto loop = scf::ForOp::create(b, loc, ids.x, total, sizes.x);
    loop->setAttr(kPersistentAttr, b.getUnitAttr());
    b.setInsertionPointToStart(loop.getBody());
    Value v = snakeOrder(b, loc, loop.getInductionVar(), ids.x, sizes.x, total);
    Value x = arith::RemUIOp::create(b, loc, v, grid.x);
    Value y = arith::RemUIOp::create(
        b, loc, arith::DivUIOp::create(b, loc, v, grid.x), grid.y);
    Value z = arith::DivUIOp::create(b, loc, v, plane);
    Operation *end = loop.getBody()->getTerminator();
    llvm::SmallPtrSet<Operation *, 32> inLoop(work.begin(), work.end());
    for (Operation *op : work)
      op->moveBefore(end);
    // The work's uses of the block's indices become the tile's (the
    // loop's own bounds read the new block's index).
    auto inWork = [&](OpOperand &use) {
      Operation *top = loop.getBody()->findAncestorOpInBlock(*use.getOwner());
      return top && inLoop.contains(top);
    };
    ids.x.replaceUsesWithIf(x, inWork);
    ids.y.replaceUsesWithIf(y, inWork);
    ids.z.replaceUsesWithIf(z, inWork);
  }
};

} // namespace
