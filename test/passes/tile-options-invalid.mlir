// attn-tile's SSM options out of range are errors that say what they take.
// RUN: not attn-opt %s --attn-tile="ssm-chunk=-2" 2>&1 | FileCheck %s --check-prefix=CHUNK
// RUN: not attn-opt %s --attn-tile="ssm-channels=-1" 2>&1 | FileCheck %s --check-prefix=CHANNELS

// CHUNK: error: 'attn.ssm' op ssm-chunk must be positive, 0 (no chunks) or -1 (chosen for the GPU); got -2
// CHANNELS: error: 'attn.ssm' op ssm-channels must be positive, or 0 for a GPU warp's worth; got -1
func.func @ssm(%x: tensor<2x64x24xf32>, %a: tensor<24x8xf32>, %dt: tensor<24xf32>) -> tensor<2x64x24xf32> {
  %y = attn.ssm %x A(%a, %a) B(%a, %a) C(%a, %a) log_dt(%dt) : tensor<2x64x24xf32>, tensor<24x8xf32>, tensor<24x8xf32>, tensor<24xf32>
  return %y : tensor<2x64x24xf32>
}
