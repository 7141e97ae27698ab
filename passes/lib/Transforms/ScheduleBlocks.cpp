//===- ScheduleBlocks.cpp - which tiles a masked attention visits ---------===//
//
// Asks the mask -- through the MaskPattern interface only -- which keys each
// query tile of a masked attn.sdpa may keep (keyRanges) and how each key tile
// there is covered (classifyTile), and records the full and partial tiles of
// each query tile as a #attn.schedule. Empty tiles are dropped: kernels never
// see them. A schedule already on the op (written
// in the input) is derived again at its own block sizes and must agree.
// Where block-q or block-k is 0, the forward's tiles are the target's choice
// (AttentionTiles.h): each candidate's schedule is derived, and the one
// whose tiles cover the fewest pairs, or a preferred one within a slack of
// that, is kept.
//
//===----------------------------------------------------------------------===//

#include "attn/IR/MaskCheck.h"
#include "attn/Transforms/AttentionTiles.h"
#include "attn/Transforms/Passes.h"

#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <optional>

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

  // Options are checked when the pipeline starts, also where no function
  // would use them.
  LogicalResult initialize(MLIRContext *context) override {
    if (blockQ < 0 || blockK < 0)
      return emitError(UnknownLoc::get(context))
             << "attn-schedule-blocks: block sizes must be positive or 0 "
                "(the target's choice), got block-q="
             << static_cast<int64_t>(blockQ)
             << " block-k=" << static_cast<int64_t>(blockK);
    if (gradBlockQ < 0 || gradBlockK < 0)
      return emitError(UnknownLoc::get(context))
             << "attn-schedule-blocks: the gradient's block sizes must be "
                "positive or 0 (the forward's, or 64 where that is the "
                "target's), got grad-block-q="
             << static_cast<int64_t>(gradBlockQ)
             << " grad-block-k=" << static_cast<int64_t>(gradBlockK);
    if (verifyPairs <= 0)
      return emitError(UnknownLoc::get(context))
             << "attn-schedule-blocks: verify-pairs must be positive, got "
             << static_cast<int64_t>(verifyPairs);
    return success();
  }

  void runOnOperation() override {
    // attn.sdpa and its gradient visit the same pairs, in tiles of their
    // own sizes (the gradient's kernels hold more per row than the
    // forward's, so their best tiles differ).
    WalkResult result = getOperation().walk([&](Operation *op) {
      LogicalResult scheduled = success();
      if (auto sdpa = dyn_cast<SdpaOp>(op))
        scheduled =
            schedule(sdpa, forwardTileCandidates(sdpa, {blockQ, blockK}));
      else if (auto grad = dyn_cast<SdpaGradOp>(op))
        scheduled = schedule(
            grad, {gradientTile({blockQ, blockK}, {gradBlockQ, gradBlockK})});
      return succeeded(scheduled) ? WalkResult::advance()
                                  : WalkResult::interrupt();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }

  /// Schedules `op`'s mask in the first of `candidates` (tiles) whose
  /// schedule covers no more than kTileWorkSlack times the fewest pairs of
  /// theirs, or checks the schedule it has.
  template <typename OpTy>
  LogicalResult schedule(OpTy op, ArrayRef<AttentionTile> candidates) {
    if (!op.getMask())
      return success();
    int64_t n = cast<RankedTensorType>(op.getQuery().getType()).getDimSize(2);
    if (ShapedType::isDynamic(n))
      return op.emitOpError("needs a static sequence length to schedule its "
                            "mask's tiles");
    ScheduleAttr given = op.getScheduleAttr();
    MaskPattern pattern = getMaskPattern(op.getMask());
    if (!given) {
      SmallVector<ScheduleAttr> schedules;
      SmallVector<double> work;
      for (AttentionTile t : candidates) {
        schedules.push_back(derive(op.getContext(), pattern, n, t.q, t.k));
        work.push_back(visitedPairs(schedules.back()));
      }
      ScheduleAttr chosen = schedules[chooseTile(work)];
      op.setScheduleAttr(chosen);
      return verifySchedule(op, chosen);
    }
    ScheduleAttr derived = derive(op.getContext(), pattern, n,
                                  given.getBlockQ(), given.getBlockK());
    // A schedule written in the input is checked against the mask's own
    // classification: a tile listed in the wrong class would be attended
    // without its predicate, or dropped.
    if (given == derived)
      return verifySchedule(op, derived);
    for (int64_t i = 0; i < derived.getNumQueryTiles(); ++i) {
      TileClasses want(derived, i), got(given, i);
      if (std::optional<int64_t> j = want.firstDifference(got))
        return op.emitOpError("its schedule disagrees with its mask: tile (")
               << i << ", " << *j << ") is listed as " << got.classOf(*j)
               << ", the mask classifies it " << want.classOf(*j);
    }
    return success();
  }

  /// With `verify`: the schedule against the mask's predicate.
  template <typename OpTy>
  LogicalResult verifySchedule(OpTy op, ScheduleAttr schedule) {
    if (!verify)
      return success();
    // Without runtime data, as the schedule was derived: runtime-dependent
    // masks are checked within their key limit.
    MaskChecker checker(getMaskPattern(op.getMask()),
                        MaskContext{schedule.getSeqLen(), 0, nullptr});
    std::optional<MaskDefect> defect =
        checker.checkSchedule(schedule, verifyPairs);
    if (!defect)
      return success();
    InFlightDiagnostic error = defect->op->emitError()
                               << "'" << defect->op->getName() << "' "
                               << defect->message;
    error.attachNote(op.getLoc())
        << "in the schedule of this attention (attn-schedule-blocks=verify)";
    return failure();
  }

  /// The full and partial key tiles that a schedule lists for one query
  /// tile (each list strictly increasing).
  struct TileClasses {
    TileClasses(ScheduleAttr s, int64_t i)
        : full(s.getFullBlocks().asArrayRef().slice(s.getFullOffsets()[i],
                                                    s.getFullOffsets()[i + 1] -
                                                        s.getFullOffsets()[i])),
          partial(s.getPartialBlocks().asArrayRef().slice(
              s.getPartialOffsets()[i],
              s.getPartialOffsets()[i + 1] - s.getPartialOffsets()[i])) {}
    StringRef classOf(int64_t j) const {
      if (std::binary_search(full.begin(), full.end(), j))
        return "full";
      if (std::binary_search(partial.begin(), partial.end(), j))
        return "partial";
      return "empty";
    }
    /// The first key tile that `other` lists in another class, if any.
    std::optional<int64_t> firstDifference(const TileClasses &other) const {
      SmallVector<int32_t> listed;
      for (ArrayRef<int32_t> list : {full, partial, other.full, other.partial})
        listed.append(list.begin(), list.end());
      llvm::sort(listed);
      for (int32_t j : listed)
        if (classOf(j) != other.classOf(j))
          return j;
      return std::nullopt;
    }
    ArrayRef<int32_t> full, partial;
  };

  /// The query-key pairs that `schedule`'s tiles cover, whole tiles
  /// counted: the work of its kernel.
  static double visitedPairs(ScheduleAttr schedule) {
    return double(schedule.getFullBlocks().size() +
                  schedule.getPartialBlocks().size()) *
           schedule.getBlockQ() * schedule.getBlockK();
  }

  /// The schedule of `pattern` over n positions in bq x bk tiles.
  static ScheduleAttr derive(MLIRContext *context, MaskPattern pattern,
                             int64_t n, int64_t bq, int64_t bk) {
    // No runtime data: runtime-dependent leaves answer within their key
    // limit, which kernels apply per batch entry.
    MaskContext ctx{n, 0, nullptr};
    int64_t rows = llvm::divideCeil(n, bq);
    SmallVector<int32_t> fullOffsets{0}, fullBlocks, partialOffsets{0},
        partialBlocks;
    for (int64_t i = 0; i < rows; ++i) {
      int64_t qBegin = i * bq, qEnd = std::min(n, (i + 1) * bq);
      // Only the key tiles that meet the pattern's key ranges can be kept:
      // the cost follows what the mask keeps, not rows x cols.
      int64_t next = 0; // the first key tile not classified yet
      for (KeyRange keys :
           normalizeKeyRanges(pattern.keyRanges(ctx, qBegin, qEnd), n)) {
        int64_t first = std::max(next, keys.begin / bk);
        int64_t last = llvm::divideCeil(keys.end, bk);
        for (int64_t j = first; j < last; ++j) {
          TileRange tile{qBegin, qEnd, j * bk, std::min(n, (j + 1) * bk)};
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
        next = std::max(next, last);
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
