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

// -----

// Under bf16 the SSM scan runs in f32: its input and parameters are
// widened, its output rounded back before the skip term.
// CHECK-LABEL: func.func @spade_bf16
// CHECK: %[[X:.*]] = attn.cast %arg0 : tensor<2x64x16xbf16> to tensor<2x64x16xf32>
// CHECK: %[[A:.*]] = attn.cast %arg2 : tensor<16x4xbf16> to tensor<16x4xf32>
// CHECK: %[[Y:.*]] = attn.ssm %[[X]] A(%[[A]], {{.*}} : tensor<2x64x16xf32>, tensor<16x4xf32>, tensor<2x16x4xf32>, tensor<16xf32>
// CHECK: %[[Y16:.*]] = attn.cast %[[Y]] : tensor<2x64x16xf32> to tensor<2x64x16xbf16>
// CHECK: linalg.generic {{.*}} ins(%[[Y16]], %arg0, %{{.*}} : tensor<2x64x16xbf16>, tensor<2x64x16xbf16>, tensor<16xbf16>)
// CHECK: attn.sdpa {{.*}} -> tensor<2x2x64x8xbf16>
func.func @spade_bf16(%x: tensor<2x64x16xbf16>, %len: tensor<2xi32>, %a: tensor<16x4xbf16>,
                 %c: tensor<2x16x4xbf16>, %w: tensor<16x16xbf16>, %b: tensor<16xbf16>,
                 %m: tensor<32x16xbf16>, %w1: tensor<16x32xbf16>, %b1: tensor<32xbf16>,
                 %w2: tensor<32x16xbf16>) -> tensor<2x64x16xbf16> {
  %y = attn.layer.spade %x lengths %len params(%a, %a, %a, %a, %c, %c, %b, %b, %w, %b, %w, %b, %w, %b, %w, %b, %m, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2, local = #attn<local_kind chunk>, local_size = 16, bidirectional} : tensor<2x64x16xbf16>, lengths tensor<2xi32>, params(tensor<16x4xbf16>, tensor<16x4xbf16>, tensor<16x4xbf16>, tensor<16x4xbf16>, tensor<2x16x4xbf16>, tensor<2x16x4xbf16>, tensor<16xbf16>, tensor<16xbf16>, tensor<16x16xbf16>, tensor<16xbf16>, tensor<16x16xbf16>, tensor<16xbf16>, tensor<16x16xbf16>, tensor<16xbf16>, tensor<16x16xbf16>, tensor<16xbf16>, tensor<32x16xbf16>, tensor<16xbf16>, tensor<16xbf16>, tensor<16xbf16>, tensor<16x32xbf16>, tensor<32xbf16>, tensor<32x16xbf16>, tensor<16xbf16>, tensor<16xbf16>, tensor<16xbf16>)
  return %y : tensor<2x64x16xbf16>
}

// -----

// FAVOR+'s kernel runs in f32 under bf16 (its projection is f32): Q, K
// and V widened, the output rounded back.
// CHECK-LABEL: func.func @favor_bf16
// CHECK: %[[Q:.*]] = attn.cast %{{.*}} : tensor<2x2x64x8xbf16> to tensor<2x2x64x8xf32>
// CHECK: %[[K:.*]] = attn.cast %{{.*}} : tensor<2x2x64x8xbf16> to tensor<2x2x64x8xf32>
// CHECK: %[[V:.*]] = attn.cast %{{.*}} : tensor<2x2x64x8xbf16> to tensor<2x2x64x8xf32>
// CHECK: %[[O:.*]] = attn.linear %[[Q]], %[[K]], %[[V]] {{.*}} -> tensor<2x2x64x8xf32>
// CHECK: attn.cast %[[O]] : tensor<2x2x64x8xf32> to tensor<2x2x64x8xbf16>
func.func @favor_bf16(%x: tensor<2x64x16xbf16>, %len: tensor<2xi32>,
                  %w: tensor<16x16xbf16>, %b: tensor<16xbf16>, %w1: tensor<16x32xbf16>,
                  %b1: tensor<32xbf16>, %w2: tensor<32x16xbf16>) -> tensor<2x64x16xbf16> {
  %y = attn.layer.linear %x lengths %len params(%w, %b, %w, %b, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2, feature_map = #attn<feature_map_kind favor>, features = 8, seed_features = 3, causal} : tensor<2x64x16xbf16>, lengths tensor<2xi32>, params(tensor<16x16xbf16>, tensor<16xbf16>, tensor<16x16xbf16>, tensor<16xbf16>, tensor<16x16xbf16>, tensor<16xbf16>, tensor<16x16xbf16>, tensor<16xbf16>, tensor<16xbf16>, tensor<16xbf16>, tensor<16x32xbf16>, tensor<32xbf16>, tensor<32x16xbf16>, tensor<16xbf16>, tensor<16xbf16>, tensor<16xbf16>)
  return %y : tensor<2x64x16xbf16>
}

// -----

// Pre-LN (`prenorm`): each sublayer runs on the normed stream and adds to
// the stream itself, which no norm follows: LN1, the SSM branch and W_o,
// the residual add; LN2, the FFN, the residual add.
// CHECK-LABEL: func.func @ssm_prenorm(
// CHECK-SAME: %[[X:[^:]*]]: tensor<2x64x16xf32>
// CHECK: %[[H:.*]] = attn.layer_norm %[[X]]
// CHECK: attn.ssm %[[H]]
// CHECK: attn.gelu
// CHECK: %[[O:.*]] = attn.project
// CHECK: %[[X1:.*]] = linalg.add ins(%[[X]], %[[O]]
// CHECK: %[[H2:.*]] = attn.layer_norm %[[X1]]
// CHECK: attn.project %[[H2]]
// CHECK: attn.gelu
// CHECK: %[[F:.*]] = attn.project
// CHECK: %[[Y:.*]] = linalg.add ins(%[[X1]], %[[F]]
// CHECK-NOT: attn.layer_norm
// CHECK: return %[[Y]]
func.func @ssm_prenorm(%x: tensor<2x64x16xf32>, %len: tensor<2xi32>, %a: tensor<16x4xf32>,
                       %c: tensor<16x4xf32>, %w: tensor<16x16xf32>, %b: tensor<16xf32>,
                       %w1: tensor<16x32xf32>, %b1: tensor<32xf32>, %w2: tensor<32x16xf32>) -> tensor<2x64x16xf32> {
  %y = attn.layer.ssm %x lengths %len params(%a, %a, %a, %a, %c, %c, %b, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {prenorm} : tensor<2x64x16xf32>, lengths tensor<2xi32>, params(tensor<16x4xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16x32xf32>, tensor<32xf32>, tensor<32x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>)
  return %y : tensor<2x64x16xf32>
}

// -----

// S4's block (`glu`, `feed_forward = false`): the SSM branch, the output
// map gated by the gate map through a sigmoid (y (0.5 + 0.5 tanh(g / 2)),
// finite gradients for any g), the residual and one norm; no FFN follows.
// CHECK-LABEL: func.func @ssm_glu_without_ffn(
// CHECK-SAME: %[[X:[^:]*]]: tensor<2x64x16xf32>
// CHECK-SAME: %[[WO:[^:]*]]: tensor<16x16xf32>, %[[BO:[^:]*]]: tensor<16xf32>
// CHECK-SAME: %[[WG:[^:]*]]: tensor<16x16xf32>, %[[BG:[^:]*]]: tensor<16xf32>
// CHECK: attn.ssm %[[X]]
// CHECK: %[[S:.*]] = attn.gelu
// CHECK: %[[O:.*]] = attn.project %[[S]], %[[WO]], %[[BO]]
// CHECK: %[[G:.*]] = attn.project %[[S]], %[[WG]], %[[BG]]
// CHECK: %[[GATED:.*]] = linalg.generic {{.*}} ins(%[[O]], %[[G]] :
// CHECK-NEXT: ^bb0(%[[OV:[^:]*]]: f32, %[[GV:[^:]*]]: f32,
// CHECK: %[[HALF:.*]] = arith.constant 5.000000e-01 : f32
// CHECK: %[[HG:.*]] = arith.mulf %[[HALF]], %[[GV]]
// CHECK: %[[T:.*]] = math.tanh %[[HG]]
// CHECK: %[[HT:.*]] = arith.mulf %[[HALF]], %[[T]]
// CHECK: %[[SIG:.*]] = arith.addf %[[HALF]], %[[HT]]
// CHECK: arith.mulf %[[OV]], %[[SIG]]
// CHECK: %[[X1:.*]] = linalg.add ins(%[[X]], %[[GATED]]
// CHECK: %[[Y:.*]] = attn.layer_norm %[[X1]]
// CHECK-NOT: attn.project
// CHECK: return %[[Y]]
func.func @ssm_glu_without_ffn(%x: tensor<2x64x16xf32>, %len: tensor<2xi32>, %a: tensor<16x4xf32>,
                               %c: tensor<2x16x4xf32>, %dt: tensor<16xf32>,
                               %wo: tensor<16x16xf32>, %bo: tensor<16xf32>,
                               %wg: tensor<16x16xf32>, %bg: tensor<16xf32>) -> tensor<2x64x16xf32> {
  %y = attn.layer.ssm %x lengths %len params(%a, %a, %a, %a, %c, %c, %dt, %dt, %wo, %bo, %wg, %bg, %dt, %dt) {bidirectional, glu, feed_forward = false, dropout = 0.0 : f64} : tensor<2x64x16xf32>, lengths tensor<2xi32>, params(tensor<16x4xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<2x16x4xf32>, tensor<2x16x4xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>)
  return %y : tensor<2x64x16xf32>
}

// -----

// An attention layer without its feed-forward sublayer: one norm, after
// the residual add.
// CHECK-LABEL: func.func @chunk_without_ffn(
// CHECK: attn.sdpa
// CHECK: %[[O:.*]] = attn.project
// CHECK: %[[X1:.*]] = linalg.add ins(%{{.*}}, %[[O]]
// CHECK: %[[Y:.*]] = attn.layer_norm %[[X1]]
// CHECK-NOT: attn.project
// CHECK-NOT: attn.layer_norm
// CHECK: return %[[Y]]
func.func @chunk_without_ffn(%x: tensor<2x64x16xf32>, %w: tensor<16x16xf32>, %b: tensor<16xf32>) -> tensor<2x64x16xf32> {
  %y = attn.layer.chunk %x params(%w, %b, %w, %b, %w, %b, %w, %b, %b, %b) {heads = 2, size = 16, feed_forward = false} : tensor<2x64x16xf32>, params(tensor<16x16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>)
  return %y : tensor<2x64x16xf32>
}

// -----

// A pre-LN attention layer: Q, K and V all project the normed stream.
// CHECK-LABEL: func.func @window_prenorm(
// CHECK-SAME: %[[X:[^:]*]]: tensor<2x64x16xf32>
// CHECK: %[[H:.*]] = attn.layer_norm %[[X]]
// CHECK-COUNT-3: attn.project %[[H]]
// CHECK: attn.sdpa
// CHECK: %[[O:.*]] = attn.project
// CHECK: linalg.add ins(%[[X]], %[[O]]
func.func @window_prenorm(%x: tensor<2x64x16xf32>, %w: tensor<16x16xf32>, %b: tensor<16xf32>,
                          %w1: tensor<16x32xf32>, %b1: tensor<32xf32>, %w2: tensor<32x16xf32>) -> tensor<2x64x16xf32> {
  %y = attn.layer.window %x params(%w, %b, %w, %b, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2, radius = 4, prenorm} : tensor<2x64x16xf32>, params(tensor<16x16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16x32xf32>, tensor<32xf32>, tensor<32x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>)
  return %y : tensor<2x64x16xf32>
}
