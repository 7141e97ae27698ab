// RUN: attn-opt %s --attn-tile --split-input-file -verify-diagnostics | FileCheck %s

// Masked attention: a parallel loop over (batch, head, query tile); per
// query tile f32 running max, sum and accumulator; a loop over the tile's
// full key tiles (no predicate) and one over its partial tiles (with the
// mask's predicate); each key tile clipped to the key limit (here the
// padding length); one finalisation writing the rows once.
// CHECK-DAG: memref.global "private" constant @__attn_full_offsets : memref<4xi32> = dense<[0, 0, 1, 3]>
// CHECK-DAG: memref.global "private" constant @__attn_partial_blocks : memref<3xi32> = dense<[0, 1, 2]>
// CHECK-LABEL: func.func @causal_padded
// CHECK: %[[Q:.*]] = bufferization.to_buffer %{{.*}} read_only
// CHECK: %[[OUT:.*]] = memref.alloc() {alignment = 64 : i64} : memref<2x1x150x32xf32>
// CHECK: scf.forall (%[[B:.*]], %[[H:.*]], %[[T:.*]]) in (2, 1, 3) {
// CHECK:   %[[MAX:.*]] = memref.alloca() : memref<64xf32>
// CHECK:   %[[SUM:.*]] = memref.alloca() : memref<64xf32>
// CHECK:   %[[ACC:.*]] = memref.alloca() : memref<64x32xf32>
// CHECK:   linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : memref<?xf32, strided<[1]>>)
// CHECK:   tensor.extract %{{.*}}[%[[B]]] : tensor<2xi32>
// CHECK:   scf.for
// CHECK:     scf.if
// CHECK:       attn.tile.softmax_step {{.*}} scale 0.17677669529663687 :
// CHECK-NOT:   where
// CHECK:   scf.for
// CHECK:     scf.if
// CHECK:       attn.tile.softmax_step {{.*}} scale 0.17677669529663687 where {
// CHECK-NEXT:  ^bb0(%[[QI:.*]]: index, %[[KI:.*]]: index):
// CHECK:         arith.cmpi sle, %[[KI]], %[[QI]] : index
// CHECK:         attn.yield
// CHECK:   attn.tile.softmax_finalize
// CHECK: bufferization.to_tensor %[[OUT]] restrict writable
func.func @causal_padded(%q: tensor<2x1x150x32xf32>, %len: tensor<2xi32>) -> tensor<2x1x150x32xf32> {
  %c = attn.mask.causal
  %p = attn.mask.key_padding %len : tensor<2xi32>
  %m = attn.mask.intersect %c, %p : !attn.mask, !attn.mask
  %o = attn.sdpa %q, %q, %q mask %m {schedule = #attn.schedule<block_q = 64, block_k = 64, seq_len = 150, full_offsets = [0, 0, 1, 3], full_blocks = [0, 0, 1], partial_offsets = [0, 1, 2, 3], partial_blocks = [0, 1, 2]>} : tensor<2x1x150x32xf32>, tensor<2x1x150x32xf32>, tensor<2x1x150x32xf32>, !attn.mask -> tensor<2x1x150x32xf32>
  return %o : tensor<2x1x150x32xf32>
}

// -----

// Unmasked attention visits every key tile as full.
// CHECK-LABEL: func.func @dense
// CHECK-NOT: memref.global
// CHECK: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (1, 2, 2)
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %{{.*}} step %c1
// CHECK: attn.tile.softmax_step
// CHECK-NOT: where
// CHECK: attn.tile.softmax_finalize
func.func @dense(%q: tensor<1x2x100x64xf32>) -> tensor<1x2x100x64xf32> {
  %o = attn.sdpa %q, %q, %q : tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32> -> tensor<1x2x100x64xf32>
  return %o : tensor<1x2x100x64xf32>
}

// -----

// Non-causal linear attention: per (batch, head) a state and a normaliser,
// one reduction over key tiles clipped to the key lengths, then the output
// tile by tile. FAVOR+'s projection becomes a constant.
// CHECK: memref.global "private" constant @__attn_projection : memref<16x32xf32>
// CHECK-LABEL: func.func @linear
// CHECK: scf.forall (%[[B:.*]], %{{.*}}) in (2, 2) {
// CHECK:   memref.alloca() : memref<16x32xf32>
// CHECK:   memref.alloca() : memref<16xf32>
// CHECK:   tensor.extract %{{.*}}[%[[B]]]
// CHECK:   scf.for
// CHECK:     attn.tile.linear_state {{.*}} feature_map %{{.*}} projection %{{.*}} : memref<16x32xf32> into
// CHECK:   scf.for
// CHECK:     attn.tile.linear_output %{{.*}} feature_map
func.func @linear(%q: tensor<2x2x100x32xf32>, %len: tensor<2xi32>) -> tensor<2x2x100x32xf32> {
  %f = attn.feature_map.favor features 16 seed 1
  %o = attn.linear %q, %q, %q feature_map %f key_lengths %len : tensor<2xi32> : tensor<2x2x100x32xf32>, tensor<2x2x100x32xf32>, tensor<2x2x100x32xf32> -> tensor<2x2x100x32xf32>
  return %o : tensor<2x2x100x32xf32>
}

// -----

// Causal linear attention, chunkwise: each chunk's output sees the state of
// the chunks before it and its own keys causally; then its keys join the
// state.
// CHECK-LABEL: func.func @linear_causal
// CHECK: scf.forall
// CHECK:   scf.for
// CHECK:     attn.tile.linear_output %{{.*}} causal(%{{.*}}, %{{.*}} :
// CHECK:     attn.tile.linear_state
// CHECK-NOT: scf.for
func.func @linear_causal(%q: tensor<1x1x100x32xf32>) -> tensor<1x1x100x32xf32> {
  %f = attn.feature_map.elu_plus_one
  %o = attn.linear %q, %q, %q feature_map %f causal : tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32> -> tensor<1x1x100x32xf32>
  return %o : tensor<1x1x100x32xf32>
}

// -----

// Linear attention's gradient, non-causal with an elementwise map, on the
// CPU: per (batch, head) the forward's state, then per query chunk the
// query side and the state's and norm's cotangents summed from its scaled
// cotangents and norm weights, then per key chunk (below the key limit) the key side. Keys past the
// limit get zeros first.
// CHECK-LABEL: func.func @linear_grad
// CHECK: linalg.fill {{.*}} outs(%{{.*}} : memref<2x2x100x32xf32>)
// CHECK: linalg.fill {{.*}} outs(%{{.*}} : memref<2x2x100x32xf32>)
// CHECK: scf.forall (%[[B:.*]], %{{.*}}) in (2, 2) {
// CHECK:   tensor.extract %{{.*}}[%[[B]]]
// CHECK:   scf.for
// CHECK:     attn.tile.linear_state
// CHECK:   scf.for
// CHECK:     %[[C:.*]] = memref.subview {{.*}} to memref<?xf32
// CHECK:     attn.tile.linear_query_grad {{.*}} into %{{.*}}, %[[G:.*]], %[[C]] :
// CHECK:     attn.tile.linear_state %{{.*}}, %[[G]] weights %[[C]]
// CHECK:   scf.for
// CHECK:     attn.tile.linear_key_grad
// CHECK-NOT: linalg.generic
func.func @linear_grad(%q: tensor<2x2x100x32xf32>, %len: tensor<2xi32>, %o: tensor<2x2x100x32xf32>, %do: tensor<2x2x100x32xf32>) -> (tensor<2x2x100x32xf32>, tensor<2x2x100x32xf32>, tensor<2x2x100x32xf32>) {
  %f = attn.feature_map.elu_plus_one
  %dq, %dk, %dv = attn.linear_grad %q, %q, %q feature_map %f key_lengths %len : tensor<2xi32> output %o, %do : tensor<2x2x100x32xf32>, tensor<2x2x100x32xf32>, tensor<2x2x100x32xf32>, tensor<2x2x100x32xf32>
  return %dq, %dk, %dv : tensor<2x2x100x32xf32>, tensor<2x2x100x32xf32>, tensor<2x2x100x32xf32>
}

// -----

// Forms without tiles (causal here; projections too) are linalg.generics
// in f32.
// CHECK-LABEL: func.func @linear_grad_causal
// CHECK-NOT: attn.tile
// CHECK: linalg.generic
// CHECK-NOT: attn.linear_grad
func.func @linear_grad_causal(%q: tensor<1x1x100x32xf32>, %o: tensor<1x1x100x32xf32>, %do: tensor<1x1x100x32xf32>) -> (tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32>) {
  %f = attn.feature_map.elu_plus_one
  %dq, %dk, %dv = attn.linear_grad %q, %q, %q feature_map %f causal output %o, %do : tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32>
  return %dq, %dk, %dv : tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32>
}

// -----

// S4D: the coefficients are computed once on [H, S] (linalg), then one scan
// per (batch, channel group), the reverse scan accumulating onto it.
// CHECK-LABEL: func.func @ssm
// CHECK: linalg.generic
// CHECK: math.exp
// CHECK: math.cos
// CHECK: math.sin
// CHECK: scf.forall (%{{.*}}, %{{.*}}) in (2, 2) {
// CHECK:   attn.tile.ssm_scan {{.*}} : memref<64x?xf32, strided<[24, 1], offset: ?>>, memref<?x8xf32, strided<[8, 1], offset: ?>>
// CHECK:   attn.tile.ssm_scan {{.*}} reverse accumulate
func.func @ssm(%x: tensor<2x64x24xf32>, %a: tensor<24x8xf32>, %c: tensor<2x24x8xf32>, %dt: tensor<24xf32>) -> tensor<2x64x24xf32> {
  %y = attn.ssm %x A(%a, %a) B(%a, %a) C(%c, %c) log_dt(%dt) bidirectional : tensor<2x64x24xf32>, tensor<24x8xf32>, tensor<2x24x8xf32>, tensor<24xf32>
  return %y : tensor<2x64x24xf32>
}

// -----

// S4D's gradient (bidirectional): the coefficients, a G for the causal
// kernel's reverse scan and K[0] per channel; the input's gradient zeroed,
// then the anti-causal kernel's forward scan one row down and the causal
// one's reverse scan added; the coefficient sums per (batch, group), both
// directions; K[0] dy; the sums over the batch; the chain rule; C's
// gradient stacked by direction.
// CHECK-LABEL: func.func @ssm_grad
// CHECK: linalg.fill {{.*}} outs(%{{.*}} : memref<2x64x24xf32>)
// CHECK: scf.forall (%{{.*}}, %{{.*}}) in (2, 2) {
// CHECK:   %[[ROWS:.*]] = arith.maxsi
// CHECK:   %[[DOWN:.*]] = arith.addi %{{.*}}, %c1
// CHECK:   memref.subview %{{.*}}[%{{.*}}, %[[DOWN]], %{{.*}}] [1, %[[ROWS]], %{{.*}}]
// CHECK:   attn.tile.ssm_scan {{.*}} accumulate :
// CHECK:   attn.tile.ssm_scan {{.*}} reverse accumulate
// CHECK: scf.forall (%{{.*}}, %{{.*}}) in (2, 2) {
// CHECK:   attn.tile.ssm_adjoint {{.*}} :
// CHECK:   attn.tile.ssm_adjoint {{.*}} reverse :
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction", "parallel", "parallel"]
// CHECK: linalg.generic
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<24x8xf32>, tensor<24x8xf32>) outs(%{{.*}} : tensor<2x24x8xf32>)
// CHECK:   linalg.index 0
func.func @ssm_grad(%x: tensor<2x64x24xf32>, %a: tensor<24x8xf32>, %c: tensor<2x24x8xf32>, %dt: tensor<24xf32>) -> (tensor<2x64x24xf32>, tensor<24x8xf32>, tensor<2x24x8xf32>, tensor<24xf32>) {
  %g:8 = attn.ssm_grad %x, %x A(%a, %a) B(%a, %a) C(%c, %c) log_dt(%dt) bidirectional : tensor<2x64x24xf32>, tensor<24x8xf32>, tensor<2x24x8xf32>, tensor<24xf32>
  return %g#0, %g#1, %g#5, %g#7 : tensor<2x64x24xf32>, tensor<24x8xf32>, tensor<2x24x8xf32>, tensor<24xf32>
}

// -----

// f64 attention has no lowering: an error naming the element type, not an
// internal arith.extf verifier error later (#23).
func.func @attention_in_f64(%q: tensor<1x1x64x32xf64>) -> tensor<1x1x64x32xf64> {
  // expected-error @below {{attn-tile lowers attention in f32, bf16 and f16, got 'f64'}}
  %o = attn.sdpa %q, %q, %q : tensor<1x1x64x32xf64>, tensor<1x1x64x32xf64>, tensor<1x1x64x32xf64> -> tensor<1x1x64x32xf64>
  return %o : tensor<1x1x64x32xf64>
}

// -----

func.func @unscheduled(%q: tensor<1x1x64x32xf32>) -> tensor<1x1x64x32xf32> {
  %m = attn.mask.causal
  // expected-error @below {{has a mask but no schedule; run attn-schedule-blocks first}}
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x1x64x32xf32>, tensor<1x1x64x32xf32>, tensor<1x1x64x32xf32>, !attn.mask -> tensor<1x1x64x32xf32>
  return %o : tensor<1x1x64x32xf32>
}

// -----

// The gradient of masked attention (the CPU form): a nest over (batch,
// head, query tile) for each row's statistics and D; one for dQ, the query
// tile's accumulator over its scheduled key tiles (softmax_grad_step's
// query form); then one over (batch, head, key tile) for dK and dV over the
// query tiles whose schedule holds the key tile (the schedule transposed
// into tables; the key form). Partial tiles carry the predicate; the f32
// accumulators are copied out at the end.
// CHECK-LABEL: func.func @sdpa_grad
// CHECK-DAG: memref.get_global @__attn_grad_partial_offsets
// CHECK-DAG: memref.get_global @__attn_grad_partial_t_tiles
// CHECK: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (1, 2, 2)
// CHECK:   arith.cmpi sle
// CHECK:   scf.if
// CHECK:   math.log
// CHECK: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (1, 2, 2)
// CHECK:   %[[DQ:.*]] = memref.alloca() : memref<16x16xf32>
// CHECK:   attn.tile.softmax_grad_step {{.*}} query_grad %{{.*}} : memref<?x16xf32, strided<[16, 1], offset: ?>> offsets
// CHECK-NOT: where
// CHECK:   attn.tile.softmax_grad_step {{.*}} query_grad {{.*}} where {
// CHECK:     arith.cmpi sle
// CHECK:   linalg.copy
// CHECK: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (1, 2, 2)
// CHECK:   memref.alloca() : memref<16x16xf32>
// CHECK:   memref.alloca() : memref<16x16xf32>
// CHECK:   attn.tile.softmax_grad_step {{.*}} key_grad
// CHECK:   attn.tile.softmax_grad_step {{.*}} key_grad {{.*}} where {
// CHECK:   linalg.copy
// CHECK:   linalg.copy
#causal = #attn.schedule<block_q = 16, block_k = 16, seq_len = 32,
    full_offsets = [0, 0, 1], full_blocks = [0],
    partial_offsets = [0, 1, 2], partial_blocks = [0, 1]>
func.func @sdpa_grad(%q: tensor<1x2x32x16xf32>) -> (tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>) {
  %m = attn.mask.causal
  %g:3 = attn.sdpa_grad %q, %q, %q, %q, %q mask %m {schedule = #causal} : tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>, !attn.mask
  return %g#0, %g#1, %g#2 : tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>
}

// -----

// The forward beside its gradient saves each row's log-sum-exp (the
// finalize takes the running maximum and writes it), and the gradient
// reads it: no statistics recomputed, no log in the gradient's nests.
// CHECK-LABEL: func.func @sdpa_with_grad
// CHECK: %[[LSE:.*]] = memref.alloc() {alignment = 64 : i64} : memref<1x2x32xf32>
// CHECK: scf.forall (%[[B:.*]], %[[H:.*]], %[[T:.*]]) in (1, 2, 2)
// CHECK:   %[[ROWS:.*]] = memref.subview %[[LSE]][%[[B]], %[[H]], %{{.*}}] [1, 1, %{{.*}}]
// CHECK:   attn.tile.softmax_finalize %{{.*}}, %{{.*}} into %{{.*}} log_sum_exp(%{{.*}}) into %[[ROWS]]
// CHECK-NOT: math.log
// CHECK: scf.forall
// CHECK:   memref.subview %[[LSE]]
// CHECK:   attn.tile.softmax_grad_step
// CHECK-NOT: math.log
// CHECK: return
#causal = #attn.schedule<block_q = 16, block_k = 16, seq_len = 32,
    full_offsets = [0, 0, 1], full_blocks = [0],
    partial_offsets = [0, 1, 2], partial_blocks = [0, 1]>
func.func @sdpa_with_grad(%q: tensor<1x2x32x16xf32>, %dy: tensor<1x2x32x16xf32>) -> (tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>) {
  %m = attn.mask.causal
  %o = attn.sdpa %q, %q, %q mask %m {schedule = #causal} : tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>, !attn.mask -> tensor<1x2x32x16xf32>
  %g:3 = attn.sdpa_grad %q, %q, %q, %o, %dy mask %m {schedule = #causal} : tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>, !attn.mask
  return %g#0, %g#1, %g#2 : tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>
}

// -----

// A score region reaches each step as the tile op's (s, q, k), its batch
// and head arguments bound to the loop's.
// CHECK-LABEL: func.func @dense_score
// CHECK: scf.forall (%[[B:.*]], %[[H:.*]], %{{.*}}) in (1, 2, 2)
// CHECK: attn.tile.softmax_step {{.*}} score {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[QI:.*]]: index, %[[KI:.*]]: index):
// CHECK-NEXT:   arith.subi %[[QI]], %[[KI]] : index
// CHECK:        arith.addi %[[H]], %{{.*}} : index
// CHECK:        arith.index_cast %[[B]] : index to i64
// CHECK:        attn.yield %{{.*}} : f32
// CHECK: attn.tile.softmax_finalize
func.func @dense_score(%q: tensor<1x2x100x64xf32>) -> tensor<1x2x100x64xf32> {
  %o = attn.sdpa %q, %q, %q score {
  ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
    %d = arith.subi %i, %j : index
    %c1 = arith.constant 1 : index
    %h1 = arith.addi %h, %c1 : index
    %x = arith.muli %d, %h1 : index
    %xi = arith.index_cast %x : index to i64
    %bi = arith.index_cast %b : index to i64
    %y = arith.addi %xi, %bi : i64
    %yf = arith.sitofp %y : i64 to f32
    %r = arith.subf %s, %yf : f32
    attn.yield %r : f32
  } : tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32> -> tensor<1x2x100x64xf32>
  return %o : tensor<1x2x100x64xf32>
}

// -----

// The gradient with a score region and no saved log-sum-exp: the rows'
// statistics are recomputed through the region, and both nests' steps
// carry it.
// CHECK-LABEL: func.func @sdpa_grad_score
// CHECK: scf.forall
// CHECK:   math.tanh
// CHECK:   math.log
// CHECK: scf.forall
// CHECK:   attn.tile.softmax_grad_step {{.*}} query_grad {{.*}} score {
// CHECK:     math.tanh
// CHECK: scf.forall
// CHECK:   attn.tile.softmax_grad_step {{.*}} key_grad {{.*}} score {
// CHECK:     math.tanh
func.func @sdpa_grad_score(%q: tensor<1x2x32x16xf32>) -> (tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>) {
  %g:3 = attn.sdpa_grad %q, %q, %q, %q, %q score {
  ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
    %t = math.tanh %s : f32
    attn.yield %t : f32
  } : tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>
  return %g#0, %g#1, %g#2 : tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>
}
