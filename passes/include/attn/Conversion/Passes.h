//===- Passes.h - conversions out of attn -----------------------*- C++ -*-===//
#ifndef ATTN_CONVERSION_PASSES_H
#define ATTN_CONVERSION_PASSES_H

#include "attn/IR/AttnOps.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
} // namespace mlir

namespace mlir::attn {

/// A gpu.launch's discardable attribute saying what it computes ("matmul",
/// a linalg op's name, the attn ops of an attn-tile loop nest): set where the
/// launch is made, put into its kernel's name by attn-name-kernels.
constexpr llvm::StringLiteral kKernelKindAttr = "attn.kernel";

/// A gpu.launch's discardable attribute: how many blocks of its kernel
/// should fit on one multiprocessor at once, set by the conversion that
/// chose the launch's shape; attn-outline-kernels puts it on the outlined
/// kernel as nvvm.minctasm (ptxas: .minnctapersm). attn-specialize-warps drops
/// it from the launches it specialises (their registers are
/// kMaxRegistersAttr's and setmaxnreg's).
constexpr llvm::StringLiteral kMinBlocksPerSMAttr = "attn.min_blocks_per_sm";

/// A gpu.launch's discardable attribute: its threads are the consumers of
/// a producer warpgroup that attn-specialize-warps adds after them; the
/// producer's work is in the launch's scf.ifs marked kProducerAttr (on the
/// thread whose index is the consumers' count). The launch does not run as
/// it is before that pass.
constexpr llvm::StringLiteral kConsumerThreadsAttr = "attn.consumer_threads";
/// An scf.if's discardable attribute: what the producer warpgroup does
/// (kConsumerThreadsAttr).
constexpr llvm::StringLiteral kProducerAttr = "attn.producer";
/// A gpu.launch's discardable attribute: the registers a thread of its
/// kernel starts with, which attn-outline-kernels puts on the kernel as
/// nvvm.maxnreg (ptxas: .maxnreg); set where warpgroups then move registers
/// between them (setmaxnreg).
constexpr llvm::StringLiteral kMaxRegistersAttr = "attn.max_registers";
/// An scf.for's discardable attribute: the loop of a persistent launch
/// over the tiles its block takes (attn-persist-launches), the launch's
/// work inside it. attn-specialize-warps gives the producer warpgroup a
/// loop of its own over the same tiles and shrinks the launch's grid to
/// the blocks that fit the multiprocessors at once.
constexpr llvm::StringLiteral kPersistentAttr = "attn.persistent";

/// The patterns of attn-convert-tiles-to-cpu: one per attn.tile.* op, each
/// its vector code `width` f32 lanes wide (8 or 16).
void populateTilesToCPUPatterns(RewritePatternSet &patterns, int64_t width);

/// The patterns of attn-convert-ssm-tiles-to-gpu: the SSM's scan, carry and
/// adjoint tile ops, each for a warp inside gpu.launch.
void populateSsmTilesToGPUPatterns(RewritePatternSet &patterns);

/// The patterns of attn-convert-linear-tiles-to-gpu: linear_state,
/// linear_prefix and linear_output inside gpu.launch, each on tensor cores
/// where it fits, else per lane. The output patterns of one set share the
/// fragments of the query tiles they read.
void populateLinearTilesToGPUPatterns(RewritePatternSet &patterns);

/// The patterns of attn-convert-encoder-to-linalg: one per encoder,
/// gradient and optimizer op, each its linalg form on tensors.
void populateEncoderToLinalgPatterns(RewritePatternSet &patterns);

#define GEN_PASS_DECL
#include "attn/Conversion/Passes.h.inc"

/// What is wrong with attn-convert-softmax-tiles-to-gpu's options (a
/// sentence naming the option), or nothing: the pass and --lower-to-gpu,
/// which sets them, check them alike.
std::optional<std::string> checkSoftmaxTilesToGPUOptions(StringRef tensorCopies,
                                                         bool warpSpecialize,
                                                         bool overlapSoftmax,
                                                         bool producerQueries);

/// What a gpu.binary holds for each name attn-modules-to-binaries takes
/// (bin, isa, fatbin, llvm), or nothing: the pass and --lower-to-gpu's
/// check read the names alike.
std::optional<gpu::CompilationTarget> binaryFormat(StringRef name);

#define GEN_PASS_REGISTRATION
#include "attn/Conversion/Passes.h.inc"

} // namespace mlir::attn

#endif // ATTN_CONVERSION_PASSES_H
