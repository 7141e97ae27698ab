//===- AllocateSharedMemory.cpp - staging buffers placed by liveness ------===//
//
// The tile conversions ask for shared memory as workgroup memref.allocs at
// the top of a launch; this pass gives each its bytes in the launch's
// dynamic shared memory (docs in Passes.td), so that no conversion lays out
// offsets or sizes by hand, and buffers whose uses do not overlap in time
// share space.
//
//===----------------------------------------------------------------------===//

#include "attn/Conversion/Passes.h"
#include "attn/IR/AttnOps.h"

#include "mlir/IR/Dominance.h"
#include "mlir/Interfaces/LoopLikeInterface.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "llvm/Support/MathExtras.h"

#include <limits>

namespace mlir::attn {
#define GEN_PASS_DEF_ALLOCATESHAREDMEMORY
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {

/// cp.async copies and ldmatrix rows are 16 bytes.
constexpr int64_t kAlignment = 16;

bool isWorkgroup(MemRefType type) {
  auto space = dyn_cast_or_null<gpu::AddressSpaceAttr>(type.getMemorySpace());
  return space && space.getValue() == gpu::AddressSpace::Workgroup;
}

/// A staging buffer: its alloc, size, accesses, live range (positions in
/// the launch's pre-order) and the offset given to it.
struct Buffer {
  memref::AllocOp alloc;
  int64_t bytes = 0;
  SmallVector<Operation *> accesses;
  int64_t first = std::numeric_limits<int64_t>::max(), last = -1;
  int64_t offset = -1;
};

/// The launch's ops numbered in pre-order; an op's extent is its own
/// number to the last number inside it.
class Positions {
public:
  explicit Positions(gpu::LaunchOp launch) {
    launch.getBody().walk<WalkOrder::PreOrder>([&](Operation *op) {
      number[op] = next++;
      if (isa<gpu::BarrierOp>(op))
        barriers.push_back(op);
    });
    // Post-order reaches an op after everything inside it.
    launch.getBody().walk<WalkOrder::PostOrder>([&](Operation *op) {
      int64_t last = number[op];
      for (Region &region : op->getRegions())
        for (Block &block : region)
          for (Operation &inner : block)
            last = std::max(last, end[&inner]);
      end[op] = last;
    });
  }
  int64_t start(Operation *op) const { return number.lookup(op); }
  int64_t finish(Operation *op) const { return end.lookup(op); }
  /// The launch's barriers, in order.
  ArrayRef<Operation *> getBarriers() const { return barriers; }

private:
  DenseMap<Operation *, int64_t> number, end;
  SmallVector<Operation *> barriers;
  int64_t next = 0;
};

/// What an access at `user` keeps live: its outermost loop inside the
/// launch (every iteration may touch the buffer), else itself.
Operation *liveExtentOf(Operation *user, gpu::LaunchOp launch) {
  Operation *extent = user;
  for (Operation *p = user->getParentOp(); p && p != launch;
       p = p->getParentOp())
    if (isa<LoopLikeOpInterface>(p))
      extent = p;
  return extent;
}

/// Every op that reads or writes `value`'s memory: its users, and those of
/// views of it.
void collectAccesses(Value value, SmallVectorImpl<Operation *> &accesses) {
  for (Operation *user : value.getUsers()) {
    auto view = dyn_cast<ViewLikeOpInterface>(user);
    if (view && view.getViewSource() == value) {
      for (Value result : user->getResults())
        collectAccesses(result, accesses);
      continue;
    }
    accesses.push_back(user);
  }
}

/// The dynamic shared memory `launch` reserves already (0 without).
int64_t reservedSharedMemory(gpu::LaunchOp launch) {
  Value size = launch.getDynamicSharedMemorySize();
  return size ? getConstantIntValue(size).value_or(0) : 0;
}

struct AllocateSharedMemoryPass
    : public mlir::attn::impl::AllocateSharedMemoryBase<
          AllocateSharedMemoryPass> {
  void runOnOperation() override {
    WalkResult result = getOperation().walk([&](gpu::LaunchOp launch) {
      return failed(allocate(launch)) ? WalkResult::interrupt()
                                      : WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }

  LogicalResult allocate(gpu::LaunchOp launch) {
    SmallVector<Buffer> buffers;
    Block &body = launch.getBody().front();
    WalkResult found = launch.getBody().walk([&](memref::AllocOp alloc) {
      MemRefType type = alloc.getType();
      if (!isWorkgroup(type))
        return WalkResult::advance();
      if (alloc->getBlock() != &body || !type.hasStaticShape() ||
          !type.getLayout().isIdentity()) {
        alloc.emitOpError("a staging buffer in shared memory must be a "
                          "statically shaped, identity-layout alloc at the "
                          "top level of its gpu.launch");
        return WalkResult::interrupt();
      }
      Buffer buffer;
      buffer.alloc = alloc;
      buffer.bytes = type.getNumElements() *
                     llvm::divideCeil(type.getElementTypeBitWidth(), 8);
      buffers.push_back(buffer);
      return WalkResult::advance();
    });
    if (found.wasInterrupted())
      return failure();
    if (buffers.empty())
      return success();

    Positions positions(launch);
    for (Buffer &buffer : buffers) {
      collectAccesses(buffer.alloc, buffer.accesses);
      for (Operation *access : buffer.accesses) {
        Operation *extent = liveExtentOf(access, launch);
        buffer.first = std::min(buffer.first, positions.start(extent));
        buffer.last = std::max(buffer.last, positions.finish(extent));
      }
    }
    // Two buffers conflict unless one's range ends before the other's
    // begins and a barrier after the first's range comes before every
    // access of the second (dominates them: each thread passes it before
    // any of them). A buffer nothing touches conflicts with nothing.
    DominanceInfo dominance(launch);
    auto separated = [&](const Buffer &early, const Buffer &late) {
      if (early.last >= late.first)
        return false;
      return llvm::any_of(positions.getBarriers(), [&](Operation *barrier) {
        return positions.start(barrier) > early.last &&
               llvm::all_of(late.accesses, [&](Operation *access) {
                 return dominance.properlyDominates(barrier, access);
               });
      });
    };
    auto conflict = [&](const Buffer &a, const Buffer &b) {
      if (a.last < 0 || b.last < 0)
        return false;
      return !(a.first <= b.first ? separated(a, b) : separated(b, a));
    };

    // Largest first, each at the lowest offset clear of those placed that
    // it conflicts with; above what the launch reserved by hand.
    const int64_t base =
        llvm::alignTo(reservedSharedMemory(launch), kAlignment);
    SmallVector<Buffer *> order;
    for (Buffer &buffer : buffers)
      order.push_back(&buffer);
    llvm::stable_sort(order, [](const Buffer *a, const Buffer *b) {
      return a->bytes > b->bytes;
    });
    SmallVector<Buffer *> placed;
    int64_t end = base;
    for (Buffer *buffer : order) {
      SmallVector<int64_t> candidates{base};
      for (Buffer *other : placed)
        if (conflict(*buffer, *other))
          candidates.push_back(
              llvm::alignTo(other->offset + other->bytes, kAlignment));
      llvm::sort(candidates);
      for (int64_t at : candidates) {
        bool clear = llvm::none_of(placed, [&](Buffer *other) {
          return conflict(*buffer, *other) &&
                 at < other->offset + other->bytes &&
                 other->offset < at + buffer->bytes;
        });
        if (clear) {
          buffer->offset = at;
          break;
        }
      }
      placed.push_back(buffer);
      end = std::max(end, buffer->offset + buffer->bytes);
    }

    // A block asking for more than the chip has would fail only at its
    // launch (cuFuncSetAttribute), far from the tiles that asked for it.
    mlir::attn::TargetAttr target = mlir::attn::TargetAttr::lookup(launch);
    if (end > target.getSharedMemoryPerBlock()) {
      InFlightDiagnostic error =
          launch.emitOpError("needs ")
          << end << " bytes of shared memory, more than a block of "
          << target.getChip() << " may use ("
          << target.getSharedMemoryPerBlock()
          << "); smaller tiles (block-q, block-k) need less";
      for (Buffer *buffer : order)
        error.attachNote(buffer->alloc.getLoc())
            << buffer->bytes << " bytes at offset " << buffer->offset;
      return failure();
    }

    // Each alloc becomes its bytes of the dynamic shared memory.
    MLIRContext *ctx = launch.getContext();
    auto workgroup =
        gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
    for (Buffer &buffer : buffers) {
      OpBuilder b(buffer.alloc);
      Location loc = buffer.alloc.getLoc();
      Value all = gpu::DynamicSharedMemoryOp::create(
          b, loc,
          MemRefType::get({ShapedType::kDynamic}, b.getI8Type(),
                          MemRefLayoutAttrInterface{}, workgroup));
      Value view = memref::ViewOp::create(
          b, loc, buffer.alloc.getType(), all,
          arith::ConstantIndexOp::create(b, loc, buffer.offset), ValueRange{});
      buffer.alloc.replaceAllUsesWith(view);
      buffer.alloc.erase();
    }
    if (end > reservedSharedMemory(launch)) {
      OpBuilder b(launch);
      launch.getDynamicSharedMemorySizeMutable().assign(
          arith::ConstantOp::create(
              b, launch.getLoc(),
              b.getI32IntegerAttr(static_cast<int32_t>(end))));
    }
    return success();
  }
};

} // namespace
