// What the GPU lowering of tile ops cannot do is an error that says why.
// RUN: attn-opt %s --split-input-file --attn-tile=rows-per-instance=16 --attn-convert-tiles-to-gpu -verify-diagnostics

// The scan is lowered per warp, inside the kernels attn-map-loops-to-gpu
// makes.
func.func @ssm_not_mapped(%x: memref<64x8xf32>, %a: memref<8x16xf32>, %y: memref<64x8xf32>) {
  // expected-error @+1 {{needs a whole warp}}
  attn.tile.ssm_scan %x A(%a, %a) W(%a, %a) into %y : memref<64x8xf32> : memref<64x8xf32>, memref<8x16xf32>
  return
}

// -----

// The carry too.
func.func @carry_not_mapped(%s: memref<4x8x16xf32>, %a: memref<8x16xf32>) {
  // expected-error @+1 {{maps attn-tile's carry instances to warps}}
  attn.tile.ssm_carry(%s, %s) by(%a, %a) : memref<4x8x16xf32>, memref<8x16xf32>
  return
}

// -----

// The scan computes in f32 registers, on f32 buffers.
func.func @ssm_f64(%x: memref<64x8xf64>, %a: memref<8x16xf64>, %y: memref<64x8xf64>) {
  // expected-error @+1 {{the GPU scan computes on f32}}
  attn.tile.ssm_scan %x A(%a, %a) W(%a, %a) into %y : memref<64x8xf64> : memref<64x8xf64>, memref<8x16xf64>
  return
}

// -----

// Each lane's modes are registers: their number must be known.
func.func @ssm_dynamic_state(%x: memref<64x8xf32>, %a: memref<8x?xf32>, %y: memref<64x8xf32>) {
  // expected-error @+1 {{needs a static state size}}
  attn.tile.ssm_scan %x A(%a, %a) W(%a, %a) into %y : memref<64x8xf32> : memref<64x8xf32>, memref<8x?xf32>
  return
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

// -----

// The gradient of softmax attention takes one element type of f32, bf16
// and f16.
func.func @sdpa_grad_f64(%q: tensor<1x2x32x16xf64>) -> tensor<1x2x32x16xf64> {
  // expected-error @+1 {{attn-tile's gradient of attention needs static shapes and one element type of f32, bf16 and f16}}
  %g:3 = attn.sdpa_grad %q, %q, %q, %q, %q : tensor<1x2x32x16xf64>, tensor<1x2x32x16xf64>, tensor<1x2x32x16xf64>, tensor<1x2x32x16xf64>
  return %g#0 : tensor<1x2x32x16xf64>
}
