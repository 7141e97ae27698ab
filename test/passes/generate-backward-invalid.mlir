// RUN: attn-opt %s --attn-generate-backward --split-input-file -verify-diagnostics

// An op on the path from the parameters to the loss that has no
// vector-Jacobian product (yet) stops the pass, naming the op.
func.func @no_vjp(%x: tensor<2x8x16xf32> {attn.param = "x"}, %a: tensor<16x4xf32>, %dt: tensor<16xf32>, %labels: tensor<16xi32>) -> tensor<f32> {
  // expected-error @below {{'attn.ssm' op has no vector-Jacobian product: attn-generate-backward cannot differentiate the path from the parameters to the loss through it}}
  %s = attn.ssm %x A(%a, %a) B(%a, %a) C(%a, %a) log_dt(%dt) : tensor<2x8x16xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<16xf32>
  %c = tensor.collapse_shape %s [[0, 1], [2]] : tensor<2x8x16xf32> into tensor<16x16xf32>
  %l = attn.cross_entropy %c, %labels : tensor<16x16xf32>, tensor<16xi32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// An op whose product exists but not for this form says why.
func.func @causal_linear(%q: tensor<1x1x16x8xf32> {attn.param = "q"}, %labels: tensor<16xi32>) -> tensor<f32> {
  %f = attn.feature_map.elu_plus_one
  // expected-error @below {{'attn.linear' op causal linear attention has no vector-Jacobian product yet}}
  %o = attn.linear %q, %q, %q feature_map %f causal : tensor<1x1x16x8xf32>, tensor<1x1x16x8xf32>, tensor<1x1x16x8xf32> -> tensor<1x1x16x8xf32>
  %c = tensor.collapse_shape %o [[0, 1, 2], [3]] : tensor<1x1x16x8xf32> into tensor<16x8xf32>
  %l = attn.cross_entropy %c, %labels : tensor<16x8xf32>, tensor<16xi32> -> tensor<f32>
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
