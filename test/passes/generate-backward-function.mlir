// RUN: attn-opt %s --attn-generate-backward=function=heads | FileCheck %s

// A result that is not a loss, named by `function`: its cotangent is one
// more argument. Structural ops (reshape, transpose, slice) are undone.
// CHECK-LABEL: func.func @heads_grad(
// CHECK-SAME: %[[DY:[a-z0-9]+]]: tensor<2x4x8xf32> {attn.input = "grad.y"}
// CHECK: %[[T:.*]] = linalg.transpose ins(%[[DY]] : tensor<2x4x8xf32>) {{.*}} permutation = [1, 0, 2]
// CHECK: %[[C:.*]] = tensor.collapse_shape %[[T]] {{\[}}[0], [1, 2]] : tensor<4x2x8xf32> into tensor<4x16xf32>
// CHECK: %[[Z:.*]] = linalg.fill
// CHECK: %[[S:.*]] = tensor.insert_slice %[[C]] into %[[Z]][0, 0] [4, 16] [1, 1] : tensor<4x16xf32> into tensor<6x16xf32>
// CHECK: return %{{.*}}, %[[S]]
func.func @heads(%x: tensor<6x16xf32> {attn.param = "x"}) -> (tensor<2x4x8xf32> {attn.output = "y"}) {
  %s = tensor.extract_slice %x[0, 0] [4, 16] [1, 1] : tensor<6x16xf32> to tensor<4x16xf32>
  %e = tensor.expand_shape %s [[0], [1, 2]] output_shape [4, 2, 8] : tensor<4x16xf32> into tensor<4x2x8xf32>
  %init = tensor.empty() : tensor<2x4x8xf32>
  %t = linalg.transpose ins(%e : tensor<4x2x8xf32>) outs(%init : tensor<2x4x8xf32>) permutation = [1, 0, 2]
  return %t : tensor<2x4x8xf32>
}

// Only the named function is differentiated.
// CHECK-LABEL: func.func @other(
// CHECK-NOT: @other_grad
func.func @other(%x: tensor<4x8xf32> {attn.param = "x"}, %labels: tensor<4xi32>) -> tensor<f32> {
  %l = attn.cross_entropy %x, %labels : tensor<4x8xf32>, tensor<4xi32> -> tensor<f32>
  return %l : tensor<f32>
}
