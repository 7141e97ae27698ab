// RUN: attn-opt %s --attn-convert-tiles-to-cpu --split-input-file -verify-diagnostics

func.func @narrow(%q: memref<?x24xf32>, %m: memref<?xf32>, %acc: memref<?x24xf32>, %i: index) {
  // expected-error @below {{the CPU lowering needs head dims that are multiples of the vector width 16, got 24 and 24}}
  attn.tile.softmax_step %q, %q, %q into %m, %m, %acc offsets(%i, %i) scale 1.0 : memref<?x24xf32>, memref<?x24xf32>, memref<?x24xf32>, memref<?xf32>, memref<?x24xf32>
  return
}

// -----

// A projection to a feature count that is not a multiple of the width: an
// error, not features silently lost.
func.func @features(%k: memref<?x32xf32>, %p: memref<24x32xf32>, %s: memref<24x32xf32>, %z: memref<24xf32>) {
  %f = attn.feature_map.favor features 24 seed 7
  // expected-error @below {{the CPU lowering needs a feature count that is a multiple of the vector width 16, got 24}}
  attn.tile.linear_state %k, %k feature_map %f projection %p : memref<24x32xf32> into %s, %z : memref<?x32xf32>, memref<?x32xf32>, memref<24x32xf32>, memref<24xf32>
  return
}
