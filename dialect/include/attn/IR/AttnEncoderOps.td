//===- AttnEncoderOps.td - encoder building blocks --------*- tablegen -*-===//
#ifndef ATTN_ENCODER_OPS_TD
#define ATTN_ENCODER_OPS_TD

include "attn/IR/AttnBase.td"
include "attn/IR/AttnTypes.td"
include "attn/IR/AttnInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Attn_IndexTensor : RankedTensorOf<[I32, I64]>;

def Attn_EmbeddingOp : Attn_Op<"embedding", [Pure, Attn_Differentiable]> {
  let summary = "token embedding lookup";
  let description = [{
    out[b, n, :] = table[ids[b, n], :]. ids [B, N] (i32 or i64),
    table [V, D] -> [B, N, D]. Ids outside [0, V) are undefined behaviour
    that the runtime checks when feeding batches.
  }];
  let arguments = (ins Attn_IndexTensor:$ids, Attn_FloatTensor:$table);
  let results = (outs Attn_FloatTensor:$result);
  let assemblyFormat = [{
    $ids `,` $table attr-dict `:` type($ids) `,` type($table) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Attn_CastOp : Attn_Op<"cast", [Pure, Attn_Differentiable,
    SameOperandsAndResultShape]> {
  let summary = "converts a float tensor to another float element type";
  let description = [{
    Elementwise conversion: narrowing (f32 to bf16 or f16) rounds to the
    nearest representable value, ties to even; widening is exact. Mixed
    precision is written with it: a bf16 model keeps f32 master parameters
    and casts each to bf16 where its body takes it, and reverse mode casts
    a cotangent back to the operand's type, so the gradients of the masters
    arrive in f32.
  }];
  let arguments = (ins Attn_FloatTensor:$input);
  let results = (outs Attn_FloatTensor:$result);
  let assemblyFormat = [{
    $input attr-dict `:` type($input) `to` type($result)
  }];
  let hasFolder = 1;
  let extraClassDeclaration = [{
    /// `value` (a ranked float tensor) in element type `elem`: `value`
    /// itself when it already is, else an attn.cast of it.
    static ::mlir::Value castTo(::mlir::OpBuilder &b, ::mlir::Location loc,
                                ::mlir::Value value, ::mlir::Type elem);
  }];
}

def Attn_AddPositionsOp : Attn_Op<"add_positions", [Pure, Attn_Differentiable,
    AllTypesMatch<["input", "result"]>]> {
  let summary = "adds learned position embeddings";
  let description = [{
    out[b, n, :] = x[b, n, :] + table[n, :]; x [B, N, D], table [P, D] with
    N <= P.
  }];
  let arguments = (ins Attn_FloatTensor:$input, Attn_FloatTensor:$table);
  let results = (outs Attn_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $table attr-dict `:` type($input) `,` type($table)
  }];
  let hasVerifier = 1;
}

def Attn_LayerNormOp : Attn_Op<"layer_norm", [Pure, Attn_Differentiable,
    AllTypesMatch<["input", "result"]>, AllTypesMatch<["gamma", "beta"]>]> {
  let summary = "layer normalisation over the last dimension";
  let arguments = (ins Attn_FloatTensor:$input, Attn_FloatTensor:$gamma,
                       Attn_FloatTensor:$beta,
                       DefaultValuedAttr<F64Attr, "1e-12">:$epsilon);
  let results = (outs Attn_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $gamma `,` $beta (`epsilon` $epsilon^)? attr-dict
    `:` type($input) `,` type($gamma)
  }];
  let hasVerifier = 1;
}

def Attn_BatchNormOp : Attn_Op<"batch_norm", [Pure, Attn_Differentiable,
    AttrSizedOperandSegments, AllTypesMatch<["input", "result"]>,
    AllTypesMatch<["gamma", "beta"]>, AllTypesMatch<["mean", "variance"]>]> {
  let summary = "batch normalisation, with running statistics or without";
  let description = [{
    x [B, N, D]: per channel d, the mean and (biased) variance over the
    batch's real tokens -- positions n < lengths[b], or every position
    without lengths --
      mean[d] = sum x[b, n, d] / T,  variance[d] = sum (x - mean)^2 / T
    (T the count of real tokens, at least 1), then
      result = (x - mean) / sqrt(variance + epsilon) * gamma + beta
    at real tokens and 0 at and past each length. The statistics are
    computed in f32 whatever x's type; with `unbiased`, the variance the op
    returns or averages is sum (x - mean)^2 / (T - 1) (T at least 2), the
    estimate PyTorch's running variance averages -- the normalisation uses
    the biased one either way.

    Without running statistics, `mean` and `variance` ([D], of any float
    type: f32 keeps them as computed) are the batch's. With
    `running %running_mean, %running_variance` (of `mean`'s type), as
    PyTorch's F.batch_norm:
      - training (the default): the batch's statistics normalise, and
        `mean` / `variance` are the running ones moved towards the batch's,
        (1 - momentum) running + momentum batch;
      - `evaluation`: the running statistics normalise, in f32, and are
        returned unchanged.
    Reverse mode differentiates `result` of the training form only.
  }];
  let arguments = (ins Attn_FloatTensor:$input, Attn_FloatTensor:$gamma,
                       Attn_FloatTensor:$beta,
                       Optional<TensorRankOf<[I32, I64], [1]>>:$lengths,
                       Optional<Attn_FloatTensor>:$running_mean,
                       Optional<Attn_FloatTensor>:$running_variance,
                       DefaultValuedAttr<F64Attr, "1e-5">:$epsilon,
                       DefaultValuedAttr<F64Attr, "0.1">:$momentum,
                       UnitAttr:$unbiased, UnitAttr:$evaluation);
  let results = (outs Attn_FloatTensor:$result, Attn_FloatTensor:$mean,
                      Attn_FloatTensor:$variance);
  let assemblyFormat = [{
    $input `,` $gamma `,` $beta (`lengths` $lengths^ `:` type($lengths))?
    (`running` $running_mean^ `,` $running_variance `:`
      type($running_mean) `,` type($running_variance))?
    (`epsilon` $epsilon^)? attr-dict `:` type($input) `,` type($gamma)
    `->` type($mean)
  }];
  let hasVerifier = 1;
}

def Attn_ProjectOp : Attn_Op<"project", [Pure, Attn_Differentiable]> {
  let summary = "affine projection of the last dimension";
  let description = [{
    out[..., o] = sum_i x[..., i] w[i, o] + bias[o]; x [..., Din],
    w [Din, Dout], bias [Dout] (optional) -> [..., Dout].
  }];
  let arguments = (ins Attn_FloatTensor:$input, Attn_FloatTensor:$weight,
                       Optional<Attn_FloatTensor>:$bias);
  let results = (outs Attn_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` type($input) `,`
    type($weight) (`,` type($bias)^)? `->` type($result)
  }];
  let hasVerifier = 1;
}

def Attn_GeluOp : Attn_Op<"gelu", [Pure, Attn_Differentiable,
    AllTypesMatch<["input", "result"]>]> {
  let summary = "GELU activation (exact erf form, or tanh approximation)";
  let arguments = (ins Attn_FloatTensor:$input, UnitAttr:$approximate);
  let results = (outs Attn_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`approximate` $approximate^)? attr-dict `:` type($input)
  }];
}

def Attn_DropoutOp : Attn_Op<"dropout", [Pure, Attn_Differentiable,
    AllTypesMatch<["input", "result"]>]> {
  let summary = "inverted dropout driven by a counter-based random stream";
  let description = [{
    Zeroes each element with probability `rate` and scales the others by
    1 / (1 - rate). The keep decision is attn::dropoutKeep(`seed`, the op's
    `stream` number, row-major element index), so the backward pass
    regenerates it instead of storing it. Evaluation pipelines remove
    dropout.
  }];
  let arguments = (ins Attn_FloatTensor:$input, I64:$seed, F64Attr:$rate,
                       DefaultValuedAttr<Attn_IntAttr, "0">:$stream);
  let results = (outs Attn_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $seed `rate` $rate (`stream` $stream^)? attr-dict
    `:` type($input)
  }];
  let hasVerifier = 1;
}

def Attn_PoolOp : Attn_Op<"pool", [Pure, Attn_Differentiable]> {
  let summary = "pools a sequence into one vector per example";
  let description = [{
    x [B, N, D] -> [B, D]: `cls` takes position 0; `mean` averages positions
    below `lengths[b]` when lengths are given, all positions otherwise.
  }];
  let arguments = (ins Attn_FloatTensor:$input, Attn_PoolKindAttr:$kind,
                       Optional<TensorRankOf<[I32, I64], [1]>>:$lengths);
  let results = (outs Attn_FloatTensor:$result);
  let assemblyFormat = [{
    $kind $input (`lengths` $lengths^)? attr-dict `:` type($input)
    (`,` type($lengths)^)? `->` type($result)
  }];
  let hasVerifier = 1;
}

def Attn_CrossEntropyOp : Attn_Op<"cross_entropy", [Pure,
    Attn_Differentiable]> {
  let summary = "mean softmax cross-entropy over a batch";
  let description = [{
    The mean over the batch of -log softmax(logits[b])[labels[b]], computed
    and returned in f32 (or f64) whatever the logits' element type. Rows
    whose label is negative (padding rows of a last batch) are left out of
    the mean; with no row left the loss is 0.
  }];
  let arguments = (ins Attn_FloatTensor:$logits,
                       TensorRankOf<[I32, I64], [1]>:$labels);
  let results = (outs 0DTensorOf<[F32, F64]>:$result);
  let assemblyFormat = [{
    $logits `,` $labels attr-dict `:` type($logits) `,` type($labels)
    `->` type($result)
  }];
  let hasVerifier = 1;
}

#endif // ATTN_ENCODER_OPS_TD
