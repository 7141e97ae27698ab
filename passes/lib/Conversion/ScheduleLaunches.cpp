//===- ScheduleLaunches.cpp - small launches ordered by dependence level --===//
//
// attn-merge-launches runs consecutive independent launches as one. A
// training step sums each gradient's squares in a chain of small launches
// (a split reduction's partial sums, their sums, the total), one gradient's
// chain after another: each launch depends on the one before it, and only
// the end of one chain and the start of the next stand side by side.
// Ordered by level -- the longest chain of launches each op waits for --
// every chain's first launch comes first, then every chain's second, and
// each level merges into one launch (docs in Passes.td).
//
//===----------------------------------------------------------------------===//

#include "LaunchAccess.h"

#include "attn/Conversion/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

#include "llvm/ADT/DenseMap.h"

#include <numeric>

namespace mlir::attn {
#define GEN_PASS_DEF_SCHEDULELAUNCHES
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using mlir::attn::Access;

namespace {

struct ScheduleLaunchesPass
    : public mlir::attn::impl::ScheduleLaunchesBase<ScheduleLaunchesPass> {
  using Base::Base;

  void runOnOperation() override {
    for (Block *block : mlir::attn::hostBlocks(getOperation()))
      scheduleIn(*block);
  }

  /// Whether `launch` is small: a constant grid of at most maxBlocks blocks,
  /// synchronous. Larger ones fill the GPU alone and stay where they are.
  bool isSmall(gpu::LaunchOp launch) const {
    std::optional<std::array<int64_t, 3>> grid =
        mlir::attn::constantSyncGrid(launch);
    return grid && (*grid)[0] * (*grid)[1] * (*grid)[2] <= maxBlocks;
  }

  /// What `op` touches if it may move within a stretch: a small launch, or
  /// an op without regions whose effects are known (allocations, memsets,
  /// releases, views, constants). Anything else ends the stretch.
  std::optional<Access> movable(Operation &op) const {
    if (op.hasTrait<OpTrait::IsTerminator>())
      return std::nullopt;
    if (auto launch = dyn_cast<gpu::LaunchOp>(op)) {
      if (!isSmall(launch))
        return std::nullopt;
    } else if (op.getNumRegions() != 0) {
      return std::nullopt;
    }
    return mlir::attn::accessOf(&op);
  }

  void scheduleIn(Block &block) {
    SmallVector<Operation *> stretch;
    SmallVector<Access> accesses;
    for (Operation &op : llvm::make_early_inc_range(block)) {
      if (std::optional<Access> access = movable(op)) {
        stretch.push_back(&op);
        accesses.push_back(std::move(*access));
        continue;
      }
      reorder(stretch, accesses, &op);
      stretch.clear();
      accesses.clear();
    }
  }

  /// Moves the stretch's ops before `end` in the order of their levels,
  /// each level's in their order now. An op's level is the largest of its
  /// predecessors' -- plus one after a launch -- where its predecessors are
  /// the earlier ops whose results it uses or whose accesses conflict with
  /// its own. Ops of one level never depend on a launch of that level, so
  /// its launches may merge; every op still follows what it depends on.
  void reorder(ArrayRef<Operation *> stretch, ArrayRef<Access> accesses,
               Operation *end) const {
    const size_t n = stretch.size();
    if (llvm::count_if(stretch, llvm::IsaPred<gpu::LaunchOp>) < 2)
      return;
    llvm::DenseMap<Operation *, size_t> position;
    for (auto [i, op] : llvm::enumerate(stretch))
      position[op] = i;
    SmallVector<int64_t> level(n, 0);
    for (size_t j = 0; j < n; ++j) {
      auto follow = [&](size_t i) {
        level[j] = std::max(
            level[j], level[i] + (isa<gpu::LaunchOp>(stretch[i]) ? 1 : 0));
      };
      // Values the op (its body included) takes from earlier ops.
      stretch[j]->walk([&](Operation *inner) {
        for (Value v : inner->getOperands())
          if (Operation *def = v.getDefiningOp())
            if (auto it = position.find(def);
                it != position.end() && it->second < j)
              follow(it->second);
      });
      for (size_t i = 0; i < j; ++i)
        if (accesses[i].conflictsWith(accesses[j]))
          follow(i);
    }
    SmallVector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    llvm::stable_sort(order,
                      [&](size_t a, size_t b) { return level[a] < level[b]; });
    for (size_t i : order)
      stretch[i]->moveBefore(end);
  }
};

} // namespace
