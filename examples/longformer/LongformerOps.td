//===- LongformerOps.td - a sparsity pattern from outside the dialect ----===//
//
// A Longformer-style pattern -- a dilated sliding window plus a few global
// tokens at arbitrary positions -- defined outside dialect/, as a user would
// add a pattern: derive from Attn_MaskOp, implement the MaskPattern methods,
// register the op from a dialect extension. No pass knows it exists.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_EXAMPLES_LONGFORMER_OPS_TD
#define ATTN_EXAMPLES_LONGFORMER_OPS_TD

include "attn/IR/AttnMaskBase.td"

def Attn_LongformerMaskOp : Attn_MaskOp<"longformer", [], ["keyRanges"]> {
  let summary = "dilated sliding window plus global tokens (Longformer)";
  let description = [{
    Keeps (q, k) when q - k is a multiple of `dilation` with
    |q - k| <= radius * dilation, or when q or k is one of the `globals`
    token positions (e.g. a CLS token, question tokens).

    ```mlir
    %m = attn.mask.longformer radius 4 dilation 2 globals [0, 17]
    ```
  }];
  let arguments = (ins Attn_IntAttr:$radius, Attn_IntAttr:$dilation,
                       DenseI64ArrayAttr:$globals);
  let assemblyFormat = [{
    `radius` $radius `dilation` $dilation `globals` $globals attr-dict
  }];
  let hasVerifier = 1;
}

#endif // ATTN_EXAMPLES_LONGFORMER_OPS_TD
