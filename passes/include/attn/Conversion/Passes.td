//===- Passes.td - conversions out of attn -----------------*- tablegen -*-===//
#ifndef ATTN_CONVERSION_PASSES_TD
#define ATTN_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertEncoderToLinalg : Pass<"attn-convert-encoder-to-linalg",
                                  "func::FuncOp"> {
  let summary = "Lowers attn's encoder ops to linalg on tensors";
  let description = [{
    attn.embedding, add_positions, layer_norm, batch_norm, project, gelu,
    dropout, pool and cross_entropy -- and their gradient ops
    (embedding_grad, layer_norm_grad, batch_norm_grad, gelu_grad, pool_grad,
    cross_entropy_grad) -- become
    linalg (generic, matmul, fill) and tensor ops; dropout draws its keep
    decisions from a counter-based hash of (seed, stream, element index).
    attn.cast becomes an elementwise generic, attn.materialize_mask a generic
    over (q, k) running the mask's predicate. A reduction that an earlier one
    dominating it computes already -- the same inputs, maps and body, inits
    that are fresh fills of the same values -- is replaced by it: a layer
    norm's gradient, which takes only the input, reuses the statistics its
    forward computed.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
}

def ConvertCollectivesToBuffers
    : Pass<"attn-convert-collectives-to-buffers", "func::FuncOp"> {
  let summary = "attn.all_reduce_start/wait become their buffer forms";
  let description = [{
    Each attn.all_reduce_start becomes, where it is, an
    attn.buffer.all_reduce_start from its input's buffer into a new one; each
    attn.all_reduce_wait an attn.buffer.all_reduce_wait of those buffers, its
    results the averaged buffers as tensors. Tensors cross to buffers with
    bufferization.to_buffer / to_tensor, so the rest of the function
    bufferizes as usual.
  }];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect",
                           "::mlir::memref::MemRefDialect"];
}

def ConvertCollectivesToCPU
    : Pass<"attn-convert-collectives-to-cpu", "func::FuncOp"> {
  let summary = "Buffer all-reduces for a run of one process";
  let description = [{
    On the CPU a run is one process (attn-train runs data-parallel only on
    GPUs): the mean over one rank is the input, so each
    attn.buffer.all_reduce_start becomes a memref.copy and each wait goes.
    On the GPU the buffer ops instead become calls of libattnrt's
    mgpuAllReduceStart / mgpuAllReduceWait on the call's stream, inside
    gpu-to-llvm (the attn dialect's ConvertToLLVMPatternInterface).
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
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

def MufuKernelMath : Pass<"attn-mufu-kernel-math", "::mlir::gpu::GPUModuleOp"> {
  let summary = "f32 exp2 and approximate reciprocals in GPU kernels as one "
                "multi-function-unit instruction each";
  let description = [{
    In a gpu.module, before its conversion to NVVM: math.exp2 on an f32
    becomes the intrinsic llvm.nvvm.ex2.approx.ftz.f, and an f32 arith.divf
    of 1.0 marked `afn` (an approximate function allowed) the intrinsic
    llvm.nvvm.rcp.approx.ftz.f. Each is one MUFU instruction on the GPU.
    convert-gpu-to-nvvm would make the first libdevice's __nv_exp2f and the
    second rcp.approx.f32, both of which keep subnormal inputs and results
    by scaling around the MUFU instruction: three or four instructions
    where the kernels (an online softmax's P = exp2(S - m), a GELU's
    exponentials) take one. Subnormal inputs and results (below 2^-126)
    are flushed to zero; other results are the MUFU instruction's, as
    they were.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def ExpandBf16Conversions : Pass<"attn-expand-bf16-conversions",
                                 "func::FuncOp"> {
  let summary = "Rewrites bf16 arithmetic in f32, its casts as integer arithmetic";
  let description = [{
    Arithmetic on bf16 (scalars and vectors) becomes the same arithmetic
    in f32 between casts, each result rounded back to bf16; arith.extf
    from bf16 and arith.truncf to bf16 become integer arithmetic on the
    bits: round to nearest even, a NaN kept a quiet NaN. For the CPU: on an
    x86 CPU without BF16 instructions LLVM lowers a truncation to bf16 (and
    its own rounding of bf16 arithmetic) to calls of __truncsfbf2, which
    GCC 12's libgcc lacks, so the library would not load; expanded, it
    needs no runtime and gives the same bits on every CPU.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
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

def LinalgToLoops : Pass<"attn-linalg-to-loops"> {
  let summary = "Rewrites each remaining linalg op as scf.for loops";
  let description = [{
    Each linalg op (with buffer semantics) becomes its loop nest, as
    convert-linalg-to-loops makes it, and nothing else changes: the
    canonicalizer that follows does the folding. Upstream's pass applies
    its patterns greedily to every op of the function, and after the GPU
    tile conversions a function is mostly unrolled kernel code: on
    Hybrid-BERT-Mini's training step it took 1.5 s (single-threaded) and
    found no linalg op at all.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::affine::AffineDialect"];
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

def OutlineLoopNests : Pass<"attn-outline-loop-nests", "ModuleOp"> {
  let summary = "Moves each top-level loop nest of a function into a "
                "function of its own";
  let description = [{
    In every function with more than one, each top-level op that holds a
    loop (scf.for, scf.while, scf.parallel, or an op around one;
    omp.parallel is left to the OpenMP translation, which outlines it)
    becomes a call of a new private function `<parent>_loop_nest_<i>`,
    internal and noinline in LLVM. Its arguments are the values the op
    reads from the parent, except pure region-free ops (constants, memref
    views, index arithmetic), which are cloned into the new function, their
    operands passed instead. An op that would need a memref argument with a
    dynamic shape or a non-identity layout stays where it is (the CPU
    pipeline passes memrefs as bare pointers).

    Why: LLVM's loop optimisations cost more than linearly in the number of
    loops of one function (ScalarEvolution walks back through every
    dominating block to prove a loop's entry conditions); a training step
    of a few hundred loop nests spent most of its O3 time there.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::LLVM::LLVMDialect"];
}

def ConvertSoftmaxTilesToGPU
    : Pass<"attn-convert-softmax-tiles-to-gpu", "func::FuncOp"> {
  let summary = "Lowers softmax tile ops inside gpu.launch to code for one warp";
  let description = [{
    Runs after attn-map-loops-to-gpu with lanes-per-iteration=32: each warp
    owns one row group (attn-tile's rows-per-instance rows) and the
    softmax_step and softmax_finalize ops in its body. The row group's
    statistics and accumulator (the buffers attn-tile allocates for them)
    are re-laid out as each lane's fragment, so that they live in registers.
    The online-softmax arithmetic of every form is OnlineSoftmax.h's.

    bf16 and f16 softmax_step with head dimensions that are multiples of 16
    and row groups of 16 or 32 rows (one or two mma.sync row tiles) run on
    tensor cores: each warp stages its query tile in shared memory once,
    the block's threads stage the key and value tile with cp.async
    (zero-filled past the tile's end; a step of its own before the op is
    lowered, which makes the op's key and value views of the copies),
    each warp computes S = Q K^T with
    ldmatrix and mma.sync.m16n8k16 (f32 accumulation; each key fragment
    serves every row tile of the group), the online softmax on the
    accumulator fragments (row maxima across the four lanes of a row by
    shuffles, exp2 with the scale folded in, the row sums kept per lane),
    and O += P V with P taken from the S fragments as the A operand. The
    predicate is evaluated only in ops that have one and on keys past a
    clipped tile's end. Where the op is the only attn op of a loop over a
    schedule's key tiles (scf.ifs in an scf.for of a trip count that is not
    a constant, whose key/value tiles and conditions can be computed an
    iteration early), scf::pipelineForLoop pipelines that loop in two
    stages over two shared-memory buffers: each iteration issues the next
    tile's copies while it computes its own (docs/lowering.md). The
    gradient's softmax_grad_step stages its block-wide side the same way.
    The launch gets the dynamic shared memory it needs.

    f32 runs the same way in 3xTF32 (each f32 as big + small TF32 parts,
    three mma.sync.m16n8k8 a product tile, which keeps f32 accuracy): its
    staged tiles are padded f32 rows copied in 16-byte runs of 4, and the
    products take K in pairs (MmaLayout::m16n8k8PairedK), so that each
    lane loads a row's two elements at once and P is P V's A operand in
    place. What does not fit the tensor-core forms (head dims that are not
    multiples of 16, unaligned rows, a warp's rows not reached by its
    whole block) runs one row per lane with the per-key online softmax on
    CUDA cores. softmax_finalize reduces each row's sum across its lanes
    and writes the row once.

    On sm_90a, where warpgroup MMA reads the staged tiles and each is a
    window of a buffer defined outside the launch, the tensor memory
    accelerator can copy them instead of the block's cp.async
    (tensor-copies): an attn.buffer.tensor_map before the launch, one
    thread issuing cp.async.bulk.tensor per 64 columns of a tile,
    completion on mbarriers that each thread waits on before it reads the
    tile; loops over such tiles are pipelined even where their trip count
    is a constant (the copies hold no addresses in the threads' registers).
  }];
  let options = [
    Option<"tensorCopies", "tensor-copies", "std::string",
           /*default=*/"\"off\"",
           "Which ops' staged tiles the tensor memory accelerator copies "
           "where it can (sm_90a): off (the default: without warp "
           "specialisation not faster on the H200, tools/attn-bench/"
           "NOTES.md), auto (softmax_step's where a producer warpgroup "
           "issues them: with warp-specialize, launches of two warpgroups "
           "or more), forward (softmax_step's), gradient "
           "(softmax_grad_step's), all">,
    Option<"warpSpecialize", "warp-specialize", "bool", /*default=*/"false",
           "Loops over tensor-copied tiles at the top of a launch get a "
           "producer warpgroup (the forward's only in launches of two "
           "warpgroups or more): their copies move to a loop of the "
           "producer's, into a ring of stages with full and empty "
           "mbarriers (attn-specialize-warps then adds its threads)">,
    Option<"overlapSoftmax", "overlap-softmax", "bool", /*default=*/"false",
           "With warp-specialize, softmax_steps on warpgroup MMA issue their "
           "P V with the next step's S = Q K^T and wait for it after that "
           "step's softmax (its ring stage released then; rings of three "
           "stages), so that each softmax runs beside the last P V">,
    Option<"producerQueries", "producer-queries", "bool", /*default=*/"false",
           "With overlap-softmax, the producer also copies the block's "
           "queries (one swizzled tile, two slots), which S = Q K^T reads "
           "through descriptors, where its key tiles are wider than 64 rows "
           "(narrower, reading Q from shared memory each step was slower): "
           "the next tile's queries land during this one's steps instead of "
           "each warp copying its own at the tile's start">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::nvgpu::NVGPUDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def ConvertLinearTilesToGPU
    : Pass<"attn-convert-linear-tiles-to-gpu", "func::FuncOp"> {
  let summary = "Lowers linear-attention tile ops inside gpu.launch to warps";
  let description = [{
    Runs after attn-map-loops-to-gpu with lanes-per-iteration=32, on
    attn-tile's GPU form of linear attention (a warp per 16-feature slice of
    the state over a split of the keys, then a warp per 16 query rows):
    an elementwise feature map runs on tensor cores, bf16/f16 by
    mma.sync m16n8k16 and f32 in 3xTF32 (m16n8k8, each f32 split into two
    TF32 parts). linear_state stages chunks of keys (128 of 16-bit inputs,
    64 of f32) over two shared-memory stages (cp.async; the value rows
    block-wide, each warp its key columns), applies phi to the A fragments
    of K^T and accumulates phi(K)^T V in registers over all chunks, the
    normaliser from the same fragments; the sums are added to the state
    once (atomically where the op says so); linear_prefix stores them at
    every chunk boundary instead. linear_output stages the state
    block-wide in shared memory as the inputs' type, then per warp phi(Q) S
    on tensor cores and phi(q) . z in f32 from the same fragments, and for
    the causal form its own keys 16 at a time (phi(Q) phi(K)^T masked past
    the diagonal, times V). Anything else (projections, head dims not
    multiples of 16, unaligned rows) runs per lane on CUDA
    cores. The launch's dynamic shared memory is raised to what it needs.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::nvgpu::NVGPUDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def ConvertSsmTilesToGPU : Pass<"attn-convert-ssm-tiles-to-gpu", "func::FuncOp"> {
  let summary = "Lowers the SSM's tile ops inside gpu.launch to warps";
  let description = [{
    Runs after attn-map-loops-to-gpu with lanes-per-iteration=32. The SSM's
    scan (a warp per scan instance: a batch entry and a group of channels)
    runs the recurrence along the sequence with each channel's modes split
    over lanes (at most 16 modes per lane, their state and coefficients in
    registers), the inputs loaded 8 steps at a time ahead of their use, and
    each step's output summed over the channel's lanes by xor shuffles;
    f32, static state size. The chunked form's carry and the gradient's
    adjoint scan likewise.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::nvgpu::NVGPUDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def MatmulToTensorCores : Pass<"attn-matmul-to-tensor-cores", "func::FuncOp"> {
  let summary = "Puts the host's products on tensor cores (bf16/f16, or 3xTF32)";
  let description = [{
    Each product of the host (outside gpu.launch and scf.forall; on
    memrefs of static sizes; A and B in f32, bf16 or f16; C in f32),
    C += A B -- a linalg.matmul, or a linalg.generic whose body is
    out + x y (inputs possibly widened by arith.extf) and whose maps are
    leading batch dimensions then A's M and K (either order), B's K and N
    (either order) and C's M, N, on contiguous buffers -- becomes a
    gpu.launch: per matrix of the batch (grid z), a block of 4 warps per 64 x 64 tile of
    C, each warp 32 x 32 of it as mma.sync.m16n8k8 TF32 accumulators; K in
    steps of 32 staged through dynamic shared memory as f32 (zeros past
    the operands' ends: any M, N, K), the next step's elements loaded into
    registers during this step's products. Where A and B are both bf16
    (or both f16) the tiles stay in that type in shared memory and the
    products are mma.sync.m16n8k16, their fragments read by ldmatrix
    (B's transposed); where both operands' rows hold whole 16-byte runs,
    cp.async copies the tiles into three shared stages instead, two steps
    ahead of the products. Large 16-bit products take 128 x 128 tiles of
    8 warps where those still give two blocks per multiprocessor. Otherwise an f32 operand x is split into
    big + small TF32 parts and a b computed as big big + big small + small
    big ("3xTF32"), which keeps f32 accuracy; a bf16 or f16 operand beside
    an f32 one is exact in TF32 and skips its small term. Where nothing else touches C
    in between, a linalg.fill of C before the product becomes the
    accumulators' first value, and an elementwise linalg.generic reading C
    after it (into a buffer of its own) runs on the accumulators in the
    kernel, C then being dropped. Where C has fewer 64 x 64 tiles than two
    blocks per multiprocessor of the target (`#attn.target`; a weight's
    gradient, a sum over every token), K is split into a power of two of
    ranges (at least 8 steps each), one per grid z: each block writes its
    partial tile into a [splits, M, N] buffer, and a linalg.generic then
    adds the partials into C (C's fill and consumer stay as they are).
    An operand stored transposed ([K, M] for A, [N, K] for B), by its map
    or because a 2-D linalg.transpose wrote it into a buffer nothing else
    reads (the transpose then not run), is staged as it lies and its
    fragments read the other way round.
    Other linalg ops are left to attn-map-loops-to-gpu.

    `persistent` (default off: slower than the default form on an H200,
    tools/attn-bench/NOTES.md): on sm_90a, a warpgroup product of one
    matrix, K not split, with more tiles than one wave of two blocks a
    multiprocessor launches one block a multiprocessor, which walks its
    tiles (blockIdx.x and every gridDim.x-th after it) in one pipelined
    loop over their steps of K: the next tile's first copies are in flight
    while this tile's epilogue runs, its shared tile beside the stages.
    `column-sums` (default on): a linalg.reduce over dimension 0 of the
    consumer's output (into an f32 [N] buffer, its body init + g(in): a
    bias's gradient), where the epilogue goes through shared memory and
    nothing between writes the output, is summed in the epilogue: each
    tile's column sums into a [ceil(M / 128), N] buffer, which the reduce
    then adds up instead.
  }];
  let options = [
    Option<"persistent", "persistent", "bool", /*default=*/"false",
           "Warpgroup products with more tiles than a wave run persistent: "
           "a block a multiprocessor walks its tiles">,
    Option<"columnSums", "column-sums", "bool", /*default=*/"true",
           "A sum over the rows of a product's consumer output is summed "
           "in the product's epilogue, a partial sum a row tile">,
  ];
  let dependentDialects = ["::mlir::attn::AttnDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::nvgpu::NVGPUDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def MapLoopsToGPU : Pass<"attn-map-loops-to-gpu", "func::FuncOp"> {
  let summary = "Maps attn-tile's loop nests to gpu.launch; host memory to the device";
  let description = [{
    Each top-level scf.forall becomes a gpu.launch: its dimensions (at most
    three) index blocks, the last one blockIdx.x; an scf.forall directly in
    its body (one dimension) indexes threads, lanes-per-iteration of them
    per iteration (1: a thread per iteration; 32: a warp, the iteration
    being thread.x / 32) -- one thread per iteration where that loop is
    mapped to #gpu.thread<x> (attn-tile's gradient of attention) -- at most
    1024 threads; without an inner loop the body is one iteration, run by
    lanes-per-iteration threads.
    Constants and memref.get_global of constant tables are copied into the
    kernel. The host's other linalg ops (outside attn-tile's loops: the
    SSM's discretisation, encoder pieces) become grids of 256-thread blocks,
    one thread per point of their parallel dimensions (linearized, the last
    fastest), each running the op's reduction dimensions as loops that
    carry its output elements in registers (loaded and stored once). A
    reduction's thread takes up to 4 x 4 points of its last two parallel
    dimensions (divisors of their static sizes) where an input does not
    vary along them, and loads such an input's element once for all of
    them (a projection: 8 loads per 16 multiply-adds), as long as the grid
    keeps 512 threads per multiprocessor of the target (`#attn.target`;
    fewer points per thread otherwise). An op without reductions takes a
    run of consecutive points along its fastest dimension per thread, as
    many as 16 bytes of its narrowest operand lying along it hold (at most
    8, a divisor of the dimension's static size; fewer while the grid would
    have too few threads), and reads and writes each operand that lies
    along it in aligned runs (unit stride, offset and other strides
    multiples of the run) as one vector. Vector loads and
    stores in the mapped nests get the alignment their buffers
    (allocations and arguments: 256 bytes; globals: as declared) and
    indices prove. A sum with fewer outputs than that
    and at least 1024 terms each is split in two ops: slices of its
    longest reduction dimension into partial sums (a parallel dimension),
    then each output adding its partials -- the partial sums split again
    while they are still that few and long. Reduction dimensions lying side
    by side in every operand are collapsed into one first, and where the
    split dimension is its inputs' last and contiguous the slices
    interleave (slice s takes terms s, s + S, ...: threads side by side
    read side by side). A sum along one dimension that
    is its inputs' last and contiguous (a layer norm's row statistics), or
    along another where its outputs are few enough that a warp each fits
    the grid (a split sum's last round), takes a warp per output: lanes
    stride the row, shuffles add their sums. Consecutive ops over the same
    rows -- each all-parallel (its runs across the row covering a warp) or
    a row sum along its last dimension, every buffer indexed by all its
    loops in order (a row per point), by the others in order (a value per
    point), both through identity-layout views, or by none of the points
    (read only) -- with only allocations, views and fills or releases of
    other buffers between them, at least one a row sum, run as one launch
    of a warp per point (`row_group`), each op's warp body after the one before,
    a warp barrier (nvvm.bar.warp.sync) between: a layer norm's statistics
    and normalisation read each row from memory once. A reduction's output
    filled as a whole just before it, untouched in between (a split's
    partials, a row sum's zeros), starts from the fill's value in registers
    and the fill goes. Every thread may
    repeat reads outside the loop mapped to threads, not writes.
    On the host, memref.alloc / dealloc become gpu.alloc / dealloc, a
    copy between contiguous buffers a gpu.memcpy (views starting inside
    their buffer are copied by a grid: the memcpy's lowering drops their
    offset) and linalg.fill of a whole buffer a gpu.memset: the
    function's buffers live in device memory. Host code that would touch
    device memory in any other way is an error.
  }];
  let options = [
    Option<"lanesPerIteration", "lanes-per-iteration", "int64_t", "1",
           "Threads that run one iteration of the inner loop together">
  ];
  let dependentDialects = ["::mlir::attn::AttnDialect",
                           "::mlir::affine::AffineDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def AllocateSharedMemory : Pass<"attn-allocate-shared-memory",
                                "func::FuncOp"> {
  let summary = "Places each gpu.launch's staging buffers in its dynamic "
                "shared memory, reusing space by liveness";
  let description = [{
    A staging buffer is a `memref.alloc` of static shape in the workgroup
    address space at the top level of a gpu.launch's body (the tile
    conversions make one per staged tile set: a key and value stage, a
    block's query tiles, a product's operand tiles). Each becomes a
    `memref.view` of `gpu.dynamic_shared_memory` at a byte offset, and the
    launch's dynamic shared memory size the end of the highest one.

    A buffer is live from its first to its last access (through views) in
    the order of the launch's body, an access inside a loop counting as
    the whole of its outermost loop in the launch. Two buffers may take the
    same bytes only when their live ranges are disjoint and a gpu.barrier
    after the first's range dominates every access of the second, so that
    every thread is done with the first before any touches the second. Offsets are assigned largest buffer first, each
    at the lowest 16-byte-aligned offset clear of the buffers it conflicts
    with. Shared memory a launch reserved already (its
    dynamic_shared_memory_size, laid out by hand) stays below the buffers.
    A launch that needs more than a block of the target may use
    (`#attn.target`'s chip: 227 KB on sm_90a, 163 KB on sm_80) is an error
    there, each buffer's bytes and offset noted.
  }];
  let dependentDialects = ["::mlir::attn::AttnDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::memref::MemRefDialect"];
}

def ScheduleLaunches : Pass<"attn-schedule-launches", "func::FuncOp"> {
  let summary = "Orders stretches of small gpu.launch ops by dependence level, "
                "so that independent ones stand side by side";
  let description = [{
    attn-merge-launches merges runs of consecutive independent launches. A
    training step sums each gradient's squares in a chain of small launches
    (a split reduction's partial sums, their sums, the tensor's total), one
    chain after another, so that each launch depends on the one before it.
    This pass reorders each stretch of a block's top-level ops made of
    small launches (a constant grid of at most `max-blocks` blocks, no async
    operands) and ops without regions whose effects are known
    (allocations, memsets, releases, views, constants); any other op --
    a larger launch, a call, a loop -- ends the stretch and does not move.

    Within a stretch, an op depends on each earlier op whose result it uses
    (in its body too) or whose accesses conflict with its own (one writes a
    buffer the other reads or writes; buffers told apart by their roots, as
    attn-merge-launches does). Its level is the largest level of what it
    depends on, plus one after a launch. The stretch's ops are placed in
    the order of their levels, ops of one level in the order they had: every
    op still follows what it depends on, and no launch depends on another
    of its level, so each level's launches can merge. Where the chains are
    the norms of sixteen gradients, every chain's first launch comes first,
    then every chain's second, and so on.
  }];
  let options = [
    Option<"maxBlocks", "max-blocks", "int64_t", /*default=*/"4096",
           "Launches of more blocks than this end a stretch and stay where "
           "they are (attn-merge-launches' limit: they would not merge)">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def PersistLaunches : Pass<"attn-persist-launches", "func::FuncOp"> {
  let summary = "Makes attention's launches persistent: each block walks "
                "tiles of the launch's grid in a loop";
  let description = [{
    A gpu.launch whose tile ops are attention's forward (softmax_step,
    softmax_finalize) or gradient (softmax_grad_step), chosen by
    `launches` (only where a producer warpgroup may come: on sm_90a, in
    whole warpgroups, two or more for the forward), of grid (X, Y, Z),
    becomes one of X Y Z blocks along x
    whose body is an `scf.for` marked `attn.persistent`: s from blockIdx.x
    to X Y Z by gridDim.x, each iteration the old body for block
    (v mod X, v / X mod Y, v / (X Y)) of tile v: s on even iterations, s
    mirrored within the iteration's tiles on odd ones (block 0 takes the
    iteration's last tile), so that the old grid's blocks are taken about
    in the order they were issued, heaviest first, and each block gets as
    many heavy tiles as light ones. The body's static allocas stay
    before the loop (the launch's entry block, where LLVM keeps them in
    registers); uses of the old grid's sizes read the old sizes.

    As it leaves the launch, each block takes one tile: the same work as
    before. attn-convert-softmax-tiles-to-gpu then sets up a producer's ring
    once a block, before the loop, and attn-specialize-warps gives the
    producer a loop of its own over the same tiles and shrinks the grid to
    the blocks that fit the multiprocessors at once, so that the producer
    copies a block's next tile while its consumers finish this one
    (docs/lowering.md, "Persistent launches").
  }];
  let options = [
    Option<"launches", "launches", "std::string", /*default=*/"\"forward\"",
           "Which of attention's launches become persistent: forward, "
           "gradient or all">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect"];
}

def SpecializeWarps : Pass<"attn-specialize-warps", "func::FuncOp"> {
  let summary = "Adds the producer warpgroup that warp-specialised launches "
                "were staged for";
  let description = [{
    attn-convert-softmax-tiles-to-gpu with `warp-specialize` gives the
    tensor copies of a launch's key loops to a producer warpgroup: loops of
    its own in `scf.if`s marked `attn.producer`, on the thread whose index
    is the launch's block size, which the launch (marked
    `attn.consumer_threads`) does not have yet. This pass adds it: the
    launch gets 128 more threads along x; between the mbarriers' set-up and
    tear-down, its work runs on the threads below the consumers' count
    (after `setmaxnreg.inc`), every `gpu.barrier` in it a named barrier
    over those threads (`nvvm.barrier id = 1`), and the producer ifs on the
    others (after `setmaxnreg.dec` to 24), with what they use of the work
    cloned (ops free of memory effects and reads of buffers the launch
    does not write; else an error). The launch gets `attn.max_registers`,
    the registers a thread starts with (attn-outline-kernels: the kernel's
    `.maxnreg`), chosen so
    that the consumers get at least 232 where a multiprocessor has room for
    them (docs/lowering.md, "Warp-specialised key loops"). In a persistent
    launch (attn-persist-launches) the producer ifs are in the loop marked
    `attn.persistent`: the producer gets a loop of its own with its bounds,
    and the grid shrinks to min(tiles, the blocks that fit a multiprocessor
    x `#attn.target`'s multiprocessors).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::scf::SCFDialect"];
}

def MergeLaunches : Pass<"attn-merge-launches", "func::FuncOp"> {
  let summary = "Merges runs of small independent gpu.launch ops into one launch each";
  let description = [{
    A training step launches one small kernel per parameter for its update
    (and per parameter for casts and norms): tens of launches of a few
    blocks each, whose cost is the launch, not the work. This pass merges
    a run of consecutive top-level launches into one launch whose blocks
    are the blocks of all of them, side by side along x: block b of the
    merged launch runs the body of the launch whose range holds b (a binary
    search over the range starts as nested `scf.if`s, uniform over a block,
    so barriers in a body stay block-uniform; not a switch, whose jump
    table LLVM's NVPTX back end lays out differently from one compile to
    the next), with its block index shifted to the start of that range and
    the grid size it had.

    Launches merge when each has a constant one-dimensional grid of at most
    `max-blocks` blocks, the same constant block size, no dynamic shared
    memory, attributions or async operands, a single-block body, and when
    they are independent: no launch of the run writes a buffer that
    another reads or writes. Buffers are told apart by their root (a
    function argument or an allocation, through views); the arguments of
    a function are distinct buffers (the library ABI: the buffers of a call
    do not overlap). The ops between the launches stay where they are and
    the merged launch takes the place of the run's last launch, so an op
    between two launches of a run must not write what an earlier launch of
    the run reads or writes, nor read what it writes -- except a buffer's
    release, which moves after the merged launch; an op whose effects are
    unknown ends the run. The merged launch's `attn.kernel` kind is
    `merged_` and the kinds of its launches.
  }];
  let options = [
    Option<"maxBlocks", "max-blocks", "int64_t", /*default=*/"4096",
           "Launches of more blocks than this are left alone (they fill "
           "the GPU by themselves; merged, their kernel would take the "
           "largest register count of the run)">,
    Option<"maxParameters", "max-parameters", "int64_t", /*default=*/"512",
           "A merged launch takes at most this many values from outside "
           "(its kernel's parameters, 8 bytes each at most: PTX before ISA "
           "8.1 allows 4352 bytes of them)">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect"];
}

def NameKernels : Pass<"attn-name-kernels", "func::FuncOp"> {
  let summary = "Names each gpu.launch's kernel by its function, place and kind";
  let description = [{
    Sets each top-level gpu.launch's kernel name (its `function` attribute,
    which gpu-kernel-outlining gives the kernel and its module) to
    `<function>_<n>_<kind>`: n counts the function's launches in order, and
    kind is the launch's `attn.kernel` attribute (set where the launch is
    made: `matmul`, a linalg op's name such as `generic` or `reduce`, the
    attn ops of an attn-tile loop nest such as `softmax_step_softmax_finalize`),
    `kernel` without one; the attribute is then dropped. A launch that
    already has a kernel name keeps it. Kernel names are what the
    runtime's profile (ATTN_PROFILE, docs/runtime.md) and the CUDA tools
    report, so every kernel of a library is told apart and traced to its
    source.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def OutlineKernels : Pass<"attn-outline-kernels", "ModuleOp"> {
  let summary = "gpu-kernel-outlining, each launch's blocks per "
                "multiprocessor kept on its kernel";
  let description = [{
    Runs upstream's gpu-kernel-outlining, then sets `nvvm.minctasm` on each
    outlined kernel whose gpu.launch had `attn.min_blocks_per_sm` (the
    blocks that should fit on a multiprocessor at once; ptxas keeps the
    registers a thread uses within that), and `nvvm.maxnreg` on each whose
    launch had `attn.max_registers` (the registers a thread starts with,
    which warpgroups then move between them by setmaxnreg). Launches and kernels are matched
    by the kernel name attn-name-kernels gives each launch; a launch with
    the attribute and no name is an error.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::NVVM::NVVMDialect"];
}

def DedupKernels : Pass<"attn-dedup-kernels", "ModuleOp"> {
  let summary = "Keeps one gpu.module of each set of outlined kernels of the same code";
  let description = [{
    After gpu-kernel-outlining: outlined modules (one kernel each) whose
    kernels are the same code -- the same body, types and attributes,
    names and locations aside, and the same other ops in the module -- are
    one module: every gpu.launch_func of a duplicate is pointed at the
    first, and the duplicates are erased. A model's layers of one kind,
    its forward and its training step launch the same kernels on other
    buffers (Hybrid-BERT-Mini's training library: 1171 outlined kernels,
    123 different), and each kernel costs LLVM and ptxas time in
    gpu-module-to-binary. The kept kernel's name is its first launch's
    (attn-name-kernels), so the runtime's profile adds the calls of all
    its launches under that name.

    Kernels that are the same code but for the values of some data
    constants (`arith.constant`s of an integer type wider than one bit or
    of a float type) are one set too: the kept kernel takes each constant
    that some kernel of the set differs in as a new last argument, in the
    order the kept kernel holds them, and every launch of the set passes
    its own kernel's values. Each dropout's mask hashes its own stream
    number (times a constant) with the step's seed and the element's index,
    so a training step's projections with dropout in their epilogue differ
    only there (Hybrid-BERT-Mini: four kernels of
    each such projection, 102 kernels in all, 89 now; its compile 13.5 s
    -> 9.5 s on the 2-core machine). Indices and booleans are not data:
    shapes, strides, offsets, loop bounds and branches decide a kernel's
    structure and what LLVM folds, so kernels differing in them stay
    apart. The cost of a merged kernel is a kernel parameter where it had
    an immediate: ptxas may keep it in a register.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::arith::ArithDialect"];
}

def JoinKernelModules : Pass<"attn-join-kernel-modules", "ModuleOp"> {
  let summary = "Joins a library's outlined kernel modules into a few gpu.modules";
  let description = [{
    The gpu.modules of the top module with the same targets and offloading
    handler form a group; each group's modules are dealt into `parts`
    modules of about the same size (counted in ops; the largest module to
    the smallest part first), each part joined into its first module in
    program order. The first part of the first group is then named
    `kernels`, the others `kernels_0`, `kernels_1`, ..., and every
    gpu.launch_func is pointed at its kernel's new place. A symbol the kept
    module already has is dropped where it is the same op (a constant two
    kernels read, which the outlining copied into both modules; a
    declaration both converted modules have) and renamed, with its uses,
    where it is not. Kernels keep their names. `--lower-to-gpu` runs it
    just before attn-modules-to-binaries, after the kernels' conversion to
    NVVM, which runs over the separate modules in parallel.

    Why: gpu-module-to-binary translates, optimises (with libdevice
    linked) and assembles each module on its own, one ptxas process each.
    Hybrid-BERT-Mini's training library has 120 kernels: as 120 modules
    its binaries took 8.3 of the compile's 16 s on a 2-core machine, as one
    module (the same PTX, one header) ptxas alone takes 2.1 s instead of
    4.8. Two parts, serialized at once by attn-modules-to-binaries, keep
    both cores busy in LLVM's optimisation and code generation too, which
    are one thread per module. The runtime loads each binary once.
  }];
  let options = [
    Option<"parts", "parts", "unsigned", /*default=*/"1",
           "Modules each group of kernel modules is joined into (at least "
           "1; a group with fewer modules keeps one part per module)">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def ModulesToBinaries : Pass<"attn-modules-to-binaries", "ModuleOp"> {
  let summary = "gpu-module-to-binary, with the modules serialized at once";
  let description = [{
    Each gpu.module of the top module becomes a gpu.binary of the same name
    holding one object per target of the module, as upstream's
    gpu-module-to-binary makes it, with its options of the same names
    (toolkit, opts, and format by its short names, which --lower-to-gpu
    takes too; not its link files or ELF section). The
    modules are serialized on MLIR's threads, each with its own LLVM
    context, ptxas process and temporary files: translation, optimisation
    and code generation are one thread per module, so a library split into
    a few modules (attn-join-kernel-modules{parts}) compiles on as many
    cores. The binaries do not depend on the thread count: each module is
    serialized alone.
  }];
  let options = [
    Option<"toolkit", "toolkit", "std::string", /*default=*/"\"\"",
           "CUDA toolkit (its ptxas and libdevice)">,
    Option<"cmdOptions", "opts", "std::string", /*default=*/"\"\"",
           "Options for ptxas">,
    Option<"format", "format", "std::string", /*default=*/"\"fatbin\"",
           "What each binary holds: bin (cubin), isa (PTX), fatbin, llvm "
           "(LLVM IR)">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

#endif // ATTN_CONVERSION_PASSES_TD
