func.func @dense(%q: tensor<1x1x?x32xf32>) -> tensor<1x1x?x32xf32> {
  %o = attn.sdpa %q, %q, %q : tensor<1x1x?x32xf32>, tensor<1x1x?x32xf32>, tensor<1x1x?x32xf32> -> tensor<1x1x?x32xf32>
  return %o : tensor<1x1x?x32xf32>
}
