// What the GPU pipeline does not map yet is an error that says so.
// RUN: attn-opt %s --split-input-file --attn-tile=rows-per-instance=16 --attn-convert-tiles-to-gpu -verify-diagnostics

func.func @ssm(%x: tensor<2x64x24xf32>, %a: tensor<24x8xf32>, %c: tensor<2x24x8xf32>, %dt: tensor<24xf32>) -> tensor<2x64x24xf32> {
  // expected-error @+1 {{is not mapped to the GPU yet}}
  %y = attn.ssm %x A(%a, %a) B(%a, %a) C(%c, %c) log_dt(%dt) bidirectional : tensor<2x64x24xf32>, tensor<24x8xf32>, tensor<2x24x8xf32>, tensor<24xf32>
  return %y : tensor<2x64x24xf32>
}

// -----

// Tile ops are lowered per warp, inside the kernels attn-map-loops-to-gpu
// makes.
func.func @linear_not_mapped(%k: memref<64x16xbf16>, %v: memref<64x64xbf16>, %s: memref<16x64xf32>, %z: memref<16xf32>) {
  %phi = attn.feature_map.elu_plus_one
  // expected-error @+1 {{is not in a gpu.launch}}
  attn.tile.linear_state %k, %v feature_map %phi into %s, %z : memref<64x16xbf16>, memref<64x64xbf16>, memref<16x64xf32>, memref<16xf32>
  return
}

// -----

// Tile ops are lowered per warp, inside the kernels attn-map-loops-to-gpu
// makes.
func.func @not_mapped(%q: memref<16x64xbf16>, %m: memref<16xf32>, %l: memref<16xf32>, %acc: memref<16x64xf32>, %o: memref<16x64xbf16>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{is not in a gpu.launch}}
  attn.tile.softmax_step %q, %q, %q into %m, %l, %acc offsets(%c0, %c0) scale 1.25e-01 : memref<16x64xbf16>, memref<16x64xbf16>, memref<16x64xbf16>, memref<16xf32>, memref<16x64xf32>
  return
}

// -----

// The statistics and accumulator become registers: nothing else may use
// them.
func.func @state_read_elsewhere(%q: memref<16x64xbf16>, %o: memref<16x64xbf16>, %r: memref<f32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %zero = arith.constant 0.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    %m = memref.alloca() : memref<16xf32>
    %l = memref.alloca() : memref<16xf32>
    %acc = memref.alloca() : memref<16x64xf32>
    linalg.fill ins(%zero : f32) outs(%acc : memref<16x64xf32>)
    attn.tile.softmax_step %q, %q, %q into %m, %l, %acc offsets(%c0, %c0) scale 1.25e-01 : memref<16x64xbf16>, memref<16x64xbf16>, memref<16x64xbf16>, memref<16xf32>, memref<16x64xf32>
    // expected-error @+1 {{uses a softmax tile's statistics or accumulator}}
    %x = memref.load %acc[%c0, %c0] : memref<16x64xf32>
    memref.store %x, %r[] : memref<f32>
    attn.tile.softmax_finalize %l, %acc into %o : memref<16xf32>, memref<16x64xf32>, memref<16x64xbf16>
    gpu.terminator
  }
  return
}
