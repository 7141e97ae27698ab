//===- ScheduleBlocks.cpp - which tiles a masked attention visits ---------===//
//
// Asks the mask -- through the MaskPattern interface only -- how every
// (query tile, key tile) of a masked attn.sdpa is covered, and records the
// full and partial tiles of each query tile as a #attn.schedule. Empty tiles
// are dropped: kernels never see them.
//
//===----------------------------------------------------------------------===//

#include "attn/Transforms/Passes.h"

#include "llvm/Support/MathExtras.h"

namespace mlir::attn {
#define GEN_PASS_DEF_SCHEDULEBLOCKS
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {
struct ScheduleBlocksPass
    : public mlir::attn::impl::ScheduleBlocksBase<ScheduleBlocksPass> {
  using ScheduleBlocksBase::ScheduleBlocksBase;

  void runOnOperation() override {
    if (blockQ <= 0 || blockK <= 0) {
      getOperation().emitError() << "attn-schedule-blocks: block sizes must be "
                                    "positive, got block-q="
                                 << blockQ << " block-k=" << blockK;
      return signalPassFailure();
    }
    // attn.sdpa and its gradient visit the same tiles.
    WalkResult result = getOperation().walk([&](Operation *op) {
      LogicalResult scheduled = success();
      if (auto sdpa = dyn_cast<SdpaOp>(op))
        scheduled = schedule(sdpa);
      else if (auto grad = dyn_cast<SdpaGradOp>(op))
        scheduled = schedule(grad);
      return succeeded(scheduled) ? WalkResult::advance()
                                  : WalkResult::interrupt();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }

  template <typename OpTy> LogicalResult schedule(OpTy op) {
    if (!op.getMask() || op.getScheduleAttr())
      return success();
    int64_t n = cast<RankedTensorType>(op.getQuery().getType()).getDimSize(2);
    if (ShapedType::isDynamic(n))
      return op.emitOpError("needs a static sequence length to schedule its "
                            "mask's tiles");
    MaskPattern pattern = getMaskPattern(op.getMask());
    // No runtime data: runtime-dependent leaves answer within their key
    // limit, which kernels apply per batch entry.
    MaskContext ctx{n, 0, nullptr};
    int64_t rows = llvm::divideCeil(n, blockQ);
    int64_t cols = llvm::divideCeil(n, blockK);
    SmallVector<int32_t> fullOffsets{0}, fullBlocks, partialOffsets{0},
        partialBlocks;
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) {
        TileRange tile{i * blockQ, std::min(n, (i + 1) * blockQ), j * blockK,
                       std::min(n, (j + 1) * blockK)};
        switch (pattern.classifyTile(ctx, tile)) {
        case TileKind::Empty:
          break;
        case TileKind::Full:
          fullBlocks.push_back(j);
          break;
        case TileKind::Partial:
          partialBlocks.push_back(j);
          break;
        }
      }
      fullOffsets.push_back(fullBlocks.size());
      partialOffsets.push_back(partialBlocks.size());
    }
    Builder b(op.getContext());
    op.setScheduleAttr(ScheduleAttr::get(
        op.getContext(), blockQ, blockK, n, b.getDenseI32ArrayAttr(fullOffsets),
        b.getDenseI32ArrayAttr(fullBlocks),
        b.getDenseI32ArrayAttr(partialOffsets),
        b.getDenseI32ArrayAttr(partialBlocks)));
    return success();
  }
};
} // namespace
