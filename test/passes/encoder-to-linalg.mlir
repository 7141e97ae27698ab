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
// GELU (exact).
// CHECK: math.erf
// Dropout: the counter-based hash of (seed, stream, index).
// CHECK: arith.muli %{{.*}}, %c-7046029254386353131_i64
// CHECK: arith.shrui
// CHECK: arith.uitofp
// CHECK: arith.cmpf oge
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
