//===- Pipelines.cpp - the named attn pipelines ---------------------------===//

#include "attn/Pipelines/Pipelines.h"
#include "attn/Conversion/Passes.h"
#include "attn/IR/AttnOps.h"
#include "attn/Transforms/AttentionTiles.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
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
void buildTilingPipeline(OpPassManager &pm,
                         const ScheduleBlocksOptions &schedule,
                         const TileOptions &tile) {
  OpPassManager &fn = pm.nest<func::FuncOp>();
  fn.addPass(createExpandLayers());
  fn.addPass(createConvertEncoderToLinalg());
  fn.addPass(createConvertCollectivesToBuffers());
  fn.addPass(createScheduleBlocks(schedule));
  pm.addPass(createTile(tile));
  // Masks are dead now: they must not reach bufferization. No CSE before
  // bufferization: it would merge a later kernel's bufferization.to_buffer
  // into an earlier one's (the op is pure), and One-Shot Bufferize, which
  // sees a buffer read only where its to_buffer is, could then let a tensor
  // op in between write into a buffer the later kernel still reads (a
  // backward kernel reading its forward's coefficients did).
  pm.addPass(createCanonicalizerPass());
  pm.addNestedPass<func::FuncOp>(createFuseElementwise());
}

/// attn-tile's options that both pipelines (CPU and GPU) give alike.
template <class PipelineOptions>
TileOptions tileOptions(const PipelineOptions &options) {
  TileOptions tile;
  tile.blockQ = options.blockQ;
  tile.blockK = options.blockK;
  tile.gradBlockQ = options.gradBlockQ;
  tile.gradBlockK = options.gradBlockK;
  tile.gradFusedQuery = options.gradFusedQuery;
  tile.ssmChunk = options.ssmChunk;
  return tile;
}

/// attn-schedule-blocks' options from a pipeline's (CPU or GPU).
template <class PipelineOptions>
ScheduleBlocksOptions scheduleOptions(const PipelineOptions &options) {
  ScheduleBlocksOptions schedule;
  schedule.blockQ = options.blockQ;
  schedule.blockK = options.blockK;
  schedule.gradBlockQ = options.gradBlockQ;
  schedule.gradBlockK = options.gradBlockK;
  schedule.verify = options.verifyMasks;
  return schedule;
}

/// Tensors to buffers; results become out-parameters, so that a function's
/// buffers are all its caller's.
void buildBufferizationPipeline(OpPassManager &pm) {
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  pm.addNestedPass<func::FuncOp>(createDistinctReturnedBuffers());
  bufferization::BufferResultsToOutParamsPassOptions outParams;
  outParams.hoistStaticAllocs = true;
  outParams.modifyPublicFunctions = true;
  pm.addPass(bufferization::createBufferResultsToOutParamsPass(outParams));
  bufferization::BufferDeallocationPipelineOptions dealloc;
  bufferization::buildBufferDeallocationPipeline(pm, dealloc);
}
} // namespace

void buildLowerToCPUPipeline(OpPassManager &pm,
                             const CPUPipelineOptions &options) {
  buildTilingPipeline(pm, scheduleOptions(options), tileOptions(options));
  buildBufferizationPipeline(pm);

  OpPassManager &fn = pm.nest<func::FuncOp>();
  ConvertTilesToCPUOptions tiles;
  tiles.vectorWidth = options.vectorWidth;
  fn.addPass(createConvertTilesToCPU(tiles));
  fn.addPass(createConvertCollectivesToCPU());
  fn.addPass(createExpandMemRefCopies());
  fn.addPass(createConvertLinalgToLoopsPass());
  fn.addPass(createApproximateMath());
  fn.addPass(createExpandBf16Conversions());
  fn.addPass(createCanonicalizerPass());
  fn.addPass(createCSEPass());
  if (options.parallel) {
    fn.addPass(createForallToParallelLoopPass());
    pm.addPass(createConvertSCFToOpenMPPass());
  } else {
    fn.addPass(createForallToForLoopPass());
  }
  pm.addPass(createInlineAllocaScopes());
  // LLVM's loop passes cost more than linearly in a function's loops.
  pm.addPass(createOutlineLoopNests());
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

/// attn-tile's options from --lower-to-gpu's: a warp per warp-rows query
/// rows (one or two mma.sync accumulator tiles); f32 attention 32 rows a
/// warp (two row tiles in 3xTF32, or, where its tiles do not fit tensor
/// cores, a row per lane); a warp per SSM scan of
/// ssm-channels channels (of a chunk).
static TileOptions gpuTileOptions(const GPUPipelineOptions &options) {
  TileOptions tile = tileOptions(options);
  tile.rowsPerInstance = options.warpRows;
  tile.scalarRowsPerInstance = 32;
  tile.channels = options.ssmChannels;
  tile.gradRowsPerInstance = options.gradWarpRows;
  return tile;
}

/// attn-convert-softmax-tiles-to-gpu's options from --lower-to-gpu's. Each
/// of warp-specialize and overlap-softmax (and persistent-attention, which
/// follows warp-specialize) holds where the one before it does: a producer
/// issues tensor copies, and the overlap and the persistent loop are the
/// producer's. All are on by default, so that tensor-copies=off alone turns
/// the three off; asked for explicitly where what they need is off, they
/// are errors (checkGPUPipelineOptions).
static ConvertSoftmaxTilesToGPUOptions
softmaxTileOptions(const GPUPipelineOptions &options) {
  ConvertSoftmaxTilesToGPUOptions softmax;
  softmax.tensorCopies = options.tensorCopies;
  softmax.warpSpecialize =
      options.warpSpecialize && options.tensorCopies != "off";
  softmax.overlapSoftmax = softmax.warpSpecialize && options.overlapSoftmax;
  softmax.producerQueries = softmax.overlapSoftmax && options.producerQueries;
  return softmax;
}

/// The tile ops inside kernels to code for warps, one pass per kind.
static void
addTileConversionsToGPU(OpPassManager &fn,
                        const ConvertSoftmaxTilesToGPUOptions &softmax) {
  fn.addPass(createConvertSoftmaxTilesToGPU(softmax));
  fn.addPass(createConvertLinearTilesToGPU());
  fn.addPass(createConvertSsmTilesToGPU());
  if (softmax.warpSpecialize)
    fn.addPass(createSpecializeWarps());
}

void buildLowerToGPUPipeline(OpPassManager &pm,
                             const GPUPipelineOptions &options) {
  SetTargetOptions target{options.chip, options.multiprocessors};
  pm.addPass(createSetTarget(target));
  buildTilingPipeline(pm, scheduleOptions(options), gpuTileOptions(options));
  buildBufferizationPipeline(pm);

  OpPassManager &fn = pm.nest<func::FuncOp>();
  MatmulToTensorCoresOptions products;
  products.persistent = options.persistentProducts;
  products.columnSums = options.productColumnSums;
  fn.addPass(createMatmulToTensorCores(products));
  MapLoopsToGPUOptions map;
  map.lanesPerIteration = 32;
  fn.addPass(createMapLoopsToGPU(map));
  ConvertSoftmaxTilesToGPUOptions softmax = softmaxTileOptions(options);
  if (softmax.warpSpecialize && options.persistentAttention) {
    // The launches that attn-specialize-warps will split: those whose
    // tiles the tensor memory accelerator copies.
    PersistLaunchesOptions persist;
    persist.launches = options.tensorCopies == "auto"
                           ? std::string("forward")
                           : std::string(options.tensorCopies);
    fn.addPass(createPersistLaunches(persist));
  }
  addTileConversionsToGPU(fn, softmax);
  fn.addPass(createAllocateSharedMemory());
  fn.addPass(createLinalgToLoops());
  {
    // The functions are mostly unrolled kernel code by now: folding them is
    // what this canonicalizer is for; its region simplification (block
    // merging) took a third of its time and changed nothing that the
    // canonicalizers after outlining do not (the same PTX for the training
    // steps of Hybrid-BERT-Mini, S4D, Linear-BERT-Mini, SPADE-Mini and
    // BigBird-Mini).
    GreedyRewriteConfig folding;
    folding.setRegionSimplificationLevel(GreedySimplifyRegionLevel::Disabled);
    fn.addPass(createCanonicalizerPass(folding));
  }
  fn.addPass(createCSEPass());
  fn.addPass(createScheduleLaunches());
  fn.addPass(createMergeLaunches());
  // Constants are recomputed in kernels rather than passed to them.
  fn.addPass(createGpuLaunchSinkIndexComputationsPass());
  fn.addPass(createNameKernels());
  pm.addPass(createOutlineKernels());
  pm.addPass(createDedupKernels());
  // The host's launches, copies and allocations in order on one stream per
  // call, waited for once at its end.
  pm.addNestedPass<func::FuncOp>(createGpuAsyncRegionPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());

  GpuNVVMAttachTargetOptions nvvmTarget;
  nvvmTarget.chip = options.chip;
  nvvmTarget.features = options.features;
  nvvmTarget.optLevel = 3;
  pm.addPass(createGpuNVVMAttachTarget(nvvmTarget));
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  kernels.addPass(createMufuKernelMath());
  // Kernel arguments are whole buffers of static shape: bare pointers, on
  // both sides of the launch.
  kernels.addPass(createConvertNVGPUToNVVMPass());
  ConvertGpuOpsToNVVMOpsOptions nvvm;
  nvvm.useBarePtrCallConv = true;
  kernels.addPass(createConvertGpuOpsToNVVMOps(nvvm));
  // NVVM ops without an LLVM intrinsic (wgmma.mma_async) as inline PTX.
  kernels.addPass(createConvertNVVMToLLVMPass());
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createCSEPass());
  kernels.addPass(createReconcileUnrealizedCastsPass());

  // Host: the C ABI of attn-compile (bare pointers), kernels launched
  // through the mgpu* functions of libattnrt.
  GpuToLLVMConversionPassOptions host;
  host.hostBarePtrCallConv = true;
  host.kernelBarePtrCallConv = true;
  pm.addPass(createGpuToLLVMConversionPass(host));
  pm.addPass(createReconcileUnrealizedCastsPass());
  // The kernels joined only now, so that the conversions above run over
  // the kernel modules in parallel; into a few modules, serialized at once,
  // so that LLVM's optimisation and code generation (a thread per module)
  // use as many cores.
  JoinKernelModulesOptions join;
  join.parts = options.kernelModules;
  pm.addPass(createJoinKernelModules(join));
  ModulesToBinariesOptions binary;
  binary.toolkit = options.toolkit;
  binary.format = options.format;
  // ptxas optimises each module's kernels on several threads. A fixed
  // count, not the host's: the cubin's layout depends on it, and a library
  // should be the same whichever machine compiled it.
  binary.cmdOptions = "--split-compile=4";
  pm.addPass(createModulesToBinaries(binary));
  pm.addPass(createCanonicalizerPass());
}

/// Registers a pipeline whose options are checked by `check` (an error
/// message, or none) before it is built: a bad value fails the tool, where
/// the pass that would read it might only print a message.
template <typename Options>
static void registerCheckedPipeline(
    StringRef arg, StringRef description,
    void (*build)(OpPassManager &, const Options &),
    std::optional<std::string> (*check)(const Options &)) {
  registerPassPipeline(
      arg, description,
      [=](OpPassManager &pm, StringRef text,
          function_ref<LogicalResult(const Twine &)> errorHandler) {
        Options options;
        if (failed(options.parseFromString(text)))
          return failure();
        if (std::optional<std::string> problem = check(options))
          return errorHandler("--" + arg + ": " + *problem);
        build(pm, options);
        return success();
      },
      [](function_ref<void(const ::mlir::detail::PassOptions &)> handler) {
        handler(Options());
      });
}

/// Tile sizes in [least, kMaxBlockSize]: the CPU's from 1, the GPU's from
/// 0 (the target's choice, AttentionTiles.h).
static std::optional<std::string> checkTiles(int64_t blockQ, int64_t blockK,
                                             int64_t least) {
  if (blockQ < least || blockQ > kMaxBlockSize || blockK < least ||
      blockK > kMaxBlockSize)
    return "block-q and block-k must be in [" + std::to_string(least) +
           (least == 0 ? " (the target's choice)" : "") + ", " +
           std::to_string(kMaxBlockSize) + "], got " + std::to_string(blockQ) +
           " and " + std::to_string(blockK);
  return std::nullopt;
}

/// The gradient's tiles where given (0: the forward's), as they will be;
/// the forward's, and every other option of attn-tile, checkTileOptions
/// checks.
static std::optional<std::string> checkGradTiles(int64_t blockQ, int64_t blockK,
                                                 int64_t gradBlockQ,
                                                 int64_t gradBlockK) {
  if (gradBlockQ == 0 && gradBlockK == 0)
    return std::nullopt;
  AttentionTile grad = gradientTile({blockQ, blockK}, {gradBlockQ, gradBlockK});
  if (std::optional<std::string> problem = checkTiles(grad.q, grad.k, 1))
    return "the gradient's " + *problem;
  return std::nullopt;
}

std::optional<std::string>
checkCPUPipelineOptions(const CPUPipelineOptions &o) {
  // The CPU's tiles are given: 0 is the GPU's target's choice.
  if (std::optional<std::string> problem = checkTiles(o.blockQ, o.blockK, 1))
    return problem;
  if (std::optional<std::string> problem =
          checkGradTiles(o.blockQ, o.blockK, o.gradBlockQ, o.gradBlockK))
    return problem;
  return checkTileOptions(tileOptions(o));
}

std::optional<std::string>
checkGPUPipelineOptions(const GPUPipelineOptions &o) {
  if (!binaryFormat(o.format))
    return "format must be bin, isa, fatbin or llvm, got '" +
           std::string(o.format) + "'";
  if (o.kernelModules < 1)
    return "kernel-modules must be at least 1, got " +
           std::to_string(o.kernelModules);
  std::string target = TargetAttr::check(o.chip, o.multiprocessors);
  if (!target.empty())
    return target;
  if (o.warpRows != 16 && o.warpRows != 32)
    return "warp-rows must be 16 or 32, got " + std::to_string(o.warpRows);
  if (o.gradWarpRows != 0 && o.gradWarpRows != 16 && o.gradWarpRows != 32)
    return "grad-warp-rows must be 16, 32 or 0 (warp-rows), got " +
           std::to_string(o.gradWarpRows);
  // The three that follow tensor-copies (softmaxTileOptions) are checked
  // as given: on by default, each is an error only where it was asked for
  // and what it needs is off.
  ConvertSoftmaxTilesToGPUOptions softmax = softmaxTileOptions(o);
  if (std::optional<std::string> problem = checkSoftmaxTilesToGPUOptions(
          o.tensorCopies, o.warpSpecialize.hasValue() && o.warpSpecialize,
          o.overlapSoftmax.hasValue() && o.overlapSoftmax &&
              !softmax.warpSpecialize,
          o.producerQueries.hasValue() && o.producerQueries &&
              !softmax.overlapSoftmax))
    return problem;
  if (o.persistentAttention.hasValue() && o.persistentAttention &&
      !softmax.warpSpecialize)
    return "persistent-attention needs warp-specialize (the producer's loop "
           "copies the next tile's keys)";
  if (std::optional<std::string> problem =
          checkGradTiles(o.blockQ, o.blockK, o.gradBlockQ, o.gradBlockK))
    return problem;
  return checkTileOptions(gpuTileOptions(o));
}

void registerAttnPasses() {
  registerAttnTransformsPasses();
  registerAttnConversionPasses();
  registerPassPipeline(
      "attn-convert-tiles-to-gpu",
      "Lowers every attn tile op inside gpu.launch to code for warps: "
      "attn-convert-softmax-tiles-to-gpu, attn-convert-linear-tiles-to-gpu, "
      "attn-convert-ssm-tiles-to-gpu",
      [](OpPassManager &pm, StringRef options,
         function_ref<LogicalResult(const Twine &)> errorHandler) {
        if (!options.empty())
          return errorHandler("--attn-convert-tiles-to-gpu takes no options");
        addTileConversionsToGPU(pm, ConvertSoftmaxTilesToGPUOptions());
        return success();
      },
      [](function_ref<void(const ::mlir::detail::PassOptions &)>) {});
  registerCheckedPipeline<CPUPipelineOptions>(
      "lower-to-cpu",
      "Lower attn (layers or primitives) to the LLVM dialect for the host",
      buildLowerToCPUPipeline, checkCPUPipelineOptions);
  registerCheckedPipeline<GPUPipelineOptions>(
      "lower-to-gpu",
      "Lower attn to host LLVM launching kernels in a gpu.binary (a cubin "
      "assembled by the CUDA toolkit's ptxas)",
      buildLowerToGPUPipeline, checkGPUPipelineOptions);
}

} // namespace mlir::attn
