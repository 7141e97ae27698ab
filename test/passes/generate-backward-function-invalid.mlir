// RUN: attn-opt %s --attn-generate-backward=function=missing -verify-diagnostics

// expected-error @below {{attn-generate-backward: no function named 'missing'}}
module {
  func.func @no_params(%x: tensor<4x8xf32>, %labels: tensor<4xi32>) -> tensor<f32> {
    %l = attn.cross_entropy %x, %labels : tensor<4x8xf32>, tensor<4xi32> -> tensor<f32>
    return %l : tensor<f32>
  }
}
