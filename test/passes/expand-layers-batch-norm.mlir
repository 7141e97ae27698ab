// RUN: attn-opt %s --attn-expand-layers --split-input-file | FileCheck %s
// RUN: attn-opt %s --attn-expand-layers=evaluation=true --split-input-file | FileCheck %s --check-prefix=EVAL

// S4's block with batch norm (`norm = batch`), in training: the norm is
// attn.batch_norm on the layer's buffers -- the batch's statistics over the
// real tokens normalise, and the running ones come back moved towards them
// (momentum 0.1, the variance averaged unbiased) as the layer's buffers.
// CHECK-LABEL: func.func @ssm_batch_norm(
// CHECK-SAME: %[[LEN:[^:]*]]: tensor<2xi32>
// CHECK-SAME: %[[G:[^:]*]]: tensor<16xf32>, %[[B:[^:]*]]: tensor<16xf32>, %[[RM:[^:]*]]: tensor<16xf32>, %[[RV:[^:]*]]: tensor<16xf32>)
// CHECK: %[[X1:.*]] = linalg.add
// CHECK: %[[Y:.*]], %[[MEAN:.*]], %[[VAR:.*]] = attn.batch_norm %[[X1]], %[[G]], %[[B]] lengths %[[LEN]] : tensor<2xi32> running %[[RM]], %[[RV]] : tensor<16xf32>, tensor<16xf32> {unbiased} :
// CHECK-NOT: attn.layer_norm
// CHECK: return %[[Y]], %[[MEAN]], %[[VAR]]

// In evaluation: the same op in its evaluation form (the running statistics
// normalise and come back unchanged).
// EVAL-LABEL: func.func @ssm_batch_norm(
// EVAL-SAME: %[[LEN:[^:]*]]: tensor<2xi32>
// EVAL-SAME: %[[G:[^:]*]]: tensor<16xf32>, %[[B:[^:]*]]: tensor<16xf32>, %[[RM:[^:]*]]: tensor<16xf32>, %[[RV:[^:]*]]: tensor<16xf32>)
// EVAL: %[[X1:.*]] = linalg.add
// EVAL: %[[Y:.*]], %[[MEAN:.*]], %[[VAR:.*]] = attn.batch_norm %[[X1]], %[[G]], %[[B]] lengths %[[LEN]] : tensor<2xi32> running %[[RM]], %[[RV]] : tensor<16xf32>, tensor<16xf32> {evaluation, unbiased} :
// EVAL: return %[[Y]], %[[MEAN]], %[[VAR]]
func.func @ssm_batch_norm(%x: tensor<2x64x16xf32>, %len: tensor<2xi32>, %a: tensor<16x4xf32>,
                          %c: tensor<2x16x4xf32>, %dt: tensor<16xf32>,
                          %wo: tensor<16x16xf32>, %bo: tensor<16xf32>,
                          %wg: tensor<16x16xf32>, %bg: tensor<16xf32>,
                          %g: tensor<16xf32>, %b: tensor<16xf32>,
                          %rm: tensor<16xf32>, %rv: tensor<16xf32>) -> (tensor<2x64x16xf32>, tensor<16xf32>, tensor<16xf32>) {
  %y:3 = attn.layer.ssm %x lengths %len params(%a, %a, %a, %a, %c, %c, %dt, %dt, %wo, %bo, %wg, %bg, %g, %b) buffers(%rm, %rv) {bidirectional, glu, feed_forward = false, dropout = 0.0 : f64, norm = #attn<norm_kind batch>} : tensor<2x64x16xf32>, lengths tensor<2xi32>, params(tensor<16x4xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<2x16x4xf32>, tensor<2x16x4xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) buffers(tensor<16xf32>, tensor<16xf32>) -> tensor<16xf32>, tensor<16xf32>
  return %y#0, %y#1, %y#2 : tensor<2x64x16xf32>, tensor<16xf32>, tensor<16xf32>
}

// -----

// A bf16 attention layer with its feed-forward sublayer: two batch norms,
// ln1's then ln2's buffers, each in f32 (the statistics of a bf16 stream
// kept in f32).
// CHECK-LABEL: func.func @chunk_batch_norm_bf16(
// CHECK-SAME: %[[RM1:[^:]*]]: tensor<8xf32>, %[[RV1:[^:]*]]: tensor<8xf32>, %[[RM2:[^:]*]]: tensor<8xf32>, %[[RV2:[^:]*]]: tensor<8xf32>
// CHECK: attn.sdpa
// CHECK: %{{.*}}, %[[M1:.*]], %[[V1:.*]] = attn.batch_norm {{.*}} running %[[RM1]], %[[RV1]] : tensor<8xf32>, tensor<8xf32> {unbiased} : tensor<2x32x8xbf16>, tensor<8xbf16> -> tensor<8xf32>
// CHECK: attn.project
// CHECK: %[[Y:.*]], %[[M2:.*]], %[[V2:.*]] = attn.batch_norm {{.*}} running %[[RM2]], %[[RV2]] : tensor<8xf32>, tensor<8xf32> {unbiased} : tensor<2x32x8xbf16>, tensor<8xbf16> -> tensor<8xf32>
// CHECK: return %[[Y]], %[[M1]], %[[V1]], %[[M2]], %[[V2]]

// EVAL-LABEL: func.func @chunk_batch_norm_bf16(
// EVAL-SAME: %[[RM1:[^:]*]]: tensor<8xf32>, %[[RV1:[^:]*]]: tensor<8xf32>, %[[RM2:[^:]*]]: tensor<8xf32>, %[[RV2:[^:]*]]: tensor<8xf32>
// EVAL: attn.batch_norm {{.*}} running %[[RM1]], %[[RV1]] : tensor<8xf32>, tensor<8xf32> {evaluation, unbiased}
// EVAL: attn.batch_norm {{.*}} running %[[RM2]], %[[RV2]] : tensor<8xf32>, tensor<8xf32> {evaluation, unbiased}
func.func @chunk_batch_norm_bf16(%x: tensor<2x32x8xbf16>, %w: tensor<8x8xbf16>, %v: tensor<8xbf16>,
                                 %w1: tensor<8x16xbf16>, %b1: tensor<16xbf16>, %w2: tensor<16x8xbf16>,
                                 %r: tensor<8xf32>, %s: tensor<8xf32>, %t: tensor<8xf32>, %u: tensor<8xf32>)
    -> (tensor<2x32x8xbf16>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) {
  %y:5 = attn.layer.chunk %x params(%w, %v, %w, %v, %w, %v, %w, %v, %v, %v, %w1, %b1, %w2, %v, %v, %v) buffers(%r, %s, %t, %u) {heads = 2, size = 8, dropout = 0.0 : f64, norm = #attn<norm_kind batch>} : tensor<2x32x8xbf16>, params(tensor<8x8xbf16>, tensor<8xbf16>, tensor<8x8xbf16>, tensor<8xbf16>, tensor<8x8xbf16>, tensor<8xbf16>, tensor<8x8xbf16>, tensor<8xbf16>, tensor<8xbf16>, tensor<8xbf16>, tensor<8x16xbf16>, tensor<16xbf16>, tensor<16x8xbf16>, tensor<8xbf16>, tensor<8xbf16>, tensor<8xbf16>) buffers(tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
  return %y#0, %y#1, %y#2, %y#3, %y#4 : tensor<2x32x8xbf16>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
}
