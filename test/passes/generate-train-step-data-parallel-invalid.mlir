// RUN: attn-opt %s --attn-generate-backward --attn-generate-train-step=data-parallel=true -verify-diagnostics

// Each rank would update its own running statistics: a model with buffers
// does not train data-parallel.
// expected-error @below {{'func.func' op has buffer 'r': data-parallel training of a model with buffers (batch norms' running statistics) is not supported -- each rank would update its own}}
func.func @buffer(%x: tensor<4x8xf32> {attn.param = "x"}, %r: tensor<8xf32> {attn.buffer = "r"}, %labels: tensor<4xi32>) -> (tensor<f32>, tensor<8xf32> {attn.output = "buffer.r"}) {
  %l = attn.cross_entropy %x, %labels : tensor<4x8xf32>, tensor<4xi32> -> tensor<f32>
  return %l, %r : tensor<f32>, tensor<8xf32>
}
