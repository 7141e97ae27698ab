// attn-tile's options out of range are errors that say what they take,
// checked before anything is tiled: also where no op would read them.
// RUN: not attn-opt %s --attn-tile="ssm-chunk=-2" 2>&1 | FileCheck %s --check-prefix=CHUNK
// RUN: not attn-opt %s --attn-tile="ssm-channels=-1" 2>&1 | FileCheck %s --check-prefix=CHANNELS
// RUN: not attn-opt %s --attn-tile="rows-per-instance=-5" 2>&1 | FileCheck %s --check-prefix=ROWS
// RUN: not attn-opt %s --attn-tile="block-q=-1" 2>&1 | FileCheck %s --check-prefix=TILEQ
// RUN: not attn-opt %s --attn-tile="grad-rows-per-instance=-16" 2>&1 | FileCheck %s --check-prefix=GRADROWS

// CHUNK: error: attn-tile: ssm-chunk must be positive, 0 (no chunks) or -1 (the target's choice), got -2
// CHANNELS: error: attn-tile: ssm-channels must be in [0, 1024], got -1
// ROWS: error: attn-tile: rows-per-instance and scalar-rows-per-instance must be in [0, 1024], got -5 and 0
// TILEQ: error: attn-tile: block-q and block-k must be in [0 (the target's choice), 1024], got -1 and 64
// GRADROWS: error: attn-tile: grad-block-q, grad-block-k and grad-rows-per-instance must be in [0, 1024], got 0, 0 and -16
func.func @ssm(%x: tensor<2x64x24xf32>, %a: tensor<24x8xf32>, %dt: tensor<24xf32>) -> tensor<2x64x24xf32> {
  %y = attn.ssm %x A(%a, %a) B(%a, %a) C(%a, %a) log_dt(%dt) : tensor<2x64x24xf32>, tensor<24x8xf32>, tensor<24x8xf32>, tensor<24xf32>
  return %y : tensor<2x64x24xf32>
}
