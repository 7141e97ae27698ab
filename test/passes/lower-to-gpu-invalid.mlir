// What the GPU pipeline does not map yet is an error that says so.
// RUN: attn-opt %s --split-input-file --attn-tile --attn-convert-tiles-to-gpu -verify-diagnostics

func.func @linear(%q: tensor<1x1x64x16xf32>) -> tensor<1x1x64x16xf32> {
  %phi = attn.feature_map.elu_plus_one
  // expected-error @+1 {{is not mapped to the GPU yet}}
  %o = attn.linear %q, %q, %q feature_map %phi : tensor<1x1x64x16xf32>, tensor<1x1x64x16xf32>, tensor<1x1x64x16xf32> -> tensor<1x1x64x16xf32>
  return %o : tensor<1x1x64x16xf32>
}
