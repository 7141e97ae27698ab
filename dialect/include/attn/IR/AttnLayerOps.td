//===- AttnLayerOps.td - encoder layers -------------------*- tablegen -*-===//
#ifndef ATTN_LAYER_OPS_TD
#define ATTN_LAYER_OPS_TD

include "attn/IR/AttnBase.td"
include "attn/IR/AttnTypes.td"
include "attn/IR/AttnInterfaces.td"
include "mlir/IR/OpAsmInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

// Every layer: input, parameters, optional key-padding lengths and an
// optional dropout seed (absent: dropout is off, as in evaluation). Layers
// are post-LN (BERT: LN(x + f(x)) after each sublayer f); with `prenorm`,
// pre-LN (x + f(LN(x)), the model norming the last layer's output). A layer
// is its mixing sublayer (attention, SSM, or both) followed by a
// feed-forward sublayer; `feed_forward = false` leaves the second out (S4's
// blocks), and with it the parameters ffn.* and ln2.*.
//
// `norm` is the kind of the sublayers' norms (ln1, ln2 whichever kind):
// `layer` (over channels, per token) or `batch` (per channel over the
// batch's real tokens, as attn.batch_norm). A batch-norm layer has buffers:
// each norm's running mean and variance (ln1.running_mean,
// ln1.running_var, then ln2.* with the feed-forward sublayer; f32 [D]),
// which it returns updated, as PyTorch's BatchNorm1d in training mode:
// running = 0.9 running + 0.1 batch's (the variance unbiased). Evaluation
// (attn-expand-layers{evaluation}) normalises with them instead and returns
// them unchanged.
class Attn_LayerOp<string mnemonic, dag attrs>
    : Attn_Op<"layer." # mnemonic, [Pure, AttrSizedOperandSegments,
        AllTypesMatch<["input", "result"]>,
        DeclareOpInterfaceMethods<EncoderLayerInterface>,
        // Results print numbered (%0, %1:3), not by their ODS names.
        OpAsmOpInterface]> {
  let arguments = !con((ins Attn_FloatTensor:$input,
                            Variadic<Attn_FloatTensor>:$params,
                            Variadic<Attn_FloatTensor>:$buffers,
                            Optional<TensorRankOf<[I32, I64], [1]>>:$lengths,
                            Optional<I64>:$seed),
                       attrs,
                       (ins DefaultValuedAttr<F64Attr, "0.1">:$dropout,
                            UnitAttr:$prenorm,
                            DefaultValuedAttr<BoolAttr, "true">:$feed_forward,
                            DefaultValuedAttr<Attn_NormKindAttr,
                              "::mlir::attn::NormKind::layer">:$norm));
  let results = (outs Attn_FloatTensor:$result,
                      Variadic<Attn_FloatTensor>:$updated_buffers);
  let assemblyFormat = [{
    $input (`lengths` $lengths^)? (`seed` $seed^)? `params` `(` $params `)`
    (`buffers` `(` $buffers^ `)`)?
    attr-dict `:` type($input) `,` (`lengths` type($lengths)^ `,`)?
    `params` `(` type($params) `)`
    (`buffers` `(` type($buffers)^ `)` `->` type($updated_buffers))?
  }];
  let hasVerifier = 1;
}

def Attn_FullLayerOp : Attn_LayerOp<"full", (ins Attn_IntAttr:$heads)> {
  let summary = "transformer layer with dense softmax attention";
}

def Attn_WindowLayerOp : Attn_LayerOp<"window", (ins Attn_IntAttr:$heads,
    Attn_IntAttr:$radius, OptionalAttr<Attn_IntAttr>:$block)> {
  let summary = "transformer layer with sliding-window attention";
}

def Attn_ChunkLayerOp : Attn_LayerOp<"chunk", (ins Attn_IntAttr:$heads,
    Attn_IntAttr:$size)> {
  let summary = "transformer layer with chunked (block-diagonal) attention";
}

def Attn_BigBirdLayerOp : Attn_LayerOp<"bigbird", (ins Attn_IntAttr:$heads,
    Attn_IntAttr:$block, DefaultValuedAttr<Attn_IntAttr, "1">:$window,
    DefaultValuedAttr<Attn_IntAttr, "1">:$global,
    DefaultValuedAttr<Attn_IntAttr, "3">:$random,
    DefaultValuedAttr<Attn_IntAttr, "0">:$seed_blocks)> {
  let summary = "transformer layer with BigBird attention";
  let description = [{
    Attention keeps: a block window of radius `window`, `global` blocks at
    each end (rows and columns), and `random` random blocks per query block
    drawn with `seed_blocks`, excluding window and global blocks -- the
    union of attn.mask.window, attn.mask.global and attn.mask.random_blocks.
  }];
}

def Attn_LinearLayerOp : Attn_LayerOp<"linear", (ins Attn_IntAttr:$heads,
    DefaultValuedAttr<Attn_FeatureMapKindAttr,
                      "::mlir::attn::FeatureMapKind::elu_plus_one">:$feature_map,
    OptionalAttr<Attn_IntAttr>:$features, OptionalAttr<Attn_IntAttr>:$seed_features,
    UnitAttr:$causal)> {
  let summary = "transformer layer with kernelized linear attention";
}

def Attn_SsmLayerOp : Attn_LayerOp<"ssm", (ins UnitAttr:$bidirectional,
    UnitAttr:$glu)> {
  let summary = "S4D block: SSM, skip term, GELU, output map, FFN";
  let description = [{
    s = gelu(ssm(x) + d * x); y = LN(x + W_o s + b_o); out = LN(y + FFN(y)).
    With `glu`, the output map is gated (S4's GLU after a map to twice the
    width, its two halves as two maps): y = LN(x + (W_o s + b_o) *
    sigmoid(W_g s + b_g)).
  }];
}

def Attn_SpadeLayerOp : Attn_LayerOp<"spade", (ins Attn_IntAttr:$heads,
    Attn_LocalKindAttr:$local, Attn_IntAttr:$local_size,
    UnitAttr:$bidirectional)> {
  let summary = "SPADE global layer: an SSM beside local attention";
  let description = [{
    The SSM branch and a local attention branch (`window` with radius
    `local_size`, or `chunk` of `local_size` tokens) both read x; their
    outputs are concatenated and merged by a linear map, then residual,
    layer norm and FFN as in the other layers.
  }];
}

#endif // ATTN_LAYER_OPS_TD
