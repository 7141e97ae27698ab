//===- Pipelines.h - the named attn pipelines -------------------*- C++ -*-===//
#ifndef ATTN_PIPELINES_PIPELINES_H
#define ATTN_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassOptions.h"

#include <optional>
#include <string>

namespace mlir {
class DialectRegistry;
class OpPassManager;
namespace attn {

/// Tile sizes (block-q, block-k) at most this: a tile's rows are a thread
/// block's threads on the GPU and stack buffers on the CPU. attn-compile's
/// options and the named pipelines' are checked against it.
constexpr int64_t kMaxBlockSize = 1024;

/// The options of both pipelines (CPU and GPU) that choose attention's
/// tiles and check their schedules. `kDefaultTile` is block-q's and
/// block-k's default: 64 on the CPU, 0 (the target's choice) on the GPU.
template <class Derived, int64_t kDefaultTile>
struct TilingPipelineOptions : public PassPipelineOptions<Derived> {
  using Options = ::mlir::detail::PassOptions;
  Options::Option<int64_t> blockQ{
      *this, "block-q",
      llvm::cl::desc("Query rows per tile (--lower-to-gpu: 0, the target's "
                     "choice, by default -- on sm_90a 128 x 128 for 16-bit "
                     "softmax attention, 128 x 64 above 64 dimensions a "
                     "head, where that does not grow its mask's work over "
                     "5%, else 64; --lower-to-cpu: 64)"),
      llvm::cl::init(kDefaultTile)};
  Options::Option<int64_t> blockK{
      *this, "block-k",
      llvm::cl::desc("Keys per tile (0: the target's choice, as block-q; "
                     "the GPU's default)"),
      llvm::cl::init(kDefaultTile)};
  Options::Option<int64_t> gradBlockQ{
      *this, "grad-block-q",
      llvm::cl::desc("Query rows per tile of attention's gradient (0: "
                     "block-q, or 64 where that is the target's choice)"),
      llvm::cl::init(0)};
  Options::Option<int64_t> gradBlockK{
      *this, "grad-block-k",
      llvm::cl::desc("Keys per tile of attention's gradient (0: block-k, or "
                     "64 where that is the target's choice)"),
      llvm::cl::init(0)};
  Options::Option<bool> gradFusedQuery{
      *this, "grad-fused-query",
      llvm::cl::desc("Attention's gradient in one nest over the key tiles: "
                     "dK and dV in registers, each pair's dS K added to an "
                     "f32 dQ atomically, instead of a second nest over the "
                     "query tiles that recomputes P and dS"),
      llvm::cl::init(false)};
  Options::Option<bool> verifyMasks{
      *this, "verify-masks",
      llvm::cl::desc("Check every attention's tile schedule against its "
                     "mask's predicate by enumeration, sampled on long "
                     "sequences (attn-schedule-blocks=verify): a pattern op "
                     "whose classification, key ranges or predicate IR "
                     "contradicts its definition fails the compile, named "
                     "with the tile and pair"),
      llvm::cl::init(false)};
  Options::Option<int64_t> ssmChunk{
      *this, "ssm-chunk",
      llvm::cl::desc("Positions per chunk of the SSM's chunked scan (chunk "
                     "states, carried over the chunks, then every chunk's "
                     "outputs at once); 0: one scan over the whole sequence; "
                     "-1: the target's choice -- on the GPU, chunks where "
                     "batch x channel groups alone would leave it idle; on "
                     "the CPU, none"),
      llvm::cl::init(-1)};

  /// Calls `fn` on each option (its name, description and kind of value),
  /// for tools that offer the pipeline's options as flags of their own.
  void forEachOption(llvm::function_ref<void(llvm::cl::Option &)> fn) {
    for (const auto &entry : this->OptionsMap)
      fn(*entry.second);
  }
};

struct CPUPipelineOptions
    : public TilingPipelineOptions<CPUPipelineOptions, 64> {
  PassOptions::Option<int64_t> vectorWidth{
      *this, "vector-width",
      llvm::cl::desc("f32 lanes per vector (16: AVX-512, 8: AVX2)"),
      llvm::cl::init(16)};
  PassOptions::Option<bool> parallel{
      *this, "parallel",
      llvm::cl::desc("Run tile loops on all cores through OpenMP"),
      llvm::cl::init(true)};
};

/// attn (layers or primitives) to the LLVM dialect for the host. Public
/// functions take and return static-shape tensors as bare pointers to
/// row-major buffers, results as trailing out-parameters.
void buildLowerToCPUPipeline(OpPassManager &pm,
                             const CPUPipelineOptions &options);

/// What is wrong with `options` (a sentence naming the option), or nothing:
/// checked by the registered pipeline and by tools that build it.
std::optional<std::string>
checkCPUPipelineOptions(const CPUPipelineOptions &options);

struct GPUPipelineOptions
    : public TilingPipelineOptions<GPUPipelineOptions, 0> {
  PassOptions::Option<std::string> chip{
      *this, "chip", llvm::cl::desc("GPU architecture of the cubin"),
      llvm::cl::init("sm_90a")};
  PassOptions::Option<int64_t> multiprocessors{
      *this, "multiprocessors",
      llvm::cl::desc("SMs of the GPU, which grids that split work to fill "
                     "it are sized for (attn.target)"),
      llvm::cl::init(132)};
  PassOptions::Option<std::string> features{
      *this, "features", llvm::cl::desc("PTX features (PTX ISA version)"),
      llvm::cl::init("+ptx80")};
  PassOptions::Option<std::string> toolkit{
      *this, "cuda-toolkit",
      llvm::cl::desc("CUDA toolkit whose ptxas assembles the cubin"),
      llvm::cl::init("/usr/local/cuda")};
  PassOptions::Option<std::string> format{
      *this, "format",
      llvm::cl::desc("What the gpu.binary holds: bin (cubin), isa (PTX), "
                     "fatbin, llvm (LLVM IR)"),
      llvm::cl::init("bin")};
  PassOptions::Option<int64_t> kernelModules{
      *this, "kernel-modules",
      llvm::cl::desc("Modules the kernels are joined into, each a gpu.binary "
                     "of its own, serialized at once: LLVM's work on the "
                     "kernels runs on that many threads (the library is the "
                     "same for the same count, whatever the machine)"),
      llvm::cl::init(2)};
  PassOptions::Option<int64_t> warpRows{
      *this, "warp-rows",
      llvm::cl::desc("Query rows per warp: 16 (one mma.sync row tile) or 32 "
                     "(two, sharing the key and value fragments)"),
      llvm::cl::init(16)};
  PassOptions::Option<int64_t> gradWarpRows{
      *this, "grad-warp-rows",
      llvm::cl::desc("Rows per warp of attention's gradient: 16 or 32 (0: "
                     "warp-rows)"),
      llvm::cl::init(0)};
  PassOptions::Option<std::string> tensorCopies{
      *this, "tensor-copies",
      llvm::cl::desc("On sm_90a, which attention kernels' staged tiles the "
                     "tensor memory accelerator copies where it can (tensor "
                     "maps made at the call): off, auto (default: the "
                     "forward's where a producer warpgroup issues them), "
                     "forward, gradient, all (the rest: cp.async by the "
                     "block)"),
      llvm::cl::init("auto")};
  PassOptions::Option<bool> warpSpecialize{
      *this, "warp-specialize",
      llvm::cl::desc("On sm_90a, attention's key loops over tensor-copied "
                     "tiles get a producer warpgroup that issues the copies "
                     "into a ring of stages while the other warpgroups "
                     "compute (the forward's only in launches of two "
                     "warpgroups or more; default on, off with "
                     "tensor-copies=off)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> overlapSoftmax{
      *this, "overlap-softmax",
      llvm::cl::desc("With warp-specialize, attention's steps issue each P V "
                     "with the next step's S = Q K^T, so that each softmax "
                     "runs beside the last P V (rings of three stages; "
                     "default on)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> producerQueries{
      *this, "producer-queries",
      llvm::cl::desc("With overlap-softmax, the producer warpgroup also "
                     "copies each tile's queries (two slots: the next tile's "
                     "land during this one), which S = Q K^T reads through "
                     "descriptors, where its key tiles are wider than 64 "
                     "(default on)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> persistentAttention{
      *this, "persistent-attention",
      llvm::cl::desc("With warp-specialize, attention's warp-specialised "
                     "launches run persistent: as many blocks as fit the "
                     "multiprocessors, each walking tiles in a loop, its "
                     "producer copying the next tile's keys while its "
                     "consumers finish this one (default on)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> persistentProducts{
      *this, "persistent-products",
      llvm::cl::desc("On sm_90a, the host's warpgroup products with more "
                     "tiles than a wave run persistent: a block a "
                     "multiprocessor walks its tiles, the next tile's copies "
                     "in flight during this one's epilogue (default off: "
                     "slower, measured)"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> productColumnSums{
      *this, "product-column-sums",
      llvm::cl::desc("A sum over the rows of a product's epilogue output (a "
                     "bias's gradient) is summed in the epilogue, a partial "
                     "sum a row tile, instead of by reading the output again "
                     "(default on)"),
      llvm::cl::init(true)};
  PassOptions::Option<int64_t> ssmChannels{
      *this, "ssm-channels",
      llvm::cl::desc("Channels per warp of the SSM's scan (0: as many as a "
                     "warp scans at once -- 32 / k, k lanes splitting each "
                     "channel's modes, at most 16 modes per lane)"),
      llvm::cl::init(0)};
};

/// attn to LLVM host code launching kernels held in a gpu.binary.
void buildLowerToGPUPipeline(OpPassManager &pm,
                             const GPUPipelineOptions &options);

/// What is wrong with `options` (a sentence naming the option), or nothing:
/// checked by the registered pipeline and by tools that build it.
std::optional<std::string>
checkGPUPipelineOptions(const GPUPipelineOptions &options);

/// Registers every attn pass and pipeline on the command line.
void registerAttnPasses();

/// Inserts the attn dialect into `registry` with the interfaces that other
/// dialects' passes use: its ConvertToLLVMPatternInterface (the buffer
/// all-reduces' lowering inside gpu-to-llvm) and the softmax tile ops'
/// BufferDeallocationOpInterface (registerTileOpDeallocationModels). Tools
/// call it instead of inserting AttnDialect alone.
void registerAttnDialectExtensions(DialectRegistry &registry);

/// The softmax tile ops' model for ownership-based buffer deallocation:
/// their regions (predicate, score) are not control flow, and the ops
/// allocate nothing, so deallocation leaves them as they are.
void registerTileOpDeallocationModels(DialectRegistry &registry);

} // namespace attn
} // namespace mlir

#endif // ATTN_PIPELINES_PIPELINES_H
