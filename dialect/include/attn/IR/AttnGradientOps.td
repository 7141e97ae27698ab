//===- AttnGradientOps.td - gradient ops of the encoder ops -*- tablegen -*-===//
//
// Produced by attn-generate-backward (the ops' vector-Jacobian products),
// not written by users. Each takes the forward's inputs it needs and the
// cotangent of the forward's result (`grad`), and gives the cotangents of
// the forward's operands in their types. Statistics and sums accumulate in
// f32 whatever the storage type, as the forward ops do.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_GRADIENT_OPS_TD
#define ATTN_GRADIENT_OPS_TD

include "attn/IR/AttnBase.td"
include "attn/IR/AttnTypes.td"
include "attn/IR/AttnEncoderOps.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Attn_EmbeddingGradOp : Attn_Op<"embedding_grad", [Pure]> {
  let summary = "gradient of attn.embedding with respect to its table";
  let description = [{
    table_grad[v, :] = sum of grad[b, n, :] over the (b, n) with
    ids[b, n] = v. ids [B, N], grad [B, N, D] -> [V, D]. Ids outside
    [0, V) count as the nearest valid id, as the forward clamps them.
  }];
  let arguments = (ins Attn_IndexTensor:$ids, Attn_FloatTensor:$grad);
  let results = (outs Attn_FloatTensor:$result);
  let assemblyFormat = [{
    $ids `,` $grad attr-dict `:` type($ids) `,` type($grad) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Attn_LayerNormGradOp : Attn_Op<"layer_norm_grad", [Pure,
    AllTypesMatch<["input", "grad", "input_grad"]>,
    AllTypesMatch<["gamma", "gamma_grad", "beta_grad"]>]> {
  let summary = "gradients of attn.layer_norm";
  let description = [{
    With xhat = (x - mean) / sqrt(var + epsilon) over the last dimension
    (width W) and g = grad * gamma:
      input_grad = (g - mean(g) - xhat mean(g xhat)) / sqrt(var + epsilon)
      gamma_grad = sum of grad * xhat over the leading dimensions
      beta_grad  = sum of grad over the leading dimensions
  }];
  let arguments = (ins Attn_FloatTensor:$input, Attn_FloatTensor:$gamma,
                       Attn_FloatTensor:$grad,
                       DefaultValuedAttr<F64Attr, "1e-12">:$epsilon);
  let results = (outs Attn_FloatTensor:$input_grad,
                      Attn_FloatTensor:$gamma_grad,
                      Attn_FloatTensor:$beta_grad);
  let assemblyFormat = [{
    $input `,` $gamma `,` $grad (`epsilon` $epsilon^)? attr-dict
    `:` type($input) `,` type($gamma)
  }];
  let hasVerifier = 1;
}

def Attn_BatchNormGradOp : Attn_Op<"batch_norm_grad", [Pure,
    AllTypesMatch<["input", "grad", "input_grad"]>,
    AllTypesMatch<["gamma", "gamma_grad", "beta_grad"]>]> {
  let summary = "gradients of attn.batch_norm's result";
  let description = [{
    With xhat = (x - mean) / sqrt(variance + epsilon) from the batch's
    statistics (attn.batch_norm's), sums over the real tokens (T of them)
    and g = grad * gamma:
      input_grad = (g - sum(g) / T - xhat sum(g xhat) / T)
                   / sqrt(variance + epsilon) at real tokens, 0 elsewhere
      gamma_grad = sum of grad * xhat,  beta_grad = sum of grad
  }];
  let arguments = (ins Attn_FloatTensor:$input, Attn_FloatTensor:$gamma,
                       Attn_FloatTensor:$grad,
                       Optional<TensorRankOf<[I32, I64], [1]>>:$lengths,
                       DefaultValuedAttr<F64Attr, "1e-5">:$epsilon);
  let results = (outs Attn_FloatTensor:$input_grad,
                      Attn_FloatTensor:$gamma_grad,
                      Attn_FloatTensor:$beta_grad);
  let assemblyFormat = [{
    $input `,` $gamma `,` $grad (`lengths` $lengths^ `:` type($lengths))?
    (`epsilon` $epsilon^)? attr-dict `:` type($input) `,` type($gamma)
  }];
  let hasVerifier = 1;
}

def Attn_GeluGradOp : Attn_Op<"gelu_grad", [Pure,
    AllTypesMatch<["input", "grad", "result"]>]> {
  let summary = "gradient of attn.gelu";
  let description = [{
    result = grad * gelu'(input), for the exact erf form
    (Phi(x) + x phi(x)) or the tanh approximation with `approximate`.
  }];
  let arguments = (ins Attn_FloatTensor:$input, Attn_FloatTensor:$grad,
                       UnitAttr:$approximate);
  let results = (outs Attn_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $grad (`approximate` $approximate^)? attr-dict `:` type($input)
  }];
}

def Attn_PoolGradOp : Attn_Op<"pool_grad", [Pure]> {
  let summary = "gradient of attn.pool";
  let description = [{
    grad [B, D] -> [B, N, D] (N from the result type): `cls` puts grad at
    position 0 and zeros elsewhere; `mean` spreads grad / count over the
    positions the forward averaged (below lengths[b] when given, all N
    otherwise; count at least 1), zeros past them.
  }];
  let arguments = (ins Attn_FloatTensor:$grad, Attn_PoolKindAttr:$kind,
                       Optional<TensorRankOf<[I32, I64], [1]>>:$lengths);
  let results = (outs Attn_FloatTensor:$result);
  let assemblyFormat = [{
    $kind $grad (`lengths` $lengths^)? attr-dict `:` type($grad)
    (`,` type($lengths)^)? `->` type($result)
  }];
  let hasVerifier = 1;
}

def Attn_CrossEntropyGradOp : Attn_Op<"cross_entropy_grad", [Pure,
    AllTypesMatch<["logits", "result"]>]> {
  let summary = "gradient of attn.cross_entropy with respect to its logits";
  let description = [{
    result[b, :] = grad * (softmax(logits[b]) - onehot(labels[b])) / count
    for rows with a label >= 0 (count of such rows, at least 1), zeros for
    the others. `grad` is the 0-d cotangent of the loss.
  }];
  let arguments = (ins Attn_FloatTensor:$logits,
                       TensorRankOf<[I32, I64], [1]>:$labels,
                       0DTensorOf<[F32, F64]>:$grad);
  let results = (outs Attn_FloatTensor:$result);
  let assemblyFormat = [{
    $logits `,` $labels `,` $grad attr-dict `:` type($logits) `,`
    type($labels) `,` type($grad)
  }];
  let hasVerifier = 1;
}

#endif // ATTN_GRADIENT_OPS_TD
