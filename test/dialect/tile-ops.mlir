// RUN: attn-opt %s | attn-opt | FileCheck %s
// RUN: attn-opt %s --mlir-print-op-generic | attn-opt | FileCheck %s

// CHECK-LABEL: func.func @tiles
func.func @tiles(%q: memref<?x32xf32>, %m: memref<?xf32>, %acc: memref<?x32xf32>,
                 %i: index, %state: memref<16x32xf32>, %norm: memref<16xf32>,
                 %p: memref<16x32xf32>, %u: memref<?x?xf32>, %a: memref<?x8xf32>,
                 %prefix: memref<?x16x32xf32>, %pnorm: memref<?x16xf32>,
                 %kb: memref<?x16xbf16>, %vb: memref<?x32xbf16>,
                 %pb: memref<?x16x32xbf16>, %st: memref<?x?x8xf32>) {
  // CHECK: attn.tile.softmax_step %{{.*}}, %{{.*}}, %{{.*}} into %{{.*}}, %{{.*}}, %{{.*}} offsets(%{{.*}}, %{{.*}}) scale 1.250000e-01 :
  attn.tile.softmax_step %q, %q, %q into %m, %m, %acc offsets(%i, %i) scale 0.125 : memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?xf32>, memref<?x32xf32>
  // CHECK: attn.tile.softmax_step {{.*}} where {
  // CHECK-NEXT: ^bb0(%{{.*}}: index, %{{.*}}: index):
  attn.tile.softmax_step %q, %q, %q into %m, %m, %acc offsets(%i, %i) scale 0.125 where {
  ^bb0(%qi: index, %ki: index):
    %t = arith.cmpi ule, %ki, %qi : index
    attn.yield %t : i1
  } : memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?xf32>, memref<?x32xf32>
  // CHECK: attn.tile.softmax_grad_step %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} query_grad %{{.*}} : memref<?x32xf32> offsets(%{{.*}}, %{{.*}}) scale 1.250000e-01 :
  attn.tile.softmax_grad_step %q, %q, %q, %q, %m, %m query_grad %acc : memref<?x32xf32> offsets(%i, %i) scale 0.125 : memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?xf32>, memref<?xf32>
  // CHECK: attn.tile.softmax_grad_step {{.*}} key_grad %{{.*}}, %{{.*}} : memref<?x32xf32>, memref<?x32xf32> offsets(%{{.*}}, %{{.*}}) scale 1.250000e-01 where {
  // CHECK-NEXT: ^bb0(%{{.*}}: index, %{{.*}}: index):
  attn.tile.softmax_grad_step %q, %q, %q, %q, %m, %m key_grad %acc, %acc : memref<?x32xf32>, memref<?x32xf32> offsets(%i, %i) scale 0.125 where {
  ^bb0(%qi: index, %ki: index):
    %t = arith.cmpi ule, %ki, %qi : index
    attn.yield %t : i1
  } : memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?xf32>, memref<?xf32>
  // The fused form: the key form's accumulators and the shared query_grad.
  // CHECK: attn.tile.softmax_grad_step {{.*}} query_grad %{{.*}} : memref<?x32xf32> key_grad %{{.*}}, %{{.*}} : memref<?x32xf32>, memref<?x32xf32> offsets
  attn.tile.softmax_grad_step %q, %q, %q, %q, %m, %m query_grad %acc : memref<?x32xf32> key_grad %acc, %acc : memref<?x32xf32>, memref<?x32xf32> offsets(%i, %i) scale 0.125 : memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?xf32>, memref<?xf32>
  // CHECK: attn.tile.softmax_step {{.*}} where {
  // CHECK: } score {
  // CHECK-NEXT: ^bb0(%{{.*}}: f32, %{{.*}}: index, %{{.*}}: index):
  attn.tile.softmax_step %q, %q, %q into %m, %m, %acc offsets(%i, %i) scale 0.125 where {
  ^bb0(%qi: index, %ki: index):
    %t = arith.cmpi ule, %ki, %qi : index
    attn.yield %t : i1
  } score {
  ^bb0(%s: f32, %qi: index, %ki: index):
    %t = math.tanh %s : f32
    attn.yield %t : f32
  } : memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?xf32>, memref<?x32xf32>
  // CHECK: attn.tile.softmax_grad_step {{.*}} scale 1.250000e-01 score {
  attn.tile.softmax_grad_step %q, %q, %q, %q, %m, %m query_grad %acc : memref<?x32xf32> offsets(%i, %i) scale 0.125 score {
  ^bb0(%s: f32, %qi: index, %ki: index):
    %t = math.tanh %s : f32
    attn.yield %t : f32
  } : memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?xf32>, memref<?xf32>
  // CHECK: attn.tile.softmax_finalize %{{.*}}, %{{.*}} into %{{.*}} :
  attn.tile.softmax_finalize %m, %acc into %acc : memref<?xf32>, memref<?x32xf32>, memref<?x32xf32>
  // CHECK: attn.tile.softmax_finalize %{{.*}}, %{{.*}} into %{{.*}} log_sum_exp(%{{.*}}) into %{{.*}} :
  attn.tile.softmax_finalize %m, %acc into %acc log_sum_exp(%m) into %m : memref<?xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?xf32>, memref<?xf32>
  %f = attn.feature_map.favor features 16 seed 1
  // CHECK: attn.tile.linear_state {{.*}} feature_map %{{.*}} projection %{{.*}} : memref<16x32xf32> into
  attn.tile.linear_state %q, %q feature_map %f projection %p : memref<16x32xf32> into %state, %norm : memref<?x32xf32>, memref<?x32xf32>, memref<16x32xf32>, memref<16xf32>
  // CHECK: attn.tile.linear_state {{.*}} into %{{.*}}, %{{.*}} atomic :
  attn.tile.linear_state %q, %q feature_map %f projection %p : memref<16x32xf32> into %state, %norm atomic : memref<?x32xf32>, memref<?x32xf32>, memref<16x32xf32>, memref<16xf32>
  // CHECK: attn.tile.linear_output %{{.*}} causal(%{{.*}}, %{{.*}} diagonal %{{.*}} : memref<?x32xf32>, memref<?x32xf32>) feature_map
  attn.tile.linear_output %q causal(%q, %q diagonal %i : memref<?x32xf32>, memref<?x32xf32>) feature_map %f projection %p : memref<16x32xf32> from %state, %norm into %acc : memref<?x32xf32>, memref<16x32xf32>, memref<16xf32>, memref<?x32xf32>
  // CHECK: attn.tile.linear_prefix %{{.*}}, %{{.*}} feature_map %{{.*}} projection %{{.*}} : memref<16x32xf32> every 64 into %{{.*}}, %{{.*}} :
  attn.tile.linear_prefix %q, %q feature_map %f projection %p : memref<16x32xf32> every 64 into %prefix, %pnorm : memref<?x32xf32>, memref<?x32xf32>, memref<?x16x32xf32>, memref<?x16xf32>
  // CHECK: attn.tile.linear_prefix {{.*}} : memref<?x16xbf16>, memref<?x32xbf16>, memref<?x16x32xbf16>, memref<?x16xf32>
  attn.tile.linear_prefix %kb, %vb feature_map %f every 64 into %pb, %pnorm : memref<?x16xbf16>, memref<?x32xbf16>, memref<?x16x32xbf16>, memref<?x16xf32>
  // CHECK: attn.tile.ssm_scan %{{.*}} A(%{{.*}}, %{{.*}}) W(%{{.*}}, %{{.*}}) into %{{.*}} : memref<?x?xf32> reverse accumulate : memref<?x?xf32>, memref<?x8xf32>
  attn.tile.ssm_scan %u A(%a, %a) W(%a, %a) into %u : memref<?x?xf32> reverse accumulate : memref<?x?xf32>, memref<?x8xf32>
  // CHECK: attn.tile.ssm_scan %{{.*}} A(%{{.*}}, %{{.*}}) W(%{{.*}}, %{{.*}}) state(%{{.*}}, %{{.*}} : memref<?x8xf32>, memref<?x8xf32>) reverse :
  attn.tile.ssm_scan %u A(%a, %a) W(%a, %a) state(%a, %a : memref<?x8xf32>, memref<?x8xf32>) reverse : memref<?x?xf32>, memref<?x8xf32>
  // CHECK: attn.tile.ssm_scan %{{.*}} A(%{{.*}}, %{{.*}}) W(%{{.*}}, %{{.*}}) from(%{{.*}}, %{{.*}} : memref<?x8xf32>, memref<?x8xf32>) into %{{.*}} : memref<?x?xf32> state(%{{.*}}, %{{.*}} : memref<?x8xf32>, memref<?x8xf32>) :
  attn.tile.ssm_scan %u A(%a, %a) W(%a, %a) from(%a, %a : memref<?x8xf32>, memref<?x8xf32>) into %u : memref<?x?xf32> state(%a, %a : memref<?x8xf32>, memref<?x8xf32>) : memref<?x?xf32>, memref<?x8xf32>
  // CHECK: attn.tile.ssm_carry(%{{.*}}, %{{.*}}) by(%{{.*}}, %{{.*}}) reverse : memref<?x?x8xf32>, memref<?x8xf32>
  attn.tile.ssm_carry(%st, %st) by(%a, %a) reverse : memref<?x?x8xf32>, memref<?x8xf32>
  // CHECK: attn.tile.ssm_adjoint %{{.*}}, %{{.*}} A(%{{.*}}, %{{.*}}) into(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) reverse : memref<?x?xf32>, memref<?x?xf32>, memref<?x8xf32>
  attn.tile.ssm_adjoint %u, %u A(%a, %a) into(%a, %a, %a, %a) reverse : memref<?x?xf32>, memref<?x?xf32>, memref<?x8xf32>
  return
}

// CHECK-LABEL: func.func @linear_gradient_tiles
func.func @linear_gradient_tiles(%q: memref<?x32xbf16>, %s: memref<32x64xf32>,
                                 %z: memref<32xf32>, %o: memref<?x64xbf16>,
                                 %c: memref<?xf32>) {
  %f = attn.feature_map.elu_plus_one
  // CHECK: attn.tile.linear_query_grad %{{.*}}, %{{.*}}, %{{.*}} feature_map %{{.*}} from %{{.*}}, %{{.*}} into %{{.*}}, %{{.*}}, %{{.*}} : memref<?x32xbf16>, memref<?x64xbf16>, memref<?x64xbf16>, memref<32x64xf32>, memref<32xf32>, memref<?x32xbf16>, memref<?x64xbf16>, memref<?xf32>
  attn.tile.linear_query_grad %q, %o, %o feature_map %f from %s, %z into %q, %o, %c : memref<?x32xbf16>, memref<?x64xbf16>, memref<?x64xbf16>, memref<32x64xf32>, memref<32xf32>, memref<?x32xbf16>, memref<?x64xbf16>, memref<?xf32>
  // CHECK: attn.tile.linear_state %{{.*}}, %{{.*}} weights %{{.*}} : memref<?xf32> feature_map %{{.*}} into %{{.*}}, %{{.*}} atomic :
  attn.tile.linear_state %q, %o weights %c : memref<?xf32> feature_map %f into %s, %z atomic : memref<?x32xbf16>, memref<?x64xbf16>, memref<32x64xf32>, memref<32xf32>
  // CHECK: attn.tile.linear_key_grad %{{.*}}, %{{.*}} feature_map %{{.*}} from %{{.*}}, %{{.*}} into %{{.*}}, %{{.*}} : memref<?x32xbf16>, memref<?x64xbf16>, memref<32x64xf32>, memref<32xf32>, memref<?x32xbf16>, memref<?x64xbf16>
  attn.tile.linear_key_grad %q, %o feature_map %f from %s, %z into %q, %o : memref<?x32xbf16>, memref<?x64xbf16>, memref<32x64xf32>, memref<32xf32>, memref<?x32xbf16>, memref<?x64xbf16>
  return
}

// CHECK-LABEL: func.func @scheduled
// CHECK: {schedule = #attn.schedule<block_q = 64, block_k = 32, seq_len = 100, full_offsets = [0, 1, 2], full_blocks = [0, 3], partial_offsets = [0, 0, 1], partial_blocks = [1]>}
func.func @scheduled(%q: tensor<1x1x100x32xf32>) -> tensor<1x1x100x32xf32> {
  %m = attn.mask.causal
  %o = attn.sdpa %q, %q, %q mask %m {schedule = #attn.schedule<block_q = 64, block_k = 32, seq_len = 100, full_offsets = [0, 1, 2], full_blocks = [0, 3], partial_offsets = [0, 0, 1], partial_blocks = [1]>} : tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32>, !attn.mask -> tensor<1x1x100x32xf32>
  return %o : tensor<1x1x100x32xf32>
}

// A tensor map of a strided view: the box outermost first, as the view's
// dimensions.
// CHECK-LABEL: func.func @tensor_map
// CHECK: attn.buffer.tensor_map %{{.*}} box [1, 1, 128, 64] swizzle 128 : memref<2x4x100x64xbf16, strided<[25600, 64, 256, 1]>>
func.func @tensor_map(%k: memref<2x4x100x64xbf16, strided<[25600, 64, 256, 1]>>) -> i64 {
  %m = attn.buffer.tensor_map %k box [1, 1, 128, 64] swizzle 128 : memref<2x4x100x64xbf16, strided<[25600, 64, 256, 1]>>
  return %m : i64
}
