// RUN: attn-opt %s --attn-generate-backward --split-input-file | FileCheck %s

// A loss through a classifier: the function is kept, @loss_grad returns
// its results and then one gradient per parameter, named after it; the
// walk runs from the loss back to the parameters, seeded with 1.
// CHECK-LABEL: func.func @loss(
// CHECK-NOT: _grad
// CHECK-LABEL: func.func @loss_grad(
// CHECK-SAME: -> (tensor<f32>, tensor<2x10xf32>, tensor<2x8x16xf32> {attn.output = "grad.x"}, tensor<16x10xf32> {attn.output = "grad.w"}, tensor<10xf32> {attn.output = "grad.b"})
// CHECK: %[[C1:.*]] = arith.constant 1.000000e+00 : f32
// CHECK: %[[ONE:.*]] = linalg.fill ins(%[[C1]] : f32) outs(%{{.*}} : tensor<f32>)
// CHECK: %[[DLOGITS:.*]] = attn.cross_entropy_grad %{{.*}}, %{{.*}}, %[[ONE]]
// CHECK: %[[WT:.*]] = linalg.transpose ins(%arg1 : tensor<16x10xf32>)
// CHECK: %[[DPOOL:.*]] = attn.project %[[DLOGITS]], %[[WT]] : tensor<2x10xf32>, tensor<10x16xf32> -> tensor<2x16xf32>
// CHECK: %[[DW:.*]] = linalg.matmul ins(%{{.*}}, %[[DLOGITS]] : tensor<16x2xf32>, tensor<2x10xf32>)
// CHECK: %[[DB:.*]] = linalg.reduce ins(%[[DLOGITS]] : tensor<2x10xf32>) {{.*}} dimensions = [0]
// CHECK: %[[DX:.*]] = attn.pool_grad  cls %[[DPOOL]] : tensor<2x16xf32> -> tensor<2x8x16xf32>
// CHECK: return %{{.*}}, %{{.*}}, %[[DX]], %[[DW]], %[[DB]]
func.func @loss(%x: tensor<2x8x16xf32> {attn.param = "x"}, %w: tensor<16x10xf32> {attn.param = "w"},
                %b: tensor<10xf32> {attn.param = "b"}, %labels: tensor<2xi32>) -> (tensor<f32>, tensor<2x10xf32>) {
  %p = attn.pool cls %x : tensor<2x8x16xf32> -> tensor<2x16xf32>
  %logits = attn.project %p, %w, %b : tensor<2x16xf32>, tensor<16x10xf32>, tensor<10xf32> -> tensor<2x10xf32>
  %l = attn.cross_entropy %logits, %labels : tensor<2x10xf32>, tensor<2xi32> -> tensor<f32>
  return %l, %logits : tensor<f32>, tensor<2x10xf32>
}

// -----

// A value read twice: the cotangents of its two uses are added.
// CHECK-LABEL: func.func @shared_grad(
// CHECK: %[[G:.*]] = attn.gelu_grad %arg0, %[[DY:.*]] : tensor<4x8xf32>
// CHECK: %[[SUM:.*]] = linalg.add ins(%[[DY]], %[[G]] : tensor<4x8xf32>, tensor<4x8xf32>)
// CHECK: return %{{.*}}, %[[SUM]]
func.func @shared(%x: tensor<4x8xf32> {attn.param = "x"}, %labels: tensor<4xi32>) -> tensor<f32> {
  %g = attn.gelu %x : tensor<4x8xf32>
  %init = tensor.empty() : tensor<4x8xf32>
  %y = linalg.add ins(%x, %g : tensor<4x8xf32>, tensor<4x8xf32>) outs(%init : tensor<4x8xf32>) -> tensor<4x8xf32>
  %l = attn.cross_entropy %y, %labels : tensor<4x8xf32>, tensor<4xi32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// A parameter the loss does not depend on gets a zero gradient; an op that
// depends on no parameter (the layer norm of an input) is not
// differentiated.
// CHECK-LABEL: func.func @unused_grad(
// CHECK-NOT: attn.layer_norm_grad
// CHECK: %[[ZERO:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<8xf32>)
// CHECK: return %{{.*}}, %{{.*}}, %[[ZERO]] : tensor<f32>, tensor<8x8xf32>, tensor<8xf32>
func.func @unused(%x: tensor<4x8xf32>, %g: tensor<8xf32>, %w: tensor<8x8xf32> {attn.param = "w"},
                  %unused: tensor<8xf32> {attn.param = "unused"}, %labels: tensor<4xi32>) -> tensor<f32> {
  %n = attn.layer_norm %x, %g, %g : tensor<4x8xf32>, tensor<8xf32>
  %y = attn.project %n, %w : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  %l = attn.cross_entropy %y, %labels : tensor<4x8xf32>, tensor<4xi32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// Functions without parameters, or whose first result is not a float
// tensor, are left alone.
// CHECK-LABEL: func.func @no_params
// CHECK-NOT: func.func @no_params_grad
func.func @no_params(%x: tensor<4x8xf32>, %labels: tensor<4xi32>) -> tensor<f32> {
  %l = attn.cross_entropy %x, %labels : tensor<4x8xf32>, tensor<4xi32> -> tensor<f32>
  return %l : tensor<f32>
}
// CHECK-LABEL: func.func @integer_result
// CHECK-NOT: func.func @integer_result_grad
func.func @integer_result(%x: tensor<4xi32>, %w: tensor<4xf32> {attn.param = "w"}) -> tensor<4xi32> {
  return %x : tensor<4xi32>
}

// -----

// Softmax attention: one gradient op under the same mask and scale.
// CHECK-LABEL: func.func @attention_grad(
// CHECK: %[[M:.*]] = attn.mask.causal
// CHECK: %[[O:.*]] = attn.sdpa %arg0, %arg0, %arg0 mask %[[M]] scale 5.000000e-01
// CHECK: %[[DQ:.*]], %[[DK:.*]], %[[DV:.*]] = attn.sdpa_grad %arg0, %arg0, %arg0, %[[O]], %{{.*}} mask %[[M]] scale 5.000000e-01
// CHECK: %[[S1:.*]] = linalg.add ins(%[[DQ]], %[[DK]]
// CHECK: %[[S2:.*]] = linalg.add ins(%[[S1]], %[[DV]]
// CHECK: return %{{.*}}, %[[S2]]
func.func @attention(%x: tensor<1x1x16x8xf32> {attn.param = "x"}, %labels: tensor<16xi32>) -> tensor<f32> {
  %m = attn.mask.causal
  %o = attn.sdpa %x, %x, %x mask %m scale 0.5 : tensor<1x1x16x8xf32>, tensor<1x1x16x8xf32>, tensor<1x1x16x8xf32>, !attn.mask -> tensor<1x1x16x8xf32>
  %c = tensor.collapse_shape %o [[0, 1, 2], [3]] : tensor<1x1x16x8xf32> into tensor<16x8xf32>
  %l = attn.cross_entropy %c, %labels : tensor<16x8xf32>, tensor<16xi32> -> tensor<f32>
  return %l : tensor<f32>
}
