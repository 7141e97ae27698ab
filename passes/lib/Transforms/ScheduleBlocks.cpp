//===- ScheduleBlocks.cpp - which tiles a masked attention visits ---------===//
//
// Asks the mask -- through the MaskPattern interface only -- how every
// (query tile, key tile) of a masked attn.sdpa is covered, and records the
// full and partial tiles of each query tile as a #attn.schedule. Empty tiles
// are dropped: kernels never see them. A schedule already on the op (written
// in the input) is derived again at its own block sizes and must agree.
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
                                 << static_cast<int64_t>(blockQ)
                                 << " block-k=" << static_cast<int64_t>(blockK);
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
    if (!op.getMask())
      return success();
    int64_t n = cast<RankedTensorType>(op.getQuery().getType()).getDimSize(2);
    if (ShapedType::isDynamic(n))
      return op.emitOpError("needs a static sequence length to schedule its "
                            "mask's tiles");
    ScheduleAttr given = op.getScheduleAttr();
    ScheduleAttr derived =
        derive(op.getContext(), getMaskPattern(op.getMask()), n,
               given ? given.getBlockQ() : int64_t(blockQ),
               given ? given.getBlockK() : int64_t(blockK));
    if (!given) {
      op.setScheduleAttr(derived);
      return success();
    }
    // A schedule written in the input is checked against the mask's own
    // classification: a tile listed in the wrong class would be attended
    // without its predicate, or dropped.
    if (given == derived)
      return success();
    auto classOf = [&](ScheduleAttr s, int64_t i, int64_t j) -> StringRef {
      for (auto [offsets, blocks, name] :
           {std::make_tuple(s.getFullOffsets(), s.getFullBlocks(), "full"),
            std::make_tuple(s.getPartialOffsets(), s.getPartialBlocks(),
                            "partial")}) {
        ArrayRef<int32_t> list = blocks.asArrayRef().slice(
            offsets[i], offsets[i + 1] - offsets[i]);
        if (llvm::is_contained(list, j))
          return name;
      }
      return "empty";
    };
    for (int64_t i = 0; i < derived.getNumQueryTiles(); ++i)
      for (int64_t j = 0; j < derived.getNumKeyTiles(); ++j)
        if (classOf(given, i, j) != classOf(derived, i, j))
          return op.emitOpError("its schedule disagrees with its mask: tile (")
                 << i << ", " << j << ") is listed as " << classOf(given, i, j)
                 << ", the mask classifies it " << classOf(derived, i, j);
    return success();
  }

  /// The schedule of `pattern` over n positions in bq x bk tiles.
  static ScheduleAttr derive(MLIRContext *context, MaskPattern pattern,
                             int64_t n, int64_t bq, int64_t bk) {
    // No runtime data: runtime-dependent leaves answer within their key
    // limit, which kernels apply per batch entry.
    MaskContext ctx{n, 0, nullptr};
    int64_t rows = llvm::divideCeil(n, bq);
    int64_t cols = llvm::divideCeil(n, bk);
    SmallVector<int32_t> fullOffsets{0}, fullBlocks, partialOffsets{0},
        partialBlocks;
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) {
        TileRange tile{i * bq, std::min(n, (i + 1) * bq), j * bk,
                       std::min(n, (j + 1) * bk)};
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
    Builder b(context);
    return ScheduleAttr::get(context, bq, bk, n,
                             b.getDenseI32ArrayAttr(fullOffsets),
                             b.getDenseI32ArrayAttr(fullBlocks),
                             b.getDenseI32ArrayAttr(partialOffsets),
                             b.getDenseI32ArrayAttr(partialBlocks));
  }
};
} // namespace
