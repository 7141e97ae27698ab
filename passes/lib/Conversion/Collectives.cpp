//===- Collectives.cpp - all-reduces to buffers, to copies, to calls ------===//
//
// attn.all_reduce_start / wait (AttnCollectiveOps.td) on their way down:
//   - attn-convert-collectives-to-buffers: the buffer forms, before
//     bufferization (both pipelines);
//   - attn-convert-collectives-to-cpu: copies, for a run of one process;
//   - on the GPU, calls of libattnrt (RuntimeCalls.cpp).
//
//===----------------------------------------------------------------------===//

#include "attn/IR/Collectives.h"
#include "attn/Conversion/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"

namespace mlir::attn {
#define GEN_PASS_DEF_CONVERTCOLLECTIVESTOBUFFERS
#define GEN_PASS_DEF_CONVERTCOLLECTIVESTOCPU
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

//===----------------------------------------------------------------------===//
// Tensors to buffers
//===----------------------------------------------------------------------===//

struct ConvertCollectivesToBuffersPass
    : public mlir::attn::impl::ConvertCollectivesToBuffersBase<
          ConvertCollectivesToBuffersPass> {
  void runOnOperation() override {
    // Each start's buffer, averaged in place. The input is copied into it
    // rather than read where it lies: a start's input may be a tensor that
    // later ops overwrite in place once bufferized, and the exchange reads
    // it until the wait.
    DenseMap<Value, Value> buffers;
    SmallVector<AllReduceStartOp> starts;
    getOperation().walk([&](AllReduceStartOp start) {
      starts.push_back(start);
      if (start.getResult().use_empty())
        return; // nothing waits for it: nothing to start
      OpBuilder b(start);
      Location loc = start.getLoc();
      auto type = cast<RankedTensorType>(start.getType());
      auto memref = MemRefType::get(type.getShape(), type.getElementType());
      Value input = bufferization::ToBufferOp::create(
          b, loc, memref, start.getInput(), /*read_only=*/true);
      Value buffer = memref::AllocOp::create(b, loc, memref);
      memref::CopyOp::create(b, loc, input, buffer);
      BufferAllReduceStartOp::create(b, loc, /*asyncToken=*/Type(),
                                     ValueRange{}, buffer, buffer);
      buffers[start.getResult()] = buffer;
    });
    getOperation().walk([&](AllReduceWaitOp wait) {
      OpBuilder b(wait);
      SmallVector<Value> averaged;
      for (Value h : wait.getInputs())
        averaged.push_back(buffers.lookup(h));
      BufferAllReduceWaitOp::create(b, wait.getLoc(), /*asyncToken=*/Type(),
                                    ValueRange{}, averaged, averaged);
      SmallVector<Value> results;
      for (auto [buffer, type] : llvm::zip(averaged, wait.getResultTypes()))
        results.push_back(bufferization::ToTensorOp::create(
            b, wait.getLoc(), type, buffer, /*restrict=*/true,
            /*writable=*/true));
      wait.replaceAllUsesWith(results);
      wait.erase();
    });
    for (AllReduceStartOp start : starts)
      start.erase();
  }
};

//===----------------------------------------------------------------------===//
// The CPU: one process
//===----------------------------------------------------------------------===//

struct ConvertCollectivesToCPUPass
    : public mlir::attn::impl::ConvertCollectivesToCPUBase<
          ConvertCollectivesToCPUPass> {
  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (isa<BufferAllReduceStartOp, BufferAllReduceWaitOp>(op))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      if (auto start = dyn_cast<BufferAllReduceStartOp>(op);
          start && start.getInput() != start.getOutput()) {
        OpBuilder b(start);
        memref::CopyOp::create(b, start.getLoc(), start.getInput(),
                               start.getOutput());
      }
      op->erase();
    }
  }
};

} // namespace
