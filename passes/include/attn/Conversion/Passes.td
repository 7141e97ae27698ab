//===- Passes.td - conversions out of attn -----------------*- tablegen -*-===//
#ifndef ATTN_CONVERSION_PASSES_TD
#define ATTN_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertEncoderToLinalg : Pass<"attn-convert-encoder-to-linalg",
                                  "func::FuncOp"> {
  let summary = "Lowers attn's encoder ops to linalg on tensors";
  let description = [{
    attn.embedding, add_positions, layer_norm, project, gelu, dropout, pool
    and cross_entropy become linalg (generic, matmul, fill) and tensor ops;
    dropout draws its keep decisions from a counter-based hash of (seed,
    stream, element index).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
}

def ConvertTilesToCPU : Pass<"attn-convert-tiles-to-cpu", "func::FuncOp"> {
  let summary = "Lowers attn tile ops to scf and vector code for the CPU";
  let description = [{
    Each attn.tile.* becomes loops over rows with vector operations along
    the contiguous dimension (keys for QK^T, the head dimension for PV),
    `vector-width` lanes wide, with register blocking over rows.
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"16",
           "f32 lanes per vector (16 for AVX-512, 8 for AVX2)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def ApproximateMath : Pass<"attn-approximate-math", "func::FuncOp"> {
  let summary = "Replaces f32 math functions with polynomial approximations";
  let description = [{
    math.exp, log, tanh, erf, sin, cos, ... on f32 scalars and vectors
    become polynomial approximations in arith, so that vector code stays
    vector code instead of becoming a libm call per lane.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect"];
}

def ExpandMemRefCopies : Pass<"attn-expand-memref-copies"> {
  let summary = "Rewrites memref.copy as linalg.copy";
  let description = [{
    The LLVM lowering of a memref.copy between non-contiguous memrefs calls
    memrefCopy from MLIR's runner utilities, a library compiled code must
    not depend on; as linalg.copy the copy becomes loops.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def InlineAllocaScopes : Pass<"attn-inline-alloca-scopes"> {
  let summary = "Replaces memref.alloca_scope with LLVM stack save/restore";
  let description = [{
    Inlines each (single-block) memref.alloca_scope between
    llvm.intr.stacksave and llvm.intr.stackrestore, so that lowering scf to
    control flow afterwards does not create blocks inside a region that must
    keep one. Scratch of tile ops and OpenMP loop bodies live in such scopes.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def ConvertTilesToGPU : Pass<"attn-convert-tiles-to-gpu", "func::FuncOp"> {
  let summary = "Lowers attn tile ops to scalar code for one GPU thread";
  let description = [{
    For the thread-per-row form (attn-tile with rows-per-instance small):
    attn.tile.softmax_step becomes, per row, a loop over the tile's keys
    with the online-softmax update per key (the predicate per key in
    partial tiles); attn.tile.softmax_finalize divides per row. Statistics
    and accumulator stay in f32. The linear and SSM tile ops are not mapped
    to the GPU yet and are reported as errors.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def MapLoopsToGPU : Pass<"attn-map-loops-to-gpu", "func::FuncOp"> {
  let summary = "Maps attn-tile's loop nests to gpu.launch; host memory to the device";
  let description = [{
    Each top-level scf.forall becomes a gpu.launch: its dimensions (at most
    three) index blocks, the last one blockIdx.x; an scf.forall directly in
    its body (one dimension, at most 1024 iterations) indexes threads.
    Constants and memref.get_global of constant tables are copied into the
    kernel. On the host, memref.alloc / dealloc / copy become gpu.alloc /
    dealloc / memcpy: the function's buffers live in device memory. Host
    code that would touch device memory in any other way is an error.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::memref::MemRefDialect"];
}

#endif // ATTN_CONVERSION_PASSES_TD
