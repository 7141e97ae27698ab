func.func @attend(%q: tensor<1x2x100x32xf32>, %len: tensor<1xi32>) -> tensor<1x2x100x32xf32> {
  %w = attn.mask.window radius 10
  %p = attn.mask.key_padding %len : tensor<1xi32>
  %m = attn.mask.intersect %w, %p : !attn.mask, !attn.mask
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x2x100x32xf32>, tensor<1x2x100x32xf32>, tensor<1x2x100x32xf32>, !attn.mask -> tensor<1x2x100x32xf32>
  return %o : tensor<1x2x100x32xf32>
}
