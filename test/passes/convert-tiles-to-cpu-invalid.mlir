// RUN: attn-opt %s --attn-convert-tiles-to-cpu -verify-diagnostics

func.func @narrow(%q: memref<?x24xf32>, %m: memref<?xf32>, %acc: memref<?x24xf32>, %i: index) {
  // expected-error @below {{the CPU lowering needs head dims that are multiples of the vector width 16, got 24 and 24}}
  attn.tile.softmax_step %q, %q, %q into %m, %m, %acc offsets(%i, %i) scale 1.0 : memref<?x24xf32>, memref<?x24xf32>, memref<?x24xf32>, memref<?xf32>, memref<?x24xf32>
  return
}
