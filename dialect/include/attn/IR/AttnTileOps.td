//===- AttnTileOps.td - tile-level computations ------------*- tablegen -*-===//
//
// What attn-tile produces inside its loops over scheduled tiles, and what a
// target lowers: one tile's worth of a kernel, on memrefs. Row counts are
// the memrefs' (dynamic) sizes, so tiles clipped at the end of a sequence or
// at a key limit need no special case. The CPU pipeline lowers these ops to
// vector code (attn-lower-tiles-to-cpu); the GPU pipeline maps them to
// warps.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_TILE_OPS_TD
#define ATTN_TILE_OPS_TD

include "attn/IR/AttnBase.td"
include "attn/IR/AttnTypes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Attn_Tile2D : MemRefRankOf<[F16, BF16, F32, F64], [2]>;
def Attn_Tile1D : MemRefRankOf<[F32, F64], [1]>;
def Attn_Tile3D : MemRefRankOf<[F16, BF16, F32, F64], [3]>;

def Attn_SoftmaxStepOp : Attn_Op<"tile.softmax_step", [
    RecursiveMemoryEffects, AllTypesMatch<["max", "sum"]>]> {
  let summary = "one key tile of online-softmax attention";
  let description = [{
    For each query row i of `query` (rows [Mq, D]) against the keys of
    `key` [Mk, D] and `value` [Mk, Dv], with s_ij = scale * q_i . k_j for the
    pairs the predicate keeps (all pairs when the region is empty):
      m'_i = max(m_i, max_j s_ij)
      l'_i = exp(m_i - m'_i) l_i + sum_j exp(s_ij - m'_i)
      acc'_i = exp(m_i - m'_i) acc_i + sum_j exp(s_ij - m'_i) v_j
    updating `max` [Mq], `sum` [Mq] and `acc` [Mq, Dv] in place (f32
    statistics). A row with nothing kept so far keeps m = -inf, l = 0 and
    acc = 0. The predicate region receives the absolute query and key
    indices (`query_offset` + i, `key_offset` + j) and yields an i1. The
    optional `score` region (s: f32, q: index, k: index) -> f32 replaces
    each kept s_ij by its result, at the same absolute indices
    (`attn/IR/ScoreMod.h`).
  }];
  let arguments = (ins Arg<Attn_Tile2D, "", [MemRead]>:$query,
                       Arg<Attn_Tile2D, "", [MemRead]>:$key,
                       Arg<Attn_Tile2D, "", [MemRead]>:$value,
                       Arg<Attn_Tile1D, "", [MemRead, MemWrite]>:$max,
                       Arg<Attn_Tile1D, "", [MemRead, MemWrite]>:$sum,
                       Arg<Attn_Tile2D, "", [MemRead, MemWrite]>:$acc,
                       Index:$query_offset, Index:$key_offset,
                       F64Attr:$scale);
  let regions = (region AnyRegion:$predicate, AnyRegion:$score);
  let assemblyFormat = [{
    $query `,` $key `,` $value `into` $max `,` $sum `,` $acc
    `offsets` `(` $query_offset `,` $key_offset `)` `scale` $scale
    (`where` $predicate^)? (`score` $score^)? attr-dict
    `:` type($query) `,` type($key) `,` type($value) `,` type($max) `,`
    type($acc)
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
}

def Attn_SoftmaxFinalizeOp : Attn_Op<"tile.softmax_finalize",
    [AttrSizedOperandSegments]> {
  let summary = "writes acc / sum for a tile of query rows";
  let description = [{
    out_i = acc_i / l_i, and zeros where l_i = 0 (no kept key). With
    `log_sum_exp(max) into lse`, also each row's log-sum-exp of its scores,
    lse_i = m_i + log(l_i) in the natural base (+inf where l_i = 0, so that
    exp(s - lse_i) is 0), which the gradient reads instead of recomputing
    the statistics.
  }];
  let arguments = (ins Arg<Attn_Tile1D, "", [MemRead]>:$sum,
                       Arg<Attn_Tile2D, "", [MemRead]>:$acc,
                       Arg<Attn_Tile2D, "", [MemWrite]>:$output,
                       Arg<Optional<Attn_Tile1D>, "", [MemRead]>:$max,
                       Arg<Optional<Attn_Tile1D>, "", [MemWrite]>:$lse);
  let assemblyFormat = [{
    $sum `,` $acc `into` $output
    (`log_sum_exp` `(` $max^ `)` `into` $lse)? attr-dict
    `:` type($sum) `,` type($acc) `,` type($output)
    (`,` type($max)^ `,` type($lse))?
  }];
  let builders = [
    OpBuilder<(ins "Value":$sum, "Value":$acc, "Value":$output), [{
      build($_builder, $_state, sum, acc, output, Value(), Value());
    }]>
  ];
  let hasVerifier = 1;
}

def Attn_SoftmaxGradStepOp : Attn_Op<"tile.softmax_grad_step", [
    RecursiveMemoryEffects, AttrSizedOperandSegments]> {
  let summary = "one (query tile, key tile) pair of softmax attention's gradient";
  let description = [{
    For the query rows of `query` [Mq, D] with their output gradients
    `out_grad` [Mq, Dv], log-sum-exps `lse` [Mq] (natural base, +inf for a
    row that keeps nothing) and `delta` [Mq] (rowsum(out_grad * output)),
    against the keys of `key` [Mk, D] and `value` [Mk, Dv], for each pair the
    predicate keeps (every pair when the region is empty):
      p_ij  = exp(scale q_i . k_j - lse_i)
      ds_ij = p_ij (dO_i . v_j - delta_i) scale
    and adds, in one of two forms:
      query_grad_i += sum_j ds_ij k_j                        [Mq, D]
    or
      key_grad_j   += sum_i ds_ij q_i                        [Mk, D]
      value_grad_j += sum_i p_ij dO_i                        [Mk, Dv]
    or, in the fused form (all three accumulators), the key form's sums and
      query_grad_i += sum_j ds_ij k_j
    where query_grad is shared with every other instance that visits the
    query rows: its additions are atomic, in no fixed order.
    The accumulators are f32; the predicate region receives the absolute
    query and key indices (`query_offset` + i, `key_offset` + j) and yields
    an i1. The query form runs over a query tile's key tiles, the key form
    over a key tile's query tiles (the transposed schedule), so that each
    of its accumulators has one writer; the fused form computes each pair's
    p and ds once where the two forms compute them twice, and pays for it
    in atomic additions. With the optional `score` region f
    (s: f32, q: index, k: index) -> f32 (softmax_step's), p_ij is
    exp(f(s_ij) - lse_i) and ds_ij is multiplied by f'(s_ij).
  }];
  let arguments = (ins Arg<Attn_Tile2D, "", [MemRead]>:$query,
                       Arg<Attn_Tile2D, "", [MemRead]>:$key,
                       Arg<Attn_Tile2D, "", [MemRead]>:$value,
                       Arg<Attn_Tile2D, "", [MemRead]>:$out_grad,
                       Arg<Attn_Tile1D, "", [MemRead]>:$lse,
                       Arg<Attn_Tile1D, "", [MemRead]>:$delta,
                       Arg<Optional<Attn_Tile2D>, "", [MemRead, MemWrite]>:$query_grad,
                       Arg<Optional<Attn_Tile2D>, "", [MemRead, MemWrite]>:$key_grad,
                       Arg<Optional<Attn_Tile2D>, "", [MemRead, MemWrite]>:$value_grad,
                       Index:$query_offset, Index:$key_offset,
                       F64Attr:$scale);
  let regions = (region AnyRegion:$predicate, AnyRegion:$score);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $out_grad `,` $lse `,` $delta
    (`query_grad` $query_grad^ `:` type($query_grad))?
    (`key_grad` $key_grad^ `,` $value_grad `:` type($key_grad) `,`
     type($value_grad))?
    `offsets` `(` $query_offset `,` $key_offset `)` `scale` $scale
    (`where` $predicate^)? (`score` $score^)? attr-dict
    `:` type($query) `,` type($key) `,` type($value) `,` type($out_grad) `,`
    type($lse) `,` type($delta)
  }];
  let extraClassDeclaration = [{
    /// The key form (or the fused form): the rows it accumulates in
    /// registers are the key tile's.
    bool accumulatesKeys() { return static_cast<bool>(getKeyGrad()); }
    /// The fused form: the key form that also adds to query_grad.
    bool fusesQueryGrad() { return getKeyGrad() && getQueryGrad(); }
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
}

def Attn_LinearStateOp : Attn_Op<"tile.linear_state", [
    AttrSizedOperandSegments]> {
  let summary = "adds a tile of keys to a linear-attention state";
  let description = [{
    state += phi(K)^T V and norm += sum_j phi(k_j), with phi given by
    `feature_map` (and its `projection` [F, D] when it has one): key [Mk, D],
    value [Mk, Dv], state [F, Dv], norm [F] (f32). With `weights` w [Mk]
    (f32) the norm's sum is weighted instead, norm += sum_j w_j phi(k_j)
    (the state's is not): linear attention's gradient sums the norm's
    cotangent so, beside the state's (attn.tile.linear_query_grad). With
    `atomic` each element's addition is atomic, so that instances running
    in parallel (over different keys) may add into the same state.
  }];
  let arguments = (ins Arg<Attn_Tile2D, "", [MemRead]>:$key,
                       Arg<Attn_Tile2D, "", [MemRead]>:$value,
                       Arg<Optional<Attn_Tile1D>, "", [MemRead]>:$weights,
                       Attn_FeatureMapType:$feature_map,
                       Arg<Optional<Attn_Tile2D>, "", [MemRead]>:$projection,
                       Arg<Attn_Tile2D, "", [MemRead, MemWrite]>:$state,
                       Arg<Attn_Tile1D, "", [MemRead, MemWrite]>:$norm,
                       UnitAttr:$atomic);
  let assemblyFormat = [{
    $key `,` $value (`weights` $weights^ `:` type($weights))?
    `feature_map` $feature_map
    (`projection` $projection^ `:` type($projection))?
    `into` $state `,` $norm (`atomic` $atomic^)? attr-dict
    `:` type($key) `,` type($value) `,` type($state) `,` type($norm)
  }];
  let hasVerifier = 1;
}

def Attn_LinearPrefixOp : Attn_Op<"tile.linear_prefix"> {
  let summary = "linear-attention states at the chunk boundaries of keys";
  let description = [{
    For key [Mk, D] and value [Mk, Dv] and each chunk c of `chunk` keys,
    c in [0, C):
      prefix[c] = sum_{j < c chunk} phi(k_j)^T v_j     (prefix [C, F, Dv])
      prefix_norm[c] = sum_{j < c chunk} phi(k_j)      (prefix_norm [C, F])
    (the sums stop at Mk; in f32, stored as f32 or as the keys' element
    type, prefix_norm f32): the state each chunk's queries start from in
    chunkwise causal attention, which lets the chunks run in parallel.
  }];
  let arguments = (ins Arg<Attn_Tile2D, "", [MemRead]>:$key,
                       Arg<Attn_Tile2D, "", [MemRead]>:$value,
                       Attn_FeatureMapType:$feature_map,
                       Arg<Optional<Attn_Tile2D>, "", [MemRead]>:$projection,
                       Arg<Attn_Tile3D, "", [MemWrite]>:$prefix,
                       Arg<Attn_Tile2D, "", [MemWrite]>:$prefix_norm,
                       ConfinedAttr<I64Attr, [IntPositive]>:$chunk);
  let assemblyFormat = [{
    $key `,` $value `feature_map` $feature_map
    (`projection` $projection^ `:` type($projection))?
    `every` $chunk `into` $prefix `,` $prefix_norm attr-dict
    `:` type($key) `,` type($value) `,` type($prefix) `,` type($prefix_norm)
  }];
  let hasVerifier = 1;
}

def Attn_LinearOutputOp : Attn_Op<"tile.linear_output", [
    AttrSizedOperandSegments]> {
  let summary = "reads a tile of queries out of a linear-attention state";
  let description = [{
    out_i = phi(q_i)^T S / phi(q_i)^T z for query [Mq, D], state S [F, Dv]
    (f32 or the query's element type) and norm z [F] (f32), zeros where the
    normaliser is 0. With `key` [Mk, D], `value` [Mk, Dv] and `diagonal`
    (the causal form), the tile's own keys j <= i + diagonal (j < Mk) are
    added to S and z for row i: the intra-chunk part of chunkwise causal
    attention, the queries being the chunk's rows from `diagonal` on and
    the keys the chunk's (clipped where they end).
  }];
  let arguments = (ins Arg<Attn_Tile2D, "", [MemRead]>:$query,
                       Arg<Optional<Attn_Tile2D>, "", [MemRead]>:$key,
                       Arg<Optional<Attn_Tile2D>, "", [MemRead]>:$value,
                       Optional<Index>:$diagonal,
                       Attn_FeatureMapType:$feature_map,
                       Arg<Optional<Attn_Tile2D>, "", [MemRead]>:$projection,
                       Arg<Attn_Tile2D, "", [MemRead]>:$state,
                       Arg<Attn_Tile1D, "", [MemRead]>:$norm,
                       Arg<Attn_Tile2D, "", [MemWrite]>:$output);
  let assemblyFormat = [{
    $query (`causal` `(` $key^ `,` $value `diagonal` $diagonal `:`
      type($key) `,` type($value) `)`)?
    `feature_map` $feature_map
    (`projection` $projection^ `:` type($projection))?
    `from` $state `,` $norm `into` $output attr-dict
    `:` type($query) `,` type($state) `,` type($norm) `,` type($output)
  }];
  let hasVerifier = 1;
}

def Attn_LinearQueryGradOp : Attn_Op<"tile.linear_query_grad"> {
  let summary = "the query side of a tile of linear attention's gradient";
  let description = [{
    For each row i of `query` [Mq, D], its forward output out_i (`output`
    [Mq, Dv]) and cotangent dO_i (`output_grad` [Mq, Dv]), against the
    forward's state S [F, Dv] and norm z [F] (f32) over all kept keys, with
    an elementwise feature map phi (F = D):
      den_i = phi(q_i) . z,  g_i = dO_i / den_i,  c_i = -(dO_i . out_i) / den_i
    (g_i and c_i zero where den_i is zero), and writes
      query_grad_i = (S g_i + c_i z) * phi'(q_i)     (elementwise)
      scaled_grad_i = g_i                            (query's element type)
      norm_weights_i = c_i                           (f32)
    The cotangents of S and z, phi(Q)^T g and sum_i c_i phi(q_i), are one
    linear_state over (query, scaled_grad) with `weights` norm_weights.
  }];
  let arguments = (ins Arg<Attn_Tile2D, "", [MemRead]>:$query,
                       Arg<Attn_Tile2D, "", [MemRead]>:$output,
                       Arg<Attn_Tile2D, "", [MemRead]>:$output_grad,
                       Attn_FeatureMapType:$feature_map,
                       Arg<Attn_Tile2D, "", [MemRead]>:$state,
                       Arg<Attn_Tile1D, "", [MemRead]>:$norm,
                       Arg<Attn_Tile2D, "", [MemWrite]>:$query_grad,
                       Arg<Attn_Tile2D, "", [MemWrite]>:$scaled_grad,
                       Arg<Attn_Tile1D, "", [MemWrite]>:$norm_weights);
  let assemblyFormat = [{
    $query `,` $output `,` $output_grad `feature_map` $feature_map
    `from` $state `,` $norm `into` $query_grad `,` $scaled_grad `,`
    $norm_weights attr-dict
    `:` type($query) `,` type($output) `,` type($output_grad) `,`
    type($state) `,` type($norm) `,` type($query_grad) `,`
    type($scaled_grad) `,` type($norm_weights)
  }];
  let hasVerifier = 1;
}

def Attn_LinearKeyGradOp : Attn_Op<"tile.linear_key_grad"> {
  let summary = "the key side of a tile of linear attention's gradient";
  let description = [{
    For each row j of `key` [Mk, D] and `value` [Mk, Dv], given the
    cotangents of the state dS [F, Dv] and of the norm dz [F] (f32), with
    an elementwise feature map phi (F = D), writes
      key_grad_j = (dS v_j + dz) * phi'(k_j)    (elementwise)
      value_grad_j = dS^T phi(k_j)
    Every row given counts as a kept key: attn-tile passes the kept ones.
  }];
  let arguments = (ins Arg<Attn_Tile2D, "", [MemRead]>:$key,
                       Arg<Attn_Tile2D, "", [MemRead]>:$value,
                       Attn_FeatureMapType:$feature_map,
                       Arg<Attn_Tile2D, "", [MemRead]>:$state_grad,
                       Arg<Attn_Tile1D, "", [MemRead]>:$norm_grad,
                       Arg<Attn_Tile2D, "", [MemWrite]>:$key_grad,
                       Arg<Attn_Tile2D, "", [MemWrite]>:$value_grad);
  let assemblyFormat = [{
    $key `,` $value `feature_map` $feature_map `from` $state_grad `,`
    $norm_grad `into` $key_grad `,` $value_grad attr-dict
    `:` type($key) `,` type($value) `,` type($state_grad) `,`
    type($norm_grad) `,` type($key_grad) `,` type($value_grad)
  }];
  let hasVerifier = 1;
}

def Attn_SsmScanOp : Attn_Op<"tile.ssm_scan", [AttrSizedOperandSegments,
    AllTypesMatch<["abar_real", "abar_imag", "w_real", "w_imag"]>]> {
  let summary = "the diagonal recurrence of an SSM for a group of channels";
  let description = [{
    For input u [L, C] and output y [L, C] (C channels, possibly strided),
    per channel c and mode n with complex Abar = abar_real + i abar_imag and
    W = w_real + i w_imag, all [C, S]:
      forward:  x_t = Abar x_{t-1} + W u_t;          y_t = 2 Re sum_n x_t
      reverse:  y_t = 2 Re sum_n r_t;   r_{t-1} = Abar r_t + W u_t
                (the anti-causal part, excluding u_t itself)
    The scan starts from zero (x_{-1} = 0, r_{L-1} = 0), or with `from`
    from the complex state init_real + i init_imag [C, S]. With `into`, it
    writes y -- or, with `accumulate`, adds y to it; with `state`, it stores
    the state it ends with (forward x_{L-1}, reverse r_{-1}; the initial
    state when L = 0) into state_real + i state_imag [C, S]. At least one of
    the two. A chunk of a longer sequence is a scan of its rows: its state
    from zero, then its output from the state it is entered with.
  }];
  let arguments = (ins Arg<Attn_Tile2D, "", [MemRead]>:$input,
                       Arg<Attn_Tile2D, "", [MemRead]>:$abar_real,
                       Arg<Attn_Tile2D, "", [MemRead]>:$abar_imag,
                       Arg<Attn_Tile2D, "", [MemRead]>:$w_real,
                       Arg<Attn_Tile2D, "", [MemRead]>:$w_imag,
                       Arg<Optional<Attn_Tile2D>, "", [MemRead]>:$init_real,
                       Arg<Optional<Attn_Tile2D>, "", [MemRead]>:$init_imag,
                       Arg<Optional<Attn_Tile2D>, "",
                           [MemRead, MemWrite]>:$output,
                       Arg<Optional<Attn_Tile2D>, "", [MemWrite]>:$state_real,
                       Arg<Optional<Attn_Tile2D>, "", [MemWrite]>:$state_imag,
                       UnitAttr:$reverse, UnitAttr:$accumulate);
  let assemblyFormat = [{
    $input `A` `(` $abar_real `,` $abar_imag `)` `W` `(` $w_real `,` $w_imag `)`
    (`from` `(` $init_real^ `,` $init_imag `:` type($init_real) `,`
      type($init_imag) `)`)?
    (`into` $output^ `:` type($output))?
    (`state` `(` $state_real^ `,` $state_imag `:` type($state_real) `,`
      type($state_imag) `)`)?
    (`reverse` $reverse^)? (`accumulate` $accumulate^)?
    attr-dict `:` type($input) `,` type($abar_real)
  }];
  let hasVerifier = 1;
}

def Attn_SsmCarryOp : Attn_Op<"tile.ssm_carry", [
    AllTypesMatch<["states_real", "states_imag"]>,
    AllTypesMatch<["multiplier_real", "multiplier_imag"]>]> {
  let summary = "the states an SSM's chunks are entered with";
  let description = [{
    For the states s_k = states_real[k] + i states_imag[k] [C, S] that K
    consecutive chunks of a scan leave from zero (k = 0 .. K-1), and the
    complex multiplier M [C, S] that carries a state over a whole chunk
    (Abar^T for chunks of T steps), replaces each s_k, elementwise, by the
    state chunk k is entered with:
      forward:  s'_k = sum_{j<k} M^(k-1-j) s_j    (s'_0 = 0)
      reverse:  s'_k = sum_{j>k} M^(j-k-1) s_j    (s'_{K-1} = 0)
    i.e. c = 0; for each chunk in scan order: (s_k, c) = (c, M c + s_k).
    Only the chunks a state is carried over need T steps: a shorter last
    chunk is fine.
  }];
  let arguments = (ins Arg<Attn_Tile3D, "", [MemRead, MemWrite]>:$states_real,
                       Arg<Attn_Tile3D, "", [MemRead, MemWrite]>:$states_imag,
                       Arg<Attn_Tile2D, "", [MemRead]>:$multiplier_real,
                       Arg<Attn_Tile2D, "", [MemRead]>:$multiplier_imag,
                       UnitAttr:$reverse);
  let assemblyFormat = [{
    `(` $states_real `,` $states_imag `)`
    `by` `(` $multiplier_real `,` $multiplier_imag `)`
    (`reverse` $reverse^)? attr-dict
    `:` type($states_real) `,` type($multiplier_real)
  }];
  let hasVerifier = 1;
}

def Attn_SsmAdjointOp : Attn_Op<"tile.ssm_adjoint", [
    AllTypesMatch<["abar_real", "abar_imag", "p_real", "p_imag", "q_real",
                   "q_imag"]>]> {
  let summary = "the coefficient gradients of an SSM scan for a group of channels";
  let description = [{
    For the rows u [L, C] of a tile.ssm_scan (the same direction and complex
    Abar = abar_real + i abar_imag [C, S], started from zero) and the
    gradient g [L, C] of its output y, per channel c and mode n with
    a = Abar[c, n], stores
      P = sum_t u_t rho_t,   Q = sum_t u_t sigma_t
    into p_real + i p_imag and q_real + i q_imag [C, S], where
      forward:  rho_t = sum_{r>=t} a^(r-t) g_r,
                sigma_t = sum_{r>t} (r-t) a^(r-t-1) g_r
      reverse:  rho_t = sum_{r<t} a^(t-r-1) g_r,
                sigma_t = sum_{r<t-1} (t-r-1) a^(t-r-2) g_r
    (one pass against the scan's direction: sigma = a sigma + rho,
    rho = a rho + g_t). With the scan's y_t = 2 Re sum_n W_n z_t,n, P is
    sum_t g_t z_t / W and Q its derivative in a, so the gradients of
    sum_t g_t y_t are conj(2 P) for W and conj(2 W Q) for Abar (as
    (d/d re, d/d im) pairs).
  }];
  let arguments = (ins Arg<Attn_Tile2D, "", [MemRead]>:$input,
                       Arg<Attn_Tile2D, "", [MemRead]>:$output_grad,
                       Arg<Attn_Tile2D, "", [MemRead]>:$abar_real,
                       Arg<Attn_Tile2D, "", [MemRead]>:$abar_imag,
                       Arg<Attn_Tile2D, "", [MemWrite]>:$p_real,
                       Arg<Attn_Tile2D, "", [MemWrite]>:$p_imag,
                       Arg<Attn_Tile2D, "", [MemWrite]>:$q_real,
                       Arg<Attn_Tile2D, "", [MemWrite]>:$q_imag,
                       UnitAttr:$reverse);
  let assemblyFormat = [{
    $input `,` $output_grad `A` `(` $abar_real `,` $abar_imag `)`
    `into` `(` $p_real `,` $p_imag `,` $q_real `,` $q_imag `)`
    (`reverse` $reverse^)? attr-dict
    `:` type($input) `,` type($output_grad) `,` type($abar_real)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Values carried per (channel, mode): rho, sigma, P and Q as
    /// (re, im) pairs, in that order; all zero at the start.
    static constexpr unsigned kCarried = 8;
    /// One step of the pass at a row with input u and gradient g, in this
    /// op's direction, over f32 scalars or vectors alike: the lowerings'
    /// one statement of the recurrence.
    ::llvm::SmallVector<::mlir::Value>
    buildStep(::mlir::OpBuilder &b, ::mlir::Location loc, ::mlir::Value aRe,
              ::mlir::Value aIm, ::mlir::Value u, ::mlir::Value g,
              ::mlir::ValueRange carried);
  }];
}

//===----------------------------------------------------------------------===//
// What the tile ops' GPU lowering makes on the host
//===----------------------------------------------------------------------===//

def Attn_TensorMapSource : MemRefRankOf<[F16, BF16], [1, 2, 3, 4, 5]>;

def Attn_BufferTensorMapOp : Attn_Op<"buffer.tensor_map", [Pure]> {
  let summary = "a TMA tensor map of a buffer in device memory";
  let description = [{
    The device address, as an i64, of a 128-byte tensor map (CUtensorMap)
    that describes `source` -- its element type, sizes and strides, as the
    memref's descriptor has them when the op runs on the host -- for
    Hopper's tensor memory accelerator: a kernel that takes the address
    copies boxes of `box` elements (outermost dimension first, as the
    memref's) from the buffer into shared memory with
    `cp.async.bulk.tensor`, each 16-byte chunk of a box row placed by the
    `swizzle` mode (0, 32, 64 or 128 bytes: the swizzled layouts of
    SwizzledTile), elements outside the buffer read as zeros. The
    lowering calls the runtime's `mgpuTensorMap` (docs/runtime.md), which
    encodes the map once per distinct description and keeps it in device
    memory for the process's life; so the op has no effects visible to the
    program, and equal ops may be merged.

    ```mlir
    %map = attn.buffer.tensor_map %keys box [1, 1, 128, 64] swizzle 128
        : memref<2x4x1000x64xbf16>
    ```

    The box's innermost dimension is a whole number of 16-byte chunks, at
    most the swizzle's span; each box dimension is 1 to 256. The runtime
    checks what only the call knows: the buffer's start and its strides a
    multiple of 16 bytes.
  }];
  let arguments = (ins Attn_TensorMapSource:$source,
                       DenseI64ArrayAttr:$box, Attn_IntAttr:$swizzle);
  let results = (outs I64:$map);
  let assemblyFormat = [{
    $source `box` $box `swizzle` $swizzle attr-dict `:` type($source)
  }];
  let hasVerifier = 1;
}

#endif // ATTN_TILE_OPS_TD
