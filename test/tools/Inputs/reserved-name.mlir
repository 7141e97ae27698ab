// A public function in the library's own entry-point namespace.
func.func @attn_functions(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
