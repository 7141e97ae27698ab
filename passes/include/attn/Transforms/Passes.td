//===- Passes.td - attn to attn transformations ------------*- tablegen -*-===//
#ifndef ATTN_TRANSFORMS_PASSES_TD
#define ATTN_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def ExpandLayers : Pass<"attn-expand-layers", "func::FuncOp"> {
  let summary = "Rewrites encoder layer ops into attn primitives";
  let description = [{
    Each attn.layer.* becomes its computation: projections, head split,
    the attention kernel under its mask (or with its feature map, or the SSM
    scan), head merge, output projection, dropout, residual, layer norm and
    the feed-forward block. Dropout ops get distinct stream numbers.

    A layer's batch norms (`norm = batch`) are attn.batch_norm with the
    batch's statistics, and the layer's updated buffers their running
    averages (0.9 old + 0.1 the batch's mean and unbiased variance); with
    `evaluation`, the model in evaluation mode, each normalises with its
    running statistics instead (zero at padding, as attn.batch_norm) and
    the buffers come back unchanged.
  }];
  let options = [
    Option<"evaluation", "evaluation", "bool", /*default=*/"false",
           "Batch norms from their running statistics (evaluation mode)">,
  ];
  let dependentDialects = ["::mlir::attn::AttnDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
}

def GenerateBackward : Pass<"attn-generate-backward", "ModuleOp"> {
  let summary = "Builds, for a function returning a loss, its gradient function";
  let description = [{
    Reverse mode. For each public function whose first result is a float
    tensor and which has parameters (arguments with `attn.param`) -- or
    only the one named by `function` -- adds `@<name>_grad`: the same
    arguments, then the same results followed by the gradient of the first
    result with respect to every parameter, in argument order (result
    attribute `attn.output = "grad.<param>"`). A first result that is not a
    0-d tensor is differentiated against a cotangent passed as one more,
    last, argument (`attn.input = "grad.<result>"`). `@<name>_grad`
    carries `attn.gradient_of = @<name>`.

    The function is differentiated at the level of attn primitives (run
    attn-expand-layers first). Only values that depend on a parameter and
    that the first result depends on are differentiated; each op on that
    path builds its vector-Jacobian product through the Differentiable op
    interface, and cotangents that meet are added. An op on the path
    without the interface is an error naming it.
  }];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"\"",
           "Only this function (default: every public function that returns "
           "a float tensor first and has parameters)">,
  ];
  let dependentDialects = ["::mlir::attn::AttnDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def GenerateTrainStep : Pass<"attn-generate-train-step", "ModuleOp"> {
  let summary = "Builds a training step (forward, backward, AdamW) from a "
                "gradient function";
  let description = [{
    For each gradient function `@<f>_grad` of a loss (attn-generate-backward
    marks them with `attn.gradient_of`), adds `@<f>_train_step`: its
    arguments, then the optimizer state -- for every parameter its first
    and second moments (`attn.state = "m.<param>"`, `"v.<param>"`) -- and
    the step counter (tensor<i64>, `attn.state = "step"`, steps taken so
    far); its results are f's, then the gradients' global norm
    (`grad_norm`, before clipping) and the learning rate used (`lr`), then
    the updated state: every parameter (`attn.output = "param.<name>"`),
    its moments and the step counter, in that order. The update is AdamW
    (attn.adamw) after clipping by global norm, at the rate attn.lr_schedule
    gives the new step; a parameter's `attn.weight_decay` and
    `attn.lr_scale` argument attributes (F64) override `weight-decay` and
    scale the rate for its update alone. The step is functional: the
    runtime keeps two sets of state buffers and swaps them after each call.
    With `data-parallel`, each gradient is averaged over the ranks of a
    data-parallel run before the optimizer reads it (AttnCollectiveOps.td).
  }];
  let options = [
    Option<"lr", "lr", "double", /*default=*/"1e-3", "Peak learning rate">,
    Option<"warmup", "warmup", "int64_t", /*default=*/"0",
           "Steps of linear warmup">,
    Option<"totalSteps", "total-steps", "int64_t", /*default=*/"10000",
           "Steps of the whole schedule (the decay ends there)">,
    Option<"decay", "decay", "std::string", /*default=*/"\"cosine\"",
           "Decay after the warmup: cosine, linear or constant">,
    Option<"finalFraction", "final-lr", "double", /*default=*/"0.0",
           "Learning rate at the end of the decay, as a fraction of the peak">,
    Option<"beta1", "beta1", "double", /*default=*/"0.9", "AdamW beta1">,
    Option<"beta2", "beta2", "double", /*default=*/"0.999", "AdamW beta2">,
    Option<"epsilon", "epsilon", "double", /*default=*/"1e-8",
           "AdamW epsilon">,
    Option<"weightDecay", "weight-decay", "double", /*default=*/"0.01",
           "Decoupled weight decay">,
    Option<"maxGradNorm", "max-grad-norm", "double", /*default=*/"1.0",
           "Clip gradients to this global norm (0: no clipping)">,
    Option<"dataParallel", "data-parallel", "bool", /*default=*/"false",
           "Average each gradient over the ranks of a data-parallel run "
           "(an attn.all_reduce_start where the backward has it, one "
           "attn.all_reduce_wait before the optimizer reads them)">,
    Option<"exchangeBf16", "exchange-bf16", "bool", /*default=*/"false",
           "With data-parallel: exchange the gradients in bf16, half the "
           "bytes (each rounded to bf16 for the average, widened after)">,
  ];
  let dependentDialects = ["::mlir::attn::AttnDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def DistinctReturnedBuffers
    : Pass<"attn-distinct-returned-buffers", "func::FuncOp"> {
  let summary = "Gives each buffer a function returns a buffer of its own";
  let description = [{
    After bufferization, a function that returns one buffer at two result
    positions (the same tensor returned twice, or views of one allocation)
    returns a copy at each later position: buffer-results-to-out-params,
    which the pipelines run next, assumes the returned buffers distinct
    (it crashed on `return %t, %t`).
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def FuseElementwise : Pass<"attn-fuse-elementwise", "func::FuncOp"> {
  let summary = "Fuses chains of elementwise linalg ops on tensors into one";
  let description = [{
    An elementwise op whose result only one elementwise op reads is computed
    inside that op instead of in a pass of its own over memory (a dropout
    and the residual add after it; a GELU's derivative and the product
    with the gradient): each such producer is fused into its consumer
    (linalg's elementwise fusion), repeatedly, so a chain becomes one
    linalg.generic. Elementwise named ops (linalg.add, ...) are generalized
    first, and so are transposes that only elementwise ops read (a reader
    then reads the transpose's input through a permuted map); where a reshape stands between two elementwise ops (a product's
    [B x N, C] result read as [B, N, C]), the op after it takes the shape
    before it (its dimensions collapsed), so that the chain meets. Where
    the chain starts at a product's bias, attn-matmul-to-tensor-cores then
    runs all of it in the product's epilogue.

    Only all-parallel ops take part, and only through operands read
    element for element (a permutation): a producer read broadcast would be
    computed again for every element of the consumer, a reduction or a
    contraction keeps the form later passes match (row sums, the products).
    A producer with other readers stays as it is -- but for a product's
    epilogue op, which joins an elementwise consumer as one op with both
    results where its other readers come after the consumer -- and so does
    one whose fusion would make an op read two products' results (each
    product runs one elementwise consumer in its epilogue; an op reading
    two would have both write their f32 results to memory).
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def StripDropout : Pass<"attn-strip-dropout", "func::FuncOp"> {
  let summary = "Removes dropout, for evaluation";
  let description = [{
    Replaces every attn.dropout by its input and sets every layer's dropout
    rate to 0 (the model in evaluation mode); attn-compile --evaluation runs
    it, after attn-expand-layers{evaluation}, before lowering.
  }];
}

def SetTarget : Pass<"attn-set-target", "ModuleOp"> {
  let summary = "Records the GPU the module is compiled for as attn.target";
  let description = [{
    Sets the module's `attn.target` to #attn.target<chip, multiprocessors>,
    which attn-tile and the conversions consult (grid sizes that fill the
    GPU, instruction choice) instead of constants of one chip. The first
    pass of --lower-to-gpu, from its chip and multiprocessors options.
  }];
  let options = [
    Option<"chip", "chip", "std::string", /*default=*/"\"sm_90a\"",
           "CUDA architecture (sm_80 or later)">,
    Option<"multiprocessors", "multiprocessors", "int64_t", /*default=*/"132",
           "SMs to fill (132 on an H100 SXM or H200)">,
  ];
  let dependentDialects = ["::mlir::attn::AttnDialect"];
}

def ScheduleBlocks : Pass<"attn-schedule-blocks", "func::FuncOp"> {
  let summary = "Computes the visited tiles of every masked attn.sdpa";
  let description = [{
    Classifies every (query tile, key tile) of each masked attn.sdpa through
    the MaskPattern interface and attaches the result as a #attn.schedule:
    per query tile, the full tiles (no predicate) and the partial tiles
    (predicate per element). No N x N mask is built. Runtime-dependent
    masks are scheduled within their key limit. Needs a static sequence
    length. Only the key tiles that meet the mask's key ranges
    (MaskPattern::keyRanges) are classified, so the cost follows what the
    mask keeps.

    With `verify`, each schedule is then checked against the mask's own
    predicate by enumeration (attn/IR/MaskCheck.h): the listed tiles of the
    checked query rows pair by pair (and the predicate IR of partial tiles),
    and those rows against every key they drop. All rows when
    seqLen^2 <= verify-pairs, else an evenly spread sample of
    verify-pairs / seqLen rows. A contradiction fails the pass with an error
    at the innermost mask op at fault, naming the tile and the pair.
  }];
  let options = [
    Option<"blockQ", "block-q", "int64_t", /*default=*/"64",
           "Query rows per tile (0: the target's choice, AttentionTiles.h: "
           "the preferred candidate whose schedule covers no more than 5% "
           "over the fewest pairs)">,
    Option<"blockK", "block-k", "int64_t", /*default=*/"64",
           "Keys per tile (0: the target's choice, as block-q)">,
    Option<"verify", "verify", "bool", /*default=*/"false",
           "Check every schedule against its mask's predicate by enumeration">,
    Option<"verifyPairs", "verify-pairs", "int64_t", /*default=*/"16777216",
           "Pairs (query row x key) that verify enumerates per attention "
           "before it samples rows">,
    Option<"gradBlockQ", "grad-block-q", "int64_t", /*default=*/"0",
           "Query rows per tile of attn.sdpa_grad (0: block-q, or 64 where "
           "that is 0)">,
    Option<"gradBlockK", "grad-block-k", "int64_t", /*default=*/"0",
           "Keys per tile of attn.sdpa_grad (0: block-k, or 64 where that "
           "is 0)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

def Tile : Pass<"attn-tile", "ModuleOp"> {
  let summary = "Rewrites attention kernels into loops over tiles";
  let description = [{
    attn.sdpa becomes an scf.forall over (batch, head, query tile) that
    visits only its scheduled key tiles (full ones first, then partial ones
    with the mask's predicate) with attn.tile.softmax_step -- online
    softmax, one pass over the keys -- and writes each output row once with
    attn.tile.softmax_finalize. Unmasked attention visits every tile as
    full. attn.linear becomes a reduction of phi(K)^T V and the normaliser
    over key tiles, then one output tile per query tile (non-causal), or a
    chunkwise loop carrying the state between chunks (causal; in the GPU
    form the states at the chunk boundaries, then every chunk's output in
    parallel). attn.ssm
    becomes the discretisation (linalg on [H, S]) and one scan per (batch,
    channel group), plus the reverse scan when bidirectional -- or, chunked,
    three loops: per (batch, group, chunk) the state the chunk leaves from
    zero, per (batch, group) those states carried over the chunks, per
    (batch, group, chunk) the outputs from the state the chunk is entered
    with. Kernels
    compute on memrefs; their operands and results cross to tensors through
    bufferization.to_buffer / to_tensor.
  }];
  let options = [
    Option<"blockQ", "block-q", "int64_t", /*default=*/"64",
           "Query rows per tile (unmasked attention and linear attention; "
           "0: the target's choice, AttentionTiles.h -- unmasked "
           "attention's preferred candidate whose tiles cover no more than "
           "5% over the fewest pairs, linear attention's 64)">,
    Option<"blockK", "block-k", "int64_t", /*default=*/"64",
           "Keys per tile (unmasked attention and linear attention; 0: the "
           "target's choice, as block-q)">,
    Option<"gradBlockQ", "grad-block-q", "int64_t", /*default=*/"0",
           "Query rows per tile of unmasked attention's gradient "
           "(0: block-q, or 64 where that is 0)">,
    Option<"gradBlockK", "grad-block-k", "int64_t", /*default=*/"0",
           "Keys per tile of unmasked attention's gradient (0: block-k, or "
           "64 where that is 0)">,
    Option<"gradRowsPerInstance", "grad-rows-per-instance", "int64_t",
           /*default=*/"0",
           "With rows-per-instance: the rows of a warp in attention's "
           "gradient on tensor cores (0: rows-per-instance)">,
    Option<"gradFusedQuery", "grad-fused-query", "bool", /*default=*/"false",
           "Attention's gradient in one nest over the key tiles that also "
           "adds each pair's dS K to an f32 dQ atomically (then converted), "
           "instead of a second nest over the query tiles that recomputes "
           "P and dS">,
    Option<"channels", "ssm-channels", "int64_t", /*default=*/"16",
           "Channels per SSM scan (0: as many as one warp of the GPU scan "
           "takes at once, 32 / the lanes sharing a channel's modes)">,
    Option<"ssmChunk", "ssm-chunk", "int64_t", /*default=*/"-1",
           "Positions per chunk of the SSM's chunked scan (0: one scan over "
           "the whole sequence; -1: chunks in the GPU form where too few "
           "scans would run at once, none on the CPU)">,
    Option<"rowsPerInstance", "rows-per-instance", "int64_t",
           /*default=*/"0",
           "Query rows per instance of an inner scf.forall over each query "
           "tile (0: the whole tile, no inner loop). Non-zero also selects "
           "the GPU's form of linear attention: the state "
           "reduced per split of the keys (about 512 blocks in all) and "
           "slice of 16 features, then the "
           "output per instance of rows (causal: the states at every "
           "block-k chunk's start per slice, then the output per instance "
           "of rows of each chunk, all chunks at once); orders a masked attention's "
           "query tiles -- and its gradient's query and key tiles -- "
           "heaviest first (blocks start in grid order) when "
           "their schedules differ; and marks the loops with their "
           "GPU mapping (blocks, warps), which keeps loops of one "
           "iteration">,
    Option<"scalarRowsPerInstance", "scalar-rows-per-instance", "int64_t",
           /*default=*/"0",
           "With rows-per-instance: the rows per instance of an attn.sdpa "
           "whose elements are neither bf16 nor f16, where they divide its "
           "query tile (0: rows-per-instance). The GPU runs f32 tiles in "
           "3xTF32 on tensor cores (32 rows: two row tiles a warp) or, "
           "where they do not fit them, one row per lane, so that a warp's "
           "32 lanes are busy with 32">,
  ];
  let dependentDialects = ["::mlir::attn::AttnDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::vector::VectorDialect"];
}

#endif // ATTN_TRANSFORMS_PASSES_TD
