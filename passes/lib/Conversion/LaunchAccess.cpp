//===- LaunchAccess.cpp - what host-level ops read and write --------------===//
//
// See LaunchAccess.h.
//
//===----------------------------------------------------------------------===//

#include "LaunchAccess.h"

#include "attn/IR/AttnOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::attn {

Value rootOf(Value v) {
  if (auto memref = dyn_cast<MemrefValue>(v))
    v = memref::skipViewLikeOps(memref);
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    auto fn = dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp());
    return fn && fn.isPublic() && arg.getOwner()->isEntryBlock() ? v : Value();
  }
  auto alloc = v.getDefiningOp<MemoryEffectOpInterface>();
  return alloc && alloc.getEffectOnValue<MemoryEffects::Allocate>(v) ? v
                                                                     : Value();
}

bool Access::conflictsWith(const Access &o) const {
  auto meets = [](const llvm::SetVector<Value> &a,
                  const llvm::SetVector<Value> &b) {
    return llvm::any_of(a, [&](Value v) { return b.contains(v); });
  };
  return meets(writes, o.reads) || meets(writes, o.writes) ||
         meets(reads, o.writes);
}

void Access::add(const Access &o) {
  reads.insert(o.reads.begin(), o.reads.end());
  writes.insert(o.writes.begin(), o.writes.end());
}

std::optional<Access> accessOf(Operation *op) {
  Access access;
  // Buffers allocated inside `op` are its own.
  auto isLocal = [&](Value root) {
    Region *region = root.getParentRegion();
    return region && (region->getParentOp() == op ||
                      op->isProperAncestor(region->getParentOp()));
  };
  WalkResult result = op->walk([&](Operation *inner) {
    // Loops and branches (and the launch) are what their ops do; a barrier
    // stays block-uniform where blocks run one body each.
    if (inner->hasTrait<OpTrait::HasRecursiveMemoryEffects>() ||
        isa<gpu::BarrierOp>(inner))
      return WalkResult::advance();
    // The tensor memory accelerator's copies read the buffer whose tensor
    // map they take (attn.buffer.tensor_map, made on the host) into shared
    // memory; the mbarriers they complete on are the launch's own. The NVVM
    // ops declare no effects.
    if (auto copy =
            dyn_cast<NVVM::CpAsyncBulkTensorGlobalToSharedClusterOp>(inner)) {
      auto address = copy.getTmaDescriptor().getDefiningOp<LLVM::IntToPtrOp>();
      auto map = address ? address.getArg().getDefiningOp<BufferTensorMapOp>()
                         : nullptr;
      Value root = map ? rootOf(map.getSource()) : Value();
      if (!root)
        return WalkResult::interrupt();
      access.reads.insert(root);
      return WalkResult::advance();
    }
    if (isa<NVVM::MBarrierInitOp, NVVM::FenceMbarrierInitOp,
            NVVM::MBarrierArriveExpectTxOp, NVVM::MBarrierTryWaitParityOp,
            NVVM::MBarrierInvalOp>(inner))
      return WalkResult::advance();
    auto iface = dyn_cast<MemoryEffectOpInterface>(inner);
    if (!iface)
      return isPure(inner) ? WalkResult::advance() : WalkResult::interrupt();
    SmallVector<MemoryEffects::EffectInstance> effects;
    iface.getEffects(effects);
    for (const MemoryEffects::EffectInstance &e : effects) {
      if (isa<MemoryEffects::Allocate>(e.getEffect()))
        continue;
      Value v = e.getValue();
      if (!v || !isa<BaseMemRefType>(v.getType()))
        return WalkResult::interrupt();
      Value root = rootOf(v);
      if (!root)
        return WalkResult::interrupt();
      if (isLocal(root))
        continue;
      if (isa<MemoryEffects::Read>(e.getEffect()))
        access.reads.insert(root);
      else
        access.writes.insert(root);
    }
    return WalkResult::advance();
  });
  if (result.wasInterrupted())
    return std::nullopt;
  return access;
}

bool onlyFrees(Operation *op) {
  auto iface = dyn_cast<MemoryEffectOpInterface>(op);
  if (!iface || op->getNumRegions() != 0)
    return false;
  SmallVector<MemoryEffects::EffectInstance> effects;
  iface.getEffects(effects);
  return !effects.empty() &&
         llvm::all_of(effects, [](const MemoryEffects::EffectInstance &e) {
           return isa<MemoryEffects::Free>(e.getEffect());
         });
}

std::optional<std::array<int64_t, 3>> constantSyncGrid(Operation *op) {
  auto launch = dyn_cast<gpu::LaunchOp>(op);
  if (!launch || !launch.getAsyncDependencies().empty() ||
      launch.getAsyncToken())
    return std::nullopt;
  gpu::KernelDim3 grid = launch.getGridSizeOperandValues();
  std::array<int64_t, 3> sizes;
  const std::array<Value, 3> dims{grid.x, grid.y, grid.z};
  for (auto [i, size] : llvm::enumerate(dims)) {
    std::optional<int64_t> n = getConstantIntValue(size);
    if (!n)
      return std::nullopt;
    sizes[i] = *n;
  }
  return sizes;
}

SmallVector<Block *> hostBlocks(Operation *root) {
  SmallVector<Block *> blocks;
  root->walk([&](Block *block) {
    if (!block->getParentOp()->getParentOfType<gpu::LaunchOp>() &&
        !isa<gpu::LaunchOp>(block->getParentOp()))
      blocks.push_back(block);
  });
  return blocks;
}

AttentionTiles attentionTilesOf(Operation *launch) {
  AttentionTiles tiles;
  launch->walk<WalkOrder::PreOrder>([&](Operation *op) {
    if (isa<SoftmaxStepOp, SoftmaxFinalizeOp>(op))
      tiles.forward = true;
    else if (isa<SoftmaxGradStepOp>(op))
      tiles.gradient = true;
    else if (isa<AttnDialect>(op->getDialect()))
      tiles.other = true;
    else
      return WalkResult::advance();
    return WalkResult::skip();
  });
  return tiles;
}

} // namespace mlir::attn
