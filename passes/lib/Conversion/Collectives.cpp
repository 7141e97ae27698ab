//===- Collectives.cpp - all-reduces to buffers, to copies, to calls ------===//
//
// attn.all_reduce_start / wait (AttnCollectiveOps.td) on their way down:
//   - attn-convert-collectives-to-buffers: the buffer forms, before
//     bufferization (both pipelines);
//   - attn-convert-collectives-to-cpu: copies, for a run of one process;
//   - on the GPU, calls of libattnrt's mgpuAllReduceStart(in, out, count,
//     element type, stream) and mgpuAllReduceWait(stream), made inside
//     gpu-to-llvm by the attn dialect's ConvertToLLVMPatternInterface, where
//     the ops' async tokens have become the call's stream (docs/runtime.md).
//
//===----------------------------------------------------------------------===//

#include "attn/IR/Collectives.h"
#include "attn/Conversion/Passes.h"
#include "attn/Pipelines/Pipelines.h"

#include "mlir/Conversion/ConvertToLLVM/ToLLVMInterface.h"
#include "mlir/Conversion/LLVMCommon/MemRefBuilder.h"
#include "mlir/Conversion/LLVMCommon/Pattern.h"
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

//===----------------------------------------------------------------------===//
// The GPU: calls of libattnrt on the call's stream
//===----------------------------------------------------------------------===//

/// The element type's code in mgpuAllReduceStart's ABI (docs/runtime.md).
std::optional<int32_t> collectiveElementCode(Type t) {
  if (t.isF32())
    return 0;
  if (t.isBF16())
    return 1;
  if (t.isF16())
    return 2;
  if (t.isF64())
    return 3;
  return std::nullopt;
}

/// Declares `name` (void, taking `args`) in the module of `op` if needed.
LLVM::LLVMFuncOp runtimeFunction(Operation *op, StringRef name,
                                 ArrayRef<Type> args, OpBuilder &b) {
  auto module = op->getParentOfType<ModuleOp>();
  if (auto fn = module.lookupSymbol<LLVM::LLVMFuncOp>(name))
    return fn;
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(module.getBody());
  return LLVM::LLVMFuncOp::create(
      b, op->getLoc(), name,
      LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(b.getContext()),
                                  args));
}

/// The stream that gpu-async-region threaded through `op` (its one
/// dependency, converted), or failure: the buffer ops run on the GPU only
/// inside a call's stream.
template <typename Op>
FailureOr<Value> streamOf(Op op, ValueRange dependencies,
                          ConversionPatternRewriter &rewriter) {
  if (dependencies.size() != 1 || !op.getAsyncToken())
    return rewriter.notifyMatchFailure(
        op, "needs one async dependency and a token (gpu-async-region)");
  return dependencies.front();
}

struct BufferAllReduceStartToCall
    : public ConvertOpToLLVMPattern<BufferAllReduceStartOp> {
  using ConvertOpToLLVMPattern::ConvertOpToLLVMPattern;
  LogicalResult
  matchAndRewrite(BufferAllReduceStartOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    FailureOr<Value> stream =
        streamOf(op, adaptor.getAsyncDependencies(), rewriter);
    if (failed(stream))
      return failure();
    auto type = cast<MemRefType>(op.getInput().getType());
    std::optional<int32_t> code = collectiveElementCode(type.getElementType());
    if (!code)
      return rewriter.notifyMatchFailure(op, "element type has no code");
    Location loc = op.getLoc();
    Type ptr = getPtrType(), i64 = rewriter.getI64Type(),
         i32 = rewriter.getI32Type();
    Value in = MemRefDescriptor(adaptor.getInput())
                   .bufferPtr(rewriter, loc, *getTypeConverter(), type);
    Value out = MemRefDescriptor(adaptor.getOutput())
                    .bufferPtr(rewriter, loc, *getTypeConverter(), type);
    Value count = LLVM::ConstantOp::create(
        rewriter, loc, i64, rewriter.getI64IntegerAttr(type.getNumElements()));
    Value element = LLVM::ConstantOp::create(rewriter, loc, i32,
                                             rewriter.getI32IntegerAttr(*code));
    LLVM::LLVMFuncOp callee = runtimeFunction(
        op, "mgpuAllReduceStart", {ptr, ptr, i64, i32, ptr}, rewriter);
    LLVM::CallOp::create(rewriter, loc, callee,
                         ValueRange{in, out, count, element, *stream});
    rewriter.replaceOp(op, *stream);
    return success();
  }
};

struct BufferAllReduceWaitToCall
    : public ConvertOpToLLVMPattern<BufferAllReduceWaitOp> {
  using ConvertOpToLLVMPattern::ConvertOpToLLVMPattern;
  LogicalResult
  matchAndRewrite(BufferAllReduceWaitOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    FailureOr<Value> stream =
        streamOf(op, adaptor.getAsyncDependencies(), rewriter);
    if (failed(stream))
      return failure();
    LLVM::LLVMFuncOp callee =
        runtimeFunction(op, "mgpuAllReduceWait", {getPtrType()}, rewriter);
    LLVM::CallOp::create(rewriter, op.getLoc(), callee, ValueRange{*stream});
    rewriter.replaceOp(op, *stream);
    return success();
  }
};

struct AttnToLLVMInterface : public ConvertToLLVMPatternInterface {
  using ConvertToLLVMPatternInterface::ConvertToLLVMPatternInterface;
  void populateConvertToLLVMConversionPatterns(
      ConversionTarget &target, LLVMTypeConverter &converter,
      RewritePatternSet &patterns) const final {
    // Illegal, so that one left over (no stream) fails the conversion.
    target.addIllegalOp<BufferAllReduceStartOp, BufferAllReduceWaitOp>();
    patterns.add<BufferAllReduceStartToCall, BufferAllReduceWaitToCall>(
        converter);
  }
};

} // namespace

void mlir::attn::registerAttnDialectExtensions(DialectRegistry &registry) {
  registry.insert<AttnDialect>();
  registry.addExtension(+[](MLIRContext *, AttnDialect *dialect) {
    dialect->addInterfaces<AttnToLLVMInterface>();
  });
  registerTileOpDeallocationModels(registry);
}
