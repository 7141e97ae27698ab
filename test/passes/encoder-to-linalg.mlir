// RUN: attn-opt %s --attn-convert-encoder-to-linalg | FileCheck %s

// CHECK-LABEL: func.func @encoder
// CHECK-NOT: attn.
// Embedding: a gather through tensor.extract, ids clamped to the vocabulary.
// CHECK: linalg.generic
// CHECK: arith.index_cast
// CHECK: arith.maxsi
// CHECK: arith.minsi
// CHECK: tensor.extract %{{.*}}[%{{.*}}, %{{.*}}] : tensor<18x16xf32>
// Layer norm: two reductions (sum, squared deviation), then the map.
// CHECK: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: math.rsqrt
// Projection: a matmul accumulating in f32, then the bias.
// CHECK: tensor.collapse_shape
// CHECK: linalg.matmul
// CHECK: tensor.expand_shape
// GELU (exact): x Phi(x), Phi from erfc (gelu_by_erfc below).
// CHECK-NOT: math.erf
// CHECK: math.exp2
// CHECK: math.exp2
// Dropout: the counter-based hash of (seed, stream, index); an element
// kept where the hash's top 24 bits, as a fraction of 2^24, are at least
// the rate in f32: where the hash is at least ceil(0.1f 2^24) 2^40 =
// 1677722 2^40, unsigned.
// CHECK: arith.muli %{{.*}}, %c-7046029254386353131_i64
// CHECK: arith.shrui
// CHECK-NOT: arith.uitofp
// CHECK: arith.cmpi uge, %{{.*}}, %c1844674847175606272_i64 : i64
// Mean pooling under lengths, then the loss.
// CHECK: arith.cmpi slt
// CHECK: math.log
func.func @encoder(%ids: tensor<2x8xi32>, %t: tensor<18x16xf32>, %g: tensor<16xf32>,
                   %w: tensor<16x10xf32>, %b: tensor<10xf32>, %len: tensor<2xi32>,
                   %labels: tensor<2xi32>, %seed: i64) -> tensor<f32> {
  %e = attn.embedding %ids, %t : tensor<2x8xi32>, tensor<18x16xf32> -> tensor<2x8x16xf32>
  %n = attn.layer_norm %e, %g, %g : tensor<2x8x16xf32>, tensor<16xf32>
  %p = attn.project %n, %w, %b : tensor<2x8x16xf32>, tensor<16x10xf32>, tensor<10xf32> -> tensor<2x8x10xf32>
  %a = attn.gelu %p : tensor<2x8x10xf32>
  %d = attn.dropout %a, %seed rate 0.1 : tensor<2x8x10xf32>
  %m = attn.pool mean %d lengths %len : tensor<2x8x10xf32>, tensor<2xi32> -> tensor<2x10xf32>
  %l = attn.cross_entropy %m, %labels : tensor<2x10xf32>, tensor<2xi32> -> tensor<f32>
  return %l : tensor<f32>
}

// The gradient ops: the embedding's is the ids' one-hot [V, B S] (from
// the clamped ids) times the gradient as [B S, D], a product; the layer norm's recomputes the row statistics, then the row sums
// of g and g xhat, the input gradient, and gamma's and beta's sums over the
// leading dimensions; GELU's slope Phi(x) + x phi(x); pooling's spreads
// over the positions below each length; the loss's softmax minus one-hot
// over the rows that count.
// CHECK-LABEL: func.func @gradients
// CHECK-NOT: attn.
// CHECK: %[[IDS:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0, 1]] : tensor<2x8xi32> into tensor<16xi32>
// CHECK: %[[DY:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0, 1], [2]] : tensor<2x8x16xf32> into tensor<16x16xf32>
// CHECK: %[[HOT:.*]] = linalg.generic {{.*}} ins(%[[IDS]] : tensor<16xi32>) outs(%{{.*}} : tensor<18x16xf32>)
// CHECK: arith.minsi
// CHECK: arith.cmpi eq
// CHECK: linalg.matmul ins(%[[HOT]], %[[DY]] : tensor<18x16xf32>, tensor<16x16xf32>) outs(%{{.*}} : tensor<18x16xf32>)
// CHECK: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: iterator_types = ["parallel", "parallel", "parallel"]
// CHECK: iterator_types = ["reduction", "reduction", "parallel"]
// CHECK: math.exp2
// CHECK: math.exp2
// CHECK: arith.cmpi slt
// CHECK: arith.divf
// CHECK: arith.cmpi eq
// CHECK: arith.subf
func.func @gradients(%ids: tensor<2x8xi32>, %dy: tensor<2x8x16xf32>, %x: tensor<2x8x16xf32>,
                     %g: tensor<16xf32>, %dp: tensor<2x16xf32>, %len: tensor<2xi32>,
                     %logits: tensor<2x10xf32>, %labels: tensor<2xi32>, %dl: tensor<f32>)
    -> (tensor<18x16xf32>, tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<2x8x16xf32>,
        tensor<2x8x16xf32>, tensor<2x10xf32>) {
  %e = attn.embedding_grad %ids, %dy : tensor<2x8xi32>, tensor<2x8x16xf32> -> tensor<18x16xf32>
  %n:3 = attn.layer_norm_grad %x, %g, %dy epsilon 1.0e-5 : tensor<2x8x16xf32>, tensor<16xf32>
  %ge = attn.gelu_grad %x, %dy : tensor<2x8x16xf32>
  %pm = attn.pool_grad mean %dp lengths %len : tensor<2x16xf32>, tensor<2xi32> -> tensor<2x8x16xf32>
  %c = attn.cross_entropy_grad %logits, %labels, %dl : tensor<2x10xf32>, tensor<2xi32>, tensor<f32>
  return %e, %n#0, %n#1, %n#2, %ge, %pm, %c : tensor<18x16xf32>, tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x10xf32>
}

// A layer norm and its gradient on the same input: the gradient's row
// statistics are the forward's (computed once: one sum of x, one of
// (x - mean)^2, both read by all three); on another input they are its own.
// CHECK-LABEL: func.func @statistics_reused
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} ins(%arg0 : tensor<2x8x16xf32>)
// CHECK: %[[SQ:.*]] = linalg.generic {{.*}} ins(%arg0, %[[SUM]] :
// CHECK: linalg.generic {{.*}} ins(%arg0, %[[SUM]], %[[SQ]], %arg2, %arg2 :
// CHECK-NOT: ins(%arg0 : tensor<2x8x16xf32>)
// CHECK: linalg.generic {{.*}} ins(%arg0, %[[SUM]], %[[SQ]], %arg2, %arg3 :
// CHECK: %[[OTHER:.*]] = linalg.generic {{.*}} ins(%arg1 : tensor<2x8x16xf32>)
// CHECK: linalg.generic {{.*}} ins(%arg1, %[[OTHER]] :
// CHECK: return
func.func @statistics_reused(%x: tensor<2x8x16xf32>, %x2: tensor<2x8x16xf32>, %g: tensor<16xf32>, %dy: tensor<2x8x16xf32>)
    -> (tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>) {
  %y = attn.layer_norm %x, %g, %g : tensor<2x8x16xf32>, tensor<16xf32>
  %n:3 = attn.layer_norm_grad %x, %g, %dy epsilon 1.0e-5 : tensor<2x8x16xf32>, tensor<16xf32>
  %m:3 = attn.layer_norm_grad %x2, %g, %dy epsilon 1.0e-5 : tensor<2x8x16xf32>, tensor<16xf32>
  return %y, %n#0, %m#0 : tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>
}

// The optimizer ops: the step's rate (warmup against decay, selected),
// the global norm (a sum of squares per tensor, then the root), and AdamW
// elementwise on (param, grad, m, v) with 0-d rate, step and norm.
// CHECK-LABEL: func.func @optimizer
// CHECK-NOT: attn.
// CHECK: arith.sitofp
// CHECK: math.cos
// CHECK: arith.select
// CHECK: iterator_types = ["reduction", "reduction"]
// CHECK: iterator_types = ["reduction", "reduction"]
// CHECK: math.sqrt
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}, #{{.*}}, #[[S:.*]], #[[S]], #[[S]], #{{.*}}, #{{.*}}, #{{.*}}]
// CHECK: math.exp
// CHECK: math.sqrt
func.func @optimizer(%step: tensor<i64>, %p: tensor<4x8xf32>, %g: tensor<4x8xf32>,
                     %m: tensor<4x8xf32>, %v: tensor<4x8xf32>)
    -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) {
  %lr = attn.lr_schedule %step peak 1.0e-3 warmup 10 total 100 decay cosine
  %n = attn.global_norm %g, %m : tensor<4x8xf32>, tensor<4x8xf32>
  %r:3 = attn.adamw %p, %g, %m, %v lr %lr step %step norm %n {max_norm = 1.0 : f64} : tensor<4x8xf32>
  return %r#0, %r#1, %r#2 : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>
}

// attn.cast: an elementwise generic, truncf narrowing, extf widening;
// bf16 and f16 convert through f32.
// CHECK-LABEL: func.func @casts
// CHECK: linalg.generic {{.*}} ins(%arg0 : tensor<4x8xf32>) outs(%{{.*}} : tensor<4x8xbf16>)
// CHECK:   arith.truncf %{{.*}} : f32 to bf16
// CHECK: linalg.generic {{.*}} ins(%arg1 : tensor<4x8xbf16>) outs(%{{.*}} : tensor<4x8xf32>)
// CHECK:   arith.extf %{{.*}} : bf16 to f32
// CHECK: linalg.generic {{.*}} ins(%arg1 : tensor<4x8xbf16>) outs(%{{.*}} : tensor<4x8xf16>)
// CHECK:   arith.extf %{{.*}} : bf16 to f32
// CHECK:   arith.truncf %{{.*}} : f32 to f16
func.func @casts(%x: tensor<4x8xf32>, %h: tensor<4x8xbf16>) -> (tensor<4x8xbf16>, tensor<4x8xf32>, tensor<4x8xf16>) {
  %n = attn.cast %x : tensor<4x8xf32> to tensor<4x8xbf16>
  %w = attn.cast %h : tensor<4x8xbf16> to tensor<4x8xf32>
  %f = attn.cast %h : tensor<4x8xbf16> to tensor<4x8xf16>
  return %n, %w, %f : tensor<4x8xbf16>, tensor<4x8xf32>, tensor<4x8xf16>
}

// A mask as a dense tensor: the predicate (here BigBird's window and a
// global token) at every (q, k), widened to i8.
// CHECK-LABEL: func.func @materialize_mask
// CHECK: linalg.generic {indexing_maps = [#{{.*}}], iterator_types = ["parallel", "parallel"]} outs(%{{.*}} : tensor<100x100xi8>)
// CHECK: linalg.index 0
// CHECK: linalg.index 1
// CHECK: arith.ori
// CHECK: arith.extui %{{.*}} : i1 to i8
func.func @materialize_mask() -> tensor<100x100xi8> {
  %w = attn.mask.window radius 3
  %g = attn.mask.global first 1
  %m = attn.mask.union %w, %g : !attn.mask, !attn.mask
  %d = attn.materialize_mask %m : !attn.mask -> tensor<100x100xi8>
  return %d : tensor<100x100xi8>
}

// Batch norm under lengths: the real tokens as a mask [B, N] (1 below each
// length), then per channel the sums of x and of the mask over (batch,
// sequence), the squared deviations, each a running sum plus a term that is
// zero at padding -- without linalg.index, so that the GPU mapping may split
// them along the sequence -- then the map, which writes zeros at padding;
// the statistics as [D].
// CHECK-LABEL: func.func @batch_norm
// CHECK-NOT: attn.
// CHECK: %[[MASK:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins(%{{.*}} : tensor<2xi32>) outs(%{{.*}} : tensor<2x8xf32>)
// CHECK: linalg.index 1
// CHECK: arith.cmpi slt
// CHECK: iterator_types = ["reduction", "reduction", "parallel"]} ins(%{{.*}}, %[[MASK]] :
// CHECK-NOT: linalg.index
// CHECK: %[[REAL:.*]] = arith.cmpf ogt
// CHECK: %[[TERM:.*]] = arith.select %[[REAL]]
// CHECK: arith.addf %{{.*}}, %[[TERM]]
// CHECK: arith.maximumf
// CHECK: iterator_types = ["reduction", "reduction", "parallel"]} ins({{.*}}, %[[MASK]] :
// CHECK-NOT: linalg.index
// CHECK: math.rsqrt
// CHECK: arith.select
// CHECK: linalg.generic {{.*}} outs(%{{.*}}, %{{.*}} : tensor<16xf32>, tensor<16xf32>)
func.func @batch_norm(%x: tensor<2x8x16xf32>, %g: tensor<16xf32>, %len: tensor<2xi32>) -> (tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>) {
  %y, %m, %v = attn.batch_norm %x, %g, %g lengths %len : tensor<2xi32> : tensor<2x8x16xf32>, tensor<16xf32> -> tensor<16xf32>
  return %y, %m, %v : tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>
}

// `unbiased`: the variance it returns divides the squared deviations by
// the count less one (at least 1); the mean by the count.
// CHECK-LABEL: func.func @batch_norm_unbiased
// CHECK: linalg.generic {{.*}} : tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) outs(%{{.*}}, %{{.*}} : tensor<16xf32>, tensor<16xf32>)
// CHECK-NEXT: ^bb0(%[[SUM:[^:]*]]: f32, %[[COUNT:[^:]*]]: f32, %[[SQ:[^:]*]]: f32,
// CHECK: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK: %[[LESS:.*]] = arith.subf %[[COUNT]], %[[ONE]] : f32
// CHECK: %[[DIVISOR:.*]] = arith.maximumf %[[LESS]], %[[ONE]] : f32
// CHECK: arith.divf %[[SUM]], %[[COUNT]] : f32
// CHECK: arith.divf %[[SQ]], %[[DIVISOR]] : f32
func.func @batch_norm_unbiased(%x: tensor<2x8x16xf32>, %g: tensor<16xf32>, %len: tensor<2xi32>) -> (tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>) {
  %y, %m, %v = attn.batch_norm %x, %g, %g lengths %len : tensor<2xi32> {unbiased} : tensor<2x8x16xf32>, tensor<16xf32> -> tensor<16xf32>
  return %y, %m, %v : tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>
}

// On running statistics, in training: the batch's statistics normalise,
// and the running ones move towards them, (1 - momentum) old + momentum
// batch's, in the generic that finishes the statistics.
// CHECK-LABEL: func.func @batch_norm_running
// CHECK-NOT: attn.
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %{{.*}}, %[[RM:[^,]*]], %[[RV:[^ ]*]] : tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) outs(
// CHECK-NEXT: ^bb0(%[[SUM:[^:]*]]: f32, %[[COUNT:[^:]*]]: f32, %[[SQ:[^:]*]]: f32, %[[OLDM:[^:]*]]: f32, %[[OLDV:[^:]*]]: f32,
// CHECK: %[[MEAN:.*]] = arith.divf %[[SUM]], %[[COUNT]] : f32
// CHECK: %[[VAR:.*]] = arith.divf %[[SQ]], %{{.*}} : f32
// CHECK: %[[KEEP:.*]] = arith.constant 7.500000e-01 : f32
// CHECK: %[[KEPT:.*]] = arith.mulf %[[KEEP]], %[[OLDM]] : f32
// CHECK: %[[MOM:.*]] = arith.constant 2.500000e-01 : f32
// CHECK: %[[ADDED:.*]] = arith.mulf %[[MOM]], %[[MEAN]] : f32
// CHECK: arith.addf %[[KEPT]], %[[ADDED]] : f32
// CHECK: arith.mulf %{{.*}}, %[[OLDV]] : f32
// CHECK: arith.mulf %{{.*}}, %[[VAR]] : f32
func.func @batch_norm_running(%x: tensor<2x8x16xf32>, %g: tensor<16xf32>, %len: tensor<2xi32>, %rm: tensor<16xf32>, %rv: tensor<16xf32>) -> (tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>) {
  %y, %m, %v = attn.batch_norm %x, %g, %g lengths %len : tensor<2xi32> running %rm, %rv : tensor<16xf32>, tensor<16xf32> {momentum = 2.5e-1 : f64, unbiased} : tensor<2x8x16xf32>, tensor<16xf32> -> tensor<16xf32>
  return %y, %m, %v : tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>
}

// In evaluation: no sums over tokens; one map normalises x with the running
// statistics (rsqrt(var + epsilon)), in f32 for a bf16 x, zero at padding;
// the statistics come back as they were.
// CHECK-LABEL: func.func @batch_norm_evaluation(
// CHECK-SAME: %[[X:[^:]*]]: tensor<2x8x16xbf16>, %[[G:[^:]*]]: tensor<16xbf16>, %[[LEN:[^:]*]]: tensor<2xi32>, %[[RM:[^:]*]]: tensor<16xf32>, %[[RV:[^:]*]]: tensor<16xf32>)
// CHECK-NOT: "reduction"
// CHECK: %[[MASK:.*]] = linalg.generic {{.*}} ins(%[[LEN]] : tensor<2xi32>)
// CHECK: %[[Y:.*]] = linalg.generic {{.*}} ins(%[[X]], %[[RM]], %[[RV]], %[[G]], %[[G]], %[[MASK]] :
// CHECK: arith.constant 9.99999974E-6 : f32
// CHECK: math.rsqrt
// CHECK: arith.extf
// CHECK: arith.select
// CHECK: arith.truncf
// CHECK-NOT: "reduction"
// CHECK: return %[[Y]], %[[RM]], %[[RV]]
func.func @batch_norm_evaluation(%x: tensor<2x8x16xbf16>, %g: tensor<16xbf16>, %len: tensor<2xi32>, %rm: tensor<16xf32>, %rv: tensor<16xf32>) -> (tensor<2x8x16xbf16>, tensor<16xf32>, tensor<16xf32>) {
  %y, %m, %v = attn.batch_norm %x, %g, %g lengths %len : tensor<2xi32> running %rm, %rv : tensor<16xf32>, tensor<16xf32> {evaluation} : tensor<2x8x16xbf16>, tensor<16xbf16> -> tensor<16xf32>
  return %y, %m, %v : tensor<2x8x16xbf16>, tensor<16xf32>, tensor<16xf32>
}

// Its gradient: the statistics again, the sums of dy and dy xhat over the
// real tokens, then dx (zero at padding); gamma's and beta's gradients are
// those sums.
// CHECK-LABEL: func.func @batch_norm_grad
// CHECK-NOT: attn.
// CHECK: iterator_types = ["reduction", "reduction", "parallel"]
// CHECK: iterator_types = ["reduction", "reduction", "parallel"]
// CHECK: iterator_types = ["reduction", "reduction", "parallel"]
// CHECK: math.rsqrt
// CHECK: iterator_types = ["parallel", "parallel", "parallel"]
// CHECK: arith.select
func.func @batch_norm_grad(%x: tensor<2x8x16xf32>, %g: tensor<16xf32>, %dy: tensor<2x8x16xf32>, %len: tensor<2xi32>) -> (tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>) {
  %dx, %dg, %db = attn.batch_norm_grad %x, %g, %dy lengths %len : tensor<2xi32> : tensor<2x8x16xf32>, tensor<16xf32>
  return %dx, %dg, %db : tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>
}

// A rate below 1 that rounds to 1 in f32 keeps nothing, as the float
// comparison did: zeros, no hash computed.
// CHECK-LABEL: func.func @dropout_all
// CHECK-NOT: arith.muli
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT: linalg.yield %[[ZERO]] : f32
func.func @dropout_all(%x: tensor<4xf32>, %seed: i64) -> tensor<4xf32> {
  %d = attn.dropout %x, %seed rate 0.99999999 : tensor<4xf32>
  return %d : tensor<4xf32>
}

// An exact GELU takes Phi from erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 +
// z / 2), z = |x| / sqrt(2): an approximate reciprocal, two exp2 (exp(-x^2
// / 2) and exp(P(t) - ln 2)), products and sums that may fuse; x Phi(x)
// with Phi = 1 - erfc(z) / 2 where x >= 0. In bf16, on f32 values.
// CHECK-LABEL: func.func @gelu_by_erfc
// CHECK-NOT: math.erf
// CHECK: %[[X:.*]] = arith.extf %{{.*}} : bf16 to f32
// CHECK: math.absf %[[X]]
// CHECK: %[[T:.*]] = arith.divf %{{.*}}, %{{.*}} fastmath<contract,afn> : f32
// CHECK: %[[GAUSS:.*]] = math.exp2
// CHECK: %[[HALFEXPP:.*]] = math.exp2
// CHECK: %[[TG:.*]] = arith.mulf %[[T]], %[[GAUSS]] fastmath<contract>
// CHECK: %[[TAIL:.*]] = arith.mulf %[[TG]], %[[HALFEXPP]] fastmath<contract>
// CHECK: %[[POS:.*]] = arith.cmpf oge, %[[X]]
// CHECK: %[[UPPER:.*]] = arith.subf %{{.*}}, %[[TAIL]] fastmath<contract>
// CHECK: %[[CDF:.*]] = arith.select %[[POS]], %[[UPPER]], %[[TAIL]]
// CHECK: %[[Y:.*]] = arith.mulf %[[X]], %[[CDF]] : f32
// CHECK: arith.truncf %[[Y]] : f32 to bf16
func.func @gelu_by_erfc(%x: tensor<2x8xbf16>) -> tensor<2x8xbf16> {
  %a = attn.gelu %x : tensor<2x8xbf16>
  return %a : tensor<2x8xbf16>
}

// Its slope Phi(x) + x phi(x) shares exp(-x^2 / 2) between Phi and phi.
// CHECK-LABEL: func.func @gelu_grad_shares_the_exponential
// CHECK-NOT: math.erf
// CHECK: %[[X:.*]] = arith.extf %{{.*}} : bf16 to f32
// CHECK: %[[GAUSS:.*]] = math.exp2
// CHECK: math.exp2
// CHECK: %[[CDF:.*]] = arith.select
// CHECK: %[[PDF:.*]] = arith.mulf %[[GAUSS]], %{{.*}} fastmath<contract>
// CHECK: %[[XPDF:.*]] = arith.mulf %[[X]], %[[PDF]] fastmath<contract>
// CHECK: %[[SLOPE:.*]] = arith.addf %[[CDF]], %[[XPDF]] fastmath<contract>
// CHECK: %[[DY:.*]] = arith.extf %{{.*}} : bf16 to f32
// CHECK: arith.mulf %[[DY]], %[[SLOPE]] : f32
func.func @gelu_grad_shares_the_exponential(%x: tensor<2x8xbf16>, %dy: tensor<2x8xbf16>) -> tensor<2x8xbf16> {
  %g = attn.gelu_grad %x, %dy : tensor<2x8xbf16>
  return %g : tensor<2x8xbf16>
}
