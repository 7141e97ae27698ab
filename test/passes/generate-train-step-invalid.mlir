// RUN: attn-opt %s --attn-generate-backward --attn-generate-train-step --split-input-file -verify-diagnostics

// A gradient function of a result that is not a loss has no training step.
// expected-error @below {{'func.func' op differentiates a result that is not a loss (it takes a cotangent): no training step for it}}
func.func @features(%x: tensor<4x8xf32> {attn.param = "x"}) -> tensor<4x8xf32> {
  %g = attn.gelu %x : tensor<4x8xf32>
  return %g : tensor<4x8xf32>
}

// -----

// AdamW keeps f32 master weights.
// expected-error @below {{'func.func' op parameter 'x' is not f32: AdamW keeps f32 master weights}}
func.func @bf16(%x: tensor<4x8xbf16> {attn.param = "x"}, %labels: tensor<4xi32>) -> tensor<f32> {
  %l = attn.cross_entropy %x, %labels : tensor<4x8xbf16>, tensor<4xi32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// A buffer's new value is f's result `buffer.<name>`.
// expected-error @below {{'func.func' op has buffer 'r' but no result 'buffer.r' with its new value}}
func.func @buffer_without_result(%x: tensor<4x8xf32> {attn.param = "x"}, %r: tensor<8xf32> {attn.buffer = "r"}, %labels: tensor<4xi32>) -> tensor<f32> {
  %l = attn.cross_entropy %x, %labels : tensor<4x8xf32>, tensor<4xi32> -> tensor<f32>
  return %l : tensor<f32>
}
