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

// -----

// A score region goes to the gradient op with the forward's.
// CHECK-LABEL: func.func @attention_score_grad(
// CHECK: attn.sdpa_grad {{.*}} scale 5.000000e-01 score {
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index):
// CHECK-NEXT:   %[[T:.*]] = math.tanh %[[S]] : f32
// CHECK-NEXT:   attn.yield %[[T]] : f32
func.func @attention_score(%x: tensor<1x1x16x8xf32> {attn.param = "x"}, %labels: tensor<16xi32>) -> tensor<f32> {
  %o = attn.sdpa %x, %x, %x scale 0.5 score {
  ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
    %t = math.tanh %s : f32
    attn.yield %t : f32
  } : tensor<1x1x16x8xf32>, tensor<1x1x16x8xf32>, tensor<1x1x16x8xf32> -> tensor<1x1x16x8xf32>
  %c = tensor.collapse_shape %o [[0, 1, 2], [3]] : tensor<1x1x16x8xf32> into tensor<16x8xf32>
  %l = attn.cross_entropy %c, %labels : tensor<16x8xf32>, tensor<16xi32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// S4D: one attn.ssm_grad with the forward's parameters, lengths and
// direction gives the input's and every parameter's gradient.
// CHECK-LABEL: func.func @ssm_grad(
// CHECK: %[[Y:.*]] = attn.ssm %arg0
// CHECK: %[[DU:.*]], %[[DAR:.*]], %[[DAI:.*]], %[[DBR:.*]], %[[DBI:.*]], %[[DCR:.*]], %[[DCI:.*]], %[[DDT:.*]] = attn.ssm_grad %arg0, %arg9 A(%arg1, %arg2) B(%arg3, %arg4) C(%arg5, %arg6) log_dt(%arg7) lengths %arg8 : tensor<2xi32> bidirectional
// CHECK: return %[[Y]], %[[DU]], %[[DAR]], %[[DAI]], %[[DBR]], %[[DBI]], %[[DCR]], %[[DCI]], %[[DDT]]
func.func @ssm(%x: tensor<2x16x8xf32> {attn.param = "x"}, %ar: tensor<8x4xf32> {attn.param = "ar"}, %ai: tensor<8x4xf32> {attn.param = "ai"}, %br: tensor<8x4xf32> {attn.param = "br"}, %bi: tensor<8x4xf32> {attn.param = "bi"}, %cr: tensor<2x8x4xf32> {attn.param = "cr"}, %ci: tensor<2x8x4xf32> {attn.param = "ci"}, %dt: tensor<8xf32> {attn.param = "dt"}, %len: tensor<2xi32>) -> tensor<2x16x8xf32> {
  %y = attn.ssm %x A(%ar, %ai) B(%br, %bi) C(%cr, %ci) log_dt(%dt) lengths %len : tensor<2xi32> bidirectional : tensor<2x16x8xf32>, tensor<8x4xf32>, tensor<2x8x4xf32>, tensor<8xf32>
  return %y : tensor<2x16x8xf32>
}

// -----

// An elementwise generic, y = x + d x with d per channel: each input's
// gradient runs the body and its derivative in that input; d's loops over
// batch and positions become reductions.
// CHECK-LABEL: func.func @skip_grad(
// CHECK: %[[DX:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel"]} ins(%arg0, %arg1, %arg2 : tensor<2x16x8xf32>, tensor<8xf32>, tensor<2x16x8xf32>)
// CHECK: %[[DD:.*]] = linalg.generic {{.*}} iterator_types = ["reduction", "reduction", "parallel"]} ins(%arg0, %arg1, %arg2 : tensor<2x16x8xf32>, tensor<8xf32>, tensor<2x16x8xf32>) outs(%{{.*}} : tensor<8xf32>)
// CHECK:   arith.mulf
// CHECK:   arith.addf
// CHECK: return %{{.*}}, %[[DX]], %[[DD]]
func.func @skip(%x: tensor<2x16x8xf32> {attn.param = "x"}, %d: tensor<8xf32> {attn.param = "d"}) -> tensor<2x16x8xf32> {
  %init = tensor.empty() : tensor<2x16x8xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(b, t, c) -> (b, t, c)>, affine_map<(b, t, c) -> (c)>, affine_map<(b, t, c) -> (b, t, c)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x, %d : tensor<2x16x8xf32>, tensor<8xf32>) outs(%init : tensor<2x16x8xf32>) {
  ^bb0(%xv: f32, %dv: f32, %o: f32):
    %dx = arith.mulf %dv, %xv : f32
    %s = arith.addf %xv, %dx : f32
    linalg.yield %s : f32
  } -> tensor<2x16x8xf32>
  return %y : tensor<2x16x8xf32>
}

// -----

// Mixed precision: f32 masters cast to bf16, a bf16 projection, logits
// cast to f32. The casts' cotangents are cast back, so the gradients come
// out in f32; the weight's product and the bias's sum over tokens
// accumulate in f32 before their rounding to bf16.
// CHECK-LABEL: func.func @mixed_grad(
// CHECK-SAME: -> (tensor<f32>, tensor<4x8xf32>, tensor<16x8xf32> {attn.output = "grad.w"}, tensor<8xf32> {attn.output = "grad.b"})
// CHECK: %[[DLOGITS:.*]] = attn.cross_entropy_grad
// CHECK: %[[DY:.*]] = attn.cast %[[DLOGITS]] : tensor<4x8xf32> to tensor<4x8xbf16>
// CHECK: %[[DW:.*]] = linalg.matmul ins(%{{.*}}, %[[DY]] : tensor<16x4xbf16>, tensor<4x8xbf16>) outs(%{{.*}} : tensor<16x8xf32>)
// CHECK: %[[DW16:.*]] = attn.cast %[[DW]] : tensor<16x8xf32> to tensor<16x8xbf16>
// CHECK: %[[DB:.*]] = linalg.reduce ins(%[[DY]] : tensor<4x8xbf16>) outs(%{{.*}} : tensor<8xf32>)
// CHECK:   arith.extf %{{.*}} : bf16 to f32
// CHECK: %[[DB16:.*]] = attn.cast %[[DB]] : tensor<8xf32> to tensor<8xbf16>
// CHECK-DAG: %[[GW:.*]] = attn.cast %[[DW16]] : tensor<16x8xbf16> to tensor<16x8xf32>
// CHECK-DAG: %[[GB:.*]] = attn.cast %[[DB16]] : tensor<8xbf16> to tensor<8xf32>
// CHECK: return %{{.*}}, %{{.*}}, %[[GW]], %[[GB]]
func.func @mixed(%x: tensor<4x16xbf16>, %labels: tensor<4xi32>, %w: tensor<16x8xf32> {attn.param = "w"}, %b: tensor<8xf32> {attn.param = "b"}) -> (tensor<f32>, tensor<4x8xf32>) {
  %w16 = attn.cast %w : tensor<16x8xf32> to tensor<16x8xbf16>
  %b16 = attn.cast %b : tensor<8xf32> to tensor<8xbf16>
  %y = attn.project %x, %w16, %b16 : tensor<4x16xbf16>, tensor<16x8xbf16>, tensor<8xbf16> -> tensor<4x8xbf16>
  %logits = attn.cast %y : tensor<4x8xbf16> to tensor<4x8xf32>
  %l = attn.cross_entropy %logits, %labels : tensor<4x8xf32>, tensor<4xi32> -> tensor<f32>
  return %l, %logits : tensor<f32>, tensor<4x8xf32>
}

// -----

// Linear attention's gradient is its own op, on the forward's operands,
// its result and the result's cotangent, in their types (bf16 here).
// CHECK-LABEL: func.func @linear_bf16_grad(
// CHECK: %[[O:.*]] = attn.linear %arg0, %arg1, %arg2 feature_map %[[F:.*]] :
// CHECK: %[[DQ:.*]], %[[DK:.*]], %[[DV:.*]] = attn.linear_grad %arg0, %arg1, %arg2 feature_map %[[F]] output %[[O]], %arg3 : tensor<1x1x8x4xbf16>, tensor<1x1x8x4xbf16>, tensor<1x1x8x4xbf16>, tensor<1x1x8x4xbf16>
// CHECK: return %{{.*}}, %[[DQ]], %[[DK]], %[[DV]]
func.func @linear_bf16(%q: tensor<1x1x8x4xbf16> {attn.param = "q"}, %k: tensor<1x1x8x4xbf16> {attn.param = "k"}, %v: tensor<1x1x8x4xbf16> {attn.param = "v"}) -> tensor<1x1x8x4xbf16> {
  %f = attn.feature_map.elu_plus_one
  %o = attn.linear %q, %k, %v feature_map %f : tensor<1x1x8x4xbf16>, tensor<1x1x8x4xbf16>, tensor<1x1x8x4xbf16> -> tensor<1x1x8x4xbf16>
  return %o : tensor<1x1x8x4xbf16>
}

// -----

// Batch norm on the path to the loss: its gradient op, under the same
// lengths and epsilon, gives the input's, gamma's and beta's cotangents;
// the statistics results, unused by the loss, are not differentiated.
// CHECK-LABEL: func.func @batch_norm_grad(
// CHECK: attn.batch_norm_grad %{{.*}}, %{{.*}}, %{{.*}} lengths %{{.*}} : tensor<2xi32> epsilon 1.000000e-03 : tensor<2x8x16xf32>, tensor<16xf32>
func.func @batch_norm(%x: tensor<2x8x16xf32> {attn.param = "x"}, %g: tensor<16xf32> {attn.param = "g"},
                      %b: tensor<16xf32> {attn.param = "b"}, %len: tensor<2xi32>,
                      %labels: tensor<2xi32>) -> (tensor<f32>, tensor<16xf32>) {
  %y, %mean, %var = attn.batch_norm %x, %g, %b lengths %len : tensor<2xi32> epsilon 1.0e-3 : tensor<2x8x16xf32>, tensor<16xf32> -> tensor<16xf32>
  %p = attn.pool mean %y lengths %len : tensor<2x8x16xf32>, tensor<2xi32> -> tensor<2x16xf32>
  %l = attn.cross_entropy %p, %labels : tensor<2x16xf32>, tensor<2xi32> -> tensor<f32>
  return %l, %mean : tensor<f32>, tensor<16xf32>
}
