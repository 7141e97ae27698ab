// RUN: attn-opt %s --split-input-file --attn-linalg-to-loops --verify-diagnostics | FileCheck %s

// A linalg op becomes its loop nest; the rest of the function, foldable or
// not, is left as it is (the canonicalizer after it folds).
// CHECK-LABEL: func.func @fill_and_generic
// CHECK-NOT: linalg.
// CHECK: %[[SUM:.*]] = arith.addi %{{.*}}, %{{.*}} : index
// CHECK: scf.for
// CHECK:   scf.for
// CHECK:     memref.store %{{.*}}, %{{.*}} : memref<4x8xf32>
// CHECK: scf.for
// CHECK:   memref.load %{{.*}} : memref<4xf32>
// CHECK:   arith.mulf
// CHECK:   memref.store %{{.*}} : memref<4xf32>
// CHECK: return %[[SUM]]
func.func @fill_and_generic(%m: memref<4x8xf32>, %v: memref<4xf32>) -> index {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %sum = arith.addi %c1, %c2 : index
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%m : memref<4x8xf32>)
  linalg.generic {indexing_maps = [affine_map<(i) -> (i)>],
                  iterator_types = ["parallel"]} outs(%v : memref<4xf32>) {
  ^bb0(%x: f32):
    %y = arith.mulf %x, %x : f32
    linalg.yield %y : f32
  }
  return %sum : index
}

// -----

// On tensors there are no loops to make: an error naming the op.
func.func @tensor_fill(%t: tensor<4xf32>) -> tensor<4xf32> {
  %zero = arith.constant 0.0 : f32
  // expected-error @below {{cannot lower this linalg op to loops (it must have buffer semantics)}}
  %r = linalg.fill ins(%zero : f32) outs(%t : tensor<4xf32>) -> tensor<4xf32>
  return %r : tensor<4xf32>
}
