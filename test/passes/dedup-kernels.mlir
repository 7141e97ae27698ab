// RUN: attn-opt %s --gpu-kernel-outlining --attn-dedup-kernels | FileCheck %s

// Kernels with the same code are one module, whichever function launches
// them: the second and fourth launches reuse the first's kernel with their
// own arguments; the third (another store) keeps its own.
// CHECK-LABEL: func.func @first
// CHECK: gpu.launch_func @first_0_generic::@first_0_generic {{.*}} args(%{{.*}} : f32, %arg0 : memref<4xf32>)
// CHECK: gpu.launch_func @first_0_generic::@first_0_generic {{.*}} args(%{{.*}} : f32, %arg1 : memref<4xf32>)
// CHECK: gpu.launch_func @first_2_generic::@first_2_generic
// CHECK: gpu.module @first_0_generic
// CHECK-NOT: gpu.module @first_1_generic
// CHECK: gpu.module @first_2_generic
// CHECK-LABEL: func.func @second
// CHECK: gpu.launch_func @first_0_generic::@first_0_generic {{.*}} args(%{{.*}} : f32, %arg0 : memref<4xf32>)
// A grid of another size is another kernel (known_grid_size differs).
// CHECK: gpu.launch_func @second_1_generic::@second_1_generic
// CHECK-NOT: gpu.module @second_0_generic
// CHECK: gpu.module @second_1_generic
func.func @first(%m: memref<4xf32>, %n: memref<4xf32>) {
  %c1 = arith.constant 1 : index
  %one = arith.constant 1.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1)
             function(@first_0_generic) {
    %c0 = arith.constant 0 : index
    memref.store %one, %m[%c0] : memref<4xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1)
             function(@first_1_generic) {
    %c0 = arith.constant 0 : index
    memref.store %one, %n[%c0] : memref<4xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1)
             function(@first_2_generic) {
    %c3 = arith.constant 3 : index
    memref.store %one, %n[%c3] : memref<4xf32>
    gpu.terminator
  }
  return
}

func.func @second(%m: memref<4xf32>) {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %one = arith.constant 1.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1)
             function(@second_0_generic) {
    %c0 = arith.constant 0 : index
    memref.store %one, %m[%c0] : memref<4xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c2, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1)
             function(@second_1_generic) {
    %c0 = arith.constant 0 : index
    memref.store %one, %m[%c0] : memref<4xf32>
    gpu.terminator
  }
  return
}
