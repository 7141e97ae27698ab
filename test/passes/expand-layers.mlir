// RUN: attn-opt %s --attn-expand-layers --split-input-file | FileCheck %s

// A BigBird layer: Q, K, V projections, heads split, the union of window,
// global and random blocks intersected with key padding, attention, heads
// merged, output projection, dropout, residual, norm, then the FFN block.
// CHECK-LABEL: func.func @bigbird
// CHECK-NOT: attn.layer.
// CHECK-COUNT-3: attn.project
// CHECK: attn.mask.window radius 1 block 16
// CHECK: attn.mask.global first 1 last 1 block 16
// CHECK: attn.mask.random_blocks count 2 block 16 seed 5 exclude_global 1 exclude_window 1
// CHECK: attn.mask.union
// CHECK: attn.mask.key_padding
// CHECK: attn.mask.intersect
// CHECK: attn.sdpa {{.*}} : tensor<2x2x64x8xf32>
// CHECK: attn.project
// CHECK: attn.dropout %{{.*}}, %{{.*}} rate 1.000000e-01 :
// CHECK: linalg.add
// CHECK: attn.layer_norm
// CHECK: attn.project
// CHECK: attn.gelu
// CHECK: attn.project
// CHECK: attn.dropout %{{.*}}, %{{.*}} rate 1.000000e-01 stream 1 :
// CHECK: linalg.add
// CHECK: attn.layer_norm
func.func @bigbird(%x: tensor<2x64x16xf32>, %len: tensor<2xi32>, %seed: i64,
                   %w: tensor<16x16xf32>, %b: tensor<16xf32>, %w1: tensor<16x32xf32>,
                   %b1: tensor<32xf32>, %w2: tensor<32x16xf32>) -> tensor<2x64x16xf32> {
  %y = attn.layer.bigbird %x lengths %len seed %seed params(%w, %b, %w, %b, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2, block = 16, random = 2, seed_blocks = 5} : tensor<2x64x16xf32>, lengths tensor<2xi32>, params(tensor<16x16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16x32xf32>, tensor<32xf32>, tensor<32x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>)
  return %y : tensor<2x64x16xf32>
}

// -----

// A linear layer: attn.linear with its feature map and key lengths, and no
// dropout without a seed.
// CHECK-LABEL: func.func @linear
// CHECK: attn.feature_map.favor features 8 seed 3
// CHECK: attn.linear {{.*}} key_lengths %{{.*}} : tensor<2xi32> causal
// CHECK-NOT: attn.dropout
func.func @linear(%x: tensor<2x64x16xf32>, %len: tensor<2xi32>,
                  %w: tensor<16x16xf32>, %b: tensor<16xf32>, %w1: tensor<16x32xf32>,
                  %b1: tensor<32xf32>, %w2: tensor<32x16xf32>) -> tensor<2x64x16xf32> {
  %y = attn.layer.linear %x lengths %len params(%w, %b, %w, %b, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2, feature_map = #attn<feature_map_kind favor>, features = 8, seed_features = 3, causal} : tensor<2x64x16xf32>, lengths tensor<2xi32>, params(tensor<16x16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16x32xf32>, tensor<32xf32>, tensor<32x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>)
  return %y : tensor<2x64x16xf32>
}

// -----

// SPADE: the SSM branch (with its skip term and GELU) beside chunked
// attention, merged by the two halves of the merge projection.
// CHECK-LABEL: func.func @spade
// CHECK: attn.ssm {{.*}} lengths %{{.*}} : tensor<2xi32> bidirectional
// CHECK: linalg.generic
// CHECK: attn.gelu
// CHECK: attn.mask.chunk size 16
// CHECK: attn.sdpa
// CHECK: tensor.extract_slice %{{.*}}[0, 0] [16, 16] [1, 1] : tensor<32x16xf32>
// CHECK: tensor.extract_slice %{{.*}}[16, 0] [16, 16] [1, 1] : tensor<32x16xf32>
func.func @spade(%x: tensor<2x64x16xf32>, %len: tensor<2xi32>, %a: tensor<16x4xf32>,
                 %c: tensor<2x16x4xf32>, %w: tensor<16x16xf32>, %b: tensor<16xf32>,
                 %m: tensor<32x16xf32>, %w1: tensor<16x32xf32>, %b1: tensor<32xf32>,
                 %w2: tensor<32x16xf32>) -> tensor<2x64x16xf32> {
  %y = attn.layer.spade %x lengths %len params(%a, %a, %a, %a, %c, %c, %b, %b, %w, %b, %w, %b, %w, %b, %w, %b, %m, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2, local = #attn<local_kind chunk>, local_size = 16, bidirectional} : tensor<2x64x16xf32>, lengths tensor<2xi32>, params(tensor<16x4xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<2x16x4xf32>, tensor<2x16x4xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<32x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16x32xf32>, tensor<32xf32>, tensor<32x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>)
  return %y : tensor<2x64x16xf32>
}
