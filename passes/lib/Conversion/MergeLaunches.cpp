//===- MergeLaunches.cpp - runs of small independent launches as one ------===//
//
// A training step updates each parameter in its own kernel (and casts and
// sums each one in its own): tens of launches of a few blocks, each costing
// a launch more than its work. Launches that do not depend on each other
// can run as one: the blocks of all of them side by side, each block
// running the body whose range holds it (docs in Passes.td).
//
//===----------------------------------------------------------------------===//

#include "LaunchAccess.h"

#include "attn/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/SetVector.h"

#include <functional>

namespace mlir::attn {
#define GEN_PASS_DEF_MERGELAUNCHES
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using mlir::attn::Access;
using mlir::attn::accessOf;
using mlir::attn::constantSyncGrid;
using mlir::attn::onlyFrees;

namespace {

/// A launch that can join a run: its grid size along x (y and z are 1) and
/// block size, and what it reads and writes.
struct Candidate {
  gpu::LaunchOp launch;
  int64_t blocks;
  std::array<int64_t, 3> threads;
  Access access;
  /// The values from outside that its body uses, which become kernel
  /// parameters (constants are recomputed inside instead).
  llvm::SetVector<Value> parameters;
};

std::optional<Candidate> candidate(gpu::LaunchOp launch, int64_t maxBlocks) {
  if (launch.getDynamicSharedMemorySize() || launch.hasClusterSize() ||
      !launch.getWorkgroupAttributions().empty() ||
      !launch.getPrivateAttributions().empty() ||
      !launch.getBody().hasOneBlock())
    return std::nullopt;
  // A 1-D grid: the merged launch's blocks are the runs' blocks one after
  // another along x.
  std::optional<std::array<int64_t, 3>> grid = constantSyncGrid(launch);
  gpu::KernelDim3 block = launch.getBlockSizeOperandValues();
  std::optional<int64_t> bx = getConstantIntValue(block.x),
                         by = getConstantIntValue(block.y),
                         bz = getConstantIntValue(block.z);
  if (!grid || !bx || !by || !bz || (*grid)[1] != 1 || (*grid)[2] != 1 ||
      (*grid)[0] > maxBlocks)
    return std::nullopt;
  const int64_t gx = (*grid)[0];
  std::optional<Access> access = accessOf(launch);
  if (!access)
    return std::nullopt;
  llvm::SetVector<Value> used;
  getUsedValuesDefinedAbove(launch.getBody(), used);
  llvm::SetVector<Value> parameters;
  for (Value v : used)
    if (!matchPattern(v, m_Constant()))
      parameters.insert(v);
  return Candidate{
      launch, gx, {*bx, *by, *bz}, std::move(*access), std::move(parameters)};
}

/// One launch running `run`'s bodies, where the run's last launch was.
gpu::LaunchOp merge(MutableArrayRef<Candidate> run) {
  gpu::LaunchOp last = run.back().launch;
  OpBuilder b(last);
  Location loc = b.getFusedLoc(
      llvm::map_to_vector(run, [](Candidate &c) { return c.launch.getLoc(); }));
  // Launch i's blocks are [starts[i], starts[i] + blocks) of the merged grid.
  SmallVector<int64_t> starts;
  int64_t total = 0;
  for (Candidate &c : run) {
    starts.push_back(total);
    total += c.blocks;
  }
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value one = index(1);
  const std::array<int64_t, 3> &threads = run.front().threads;
  auto merged =
      gpu::LaunchOp::create(b, loc, index(total), one, one, index(threads[0]),
                            index(threads[1]), index(threads[2]));
  std::string kinds = "merged";
  for (Candidate &c : run)
    if (auto kind =
            c.launch->getAttrOfType<StringAttr>(mlir::attn::kKernelKindAttr);
        kind && kinds.find("_" + kind.str()) == std::string::npos)
      kinds += "_" + kind.str();
  merged->setAttr(mlir::attn::kKernelKindAttr, b.getStringAttr(kinds));

  // Which launch's range holds this block: a binary search over the range
  // starts as nested branches (uniform over a block). Branches, not a
  // switch: LLVM's NVPTX back end lays a switch's jump table out
  // differently from one compile to the next.
  Block &body = merged.getBody().front();
  b.setInsertionPointToStart(&body);
  Value blockId = merged.getBlockIds().x;
  // Launch i's body, its own block index and grid size along x; the other
  // configuration arguments as the merged launch has them (y and z: one
  // block; the same threads).
  auto emitBody = [&](size_t i) {
    Candidate &c = run[i];
    Block &old = c.launch.getBody().front();
    IRMapping map;
    for (unsigned a = 0; a < gpu::LaunchOp::kNumConfigRegionAttributes; ++a)
      map.map(old.getArgument(a), body.getArgument(a));
    map.map(c.launch.getBlockIds().x,
            arith::SubIOp::create(b, loc, blockId, index(starts[i])));
    map.map(c.launch.getGridSize().x, index(c.blocks));
    for (Operation &op : old.without_terminator())
      b.clone(op, map);
  };
  std::function<void(size_t, size_t)> emitRange = [&](size_t lo, size_t hi) {
    if (hi - lo == 1)
      return emitBody(lo);
    size_t mid = (lo + hi) / 2;
    Value below = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                        blockId, index(starts[mid]));
    auto branch = scf::IfOp::create(b, loc, below, /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(branch.thenBlock());
    emitRange(lo, mid);
    b.setInsertionPointToStart(branch.elseBlock());
    emitRange(mid, hi);
  };
  emitRange(0, run.size());
  gpu::TerminatorOp::create(b, loc);
  for (Candidate &c : run)
    c.launch.erase();
  return merged;
}

/// A run of launches to merge, what they touch, and the releases of
/// buffers they use that come before the run's last launch (moved after
/// the merged launch).
struct Run {
  SmallVector<Candidate> launches;
  Access access;
  llvm::SetVector<Value> parameters;
  SmallVector<Operation *> deferred;
};

struct MergeLaunchesPass
    : public mlir::attn::impl::MergeLaunchesBase<MergeLaunchesPass> {
  using Base::Base;

  void runOnOperation() override {
    for (Block *block : mlir::attn::hostBlocks(getOperation()))
      mergeIn(*block);
  }

  /// Runs of mergeable launches in `block`, each merged where it ends.
  void mergeIn(Block &block) {
    std::vector<Run> runs;
    Run run;
    auto close = [&] {
      if (run.launches.size() > 1)
        runs.push_back(std::move(run));
      run = Run();
    };
    for (Operation &op : block) {
      if (auto launch = dyn_cast<gpu::LaunchOp>(op)) {
        std::optional<Candidate> c = candidate(launch, maxBlocks);
        if (c && !run.launches.empty()) {
          int64_t added = llvm::count_if(c->parameters, [&](Value v) {
            return !run.parameters.contains(v);
          });
          if (c->threads != run.launches.front().threads ||
              c->access.conflictsWith(run.access) ||
              int64_t(run.parameters.size()) + added > maxParameters)
            close();
        }
        if (!c) {
          close();
          continue;
        }
        run.access.add(c->access);
        run.parameters.insert(c->parameters.begin(), c->parameters.end());
        run.launches.push_back(std::move(*c));
        continue;
      }
      if (run.launches.empty() || isPure(&op))
        continue;
      // An op between launches stays before the merged launch: it must
      // neither write what the run's launches so far touch nor read what
      // they write. A buffer's release may wait until after the merged
      // launch instead (its last use is there now).
      std::optional<Access> between = accessOf(&op);
      if (between && between->conflictsWith(run.access) && onlyFrees(&op)) {
        run.deferred.push_back(&op);
        continue;
      }
      if (!between || between->conflictsWith(run.access))
        close();
    }
    close();
    for (Run &r : runs) {
      gpu::LaunchOp merged = merge(r.launches);
      for (Operation *op : llvm::reverse(r.deferred))
        op->moveAfter(merged);
    }
  }
};

} // namespace
