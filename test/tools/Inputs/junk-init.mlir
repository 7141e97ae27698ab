// An initialisation attn-train does not know.
func.func @f(%x: tensor<4xf32> {attn.input = "x"}, %w: tensor<4xf32> {attn.param = "w", attn.init = "normal:-1"}) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
