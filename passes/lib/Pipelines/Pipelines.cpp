//===- Pipelines.cpp - the named attn pipelines ---------------------------===//

#include "attn/Pipelines/Pipelines.h"
#include "attn/Conversion/Passes.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

namespace mlir::attn {
namespace {
/// attn at any level down to tiled memref code: layers, encoder pieces,
/// schedules and tiles. Shared by the CPU and GPU pipelines.
void buildTilingPipeline(OpPassManager &pm, int64_t blockQ, int64_t blockK) {
  OpPassManager &fn = pm.nest<func::FuncOp>();
  fn.addPass(createExpandLayers());
  fn.addPass(createConvertEncoderToLinalg());
  fn.addPass(createScheduleBlocks({blockQ, blockK}));
  TileOptions tile;
  tile.blockQ = blockQ;
  tile.blockK = blockK;
  pm.addPass(createTile(tile));
  // Masks are dead now: they must not reach bufferization.
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}
} // namespace

void buildLowerToCPUPipeline(OpPassManager &pm,
                             const CPUPipelineOptions &options) {
  buildTilingPipeline(pm, options.blockQ, options.blockK);

  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  bufferization::BufferResultsToOutParamsPassOptions outParams;
  outParams.hoistStaticAllocs = true;
  outParams.modifyPublicFunctions = true;
  pm.addPass(bufferization::createBufferResultsToOutParamsPass(outParams));
  bufferization::BufferDeallocationPipelineOptions dealloc;
  bufferization::buildBufferDeallocationPipeline(pm, dealloc);

  OpPassManager &fn = pm.nest<func::FuncOp>();
  ConvertTilesToCPUOptions tiles;
  tiles.vectorWidth = options.vectorWidth;
  fn.addPass(createConvertTilesToCPU(tiles));
  fn.addPass(createExpandMemRefCopies());
  fn.addPass(createConvertLinalgToLoopsPass());
  fn.addPass(createApproximateMath());
  fn.addPass(createCanonicalizerPass());
  fn.addPass(createCSEPass());
  if (options.parallel) {
    fn.addPass(createForallToParallelLoopPass());
    pm.addPass(createConvertSCFToOpenMPPass());
  } else {
    fn.addPass(createForallToForLoopPass());
  }
  pm.addPass(createInlineAllocaScopes());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  ConvertVectorToLLVMPassOptions vec;
  vec.vectorTransposeLowering =
      options.vectorWidth == 16 ? vector::VectorTransposeLowering::Shuffle16x16
                                : vector::VectorTransposeLowering::Shuffle1D;
  pm.addPass(createConvertVectorToLLVMPass(vec));
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  ConvertFuncToLLVMPassOptions funcs;
  funcs.useBarePtrCallConv = true;
  pm.addPass(createConvertFuncToLLVMPass(funcs));
  // After the functions: this pass would convert them with descriptors.
  if (options.parallel)
    pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
}

void registerAttnPasses() {
  registerAttnTransformsPasses();
  registerAttnConversionPasses();
  PassPipelineRegistration<CPUPipelineOptions>(
      "lower-to-cpu",
      "Lower attn (layers or primitives) to the LLVM dialect for the host",
      buildLowerToCPUPipeline);
}

} // namespace mlir::attn
