// A misspelt interface key: 'attn.parm' would make w an unnamed input.
func.func @f(%x: tensor<4xf32> {attn.input = "x"}, %w: tensor<4xf32> {attn.parm = "w"}) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
