// RUN: attn-opt %s --attn-generate-backward --split-input-file -verify-diagnostics

// An op on the path from the parameters to the loss that has no
// vector-Jacobian product (yet) stops the pass, naming the op.
func.func @no_vjp(%x: tensor<16x16xf32> {attn.param = "x"}, %labels: tensor<16xi32>) -> tensor<f32> {
  %init = tensor.empty() : tensor<16x16xf32>
  // expected-error @below {{'linalg.matmul' op has no vector-Jacobian product: attn-generate-backward cannot differentiate the path from the parameters to the loss through it}}
  %m = linalg.matmul ins(%x, %x : tensor<16x16xf32>, tensor<16x16xf32>) outs(%init : tensor<16x16xf32>) -> tensor<16x16xf32>
  %l = attn.cross_entropy %m, %labels : tensor<16x16xf32>, tensor<16xi32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// A linalg.generic is differentiated only where it is elementwise.
func.func @reducing_generic(%x: tensor<16x16xf32> {attn.param = "x"}, %labels: tensor<16xi32>) -> tensor<f32> {
  %init = tensor.empty() : tensor<16x16xf32>
  // expected-error @below {{'linalg.generic' op reverse mode differentiates elementwise generics only: one result under a permutation map, parallel loops, inputs under projected permutations}}
  %r = linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (i, j)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x : tensor<16x16xf32>) outs(%init : tensor<16x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.addf %a, %o : f32
    linalg.yield %s : f32
  } -> tensor<16x16xf32>
  %l = attn.cross_entropy %r, %labels : tensor<16x16xf32>, tensor<16xi32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// ... and where each op of its body has a derivative rule.
func.func @sin_generic(%x: tensor<16x16xf32> {attn.param = "x"}, %labels: tensor<16xi32>) -> tensor<f32> {
  %init = tensor.empty() : tensor<16x16xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<16x16xf32>) outs(%init : tensor<16x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    // expected-error @below {{'math.sin' op has no derivative rule (addf, subf, mulf, divf, negf, the max and min ops, select, exp, log, sqrt, tanh and absf have one)}}
    %t = math.sin %a : f32
    linalg.yield %t : f32
  } -> tensor<16x16xf32>
  %l = attn.cross_entropy %r, %labels : tensor<16x16xf32>, tensor<16xi32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// A name taken already.
// expected-error @below {{'func.func' op cannot get a gradient function: '@f_grad' exists already}}
func.func @f(%x: tensor<4x8xf32> {attn.param = "x"}, %labels: tensor<4xi32>) -> tensor<f32> {
  %l = attn.cross_entropy %x, %labels : tensor<4x8xf32>, tensor<4xi32> -> tensor<f32>
  return %l : tensor<f32>
}
func.func @f_grad() {
  return
}

// -----

// A parameter that is not a float tensor.
// expected-error @below {{parameter 'n' is not a float tensor}}
func.func @int_param(%x: tensor<4x8xf32> {attn.param = "x"}, %n: tensor<4xi32> {attn.param = "n"}) -> tensor<f32> {
  %l = attn.cross_entropy %x, %n : tensor<4x8xf32>, tensor<4xi32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// Batch norm's statistics feed running averages: a loss through them is
// not differentiated.
func.func @batch_statistics_in_the_loss(%x: tensor<2x8x16xf32> {attn.param = "x"}, %g: tensor<16xf32>, %labels: tensor<1xi32>) -> tensor<f32> {
  // expected-error @below {{reverse mode differentiates the normalised result only, not the batch statistics}}
  %y, %mean, %var = attn.batch_norm %x, %g, %g : tensor<2x8x16xf32>, tensor<16xf32> -> tensor<16xf32>
  %m = tensor.expand_shape %mean [[0, 1]] output_shape [1, 16] : tensor<16xf32> into tensor<1x16xf32>
  %l = attn.cross_entropy %m, %labels : tensor<1x16xf32>, tensor<1xi32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// The evaluation form normalises with running statistics: reverse mode
// differentiates the training form only.
func.func @evaluation_batch_norm(%x: tensor<2x8x16xf32> {attn.param = "x"}, %g: tensor<16xf32>, %r: tensor<16xf32>, %labels: tensor<2xi32>) -> tensor<f32> {
  // expected-error @below {{reverse mode differentiates the training form only (`evaluation` normalises with running statistics)}}
  %y:3 = attn.batch_norm %x, %g, %g running %r, %r : tensor<16xf32>, tensor<16xf32> {evaluation} : tensor<2x8x16xf32>, tensor<16xf32> -> tensor<16xf32>
  %p = attn.pool mean %y#0 : tensor<2x8x16xf32> -> tensor<2x16xf32>
  %l = attn.cross_entropy %p, %labels : tensor<2x16xf32>, tensor<2xi32> -> tensor<f32>
  return %l : tensor<f32>
}
