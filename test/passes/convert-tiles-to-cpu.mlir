// RUN: attn-opt %s --attn-convert-tiles-to-cpu --split-input-file | FileCheck %s
// RUN: attn-opt %s --attn-convert-tiles-to-cpu=vector-width=8 --split-input-file | FileCheck %s --check-prefix=AVX2

// One online-softmax step: K is transposed into scratch with vector
// transposes, S is computed by FMAs on 16-lane vectors (8 with AVX2), keys
// past the tile's end are -inf, the predicate is evaluated per element,
// and P V accumulates in registers. Scratch lives in an alloca scope.
// CHECK-LABEL: func.func @step
// CHECK-NOT: attn.tile
// CHECK: memref.alloca_scope
// CHECK: vector.transpose %{{.*}}, [1, 0] : vector<16x16xf32> to vector<16x16xf32>
// CHECK: vector.fma %{{.*}} : vector<16xf32>
// CHECK: vector.create_mask %{{.*}} : vector<16xi1>
// CHECK: arith.cmpi sle
// CHECK: vector.reduction <maximumf>, %{{.*}} : vector<16xf32> into f32
// CHECK: math.exp %{{.*}} : vector<16xf32>
// CHECK: vector.reduction <add>
// AVX2-LABEL: func.func @step
// AVX2: vector.transpose %{{.*}}, [1, 0] : vector<8x8xf32> to vector<8x8xf32>
// AVX2: vector.fma %{{.*}} : vector<8xf32>
func.func @step(%q: memref<?x64xf32>, %k: memref<?x64xf32>, %v: memref<?x64xf32>,
                %m: memref<?xf32>, %l: memref<?xf32>, %acc: memref<?x64xf32>,
                %q0: index, %k0: index) {
  attn.tile.softmax_step %q, %k, %v into %m, %l, %acc offsets(%q0, %k0) scale 0.125 where {
  ^bb0(%i: index, %j: index):
    %t = arith.cmpi sle, %j, %i : index
    attn.yield %t : i1
  } : memref<?x64xf32>, memref<?x64xf32>, memref<?x64xf32>, memref<?xf32>, memref<?x64xf32>
  return
}

// -----

// Finalisation: acc / sum per row, zeros where the sum is zero.
// CHECK-LABEL: func.func @finalize
// CHECK: arith.cmpf ogt
// CHECK: arith.divf
// CHECK: arith.select
// CHECK: arith.mulf %{{.*}} : vector<16xf32>
// CHECK: vector.store
func.func @finalize(%l: memref<?xf32>, %acc: memref<?x32xf32>, %out: memref<?x32xf32>) {
  attn.tile.softmax_finalize %l, %acc into %out : memref<?xf32>, memref<?x32xf32>, memref<?x32xf32>
  return
}

// -----

// With the running maximum, also each row's log-sum-exp m + log l (+inf
// where l = 0) before the row is written.
// CHECK-LABEL: func.func @finalize_lse
// CHECK: math.log
// CHECK: arith.select
// CHECK: memref.store %{{.*}}, %{{.*}}[%{{.*}}] : memref<?xf32>
// CHECK: vector.store
func.func @finalize_lse(%m: memref<?xf32>, %l: memref<?xf32>, %acc: memref<?x32xf32>, %out: memref<?x32xf32>, %lse: memref<?xf32>) {
  attn.tile.softmax_finalize %l, %acc into %out log_sum_exp(%m) into %lse : memref<?xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?xf32>, memref<?xf32>
  return
}

// -----

// Linear attention: the feature map's body fused in (elu + 1 on vectors).
// CHECK-LABEL: func.func @linear
// CHECK: arith.cmpf ogt, %{{.*}} : vector<16xf32>
// CHECK: math.exp %{{.*}} : vector<16xf32>
// CHECK: arith.select
// CHECK: vector.fma
func.func @linear(%k: memref<?x32xf32>, %v: memref<?x32xf32>, %s: memref<32x32xf32>, %z: memref<32xf32>) {
  %f = attn.feature_map.elu_plus_one
  attn.tile.linear_state %k, %v feature_map %f into %s, %z : memref<?x32xf32>, memref<?x32xf32>, memref<32x32xf32>, memref<32xf32>
  return
}

// -----

// Atomic: the sums in scratch, then each added to the state and the
// normaliser with an atomic read-modify-write.
// CHECK-LABEL: func.func @linear_atomic
// CHECK: vector.fma
// CHECK: memref.atomic_rmw addf %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}] : (f32, memref<32x32xf32>) -> f32
// CHECK: memref.atomic_rmw addf %{{.*}}, %{{.*}}[%{{.*}}] : (f32, memref<32xf32>) -> f32
func.func @linear_atomic(%k: memref<?x32xf32>, %v: memref<?x32xf32>, %s: memref<32x32xf32>, %z: memref<32xf32>) {
  %f = attn.feature_map.elu_plus_one
  attn.tile.linear_state %k, %v feature_map %f into %s, %z atomic : memref<?x32xf32>, memref<?x32xf32>, memref<32x32xf32>, memref<32xf32>
  return
}

// -----

// Weighted: each key's phi times its weight in the normaliser's sum (the
// state's product unweighted).
// CHECK-LABEL: func.func @linear_weighted
// CHECK: vector.fma
// CHECK: scf.for %[[J:.*]] = {{.*}} iter_args
// CHECK:   %[[PHI:.*]] = memref.load %{{.*}}[%{{.*}}, %[[J]]]
// CHECK:   %[[W:.*]] = memref.load %arg2[%[[J]]] : memref<?xf32>
// CHECK:   arith.mulf %[[PHI]], %[[W]] : f32
func.func @linear_weighted(%k: memref<?x32xf32>, %v: memref<?x32xf32>, %w: memref<?xf32>, %s: memref<32x32xf32>, %z: memref<32xf32>) {
  %f = attn.feature_map.elu_plus_one
  attn.tile.linear_state %k, %v weights %w : memref<?xf32> feature_map %f into %s, %z : memref<?x32xf32>, memref<?x32xf32>, memref<32x32xf32>, memref<32xf32>
  return
}

// -----

// The gradient's query side: the rows' terms, c into norm_weights, g
// stored as bf16, S^T in scratch for g S^T, dq through elu + 1's slope (exp
// below 0); nothing added to a shared sum.
// CHECK-LABEL: func.func @linear_query_grad
// CHECK: vector.reduction <add>
// CHECK: memref.store %{{.*}}, %arg6[%{{.*}}] : memref<?xf32>
// CHECK: arith.truncf %{{.*}} : vector<16xf32> to vector<16xbf16>
// CHECK: vector.store %{{.*}}, %arg5[%{{.*}}, %{{.*}}] : memref<?x32xbf16>, vector<16xbf16>
// CHECK: memref.alloca() {{.*}} : memref<32x32xf32>
// CHECK: vector.fma
// CHECK: math.exp %{{.*}} : vector<16xf32>
// CHECK: vector.store %{{.*}}, %arg4[%{{.*}}, %{{.*}}] : memref<?x32xbf16>, vector<16xbf16>
// CHECK-NOT: atomic_rmw
func.func @linear_query_grad(%q: memref<?x32xbf16>, %s: memref<32x32xf32>, %z: memref<32xf32>, %o: memref<?x32xbf16>, %dq: memref<?x32xbf16>, %g: memref<?x32xbf16>, %c: memref<?xf32>, %out: memref<?x32xbf16>) {
  %f = attn.feature_map.elu_plus_one
  attn.tile.linear_query_grad %q, %out, %o feature_map %f from %s, %z into %dq, %g, %c : memref<?x32xbf16>, memref<?x32xbf16>, memref<?x32xbf16>, memref<32x32xf32>, memref<32xf32>, memref<?x32xbf16>, memref<?x32xbf16>, memref<?xf32>
  return
}

// -----

// The key side: dv = phi(K) dS, then (V dS^T + dz) times phi' into dk.
// CHECK-LABEL: func.func @linear_key_grad
// CHECK: math.exp %{{.*}} : vector<16xf32>
// CHECK: vector.store %{{.*}}, %arg5[%{{.*}}, %{{.*}}] : memref<?x32xf32>, vector<16xf32>
// CHECK: memref.alloca() {{.*}} : memref<32x32xf32>
// CHECK: vector.store %{{.*}}, %arg4[%{{.*}}, %{{.*}}] : memref<?x32xf32>, vector<16xf32>
func.func @linear_key_grad(%k: memref<?x32xf32>, %v: memref<?x32xf32>, %ds: memref<32x32xf32>, %dz: memref<32xf32>, %dk: memref<?x32xf32>, %dv: memref<?x32xf32>) {
  %f = attn.feature_map.elu_plus_one
  attn.tile.linear_key_grad %k, %v feature_map %f from %ds, %dz into %dk, %dv : memref<?x32xf32>, memref<?x32xf32>, memref<32x32xf32>, memref<32xf32>, memref<?x32xf32>, memref<?x32xf32>
  return
}

// -----

// Prefix states: a running state in scratch, zeroed, stored into prefix[c]
// before chunk c's keys (a subview of at most 64 rows) are added to it.
// CHECK-LABEL: func.func @linear_prefix
// CHECK: %[[STATE:.*]] = memref.alloca() {{.*}} : memref<32x32xf32>
// CHECK: vector.store %{{.*}}, %[[STATE]]
// CHECK: %[[CHUNKS:.*]] = memref.dim %arg2
// CHECK: scf.for %[[C:.*]] = %{{.*}} to %[[CHUNKS]] step
// CHECK:   vector.load %[[STATE]]
// CHECK:   vector.store %{{.*}}, %arg2[%[[C]], %{{.*}}, %{{.*}}] : memref<?x32x32xf32>, vector<16xf32>
// CHECK:   arith.muli %[[C]], %{{.*}}
// CHECK:   memref.alloca_scope
// CHECK:     memref.subview %arg0{{.*}} : memref<?x32xf32> to memref<?x32xf32, strided<[32, 1], offset: ?>>
// CHECK:     math.exp
// CHECK:     vector.fma
// CHECK-NOT: atomic_rmw
func.func @linear_prefix(%k: memref<?x32xf32>, %v: memref<?x32xf32>, %p: memref<?x32x32xf32>, %z: memref<?x32xf32>) {
  %f = attn.feature_map.elu_plus_one
  attn.tile.linear_prefix %k, %v feature_map %f every 64 into %p, %z : memref<?x32xf32>, memref<?x32xf32>, memref<?x32x32xf32>, memref<?x32xf32>
  return
}

// -----

// The causal output's own keys: row i weighs keys j <= i + diagonal.
// CHECK-LABEL: func.func @linear_causal_output
// CHECK: %[[LAST:.*]] = arith.addi %{{.*}}, %arg4
// CHECK: arith.cmpi ule, %{{.*}}, %[[LAST]]
func.func @linear_causal_output(%q: memref<?x32xf32>, %k: memref<?x32xf32>, %s: memref<32x32xf32>, %z: memref<32xf32>, %d: index) {
  %f = attn.feature_map.elu_plus_one
  attn.tile.linear_output %q causal(%k, %k diagonal %d : memref<?x32xf32>, memref<?x32xf32>) feature_map %f from %s, %z into %q : memref<?x32xf32>, memref<32x32xf32>, memref<32xf32>, memref<?x32xf32>
  return
}

// -----

// The scan: vectorized across channels, in passes of a vector's width
// (16, or 8 with AVX2), masked to the group.
// CHECK-LABEL: func.func @scan
// CHECK: scf.for %[[C0:.*]] = %{{.*}} to %{{.*}} step %c16 {
// CHECK: vector.create_mask
// CHECK: vector.maskedload %{{.*}}[%{{.*}}, %[[C0]]]
// CHECK: vector.fma
// CHECK: vector.maskedstore
// AVX2-LABEL: func.func @scan
// AVX2: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c8 {
// AVX2: vector.maskedload {{.*}} vector<8xf32>
func.func @scan(%u: memref<?x?xf32>, %a: memref<?x8xf32>, %y: memref<?x?xf32>) {
  attn.tile.ssm_scan %u A(%a, %a) W(%a, %a) into %y : memref<?x?xf32> : memref<?x?xf32>, memref<?x8xf32>
  return
}

// -----

// A chunk's scan: the initial state loaded into the lanes (transposed),
// no outputs, the final state stored back.
// CHECK-LABEL: func.func @chunk_scan
// CHECK: memref.load %arg2[
// CHECK: vector.fma
// CHECK-NOT: vector.maskedstore
// CHECK: memref.store %{{.*}}, %arg3[
func.func @chunk_scan(%u: memref<?x?xf32>, %a: memref<?x8xf32>, %init: memref<?x8xf32>, %s: memref<?x8xf32>) {
  attn.tile.ssm_scan %u A(%a, %a) W(%a, %a) from(%init, %init : memref<?x8xf32>, memref<?x8xf32>) state(%s, %s : memref<?x8xf32>, memref<?x8xf32>) : memref<?x?xf32>, memref<?x8xf32>
  return
}

// -----

// The carry: per (channel, mode) the chunks walked backwards (reverse),
// each replaced by the carry, which becomes M carry + s.
// CHECK-LABEL: func.func @carry
// CHECK: scf.for
// CHECK: scf.for
// CHECK: scf.for %[[S:.*]] = {{.*}} iter_args(%[[R:.*]] = %{{.*}}, %[[I:.*]] = %{{.*}}) -> (f32, f32)
// CHECK: %[[K:.*]] = arith.subi %{{.*}}, %[[S]]
// CHECK: memref.load %arg0[%[[K]]
// CHECK: memref.store %[[R]], %arg0[%[[K]]
// CHECK: memref.store %[[I]], %arg1[%[[K]]
// CHECK: arith.mulf
func.func @carry(%sr: memref<?x?x8xf32>, %si: memref<?x?x8xf32>, %m: memref<?x8xf32>) {
  attn.tile.ssm_carry(%sr, %si) by(%m, %m) reverse : memref<?x?x8xf32>, memref<?x8xf32>
  return
}

// -----

// The coefficient gradients' pass: each (channel, mode) walks the rows
// with rho, sigma, P and Q as loop arguments (8 f32), backwards against a
// forward scan, and stores P and Q.
// CHECK-LABEL: func.func @adjoint
// CHECK: scf.for %[[C:.*]] =
// CHECK:   scf.for %[[N:.*]] =
// CHECK:     %{{.*}}:8 = scf.for %[[S:.*]] = {{.*}} iter_args(
// CHECK:       arith.subi %{{.*}}, %[[S]]
// CHECK:     memref.store %{{.*}}, %arg2[%[[C]], %[[N]]]
// CHECK:     memref.store %{{.*}}, %arg5[%[[C]], %[[N]]]
func.func @adjoint(%u: memref<?x?xf32>, %a: memref<?x8xf32>, %p: memref<?x8xf32>, %pi: memref<?x8xf32>, %q: memref<?x8xf32>, %qi: memref<?x8xf32>) {
  attn.tile.ssm_adjoint %u, %u A(%a, %a) into(%p, %pi, %q, %qi) : memref<?x?xf32>, memref<?x?xf32>, memref<?x8xf32>
  return
}

// -----

// The gradient's query form a row at a time: each query row's dQ row a
// vector carried by the loop over keys, kept pairs only; p = exp(s - lse).
// CHECK-LABEL: func.func @grad_query
// CHECK: scf.for %[[I:.*]] =
// CHECK:   %[[ACC:.*]] = vector.load %{{.*}}[%[[I]], %{{.*}}] : memref<?x16xf32>, vector<16xf32>
// CHECK:   scf.for {{.*}} iter_args(%{{.*}} = %[[ACC]]) -> (vector<16xf32>)
// CHECK:     arith.cmpi ule
// CHECK:     scf.if
// CHECK:       math.exp
// CHECK:       vector.fma
// CHECK:   vector.store
func.func @grad_query(%q: memref<?x16xbf16>, %m: memref<?xf32>, %acc: memref<?x16xf32>, %i: index) {
  attn.tile.softmax_grad_step %q, %q, %q, %q, %m, %m query_grad %acc : memref<?x16xf32> offsets(%i, %i) scale 0.25 where {
  ^bb0(%qi: index, %ki: index):
    %t = arith.cmpi ule, %ki, %qi : index
    attn.yield %t : i1
  } : memref<?x16xbf16>, memref<?x16xbf16>, memref<?x16xbf16>, memref<?x16xbf16>, memref<?xf32>, memref<?xf32>
  return
}

// -----

// The key form: each key's dK and dV rows carried over the queries.
// CHECK-LABEL: func.func @grad_key
// CHECK: scf.for
// CHECK:   scf.for {{.*}} -> (vector<16xf32>, vector<16xf32>)
// CHECK:     math.exp
// CHECK:     vector.fma
// CHECK:     vector.fma
// CHECK:   vector.store
// CHECK:   vector.store
func.func @grad_key(%q: memref<?x16xf32>, %m: memref<?xf32>, %dk: memref<?x16xf32>, %dv: memref<?x16xf32>, %i: index) {
  attn.tile.softmax_grad_step %q, %q, %q, %q, %m, %m key_grad %dk, %dv : memref<?x16xf32>, memref<?x16xf32> offsets(%i, %i) scale 0.25 : memref<?x16xf32>, memref<?x16xf32>, memref<?x16xf32>, memref<?x16xf32>, memref<?xf32>, memref<?xf32>
  return
}

// -----

// A score region (soft-capping) on the CPU: each element of S through the
// region before the predicate drops what the mask drops; then the step.
// CHECK-LABEL: func.func @step_score
// CHECK: vector.fma %{{.*}} : vector<16xf32>
// CHECK: scf.for
// CHECK:   memref.load
// CHECK:   arith.divf
// CHECK:   math.tanh
// CHECK:   arith.mulf
// CHECK:   arith.cmpi sle
// CHECK:   arith.select
// CHECK:   memref.store
// CHECK: vector.reduction <maximumf>
func.func @step_score(%q: memref<?x64xf32>, %k: memref<?x64xf32>, %v: memref<?x64xf32>,
                      %m: memref<?xf32>, %l: memref<?xf32>, %acc: memref<?x64xf32>,
                      %q0: index, %k0: index) {
  attn.tile.softmax_step %q, %k, %v into %m, %l, %acc offsets(%q0, %k0) scale 0.125 where {
  ^bb0(%i: index, %j: index):
    %t = arith.cmpi sle, %j, %i : index
    attn.yield %t : i1
  } score {
  ^bb0(%s: f32, %i: index, %j: index):
    %c = arith.constant 2.0 : f32
    %x = arith.divf %s, %c : f32
    %t = math.tanh %x : f32
    %y = arith.mulf %t, %c : f32
    attn.yield %y : f32
  } : memref<?x64xf32>, memref<?x64xf32>, memref<?x64xf32>, memref<?xf32>, memref<?x64xf32>
  return
}

// -----

// The gradient through a score region: the region's value and its slope
// (forward mode: 1 - tanh^2) per pair, dS scaled by the slope.
// CHECK-LABEL: func.func @grad_score
// CHECK: scf.for
// CHECK:   scf.for
// CHECK:     %[[T:.*]] = math.tanh
// CHECK:     %[[T2:.*]] = arith.mulf %[[T]], %[[T]] : f32
// CHECK:     %[[SLOPE0:.*]] = arith.subf %{{.*}}, %[[T2]] : f32
// CHECK:     math.exp
// CHECK:     %[[DS:.*]] = arith.mulf %{{.*}}, %{{.*}} : f32
// CHECK:     arith.mulf %[[DS]], %{{.*}} : f32
// CHECK:     vector.fma
func.func @grad_score(%q: memref<?x16xf32>, %m: memref<?xf32>, %acc: memref<?x16xf32>, %i: index) {
  attn.tile.softmax_grad_step %q, %q, %q, %q, %m, %m query_grad %acc : memref<?x16xf32> offsets(%i, %i) scale 0.25 score {
  ^bb0(%s: f32, %qi: index, %ki: index):
    %c = arith.constant 2.0 : f32
    %x = arith.divf %s, %c : f32
    %t = math.tanh %x : f32
    %y = arith.mulf %t, %c : f32
    attn.yield %y : f32
  } : memref<?x16xf32>, memref<?x16xf32>, memref<?x16xf32>, memref<?x16xf32>, memref<?xf32>, memref<?xf32>
  return
}
