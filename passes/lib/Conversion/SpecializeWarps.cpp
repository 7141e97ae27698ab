//===- SpecializeWarps.cpp - a producer warpgroup after the consumers -----===//
//
// attn-convert-softmax-tiles-to-gpu (warp-specialize) gives the tensor
// copies of a launch's loops to a producer: loops of its own in scf.ifs
// marked kProducerAttr, on the thread whose index is the launch's block
// size (kConsumerThreadsAttr), and the launch's threads consume the ring
// those copies fill. This pass makes that so. A launch is, by then,
//
//   set-up:    buffers, allocas, the mbarriers' initialisation, fence and
//              barrier, the threads' words (stores into allocas) -- among
//   work:      the consumers' code, the producer scf.ifs among it
//   tear-down: a barrier, the mbarriers' invalidation
//
// and becomes one of C + 128 threads (C the consumers):
//
//   the set-up and pure ops on it (every thread; the allocas stay in the
//           entry block, where LLVM keeps them in registers)
//   if (thread < C) { setmaxnreg.inc R; the work without the producer ifs }
//   else { setmaxnreg.dec 24; what the producer ifs use of the work,
//          cloned; the producer ifs }
//   tear-down (every thread, each warp at the count its branch set)
//
// In a persistent launch (attn-persist-launches) the producer ifs are in
// the work's loop over tiles (marked kPersistentAttr): the producer gets a
// loop of its own with the same bounds, what its ifs use of the loop's
// body cloned into it, and the grid shrinks to the blocks that fit the
// multiprocessors at once.
//
// Every barrier of the work becomes a named barrier over the consumers
// (bar.sync 1, C): the producer warpgroup meets none of them. The
// registers: a launch of T = C + 128 threads fits B blocks a
// multiprocessor at 65,536 / (B T) registers a thread (kMaxRegistersAttr,
// the kernel's .maxnreg); the producer gives all but 24 back and the
// consumers take them (R = (65,536 / B - 128 x 24) / C, at most 240), B as
// many as leave the consumers kConsumerRegisters.
//
//===----------------------------------------------------------------------===//

#include "GPUTiles.h"
#include "attn/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::attn {
#define GEN_PASS_DEF_SPECIALIZEWARPS
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr int64_t kProducerThreads = 128;
/// The registers a multiprocessor has for its resident blocks' threads.
constexpr int64_t kRegistersPerSM = 65536;
/// What the producer warpgroup keeps a thread (setmaxnreg's least).
constexpr int64_t kProducerRegisters = 24;
/// The registers a consumer thread should have at least, and at most
/// (setmaxnreg's counts are multiples of 8 up to 256; FlashAttention-3's
/// consumers take 240).
constexpr int64_t kConsumerRegisters = 232;
constexpr int64_t kMostConsumerRegisters = 240;

/// The registers of a launch of `consumers` threads and a producer
/// warpgroup.
struct Registers {
  int64_t atStart, consumer;
  /// The blocks that fit a multiprocessor at once.
  int64_t blocks;
};

Registers registersFor(int64_t consumers) {
  const int64_t threads = consumers + kProducerThreads;
  const int64_t blocks = std::max<int64_t>(
      1, kRegistersPerSM / (consumers * kConsumerRegisters +
                            kProducerThreads * kProducerRegisters));
  const int64_t atStart =
      std::min<int64_t>(255, kRegistersPerSM / (blocks * threads)) / 8 * 8;
  const int64_t consumer = std::min<int64_t>(
      kMostConsumerRegisters,
      (atStart * threads - kProducerThreads * kProducerRegisters) / consumers /
          8 * 8);
  return {atStart, consumer, blocks};
}

/// Whether `op` may run in the producer as well: free of memory effects
/// (a division by the grid's sizes too: not speculatable, but the producer
/// runs it where the consumers do, on the same operands), or a load of a
/// constant global (a schedule's tables) or of a buffer from outside
/// `launch` that nothing in it writes.
bool clonable(Operation *op, gpu::LaunchOp launch) {
  if (isMemoryEffectFree(op))
    return true;
  auto read = dyn_cast<memref::LoadOp>(op);
  if (!read)
    return false;
  Value buffer = gpu_tiles::viewedBuffer(read.getMemRef());
  if (auto global = buffer.getDefiningOp<memref::GetGlobalOp>()) {
    auto symbol = SymbolTable::lookupNearestSymbolFrom<memref::GlobalOp>(
        global, global.getNameAttr());
    return symbol && symbol.getConstant();
  }
  if (launch->isAncestor(buffer.getParentRegion()->getParentOp()))
    return false;
  WalkResult written = launch.walk([&](Operation *o) {
    auto effects = dyn_cast<MemoryEffectOpInterface>(o);
    if (!effects)
      return WalkResult::advance();
    SmallVector<MemoryEffects::EffectInstance> instances;
    effects.getEffects(instances);
    for (const MemoryEffects::EffectInstance &e : instances)
      if (isa<MemoryEffects::Write>(e.getEffect()) &&
          (!e.getValue() || (isa<TypedValue<BaseMemRefType>>(e.getValue()) &&
                             gpu_tiles::viewedBuffer(e.getValue()) == buffer)))
        return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return !written.wasInterrupted();
}

struct SpecializeWarpsPass
    : public mlir::attn::impl::SpecializeWarpsBase<SpecializeWarpsPass> {
  void runOnOperation() override {
    SmallVector<gpu::LaunchOp> launches;
    getOperation().walk([&](gpu::LaunchOp launch) {
      if (launch->hasAttr(kConsumerThreadsAttr))
        launches.push_back(launch);
    });
    for (gpu::LaunchOp launch : launches)
      if (failed(specialize(launch)))
        return signalPassFailure();
  }

  LogicalResult specialize(gpu::LaunchOp launch) {
    auto consumersAttr =
        launch->getAttrOfType<IntegerAttr>(kConsumerThreadsAttr);
    const int64_t consumers = consumersAttr ? consumersAttr.getInt() : 0;
    std::optional<int64_t> blockX = getConstantIntValue(launch.getBlockSizeX());
    if (consumers <= 0 || consumers % kProducerThreads || blockX != consumers ||
        !isConstantIntValue(launch.getBlockSizeY(), 1) ||
        !isConstantIntValue(launch.getBlockSizeZ(), 1))
      return launch.emitOpError()
             << "has " << kConsumerThreadsAttr
             << " but not a block of that many threads along x (whole "
                "warpgroups)";
    if (!launch.getBody().hasOneBlock())
      return launch.emitOpError("needs a body of one block to specialise its "
                                "warps");
    Block &body = launch.getBody().front();

    // The tear-down starts at the barrier before the mbarriers'
    // invalidation.
    Operation *teardown = nullptr;
    for (Operation &op : body) {
      if (isa<gpu::BarrierOp>(op))
        teardown = &op;
      if (isa<scf::IfOp>(op) && op.walk([](NVVM::MBarrierInvalOp) {
                                    return WalkResult::interrupt();
                                  }).wasInterrupted())
        break;
      if (&op == body.getTerminator())
        teardown = nullptr;
    }
    if (!teardown)
      return launch.emitOpError("has ")
             << kConsumerThreadsAttr
             << " but no tear-down of its mbarriers (a barrier, then their "
                "invalidation)";

    // What every thread runs before the split: the buffers, the mbarriers'
    // set-up (initialisation, fence, the barrier after it), stores of
    // values from there into the launch's allocas (the threads' words) and
    // pure ops on such values. The rest before the tear-down is the work,
    // moved into the consumers' branch in order; the producer ifs go to
    // the producer's.
    SmallVector<Operation *> work, producers;
    llvm::SmallPtrSet<Operation *, 32> inWork;
    auto fromWork = [&](Operation *op) {
      return llvm::any_of(op->getOperands(), [&](Value v) {
        Operation *def = v.getDefiningOp();
        return def && inWork.contains(body.findAncestorOpInBlock(*def));
      });
    };
    auto touchedByWork = [&](Value buffer) {
      return llvm::any_of(buffer.getUsers(), [&](Operation *user) {
        Operation *top = body.findAncestorOpInBlock(*user);
        return top && inWork.contains(top);
      });
    };
    // A persistent launch's loop over its tiles (attn-persist-launches)
    // holds the producer ifs: the producer gets a loop of its own.
    scf::ForOp persistent;
    for (Operation *op = &body.front(); op != teardown;
         op = op->getNextNode()) {
      if (op->hasAttr(kProducerAttr)) {
        producers.push_back(op);
        continue;
      }
      if (auto loop = dyn_cast<scf::ForOp>(op);
          loop && loop->hasAttr(kPersistentAttr)) {
        if (persistent)
          return launch.emitOpError("has two loops marked ") << kPersistentAttr;
        persistent = loop;
        for (Operation &inner : loop.getBody()->without_terminator())
          if (inner.hasAttr(kProducerAttr))
            producers.push_back(&inner);
      }
      bool setUp = false;
      if (isa<memref::AllocOp, memref::AllocaOp, NVVM::MBarrierInitOp,
              NVVM::FenceMbarrierInitOp>(op) ||
          (isa<gpu::BarrierOp>(op) && op->getPrevNode() &&
           isa<NVVM::FenceMbarrierInitOp>(op->getPrevNode())) ||
          isPure(op))
        setUp = !fromWork(op);
      else if (auto store = dyn_cast<memref::StoreOp>(op))
        setUp = store.getMemRef().getDefiningOp<memref::AllocaOp>() &&
                !fromWork(op) && !touchedByWork(store.getMemRef());
      if (!setUp) {
        work.push_back(op);
        inWork.insert(op);
      }
    }
    if (producers.empty())
      return launch.emitOpError("has ")
             << kConsumerThreadsAttr << " but no " << kProducerAttr << " work";
    for (Operation *op : work)
      for (Value result : op->getResults())
        for (Operation *user : result.getUsers()) {
          Operation *top = body.findAncestorOpInBlock(*user);
          if (top && !inWork.contains(top) &&
              !llvm::is_contained(producers, top))
            return op->emitOpError("is used after the launch's work: the "
                                   "work cannot move into the consumers' "
                                   "branch");
        }

    Location loc = launch.getLoc();
    OpBuilder b(teardown);
    Value thread = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    Value isConsumer = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::ult, thread,
        arith::ConstantIndexOp::create(b, loc, consumers));
    auto split = scf::IfOp::create(b, loc, isConsumer, /*withElseRegion=*/true);
    const Registers registers = registersFor(consumers);

    // The consumers: the work as it was, barriers among themselves.
    Operation *thenEnd = split.thenBlock()->getTerminator();
    b.setInsertionPoint(thenEnd);
    NVVM::SetMaxRegisterOp::create(b, loc, registers.consumer,
                                   NVVM::SetMaxRegisterAction::increase);
    for (Operation *op : work)
      op->moveBefore(thenEnd);
    SmallVector<gpu::BarrierOp> barriers;
    split.getThenRegion().walk(
        [&](gpu::BarrierOp barrier) { barriers.push_back(barrier); });
    for (gpu::BarrierOp barrier : barriers) {
      OpBuilder at(barrier);
      NVVM::BarrierOp::create(
          at, barrier.getLoc(), TypeRange(),
          arith::ConstantOp::create(at, loc, at.getI32IntegerAttr(1)),
          arith::ConstantOp::create(at, loc, at.getI32IntegerAttr(consumers)),
          NVVM::BarrierReductionAttr(), Value());
      barrier.erase();
    }

    // The producer: what its loops use of the consumers' work, cloned.
    Operation *elseEnd = split.elseBlock()->getTerminator();
    b.setInsertionPoint(elseEnd);
    NVVM::SetMaxRegisterOp::create(b, loc, kProducerRegisters,
                                   NVVM::SetMaxRegisterAction::decrease);
    llvm::SetVector<Operation *> needed;
    std::function<LogicalResult(Value)> need = [&](Value v) -> LogicalResult {
      Operation *def = v.getDefiningOp();
      // The producer ifs' own values move with them (those in the
      // persistent loop are in the consumers' branch until then).
      if (!def || !split.getThenRegion().isAncestor(def->getParentRegion()) ||
          needed.contains(def) ||
          llvm::any_of(producers, [&](Operation *producer) {
            return producer->isAncestor(def);
          }))
        return success();
      if ((def->getBlock() != split.thenBlock() &&
           (!persistent || def->getBlock() != persistent.getBody())) ||
          !clonable(def, launch))
        return def->emitOpError(
            "is used by the producer's copies but cannot run in the "
            "producer warpgroup (not free of memory effects, or not a read "
            "of a buffer the launch does not write)");
      for (Value operand : def->getOperands())
        if (failed(need(operand)))
          return failure();
      needed.insert(def);
      return success();
    };
    for (Operation *producer : producers) {
      WalkResult walk = producer->walk([&](Operation *op) {
        for (Value operand : op->getOperands())
          if (failed(need(operand)))
            return WalkResult::interrupt();
        return WalkResult::advance();
      });
      if (walk.wasInterrupted())
        return failure();
    }
    // Cloned in the work's order, which is the operands' before their
    // users': the ops before the persistent loop first (its bounds and body
    // may use them), then those in it.
    SmallVector<Operation *> ordered(needed.begin(), needed.end());
    llvm::sort(ordered, [&](Operation *x, Operation *y) {
      const bool xOuter = x->getBlock() == split.thenBlock();
      const bool yOuter = y->getBlock() == split.thenBlock();
      if (xOuter != yOuter)
        return xOuter;
      return x->isBeforeInBlock(y);
    });
    IRMapping map;
    for (Operation *op : ordered)
      if (op->getBlock() == split.thenBlock())
        b.clone(*op, map);
    // The producer's loop over the persistent loop's tiles: its bounds are
    // the set-up's, its body what the producer ifs in the consumers' loop
    // use of it, and those ifs.
    Operation *producerEnd = elseEnd;
    if (persistent) {
      auto loop = scf::ForOp::create(
          b, loc, map.lookupOrDefault(persistent.getLowerBound()),
          map.lookupOrDefault(persistent.getUpperBound()),
          map.lookupOrDefault(persistent.getStep()));
      map.map(persistent.getInductionVar(), loop.getInductionVar());
      producerEnd = loop.getBody()->getTerminator();
      OpBuilder inLoop(producerEnd);
      for (Operation *op : ordered)
        if (op->getBlock() == persistent.getBody())
          inLoop.clone(*op, map);
    }
    for (Operation *producer : producers) {
      const bool inPersistent =
          persistent && producer->getBlock() == persistent.getBody();
      producer->moveBefore(inPersistent ? producerEnd : elseEnd);
      producer->walk([&](Operation *op) {
        for (OpOperand &operand : op->getOpOperands())
          if (Value mapped = map.lookupOrNull(operand.get()))
            operand.set(mapped);
      });
      producer->removeAttr(kProducerAttr);
    }
    // Neither branch sets its count back before they join: a warp's
    // setmaxnreg.inc takes from the block's pool as soon as the warp gets
    // there, and the producer's idle warps, there at once, would take back
    // what the consumers' setmaxnreg.inc waits for (the dense forward hung
    // so on the H200). The tear-down runs at each warp's count.

    OpBuilder outside(launch);
    launch.getBlockSizeXMutable().assign(arith::ConstantIndexOp::create(
        outside, loc, consumers + kProducerThreads));
    // A persistent launch: as many blocks as fit the multiprocessors at
    // once, or its tiles where they are fewer.
    if (persistent) {
      Value fit = arith::ConstantIndexOp::create(
          outside, loc,
          registers.blocks * TargetAttr::lookup(launch).getMultiprocessors());
      launch.getGridSizeXMutable().assign(arith::MinUIOp::create(
          outside, loc, persistent.getUpperBound(), fit));
    }
    launch->removeAttr(kConsumerThreadsAttr);
    // The blocks a multiprocessor that a conversion asked of the consumers'
    // launch (kMinBlocksPerSMAttr) do not hold for this one, whose
    // registers are its own: ptxas would bound the registers at the start
    // by them (85 a thread for three blocks of 256), below what the
    // consumers' setmaxnreg.inc then waits for -- forever (asked of the
    // gradient's launches, the specialised gradient hung so on the H100:
    // tools/attn-bench/NOTES.md, session 64).
    launch->removeAttr(kMinBlocksPerSMAttr);
    launch->setAttr(kMaxRegistersAttr,
                    outside.getI64IntegerAttr(registers.atStart));
    return success();
  }
};

} // namespace
