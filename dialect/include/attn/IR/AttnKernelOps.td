//===- AttnKernelOps.td - attention kernels ---------------*- tablegen -*-===//
#ifndef ATTN_KERNEL_OPS_TD
#define ATTN_KERNEL_OPS_TD

include "attn/IR/AttnBase.td"
include "attn/IR/AttnTypes.td"
include "attn/IR/AttnInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Attn_FloatTensor : RankedTensorOf<[F16, BF16, F32, F64]>;

def Attn_SdpaOp : Attn_Op<"sdpa", [Pure, Attn_Differentiable]> {
  let summary = "scaled dot-product attention under a mask";
  let description = [{
    out[b, h, i] = sum_j softmax_j(scale * q[b,h,i] . k[b,h,j] + M) v[b,h,j]
    over the keys j that `mask` keeps for query i (all keys without a mask).
    Shapes: q [B, H, N, D], k [B, H, N, D], v [B, H, N, Dv] -> [B, H, N, Dv].
    `scale` defaults to 1/sqrt(D). A query row whose mask keeps no key
    produces zeros. `schedule` is attached by attn-schedule-blocks.

    The optional `score` region rewrites each kept pair's score before the
    softmax (soft-capping, ALiBi, relative biases): it receives the scaled
    score s = scale q . k and the pair's (b, h, q, k), and yields the score
    the softmax uses (`attn/IR/ScoreMod.h` lists the ops it may hold):

    ```mlir
    %o = attn.sdpa %q, %k, %v score {
    ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
      %c = arith.constant 30.0 : f32
      %x = arith.divf %s, %c : f32
      %t = math.tanh %x : f32
      %y = arith.mulf %t, %c : f32
      attn.yield %y : f32
    } : ...
    ```
  }];
  let arguments = (ins Attn_FloatTensor:$query, Attn_FloatTensor:$key,
                       Attn_FloatTensor:$value,
                       Optional<Attn_MaskType>:$mask,
                       OptionalAttr<F64Attr>:$scale,
                       OptionalAttr<Attn_ScheduleAttr>:$schedule);
  let results = (outs Attn_FloatTensor:$result);
  let regions = (region AnyRegion:$score);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`mask` $mask^)? (`scale` $scale^)?
    (`score` $score^)? attr-dict
    `:` type($query) `,` type($key) `,` type($value) (`,` type($mask)^)?
    `->` type($result)
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// The scale in effect: the attribute, or 1/sqrt(head dim).
    double getEffectiveScale();
  }];
}

def Attn_SdpaGradOp : Attn_Op<"sdpa_grad", [Pure,
    AllTypesMatch<["query", "query_grad"]>, AllTypesMatch<["key", "key_grad"]>,
    AllTypesMatch<["value", "value_grad"]>,
    AllTypesMatch<["output", "output_grad"]>]> {
  let summary = "gradients of attn.sdpa (produced by reverse mode)";
  let description = [{
    For out = attn.sdpa(q, k, v) under `mask` with `scale`, given `output`
    (out) and `output_grad` (dO): with P the attention weights over the
    kept keys, D_i = dO_i . out_i and dS_ij = P_ij (dO_i . v_j - D_i):
      query_grad = scale dS K,  key_grad = scale dS^T Q,  value_grad = P^T dO.
    Rows that keep no key contribute nothing; keys no row keeps get zeros.
    `schedule` is attached by attn-schedule-blocks, as for attn.sdpa: the
    same pairs, its tiles those of the pass's grad-block-q/grad-block-k where
    given (its kernels' best tiles need not be the forward's). With a
    `score` region f (attn.sdpa's), P is over f(s) and each dS_ij is
    multiplied by f'(s_ij), the region's derivative in its score.
  }];
  let arguments = (ins Attn_FloatTensor:$query, Attn_FloatTensor:$key,
                       Attn_FloatTensor:$value, Attn_FloatTensor:$output,
                       Attn_FloatTensor:$output_grad,
                       Optional<Attn_MaskType>:$mask,
                       OptionalAttr<F64Attr>:$scale,
                       OptionalAttr<Attn_ScheduleAttr>:$schedule);
  let results = (outs Attn_FloatTensor:$query_grad, Attn_FloatTensor:$key_grad,
                      Attn_FloatTensor:$value_grad);
  let regions = (region AnyRegion:$score);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $output `,` $output_grad
    (`mask` $mask^)? (`scale` $scale^)? (`score` $score^)? attr-dict
    `:` type($query) `,` type($key) `,` type($value) `,` type($output)
    (`,` type($mask)^)?
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// The scale in effect: the attribute, or 1/sqrt(head dim).
    double getEffectiveScale();
  }];
}

def Attn_LinearOp : Attn_Op<"linear", [Pure, Attn_Differentiable]> {
  let summary = "kernelized (linear) attention";
  let description = [{
    With feature map phi: out[i] = phi(q_i)^T S / (phi(q_i)^T z), where
    non-causal S = sum_j phi(k_j) v_j^T and z = sum_j phi(k_j); causal sums
    run over j <= i. Shapes as attn.sdpa. A zero normaliser gives zeros.
    With `key_lengths`, keys at or past key_lengths[b] are left out (padding).
  }];
  let arguments = (ins Attn_FloatTensor:$query, Attn_FloatTensor:$key,
                       Attn_FloatTensor:$value, Attn_FeatureMapType:$feature_map,
                       Optional<TensorRankOf<[I32, I64], [1]>>:$key_lengths,
                       UnitAttr:$causal);
  let results = (outs Attn_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value `feature_map` $feature_map
    (`key_lengths` $key_lengths^ `:` type($key_lengths))?
    (`causal` $causal^)? attr-dict
    `:` type($query) `,` type($key) `,` type($value) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Attn_LinearGradOp : Attn_Op<"linear_grad", [Pure,
    AllTypesMatch<["query", "query_grad"]>, AllTypesMatch<["key", "key_grad"]>,
    AllTypesMatch<["value", "value_grad"]>,
    AllTypesMatch<["output", "output_grad"]>]> {
  let summary = "gradients of attn.linear (produced by reverse mode)";
  let description = [{
    For out = attn.linear(q, k, v) with the same feature map, key lengths
    and `causal`, given `output` (out) and `output_grad` (dO). Non-causal,
    with S = phi(K)^T V, z = sum_j phi(k_j) over the kept keys, den_i =
    phi(q_i) . z, g_i = dO_i / den_i and c_i = -(dO_i . out_i) / den_i (both
    zero where den_i is zero, as the output is):
      dphi(q_i) = S g_i + c_i z,   dS = phi(Q)^T g,   dz = phi(Q)^T c,
      dphi(k_j) = dS v_j + dz (kept keys),   value_grad_j = dS^T phi(k_j),
    and query_grad, key_grad through phi (its projection, if any). The
    causal form sums the same terms over j <= i. Keys past key_lengths
    get zeros. Sums are in f32 whatever the storage type.
  }];
  let arguments = (ins Attn_FloatTensor:$query, Attn_FloatTensor:$key,
                       Attn_FloatTensor:$value, Attn_FeatureMapType:$feature_map,
                       Optional<TensorRankOf<[I32, I64], [1]>>:$key_lengths,
                       Attn_FloatTensor:$output, Attn_FloatTensor:$output_grad,
                       UnitAttr:$causal);
  let results = (outs Attn_FloatTensor:$query_grad, Attn_FloatTensor:$key_grad,
                      Attn_FloatTensor:$value_grad);
  let assemblyFormat = [{
    $query `,` $key `,` $value `feature_map` $feature_map
    (`key_lengths` $key_lengths^ `:` type($key_lengths))?
    (`causal` $causal^)? `output` $output `,` $output_grad attr-dict
    `:` type($query) `,` type($key) `,` type($value) `,` type($output)
  }];
  let hasVerifier = 1;
}

def Attn_SsmOp : Attn_Op<"ssm", [Pure, Attn_Differentiable,
    AllTypesMatch<["log_a_real", "a_imag", "b_real", "b_imag"]>,
    AllTypesMatch<["c_real", "c_imag"]>,
    AllTypesMatch<["input", "result"]>]> {
  let summary = "S4D: a diagonal complex state-space layer";
  let description = [{
    For every channel h of the input u [B, L, H], with S complex modes n:
      A = -exp(log_a_real) + i a_imag, dt = exp(log_dt[h]), B = b_real + i b_imag,
      Abar = exp(dt A), Bbar = (Abar - 1) / A * B,
      x_t = Abar x_{t-1} + Bbar u_t,   y_t = 2 Re(sum_n C_n x_t,n)
    which is the causal convolution y = K * u with
      K[l] = 2 Re(sum_n C_n Bbar_n Abar_n^l).
    With `bidirectional`, C is [2, H, S]: C[0] gives the causal kernel K0 and
    C[1] an anti-causal one K1 applied to the future,
      y_t = sum_{s<=t} K0[t-s] u_s + sum_{s>t} K1[s-t-1] u_s
    (S4's bidirectional convention). Shapes: log_a_real, a_imag, b_real,
    b_imag [H, S]; c_real, c_imag [H, S] or [2, H, S]; log_dt [H]. With
    `lengths`, inputs at or past lengths[b] count as zero (padding), and the
    outputs there are zero.
  }];
  let arguments = (ins Attn_FloatTensor:$input,
                       Attn_FloatTensor:$log_a_real, Attn_FloatTensor:$a_imag,
                       Attn_FloatTensor:$b_real, Attn_FloatTensor:$b_imag,
                       Attn_FloatTensor:$c_real, Attn_FloatTensor:$c_imag,
                       Attn_FloatTensor:$log_dt,
                       Optional<TensorRankOf<[I32, I64], [1]>>:$lengths,
                       UnitAttr:$bidirectional);
  let results = (outs Attn_FloatTensor:$result);
  let assemblyFormat = [{
    $input `A` `(` $log_a_real `,` $a_imag `)` `B` `(` $b_real `,` $b_imag `)`
    `C` `(` $c_real `,` $c_imag `)` `log_dt` `(` $log_dt `)`
    (`lengths` $lengths^ `:` type($lengths))?
    (`bidirectional` $bidirectional^)? attr-dict
    `:` type($input) `,` type($log_a_real) `,` type($c_real) `,` type($log_dt)
  }];
  let hasVerifier = 1;
}

def Attn_SsmGradOp : Attn_Op<"ssm_grad", [Pure,
    AllTypesMatch<["input", "output_grad", "input_grad"]>,
    AllTypesMatch<["log_a_real", "a_imag", "b_real", "b_imag",
                   "log_a_real_grad", "a_imag_grad", "b_real_grad",
                   "b_imag_grad"]>,
    AllTypesMatch<["c_real", "c_imag", "c_real_grad", "c_imag_grad"]>,
    AllTypesMatch<["log_dt", "log_dt_grad"]>]> {
  let summary = "gradients of attn.ssm (produced by reverse mode)";
  let description = [{
    For y = attn.ssm(u, ...) with the same parameters, lengths and direction,
    given `output_grad` (dy): the gradient of sum(dy * y) with respect to the
    input and to each parameter. The input gradient is the adjoint
    convolution (the causal kernel run backwards in time, the anti-causal one
    forwards); it is zero at and past lengths[b], and outputs there do not
    contribute. The parameter gradients are summed over the batch.
  }];
  let arguments = (ins Attn_FloatTensor:$input, Attn_FloatTensor:$output_grad,
                       Attn_FloatTensor:$log_a_real, Attn_FloatTensor:$a_imag,
                       Attn_FloatTensor:$b_real, Attn_FloatTensor:$b_imag,
                       Attn_FloatTensor:$c_real, Attn_FloatTensor:$c_imag,
                       Attn_FloatTensor:$log_dt,
                       Optional<TensorRankOf<[I32, I64], [1]>>:$lengths,
                       UnitAttr:$bidirectional);
  let results = (outs Attn_FloatTensor:$input_grad,
                      Attn_FloatTensor:$log_a_real_grad,
                      Attn_FloatTensor:$a_imag_grad,
                      Attn_FloatTensor:$b_real_grad,
                      Attn_FloatTensor:$b_imag_grad,
                      Attn_FloatTensor:$c_real_grad,
                      Attn_FloatTensor:$c_imag_grad,
                      Attn_FloatTensor:$log_dt_grad);
  let assemblyFormat = [{
    $input `,` $output_grad
    `A` `(` $log_a_real `,` $a_imag `)` `B` `(` $b_real `,` $b_imag `)`
    `C` `(` $c_real `,` $c_imag `)` `log_dt` `(` $log_dt `)`
    (`lengths` $lengths^ `:` type($lengths))?
    (`bidirectional` $bidirectional^)? attr-dict
    `:` type($input) `,` type($log_a_real) `,` type($c_real) `,` type($log_dt)
  }];
  let hasVerifier = 1;
}

#endif // ATTN_KERNEL_OPS_TD
