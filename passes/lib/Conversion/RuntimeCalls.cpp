//===- RuntimeCalls.cpp - attn's buffer ops as calls of libattnrt ---------===//
//
// The host-side buffer ops that the GPU pipeline leaves for gpu-to-llvm,
// converted there through the attn dialect's ConvertToLLVMPatternInterface
// into calls of libattnrt (docs/runtime.md):
//   - attn.buffer.all_reduce_start / wait: mgpuAllReduceStart(in, out,
//     count, element type, stream) and mgpuAllReduceWait(stream), on the
//     stream the ops' async tokens have become;
//   - attn.buffer.tensor_map: mgpuTensorMap(address, element type, rank,
//     sizes/strides/box, swizzle), the map's device address.
//
//===----------------------------------------------------------------------===//

#include "attn/IR/AttnOps.h"
#include "attn/IR/Collectives.h"
#include "attn/Pipelines/Pipelines.h"

#include "mlir/Conversion/ConvertToLLVM/ToLLVMInterface.h"
#include "mlir/Conversion/LLVMCommon/MemRefBuilder.h"
#include "mlir/Conversion/LLVMCommon/Pattern.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

using namespace mlir;
using namespace mlir::attn;

namespace {

/// The element type's code in libattnrt's ABI (docs/runtime.md).
std::optional<int32_t> runtimeElementCode(Type t) {
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

/// Declares `name` (taking `args`, returning `result` or nothing) in the
/// module of `op` if needed.
LLVM::LLVMFuncOp runtimeFunction(Operation *op, StringRef name,
                                 ArrayRef<Type> args, OpBuilder &b,
                                 Type result = {}) {
  auto module = op->getParentOfType<ModuleOp>();
  if (auto fn = module.lookupSymbol<LLVM::LLVMFuncOp>(name))
    return fn;
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(module.getBody());
  if (!result)
    result = LLVM::LLVMVoidType::get(b.getContext());
  return LLVM::LLVMFuncOp::create(b, op->getLoc(), name,
                                  LLVM::LLVMFunctionType::get(result, args));
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
    std::optional<int32_t> code = runtimeElementCode(type.getElementType());
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

/// The map's address from mgpuTensorMap, given the buffer's element at
/// index 0 (the descriptor's aligned pointer at its offset) and its sizes,
/// strides and the box in one stack array.
struct BufferTensorMapToCall
    : public ConvertOpToLLVMPattern<BufferTensorMapOp> {
  using ConvertOpToLLVMPattern::ConvertOpToLLVMPattern;
  LogicalResult
  matchAndRewrite(BufferTensorMapOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    MemRefType type = op.getSource().getType();
    std::optional<int32_t> code = runtimeElementCode(type.getElementType());
    if (!code)
      return rewriter.notifyMatchFailure(op, "element type has no code");
    Location loc = op.getLoc();
    Type ptr = getPtrType(), i64 = rewriter.getI64Type(),
         i32 = rewriter.getI32Type();
    auto constant = [&](Type t, int64_t v) -> Value {
      return LLVM::ConstantOp::create(rewriter, loc, t,
                                      rewriter.getIntegerAttr(t, v));
    };
    MemRefDescriptor source(adaptor.getSource());
    Value start = LLVM::GEPOp::create(
        rewriter, loc, ptr,
        getTypeConverter()->convertType(type.getElementType()),
        source.alignedPtr(rewriter, loc), source.offset(rewriter, loc));
    const int64_t rank = type.getRank();
    // The array in the function's entry block, where a loop around the op
    // cannot grow the stack.
    Value dims;
    {
      OpBuilder::InsertionGuard guard(rewriter);
      auto fn = op->getParentOfType<FunctionOpInterface>();
      rewriter.setInsertionPointToStart(&fn.getFunctionBody().front());
      dims = LLVM::AllocaOp::create(rewriter, loc, ptr, i64,
                                    constant(i64, 3 * rank));
    }
    auto store = [&](int64_t i, Value v) {
      Value at = LLVM::GEPOp::create(rewriter, loc, ptr, i64, dims,
                                     ArrayRef<LLVM::GEPArg>{i});
      LLVM::StoreOp::create(rewriter, loc, v, at);
    };
    for (int64_t d = 0; d < rank; ++d) {
      store(d, source.size(rewriter, loc, d));
      store(rank + d, source.stride(rewriter, loc, d));
      store(2 * rank + d, constant(i64, op.getBox()[d]));
    }
    LLVM::LLVMFuncOp callee = runtimeFunction(
        op, "mgpuTensorMap", {ptr, i32, i32, ptr, i32}, rewriter, i64);
    auto call = LLVM::CallOp::create(
        rewriter, loc, callee,
        ValueRange{start, constant(i32, *code), constant(i32, rank), dims,
                   constant(i32, op.getSwizzle())});
    rewriter.replaceOp(op, call.getResult());
    return success();
  }
};

struct AttnToLLVMInterface : public ConvertToLLVMPatternInterface {
  using ConvertToLLVMPatternInterface::ConvertToLLVMPatternInterface;
  void populateConvertToLLVMConversionPatterns(
      ConversionTarget &target, LLVMTypeConverter &converter,
      RewritePatternSet &patterns) const final {
    // Illegal, so that one left over (no stream) fails the conversion.
    target.addIllegalOp<BufferAllReduceStartOp, BufferAllReduceWaitOp,
                        BufferTensorMapOp>();
    patterns.add<BufferAllReduceStartToCall, BufferAllReduceWaitToCall,
                 BufferTensorMapToCall>(converter);
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
