// What attn-map-loops-to-gpu cannot map is an error that says why.
// RUN: attn-opt %s --split-input-file --attn-map-loops-to-gpu=lanes-per-iteration=32 -verify-diagnostics

func.func @two_inner_loops(%out: memref<4x64xf32>) {
  %c = arith.constant 1.0 : f32
  // expected-error @+1 {{has more than one inner loop to map to threads}}
  scf.forall (%i) in (4) {
    scf.forall (%j) in (2) {
      memref.store %c, %out[%i, %j] : memref<4x64xf32>
    }
    scf.forall (%j) in (2) {
      memref.store %c, %out[%i, %j] : memref<4x64xf32>
    }
  }
  return
}

// -----

func.func @side_effect_outside_threads(%out: memref<4x64xf32>) {
  %c = arith.constant 1.0 : f32
  %c0 = arith.constant 0 : index
  scf.forall (%i) in (4) {
    // expected-error @+1 {{has side effects outside the loop mapped to threads}}
    memref.store %c, %out[%i, %c0] : memref<4x64xf32>
    scf.forall (%j) in (2) {
      memref.store %c, %out[%i, %j] : memref<4x64xf32>
    }
  }
  return
}

// -----

func.func @too_many_warps(%out: memref<4x64xf32>) {
  %c = arith.constant 1.0 : f32
  scf.forall (%i) in (4) {
    // expected-error @+1 {{cannot be mapped to GPU threads: it needs one normalized dimension of at most 32 iterations of 32 threads}}
    scf.forall (%j) in (64) {
      memref.store %c, %out[%i, %j] : memref<4x64xf32>
    }
  }
  return
}

// -----

func.func @not_normalized(%out: memref<4x64xf32>) {
  %c = arith.constant 1.0 : f32
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{cannot be mapped to a GPU grid}}
  scf.forall (%i) = (1) to (4) step (1) {
    memref.store %c, %out[%i, %c0] : memref<4x64xf32>
  }
  return
}

// -----

func.func @host_store(%out: memref<4xf32>) {
  %c = arith.constant 1.0 : f32
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{is not mapped to the GPU yet: on the host it would touch device memory}}
  memref.store %c, %out[%c0] : memref<4xf32>
  return
}

// -----

func.func @grid_too_tall(%out: memref<70000x2xf32>) {
  %c = arith.constant 1.0 : f32
  // expected-error @+1 {{cannot be mapped to a GPU grid: dimension 0 has 70000 iterations, more than the 65535 blocks a grid's y and z dimensions take}}
  scf.forall (%i, %j) in (70000, 2) {
    memref.store %c, %out[%i, %j] : memref<70000x2xf32>
  }
  return
}
