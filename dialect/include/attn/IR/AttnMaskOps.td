//===- AttnMaskOps.td - mask pattern ops ------------------*- tablegen -*-===//
#ifndef ATTN_MASK_OPS_TD
#define ATTN_MASK_OPS_TD

include "attn/IR/AttnMaskBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/IR/RegionKindInterface.td"

def Attn_FullMaskOp : Attn_MaskOp<"full"> {
  let summary = "every pair interacts (dense attention)";
  let assemblyFormat = "attr-dict";
}

def Attn_CausalMaskOp : Attn_MaskOp<"causal", [], ["keyRanges"]> {
  let summary = "key k is kept for query q when k <= q";
  let assemblyFormat = "attr-dict";
}

def Attn_WindowMaskOp : Attn_MaskOp<"window", [], ["keyRanges"]> {
  let summary = "sliding window, per element or per block";
  let description = [{
    Without `block`: keeps (q, k) when |q - k| <= radius. With `block`: keeps
    (q, k) when their blocks are at most `radius` blocks apart,
    |q/block - k/block| <= radius (BigBird's window with radius 1 is three
    blocks wide).
  }];
  let arguments = (ins Attn_IntAttr:$radius, OptionalAttr<Attn_IntAttr>:$block);
  let assemblyFormat = "`radius` $radius (`block` $block^)? attr-dict";
  let hasVerifier = 1;
  let resultBlock = "adaptor.getBlock().value_or(0)";
}

def Attn_GlobalMaskOp : Attn_MaskOp<"global", [], ["keyRanges"]> {
  let summary = "global tokens or blocks that attend and are attended everywhere";
  let description = [{
    A position is global when it lies in the first `first` or the last `last`
    tokens -- or blocks, with `block` (the last block may be short when the
    sequence length is not a multiple of the block). (q, k) is kept when q or
    k is global.
  }];
  let arguments = (ins DefaultValuedAttr<Attn_IntAttr, "0">:$first,
                       DefaultValuedAttr<Attn_IntAttr, "0">:$last,
                       OptionalAttr<Attn_IntAttr>:$block);
  let assemblyFormat = [{
    (`first` $first^)? (`last` $last^)? (`block` $block^)? attr-dict
  }];
  let hasVerifier = 1;
  let resultBlock = "adaptor.getBlock().value_or(0)";
}

def Attn_RandomBlocksMaskOp : Attn_MaskOp<"random_blocks", [],
                                          ["keyRanges"]> {
  let summary = "BigBird's random key blocks, seeded";
  let description = [{
    Each query block receives `count` distinct random key blocks (the draw is
    attn::randomBlockRow, a pure function of the seed and the number of
    blocks). Rows of the first and last `exclude_global` blocks receive none
    and those blocks are never drawn; blocks within `exclude_window` of the
    query block are not drawn either (BigBird excludes its window and global
    blocks).
  }];
  let arguments = (ins Attn_IntAttr:$count, Attn_IntAttr:$block,
                       Attn_IntAttr:$seed,
                       DefaultValuedAttr<Attn_IntAttr, "0">:$exclude_global,
                       DefaultValuedAttr<Attn_IntAttr, "-1">:$exclude_window);
  let assemblyFormat = [{
    `count` $count `block` $block `seed` $seed
    (`exclude_global` $exclude_global^)? (`exclude_window` $exclude_window^)?
    attr-dict
  }];
  let hasVerifier = 1;
  let resultBlock = "adaptor.getBlock()";
  let extraClassDeclaration = [{
    /// The draw's parameters (see attn::randomBlockRow).
    ::attn::RandomBlockSpec getSpec();
  }];
}

def Attn_ChunkMaskOp : Attn_MaskOp<"chunk", [], ["keyRanges"]> {
  let summary = "block-diagonal attention within chunks of `size` tokens";
  let arguments = (ins Attn_IntAttr:$size);
  let assemblyFormat = "`size` $size attr-dict";
  let hasVerifier = 1;
}

def Attn_DilatedWindowMaskOp : Attn_MaskOp<"dilated_window", [],
                                           ["keyRanges"]> {
  let summary = "dilated sliding window";
  let description = [{
    Keeps (q, k) when q - k is a multiple of `dilation` and
    |q - k| <= radius * dilation: `radius` neighbours on each side, every
    `dilation`-th token.
  }];
  let arguments = (ins Attn_IntAttr:$radius, Attn_IntAttr:$dilation);
  let assemblyFormat = "`radius` $radius `dilation` $dilation attr-dict";
  let hasVerifier = 1;
}

def Attn_StridedMaskOp : Attn_MaskOp<"strided"> {
  let summary = "strided pattern: keys a multiple of `stride` away";
  let description = [{
    Keeps (q, k) when q - k is a multiple of `stride` (the strided half of the
    Sparse Transformer's factorised pattern, in both directions).
  }];
  let arguments = (ins Attn_IntAttr:$stride);
  let assemblyFormat = "`stride` $stride attr-dict";
  let hasVerifier = 1;
}

def Attn_KeyPaddingMaskOp : Attn_MaskOp<"key_padding", [], [
    "hasStaticClassification", "buildKeyLimit", "evaluateKeyLimit"]> {
  let summary = "keys past each batch entry's length are masked";
  let description = [{
    Keeps (q, k) of batch entry b when k < lengths[b]. The lengths are
    runtime data, so this mask's tiles are classified at run time: it offers
    its lengths as a key limit (see the MaskPattern interface).
  }];
  let arguments = (ins TensorRankOf<[I32, I64], [1]>:$lengths);
  let assemblyFormat = "$lengths attr-dict `:` type($lengths)";
}

def Attn_UnionMaskOp : Attn_MaskOp<"union", [], ["keyRanges"]> {
  let summary = "pairs kept by any operand";
  let arguments = (ins Variadic<Attn_MaskType>:$masks);
  let assemblyFormat = "$masks attr-dict `:` type($masks)";
  let hasVerifier = 1;
  let resultBlock = ""; // the operands' common block
}

def Attn_IntersectMaskOp : Attn_MaskOp<"intersect", [], [
    "keyRanges", "hasStaticClassification", "buildKeyLimit", "evaluateKeyLimit"]> {
  let summary = "pairs kept by every operand";
  let arguments = (ins Variadic<Attn_MaskType>:$masks);
  let assemblyFormat = "$masks attr-dict `:` type($masks)";
  let hasVerifier = 1;
  let resultBlock = ""; // the operands' common block
}

def Attn_DifferenceMaskOp : Attn_MaskOp<"difference", [], [
    "keyRanges", "hasStaticClassification", "buildKeyLimit", "evaluateKeyLimit"]> {
  let summary = "pairs kept by lhs and not by rhs";
  let arguments = (ins Attn_MaskType:$lhs, Attn_MaskType:$rhs);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs)";
  let hasVerifier = 1;
  let resultBlock = ""; // the operands' common block
}

def Attn_ExprMaskOp : Attn_MaskOp<"expr", [IsolatedFromAbove], ["keyRanges"]> {
  let summary = "a pattern whose predicate is computed by a region";
  let description = [{
    The region receives (q, k, n) as index values and yields an i1. It may use
    integer `arith` ops only, so that the compiler can both inline it into
    partial tiles and evaluate it to classify tiles.

    ```mlir
    %m = attn.mask.expr {
    ^bb0(%q: index, %k: index, %n: index):
      %c = arith.cmpi ule, %k, %q : index
      attn.yield %c : i1
    }
    ```
  }];
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$body attr-dict";
  let hasRegionVerifier = 1;
}

def Attn_MaterializeMaskOp : Attn_Op<"materialize_mask", [Pure]> {
  let summary = "a mask as a dense n x n tensor: 1 where (q, k) is kept";
  let description = [{
    Evaluates `mask` (its predicate, as partial tiles run it) at every pair
    of an n x n tensor, n the result's static extent: element (q, k) is 1
    where the pair is kept, else 0. For checks and references -- attn-bench
    builds libtorch's mask of any pattern with it, one a project of its own
    included; kernels never materialize masks. Runtime-dependent masks (key
    padding) are refused: their answer depends on a batch entry.

    ```mlir
    %d = attn.materialize_mask %m : !attn.mask -> tensor<256x256xi8>
    ```
  }];
  let arguments = (ins Attn_MaskType:$mask);
  let results = (outs TensorRankOf<[I1, I8], [2]>:$result);
  let assemblyFormat =
      "$mask attr-dict `:` qualified(type($mask)) `->` type($result)";
  let hasVerifier = 1;
}

def Attn_YieldOp : Attn_Op<"yield", [Pure, Terminator, ReturnLike,
    ParentOneOf<["ExprMaskOp", "SoftmaxStepOp", "SoftmaxGradStepOp", "SdpaOp",
                 "SdpaGradOp"]>]> {
  let summary = "yields a mask region's predicate, or a score region's score";
  let arguments = (ins Variadic<AnyType>:$values);
  let assemblyFormat = "attr-dict ($values^ `:` type($values))?";
}

#endif // ATTN_MASK_OPS_TD
